// Package tlsconfig builds the TLS configurations of dm-server's API and of its clients
// (dmctl, examples) from DM's flags: --ssl-ca, --ssl-cert, --ssl-key, --cert-allowed-cn.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Files are PEM file paths, as DM's ssl-ca/ssl-cert/ssl-key.
type Files struct {
	CA, Cert, Key string
}

// Enabled reports whether any file is set.
func (f Files) Enabled() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

func (f Files) pair() (tls.Certificate, error) {
	if (f.Cert == "") != (f.Key == "") {
		return tls.Certificate{}, errors.New("--ssl-cert and --ssl-key go together; give both")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load --ssl-cert/--ssl-key: %w", err)
	}
	return cert, nil
}

func (f Files) pool() (*x509.CertPool, error) {
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("read --ssl-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ssl-ca %s holds no PEM certificate", f.CA)
	}
	return pool, nil
}

// Server is the API's TLS: the server certificate, and with a CA, client certificates
// required and verified against it; with allowedCN, the client certificate's common name
// must be one of them (DM's cert-allowed-cn). It returns nil when no file is set.
func Server(f Files, allowedCN []string) (*tls.Config, error) {
	if !f.Enabled() {
		if len(allowedCN) > 0 {
			return nil, errors.New("--cert-allowed-cn needs --ssl-ca, --ssl-cert and --ssl-key")
		}
		return nil, nil
	}
	if f.Cert == "" {
		return nil, errors.New("TLS needs the server's --ssl-cert and --ssl-key")
	}
	cert, err := f.pair()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.CA == "" {
		if len(allowedCN) > 0 {
			return nil, errors.New("--cert-allowed-cn needs --ssl-ca to verify client certificates against")
		}
		return cfg, nil
	}
	if cfg.ClientCAs, err = f.pool(); err != nil {
		return nil, err
	}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	if len(allowedCN) > 0 {
		allowed := slices.Clone(allowedCN)
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			if cn := cs.PeerCertificates[0].Subject.CommonName; !slices.Contains(allowed, cn) {
				return fmt.Errorf("client certificate common name %q is not in --cert-allowed-cn", cn)
			}
			return nil
		}
	}
	return cfg, nil
}

// Client is a client's TLS to dm-server: the server verified against the CA (the system
// roots without one) and the client certificate when given. It returns nil when no file
// is set.
func Client(f Files) (*tls.Config, error) {
	if !f.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := f.pool()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := f.pair()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
