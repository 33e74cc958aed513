package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/internal/tlsconfig"
)

// etcdFlags are the --etcd-* flags: when endpoints are set, the control-plane state lives
// in etcd under prefix instead of the file store in --data-dir.
type etcdFlags struct {
	endpoints []string
	prefix    string
	lockWait  time.Duration
	tls       tlsconfig.Files // --etcd-ssl-ca, --etcd-ssl-cert, --etcd-ssl-key
}

// parseEndpoints reads --etcd-endpoints: a comma list of etcd client URLs.
func parseEndpoints(v string) ([]string, error) {
	var out []string
	for _, ep := range strings.Split(v, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			out = append(out, ep)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--etcd-endpoints %q names no endpoint: give etcd client URLs such as http://127.0.0.1:2379", v)
	}
	return out, nil
}

// openStore opens the control-plane store, sealed with the secret key: etcd when
// --etcd-endpoints is set, else the file store in <data-dir>/store. The secret key
// defaults to <data-dir>/store/secret.key in both cases. It returns a description of
// where the state lives, for the start-up log.
func openStore(ctx context.Context, cfg config) (dm.Store, string, error) {
	storeDir := filepath.Join(cfg.dataDir, "store")
	key, err := dm.LoadSecretKey(cfg.secretKeyPath, storeDir)
	if err != nil {
		return nil, "", err
	}
	var inner dm.Store
	where := "file " + storeDir
	if len(cfg.etcd.endpoints) > 0 {
		tlsCfg, err := tlsconfig.Client(cfg.etcd.tls)
		if err != nil {
			return nil, "", fmt.Errorf("etcd TLS: %w; check --etcd-ssl-ca, --etcd-ssl-cert and --etcd-ssl-key", err)
		}
		es, err := dm.OpenEtcdStore(ctx, dm.EtcdStoreConfig{
			Endpoints: cfg.etcd.endpoints, Prefix: cfg.etcd.prefix, TLS: tlsCfg, LockWait: cfg.etcd.lockWait, Name: cfg.name,
		})
		if err != nil {
			return nil, "", err
		}
		inner, where = es, "etcd "+strings.Join(cfg.etcd.endpoints, ",")+" prefix "+cfg.etcd.prefix
	} else {
		fs, err := dm.OpenFileStore(storeDir)
		if err != nil {
			return nil, "", err
		}
		inner = fs
	}
	store, err := dm.EncryptStore(inner, key)
	if err != nil {
		_ = inner.Close()
		return nil, "", err
	}
	return store, where, nil
}
