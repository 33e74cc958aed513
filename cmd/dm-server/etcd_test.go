package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dmkit/dmkit/internal/etcdtest"
	"github.com/dmkit/dmkit/internal/tlsconfig"
	"github.com/dmkit/dmkit/internal/tlsconfig/tlstest"
)

// etcds is the package's embedded etcd member, started by the first test that needs it.
var etcds etcdtest.Shared

func writeSecretKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeOnEtcd: with --etcd-endpoints the state lives in etcd (sealed with the secret
// key), not in --data-dir; a second server on the prefix is refused; after a kill -9 a
// server on a fresh data dir waits for the dead one's lease and finds the state.
func TestServeOnEtcd(t *testing.T) {
	ep := etcds.Get(t).Endpoint
	prefix := etcdtest.Prefix(t)
	keyPath := writeSecretKey(t)
	etcdArgs := func(dataDir string, extra ...string) []string {
		return append([]string{"--data-dir", dataDir, "--etcd-endpoints", "  ," + ep, "--etcd-prefix", prefix, "--secret-key-path", keyPath}, extra...)
	}
	dir1 := t.TempDir()
	c := startChild(t, etcdArgs(dir1, "--workers", "alpha", "--name", "etcd-m1")...)
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "etcd-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)
	var info struct {
		ClusterID uint64 `json:"cluster_id"`
	}
	c.expect(t, "GET", "/cluster/info", "", 200, &info)

	err := run(context.Background(), append([]string{"--listen", "127.0.0.1:0"}, etcdArgs(t.TempDir(), "--etcd-lock-wait", "0")...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "another dm-server holds "+prefix+" (name=etcd-m1 ") {
		t.Fatalf("second server on the prefix: %v, want a refusal", err)
	}

	if _, err := os.Stat(filepath.Join(dir1, "store", "dm.db")); !os.IsNotExist(err) {
		t.Errorf("a file store was created in --data-dir (stat: %v)", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	sources := 0
	for _, kv := range resp.Kvs {
		if strings.HasPrefix(string(kv.Key), prefix+"/source/") {
			sources++
		}
		for _, clear := range []string{`"` + e2eSrc.Password + `"`, `"password"`, `"etcd-src"`} {
			if strings.Contains(string(kv.Value), clear) {
				t.Errorf("etcd key %s holds %s in clear", kv.Key, clear)
			}
		}
	}
	if sources != 1 {
		t.Fatalf("etcd holds %d source records under %s, want 1", sources, prefix)
	}

	c.kill9(t) // its lock stays until the lease expires; the next server waits for it
	c = startChild(t, etcdArgs(t.TempDir(), "--workers", "alpha")...)
	c.expect(t, "GET", "/sources/etcd-src", "", 200, nil)
	var again struct {
		ClusterID uint64 `json:"cluster_id"`
	}
	c.expect(t, "GET", "/cluster/info", "", 200, &again)
	if again.ClusterID != info.ClusterID {
		t.Errorf("cluster id after restart on etcd = %d, want %d", again.ClusterID, info.ClusterID)
	}
}

func TestParseFlagsEtcd(t *testing.T) {
	cfg, err := parseFlags([]string{"--etcd-endpoints", "http://a:2379, http://b:2379,", "--etcd-prefix", "/x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.etcd.endpoints, " "); got != "http://a:2379 http://b:2379" || cfg.etcd.prefix != "/x" {
		t.Errorf("endpoints %q prefix %q", got, cfg.etcd.prefix)
	}
	for _, args := range [][]string{
		{"--etcd-endpoints", " , "},
		{"--etcd-prefix", "/x"},     // acts only with endpoints
		{"--etcd-ssl-ca", "ca.pem"}, // likewise
		{"--etcd-lock-wait", "0"},   // likewise
		{"--etcd-endpoints", "http://a:2379", "--etcd-lock-wait", "-1s"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

// TestServeOnEtcdTLS: --etcd-ssl-* reach an etcd that serves clients over TLS only and
// requires a client certificate (the refusals without one are tested in dm).
func TestServeOnEtcdTLS(t *testing.T) {
	pki := tlstest.PKI(t, t.TempDir(), "dm-server-client")
	srv, err := etcdtest.StartTLS("tls", pki["server"])
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cl := pki["dm-server-client"]
	base, stop := startServer(t, "--data-dir", t.TempDir(), "--etcd-endpoints", srv.Endpoint,
		"--etcd-ssl-ca", cl.CA, "--etcd-ssl-cert", cl.Cert, "--etcd-ssl-key", cl.Key)
	var info struct {
		ClusterID uint64 `json:"cluster_id"`
	}
	getJSON(t, base+"/api/v1/cluster/info", &info)
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if info.ClusterID == 0 {
		t.Fatal("no cluster id")
	}
	tlsCfg, err := tlsconfig.Client(cl)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint}, TLS: tlsCfg, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "/dmkit/meta/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count == 0 {
		t.Error("no meta records under /dmkit in the TLS etcd")
	}
}
