package dbconn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// server runs with TLS enabled using the material in pki.
var (
	server *mysqltest.Server
	pki    testPKI
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if pki, err = newTestPKI(); err != nil {
		fmt.Fprintln(os.Stderr, "generate test certificates:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "dbconn-pki-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	files := map[string]string{"ca.pem": pki.CA, "server.pem": pki.ServerCert, "server-key.pem": pki.ServerKey}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	server, err = mysqltest.Start(mysqltest.Options{Name: "dbconn", ExtraArgs: []string{
		"--ssl-ca=" + filepath.Join(dir, "ca.pem"),
		"--ssl-cert=" + filepath.Join(dir, "server.pem"),
		"--ssl-key=" + filepath.Join(dir, "server-key.pem"),
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer server.Stop()
	return m.Run()
}

func TestOpenErrors(t *testing.T) {
	closed := server.DBConfig()
	closed.Port = freeClosedPort(t)
	closed.Password = "s3cret-closed"
	badPass := server.DBConfig()
	badPass.Password = "s3cret-wrong"
	badUser := server.DBConfig()
	badUser.User = "nobody"
	badUser.Password = "s3cret-nobody"

	tests := []struct {
		name string
		cfg  dbconn.Config
		want []string
	}{
		{"wrong password", badPass, []string{badPass.Addr(), `user "dmkit"`, "Access denied"}},
		{"unknown user", badUser, []string{`user "nobody"`, "Access denied"}},
		{"nothing listening", closed, []string{closed.Addr(), "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := dbconn.Open(t.Context(), tt.cfg, "")
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.cfg.Password != "" && strings.Contains(err.Error(), tt.cfg.Password) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestOpenDatabase(t *testing.T) {
	server.Exec(t, "CREATE DATABASE `db-name`")
	t.Cleanup(func() { server.Exec(t, "DROP DATABASE `db-name`") })
	db, err := dbconn.Open(t.Context(), server.DBConfig(), "db-name")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cur, charset string
	if err := db.QueryRowContext(t.Context(), "SELECT DATABASE(), @@character_set_client").Scan(&cur, &charset); err != nil {
		t.Fatal(err)
	}
	if cur != "db-name" || charset != "utf8mb4" {
		t.Errorf("DATABASE()=%q character_set_client=%q", cur, charset)
	}
}

func TestOpenTLS(t *testing.T) {
	// certuser may only log in with the client certificate.
	server.Exec(t, "CREATE USER certuser@'%' IDENTIFIED BY 'certpw' REQUIRE SUBJECT '/CN=dmkit-client'")
	t.Cleanup(func() { server.Exec(t, "DROP USER certuser@'%'") })
	tests := []struct {
		name     string
		certUser bool
		tls      dbconn.TLSConfig
		wantErr  string
	}{
		{"verified CA", false, dbconn.TLSConfig{CA: pki.CA}, ""},
		{"encrypt without verifying", false, dbconn.TLSConfig{}, ""},
		{"allowed CN", false, dbconn.TLSConfig{CA: pki.CA, AllowedCN: []string{"other", "mariadb-test"}}, ""},
		{"client certificate", true, dbconn.TLSConfig{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}, ""},
		{"client certificate missing", true, dbconn.TLSConfig{CA: pki.CA}, "Access denied"},
		{"CN not allowed", false, dbconn.TLSConfig{CA: pki.CA, AllowedCN: []string{"someone-else"}}, `CN "mariadb-test" is not in the allowed list`},
		{"wrong CA", false, dbconn.TLSConfig{CA: pki.OtherCA}, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.DBConfig()
			if tt.certUser {
				cfg.User, cfg.Password = "certuser", "certpw"
			}
			cfg.TLS = &tt.tls
			db, err := dbconn.Open(t.Context(), cfg, "")
			if tt.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatalf("Open succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open error %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var name, cipher string
			if err := db.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
				t.Fatal(err)
			}
			if cipher == "" {
				t.Error("connection is not encrypted")
			}
		})
	}
}

// freeClosedPort returns a port nothing listens on.
func freeClosedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// testPKI is PEM material: a CA, a server certificate for 127.0.0.1 with
// CN mariadb-test, a client certificate, and an unrelated CA.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey, OtherCA string
}

func newTestPKI() (testPKI, error) {
	var p testPKI
	caKey, caCert, caPEM, err := newCA("dmkit test CA")
	if err != nil {
		return p, err
	}
	_, _, otherPEM, err := newCA("unrelated CA")
	if err != nil {
		return p, err
	}
	serverCert, serverKey, err := newLeaf(caCert, caKey, "mariadb-test", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return p, err
	}
	clientCert, clientKey, err := newLeaf(caCert, caKey, "dmkit-client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return p, err
	}
	return testPKI{CA: caPEM, OtherCA: otherPEM, ServerCert: serverCert, ServerKey: serverKey, ClientCert: clientCert, ClientKey: clientKey}, nil
}

func newCA(cn string) (*ecdsa.PrivateKey, *x509.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, "", err
	}
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), nil
}
