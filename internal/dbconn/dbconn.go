// Package dbconn turns a MySQL/MariaDB/TiDB endpoint description into a
// go-sql-driver/mysql DSN and an open, pinged *sql.DB.
//
// It is the one place that picks driver defaults (timeouts, charset, raw
// time values, parameter interpolation) and TLS set-up, so sources and
// targets connect the same way. Passwords never appear in its errors.
// It also classifies driver errors (IsConnLost, IsRetryable) for the loader
// and the syncer, so both retry the same failures.
package dbconn

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Driver defaults applied by DSN.
const (
	DialTimeout  = 5 * time.Second
	ReadTimeout  = 30 * time.Second
	WriteTimeout = 30 * time.Second
)

// Config describes how to reach one MySQL-compatible server.
type Config struct {
	Host     string // defaults to 127.0.0.1
	Port     int    // defaults to 3306
	User     string
	Password string
	// TLS, when non-nil, makes the connection use TLS with this material.
	TLS *TLSConfig
	// Params are extra DSN parameters. Driver options (e.g. "readTimeout")
	// override the defaults; any other key is a session system variable set
	// on every new connection (e.g. "sql_mode": "'ANSI_QUOTES'").
	Params map[string]string
}

// TLSConfig holds PEM-encoded TLS material, as carried by a source's or
// task's "security" object.
type TLSConfig struct {
	CA   string // PEM CA bundle; when empty the server certificate is not verified
	Cert string // PEM client certificate; requires Key
	Key  string // PEM client private key; requires Cert
	// AllowedCN, if non-empty, restricts the server certificate's Common
	// Name to one of these values.
	AllowedCN []string
}

// Addr returns the host:port this config connects to.
func (c Config) Addr() string {
	host, port := c.Host, c.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 3306
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// ParseAddr is Addr's inverse: a Config for host:port with the given credentials (the
// benchmark tools take their servers this way).
func ParseAddr(addr, user, password string) (Config, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Config{}, fmt.Errorf("address %q: %w; use host:port", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return Config{}, fmt.Errorf("port of %q: %w", addr, err)
	}
	return Config{Host: host, Port: p, User: user, Password: password}, nil
}

// DSN builds a go-sql-driver/mysql DSN for database (which may be empty).
// When TLS is set, its tls.Config is registered with the driver under a
// name derived from the TLS material, so repeated calls are idempotent.
func (c Config) DSN(database string) (string, error) {
	mc := mysql.NewConfig()
	mc.User = c.User
	mc.Passwd = c.Password
	mc.Net = "tcp"
	mc.Addr = c.Addr()
	mc.DBName = database
	mc.Collation = "utf8mb4_general_ci" // implies charset utf8mb4, no extra round trip
	mc.InterpolateParams = true
	mc.MaxAllowedPacket = 0 // fetch max_allowed_packet from the server
	mc.Timeout = DialTimeout
	mc.ReadTimeout = ReadTimeout
	mc.WriteTimeout = WriteTimeout
	if c.TLS != nil {
		name, err := c.TLS.register()
		if err != nil {
			return "", fmt.Errorf("TLS for %s: %w", mc.Addr, err)
		}
		mc.TLSConfig = name
	}
	mc.Params = c.Params
	// Round-trip through the parser so driver options given in Params
	// override the defaults above and malformed values are rejected here.
	parsed, err := mysql.ParseDSN(mc.FormatDSN())
	if err != nil {
		return "", fmt.Errorf("connection parameters for %s: %w", mc.Addr, err)
	}
	return parsed.FormatDSN(), nil
}

// Open opens a connection pool to database (which may be empty) and pings
// it within ctx. On failure the pool is closed and the error names the
// address and user and wraps the driver error.
func Open(ctx context.Context, c Config, database string) (*sql.DB, error) {
	dsn, err := c.DSN(database)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as user %q: %w", c.Addr(), c.User, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s as user %q: %w", c.Addr(), c.User, err)
	}
	return db, nil
}

// register builds the tls.Config and registers it with the driver under a
// content-derived name, which it returns.
func (t *TLSConfig) register() (string, error) {
	h := sha256.New()
	for _, s := range append([]string{t.CA, t.Cert, t.Key}, t.AllowedCN...) {
		// Length-prefix each field so different splits never collide.
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	name := "dmkit-" + hex.EncodeToString(h.Sum(nil))[:32]
	cfg, err := t.build()
	if err != nil {
		return "", err
	}
	if err := mysql.RegisterTLSConfig(name, cfg); err != nil {
		return "", err
	}
	return name, nil
}

// ClientTLS builds the *tls.Config for c's TLS material, for clients other than the SQL
// driver (the binlog stream): same CA verification, client certificate and allowed common
// names, with the server name taken from c's address. It returns nil when c has no TLS.
func (c Config) ClientTLS() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	cfg, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	if c.TLS.CA != "" {
		if host, _, err := net.SplitHostPort(c.Addr()); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg, nil
}

func (t *TLSConfig) build() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CA)) {
			return nil, errors.New("the CA is not valid PEM; pass the CA certificate's PEM contents")
		}
		cfg.RootCAs = pool
	} else {
		// Encrypt without verifying the server, like ssl-mode=REQUIRED.
		cfg.InsecureSkipVerify = true
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.X509KeyPair([]byte(t.Cert), []byte(t.Key))
		if err != nil {
			return nil, fmt.Errorf("client certificate/key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.Cert != "" || t.Key != "":
		return nil, errors.New("a client certificate needs both cert and key; pass both or neither")
	}
	if len(t.AllowedCN) > 0 {
		allowed := slices.Clone(t.AllowedCN)
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server presented no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return fmt.Errorf("parse server certificate: %w", err)
			}
			if !slices.Contains(allowed, leaf.Subject.CommonName) {
				return fmt.Errorf("server certificate CN %q is not in the allowed list %q", leaf.Subject.CommonName, allowed)
			}
			return nil
		}
	}
	return cfg, nil
}
