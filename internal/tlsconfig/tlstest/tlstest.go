// Package tlstest makes throwaway certificates for tests of dm-server's TLS.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/tlsconfig"
)

// PKI writes a CA, a server certificate for 127.0.0.1, a server-and-client certificate
// for 127.0.0.1 ("peer", CN dm-peer) and client certificates with the given common names
// into dir; it returns the file paths by name ("ca", "server", "peer", "<cn>") as
// cert/key pairs.
func PKI(t testing.TB, dir string, clients ...string) map[string]tlsconfig.Files {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serial := int64(1)
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "dmkit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	out := map[string]tlsconfig.Files{"ca": {CA: write("ca.pem", "CERTIFICATE", caDER)}}
	issue := func(name, cn string, usage []x509.ExtKeyUsage, ips []net.IP) {
		serial++
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = tlsconfig.Files{CA: out["ca"].CA, Cert: write(name+".pem", "CERTIFICATE", der), Key: write(name+"-key.pem", "EC PRIVATE KEY", kder)}
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	issue("server", "dm-server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, loopback)
	// A dm-master's certificate serves its API and is presented when it forwards a request
	// to the leader: both usages.
	issue("peer", "dm-peer", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, loopback)
	for _, cn := range clients {
		issue(cn, cn, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
	}
	return out
}
