package dm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sealedMagic starts every value EncryptStore writes; a value without it is a plain one
// from before encryption and is rewritten sealed the first time it is listed.
var sealedMagic = []byte("dmkit-sealed-v1\x00")

// SecretKeySize is the size of the key EncryptStore takes (AES-256).
const SecretKeySize = 32

// EncryptStore wraps inner so that every value is sealed with AES-256-GCM under key
// before it reaches the store, and opened on the way back: passwords and certificates in
// sources, tasks and templates are never on disk in clear. The record's kind and key are
// the additional data, so a sealed value cannot be moved to another record. Values written
// before encryption was turned on are read as they are and rewritten sealed when listed
// (dm.Open lists everything), so an existing store is migrated on open.
func EncryptStore(inner Store, key []byte) (Store, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("secret key is %d bytes; it must be %d (64 hex digits in the key file)", len(key), SecretKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealedStore{inner: inner, aead: aead}, nil
}

type sealedStore struct {
	inner Store
	aead  cipher.AEAD
}

func additional(kind, key string) []byte { return []byte(kind + "\x00" + key) }

func (s *sealedStore) seal(kind, key string, value []byte) ([]byte, error) {
	out := make([]byte, 0, len(sealedMagic)+s.aead.NonceSize()+len(value)+s.aead.Overhead())
	out = append(out, sealedMagic...)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s/%s: %w", kind, key, err)
	}
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, value, additional(kind, key)), nil
}

func (s *sealedStore) open(kind, key string, value []byte) ([]byte, error) {
	rest := value[len(sealedMagic):]
	n := s.aead.NonceSize()
	if len(rest) < n {
		return nil, fmt.Errorf("record %s/%s is sealed but truncated", kind, key)
	}
	plain, err := s.aead.Open(nil, rest[:n], rest[n:], additional(kind, key))
	if err != nil {
		return nil, fmt.Errorf("record %s/%s cannot be decrypted: the store was written with another secret key; start with the --secret-key-path it was created with", kind, key)
	}
	return plain, nil
}

func (s *sealedStore) Apply(ctx context.Context, ops ...StoreOp) error {
	sealed := make([]StoreOp, len(ops))
	for i, op := range ops {
		sealed[i] = op
		if op.Delete {
			continue
		}
		v, err := s.seal(op.Kind, op.Key, op.Value)
		if err != nil {
			return err
		}
		sealed[i].Value = v
	}
	return s.inner.Apply(ctx, sealed...)
}

func (s *sealedStore) List(ctx context.Context, kind string) ([]StoreRecord, error) {
	recs, err := s.inner.List(ctx, kind)
	if err != nil {
		return nil, err
	}
	var migrate []StoreOp
	for i, r := range recs {
		if !bytes.HasPrefix(r.Value, sealedMagic) {
			migrate = append(migrate, PutOp(kind, r.Key, r.Value))
			continue
		}
		plain, err := s.open(kind, r.Key, r.Value)
		if err != nil {
			return nil, err
		}
		recs[i].Value = plain
	}
	if len(migrate) > 0 {
		if err := s.Apply(ctx, migrate...); err != nil {
			return nil, fmt.Errorf("seal the plain records of %s: %w", kind, err)
		}
		// The plain values may survive in freed pages of the file: rewrite it.
		if sc, ok := s.inner.(interface{ Scrub(context.Context) error }); ok {
			if err := sc.Scrub(ctx); err != nil {
				return nil, err
			}
		}
	}
	return recs, nil
}

func (s *sealedStore) Close() error { return s.inner.Close() }

// LoadSecretKey reads the key file at path (64 hex digits, as DM's secret key file). When
// path is empty, the key is dir/secret.key, created with a fresh random key (mode 0600) if
// it does not exist yet.
func LoadSecretKey(path, dir string) ([]byte, error) {
	if path == "" {
		path = filepath.Join(dir, "secret.key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := writeNewKey(path); err != nil {
				return nil, err
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the secret key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != SecretKeySize {
		return nil, fmt.Errorf("secret key file %s must hold %d hex digits (a %d-byte AES key); make one with: openssl rand -hex %d > %s",
			path, 2*SecretKeySize, SecretKeySize, SecretKeySize, path)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s is readable by others (mode %v); chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return key, nil
}

func writeNewKey(path string) error {
	key := make([]byte, SecretKeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the secret key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
