package dm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/dmkit/dmkit/internal/etcdtest"
	"github.com/dmkit/dmkit/internal/tlsconfig"
	"github.com/dmkit/dmkit/internal/tlsconfig/tlstest"
)

// etcdConfig returns a store config on the package's embedded etcd with a prefix of the
// test's own.
func etcdConfig(t *testing.T) EtcdStoreConfig {
	t.Helper()
	return EtcdStoreConfig{Endpoints: []string{etcds.Get(t).Endpoint}, Prefix: etcdtest.Prefix(t)}
}

func openTestEtcdStore(t *testing.T, cfg EtcdStoreConfig) *EtcdStore {
	t.Helper()
	s, err := OpenEtcdStore(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("OpenEtcdStore(%s): %v", cfg.Prefix, err)
	}
	return s
}

// rawEtcd is a plain client on the package's etcd, for reading what the store wrote.
func rawEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcds.Get(t).Endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// rawKeys returns every key and value under prefix as etcd holds them.
func rawKeys(t *testing.T, prefix string) map[string]string {
	t.Helper()
	resp, err := rawEtcd(t).Get(testCtx(t), prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

func TestEtcdStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return openTestEtcdStore(t, etcdConfig(t)) })
}

// TestEtcdStoreKeyLayout: records are <prefix>/<kind>/<key> with both parts escaped, so a
// '/' in a key or kind cannot make two records share an etcd key or a kind's range.
func TestEtcdStoreKeyLayout(t *testing.T) {
	cfg := etcdConfig(t)
	s := openTestEtcdStore(t, cfg)
	defer closeStore(t, s)
	ctx := testCtx(t)
	mustOK(t, s.Apply(ctx, storePut("a", "b/c", "1"), storePut("a/b", "c", "2"), storePut("a", "%lock", "3"), storePut("a%2Fb", "c", "4")))
	for kind, want := range map[string][]StoreRecord{
		"a":     {storeRec("%lock", "3"), storeRec("b/c", "1")},
		"a/b":   {storeRec("c", "2")},
		"a%2Fb": {storeRec("c", "4")},
	} {
		if diff := cmp.Diff(want, mustList(t, s, kind)); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", kind, diff)
		}
	}
	p := cfg.Prefix
	want := map[string]string{
		p + "/a/b%2Fc":   "1",
		p + "/a%2Fb/c":   "2",
		p + "/a/%25lock": "3",
		p + "/a%252Fb/c": "4",
	}
	got := rawKeys(t, p)
	if !strings.HasPrefix(got[p+"/"+etcdLockName], "name= host=") {
		t.Errorf("lock key %s = %q, want the holder's description", p+"/"+etcdLockName, got[p+"/"+etcdLockName])
	}
	delete(got, p+"/"+etcdLockName)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("raw etcd keys (-want +got):\n%s", diff)
	}
}

// TestEtcdStoreAtomicity: one Apply is one etcd revision (none of its records exist just
// before it, all of them at it), and a batch etcd refuses or a fenced one writes nothing.
func TestEtcdStoreAtomicity(t *testing.T) {
	ctx := testCtx(t)
	cfg := etcdConfig(t)
	s := openTestEtcdStore(t, cfg)
	defer closeStore(t, s)
	raw := rawEtcd(t)

	var ops []StoreOp
	for i := range 50 {
		ops = append(ops, storePut("batch", fmt.Sprintf("k%02d", i), "v"))
	}
	rev, err := s.ApplyRevision(ctx, ops...)
	mustOK(t, err)
	for _, tc := range []struct {
		rev  int64
		want int64
	}{{rev - 1, 0}, {rev, 50}} {
		resp, err := raw.Get(ctx, s.kindPrefix("batch"), clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithRev(tc.rev))
		mustOK(t, err)
		if resp.Count != tc.want {
			t.Errorf("at revision %d the batch has %d records, want %d", tc.rev, resp.Count, tc.want)
		}
	}
	_, lrev, err := s.ListRevision(ctx, "batch")
	mustOK(t, err)
	if lrev < rev {
		t.Errorf("ListRevision = %d, before the apply's revision %d", lrev, rev)
	}

	// Over etcd's --max-txn-ops (128 on the test member): refused whole, with the fix.
	var big []StoreOp
	for i := range 200 {
		big = append(big, storePut("big", fmt.Sprintf("k%03d", i), "v"))
	}
	big = append(big, DeleteOp("batch", "k00"))
	err = s.Apply(ctx, big...)
	if err == nil || !strings.Contains(err.Error(), "--max-txn-ops") {
		t.Fatalf("Apply of 201 records = %v, want a refusal naming --max-txn-ops", err)
	}
	if got := mustList(t, s, "big"); len(got) != 0 {
		t.Errorf("refused batch wrote %d records", len(got))
	}
	if got := mustList(t, s, "batch"); len(got) != 50 {
		t.Errorf("refused batch deleted from another kind: %d records left, want 50", len(got))
	}

	// Empty kinds or keys are refused before anything is sent.
	if err := s.Apply(ctx, storePut("ok", "x", "1"), storePut("", "x", "1")); err == nil {
		t.Error("Apply with an empty kind accepted")
	}
	if got := mustList(t, s, "ok"); len(got) != 0 {
		t.Errorf("refused batch wrote %v", got)
	}
}

// TestEtcdStoreLock: a second store on the same prefix is refused while the first is
// open and allowed once it closed; a store whose lease was lost cannot write any more.
func TestEtcdStoreLock(t *testing.T) {
	ctx := testCtx(t)
	cfg := etcdConfig(t)
	first := openTestEtcdStore(t, cfg)
	_, err := OpenEtcdStore(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "another dm-server holds "+cfg.Prefix) {
		t.Fatalf("second open = %v, want refusal naming the prefix", err)
	}
	other := cfg
	other.Prefix = cfg.Prefix + "-other"
	closeStore(t, openTestEtcdStore(t, other)) // another prefix is another cluster
	closeStore(t, first)
	closeStore(t, first) // idempotent
	if err := first.Apply(ctx, storePut("k", "x", "1")); !errors.Is(err, errEtcdStoreClosed) {
		t.Errorf("Apply after Close = %v, want %v", err, errEtcdStoreClosed)
	}
	if _, err := first.List(ctx, "k"); !errors.Is(err, errEtcdStoreClosed) {
		t.Errorf("List after Close = %v, want %v", err, errEtcdStoreClosed)
	}

	second := openTestEtcdStore(t, cfg)
	mustOK(t, second.Apply(ctx, storePut("k", "x", "1")))
	// The lease expires as it would for a paused or partitioned server; a third store
	// takes the prefix. The second must not write over the third's state.
	if _, err := rawEtcd(t).Revoke(ctx, second.lease); err != nil {
		t.Fatal(err)
	}
	third := openTestEtcdStore(t, cfg)
	defer closeStore(t, third)
	err = second.Apply(ctx, storePut("k", "x", "stale"), storePut("k", "y", "stale"))
	if err == nil || !strings.Contains(err.Error(), "lost its lock") {
		t.Fatalf("Apply after the lease was lost = %v, want a refusal", err)
	}
	closeStore(t, second) // must not release the third's lock
	if diff := cmp.Diff([]StoreRecord{storeRec("x", "1")}, mustList(t, third, "k")); diff != "" {
		t.Errorf("the fenced store wrote (-want +got):\n%s", diff)
	}
	if _, err := OpenEtcdStore(ctx, cfg); err == nil {
		t.Error("the fenced store's Close released the third store's lock")
	}
}

// TestEtcdStoreOpenErrors: bad configurations and an unreachable etcd fail with the fix.
func TestEtcdStoreOpenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, tc := range []struct {
		name string
		cfg  EtcdStoreConfig
		want string
	}{
		{"no endpoints", EtcdStoreConfig{}, "set --etcd-endpoints"},
		{"relative prefix", EtcdStoreConfig{Endpoints: []string{dead}, Prefix: "dmkit"}, "must start with '/'"},
		{"root prefix", EtcdStoreConfig{Endpoints: []string{dead}, Prefix: "/"}, "must start with '/'"},
		{"short ttl", EtcdStoreConfig{Endpoints: []string{dead}, LockTTL: time.Millisecond}, "lease granularity"},
		{"unreachable", EtcdStoreConfig{Endpoints: []string{dead}, DialTimeout: 300 * time.Millisecond}, "check --etcd-endpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenEtcdStore(testCtx(t), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestClusterReopensFromEtcd: a cluster's state (source, task, template, binding, id)
// survives closing it and opening a new one on the same etcd prefix.
func TestClusterReopensFromEtcd(t *testing.T) {
	ctx := testCtx(t)
	cfg := etcdConfig(t)
	c, err := Open(ctx, Config{Store: openTestEtcdStore(t, cfg), Units: (&stepUnits{}).factory})
	mustOK(t, err)
	info, _ := c.ClusterInfo(ctx)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("persist", ModeFull, "db", "src1")})
	mustOK(t, err)
	_, err = c.CreateTaskTemplate(ctx, fullTask("tpl", ModeFull, "db", "src1"))
	mustOK(t, err)
	mustOK(t, c.Close())

	c2, err := Open(ctx, Config{Store: openTestEtcdStore(t, cfg), Units: (&stepUnits{}).factory})
	mustOK(t, err)
	defer c2.Close()
	info2, _ := c2.ClusterInfo(ctx)
	if info2.ClusterID != info.ClusterID {
		t.Fatalf("cluster id changed across reopen: %d → %d", info.ClusterID, info2.ClusterID)
	}
	if _, err := c2.GetSource(ctx, "src1", false); err != nil {
		t.Fatal(err)
	}
	got, err := c2.GetTask(ctx, "persist", false)
	mustOK(t, err)
	if got.TaskMode != ModeFull {
		t.Fatalf("task after reopen = %+v", got)
	}
	if _, err := c2.GetTaskTemplate(ctx, "tpl"); err != nil {
		t.Fatal(err)
	}
	ws, _ := c2.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "src1" {
		t.Fatalf("binding lost across reopen: %+v", ws.Data)
	}
}

// TestEncryptStoreOverEtcd: with EncryptStore over the etcd store, no password reaches
// etcd in clear (read back raw); without it, the same records do hold it — so the check
// can see one.
func TestEncryptStoreOverEtcd(t *testing.T) {
	ctx := testCtx(t)
	for _, encrypt := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypt=%v", encrypt), func(t *testing.T) {
			cfg := etcdConfig(t)
			var st Store = openTestEtcdStore(t, cfg)
			if encrypt {
				var err error
				st, err = EncryptStore(st, testKey(7))
				mustOK(t, err)
			}
			c, err := Open(ctx, Config{Store: st, Workers: []string{"w1"}, Units: (&stepUnits{}).factory})
			mustOK(t, err)
			_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("enc-src", testSrc)})
			mustOK(t, err)
			task := fullTask("enc-task", ModeFull, "encdb", "enc-src")
			task.TargetConfig.Password = testDst.Password
			_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			mustOK(t, c.Close())

			clear := 0
			for key, value := range rawKeys(t, cfg.Prefix) {
				if strings.Contains(value, `"`+testSrc.Password+`"`) {
					clear++
					if encrypt {
						t.Errorf("etcd key %s holds the password in clear", key)
					}
				}
			}
			if !encrypt && clear == 0 {
				t.Fatal("no plain record holds the password: the check would see nothing")
			}
			if !encrypt {
				return
			}
			// Reopened with the key, the records are readable again.
			st2, err := EncryptStore(openTestEtcdStore(t, cfg), testKey(7))
			mustOK(t, err)
			defer closeStore(t, st2)
			for _, kind := range []string{kindSource, kindTask} {
				recs := mustList(t, st2, kind)
				if len(recs) != 1 || !strings.Contains(string(recs[0].Value), `"`+testSrc.Password+`"`) {
					t.Errorf("%s records after reopen = %q, want one holding the password", kind, recs)
				}
			}
		})
	}
}

// TestEtcdStoreContextCancel: a cancelled context is honoured before any call is made.
func TestEtcdStoreContextCancel(t *testing.T) {
	cfg := etcdConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenEtcdStore(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenEtcdStore with cancelled ctx = %v, want context.Canceled", err)
	}
}

// TestEtcdStoreLockWait: with LockWait, an open waits for the holder to close, and for the
// lease of a holder that died (its keep-alive stopped, as when the process is killed) to
// expire; the dead holder can no longer write.
func TestEtcdStoreLockWait(t *testing.T) {
	ctx := testCtx(t)
	cfg := etcdConfig(t)
	cfg.LockTTL = 2 * time.Second
	waiting := cfg
	waiting.LockWait = time.Minute

	first := openTestEtcdStore(t, cfg)
	opened := make(chan *EtcdStore, 1)
	go func() {
		s, err := OpenEtcdStore(ctx, waiting)
		if err != nil {
			t.Errorf("waiting open: %v", err)
		}
		opened <- s
	}()
	time.Sleep(200 * time.Millisecond) // most likely waiting by now; either way it must open
	closeStore(t, first)
	second := <-opened
	if second == nil {
		t.FailNow()
	}

	second.stopKA() // the process "dies": nobody keeps the lease alive or revokes it
	<-second.kaDone
	third := openTestEtcdStore(t, waiting)
	defer closeStore(t, third)
	if err := second.Apply(ctx, storePut("k", "x", "stale")); err == nil || !strings.Contains(err.Error(), "lost its lock") {
		t.Errorf("Apply of the dead holder = %v, want a refusal", err)
	}
	closeStore(t, second)
	mustOK(t, third.Apply(ctx, storePut("k", "x", "1")))
	if diff := cmp.Diff([]StoreRecord{storeRec("x", "1")}, mustList(t, third, "k")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	short := cfg
	short.LockWait = 100 * time.Millisecond
	if _, err := OpenEtcdStore(ctx, short); err == nil || !strings.Contains(err.Error(), "did not release it within 100ms") {
		t.Errorf("open while held with a short wait = %v, want a refusal naming the wait", err)
	}
}

// TestEtcdStoreTLS: EtcdStoreConfig.TLS reaches an etcd that serves clients over TLS and
// requires a client certificate; without it (or without the certificate) the open fails.
func TestEtcdStoreTLS(t *testing.T) {
	pki := tlstest.PKI(t, t.TempDir(), "dm-client")
	srv, err := etcdtest.StartTLS("tls", pki["server"])
	mustOK(t, err)
	defer srv.Stop()
	clientTLS, err := tlsconfig.Client(pki["dm-client"])
	mustOK(t, err)
	noCert, err := tlsconfig.Client(tlsconfig.Files{CA: pki["server"].CA})
	mustOK(t, err)
	base := EtcdStoreConfig{Endpoints: []string{srv.Endpoint}, Prefix: etcdtest.Prefix(t), DialTimeout: time.Second}

	for _, tc := range []struct {
		name string
		tls  *tls.Config
		ok   bool
	}{{"client certificate", clientTLS, true}, {"no client certificate", noCert, false}, {"plain", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.TLS = tc.tls
			s, err := OpenEtcdStore(testCtx(t), cfg)
			if !tc.ok {
				if err == nil {
					s.Close()
					t.Fatal("opened")
				}
				if !strings.Contains(err.Error(), "check --etcd-endpoints") {
					t.Fatalf("error %q does not name the fix", err)
				}
				return
			}
			mustOK(t, err)
			defer closeStore(t, s)
			mustOK(t, s.Apply(testCtx(t), storePut("k", "x", "1")))
			if diff := cmp.Diff([]StoreRecord{storeRec("x", "1")}, mustList(t, s, "k")); diff != "" {
				t.Errorf("over TLS (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEtcdStoreEtcdGone: when etcd stops answering, Apply and List fail within the
// request timeout with the fix, instead of hanging the API call that made them.
func TestEtcdStoreEtcdGone(t *testing.T) {
	srv, err := etcdtest.Start("gone")
	mustOK(t, err)
	defer srv.Stop()
	s := openTestEtcdStore(t, EtcdStoreConfig{Endpoints: []string{srv.Endpoint}, Prefix: "/gone",
		DialTimeout: 500 * time.Millisecond, RequestTimeout: 500 * time.Millisecond})
	defer closeStore(t, s)
	ctx := testCtx(t)
	mustOK(t, s.Apply(ctx, storePut("k", "x", "1")))
	srv.Stop() // waits for our open streams up to etcd's request timeout (~7 s)
	if err := s.Apply(ctx, storePut("k", "y", "1")); err == nil || !strings.Contains(err.Error(), "check --etcd-endpoints") {
		t.Errorf("Apply with etcd gone = %v, want an error naming --etcd-endpoints", err)
	}
	if _, err := s.List(ctx, "k"); err == nil || !strings.Contains(err.Error(), "check --etcd-endpoints") {
		t.Errorf("List with etcd gone = %v, want an error naming --etcd-endpoints", err)
	}
}

// TestEtcdStoreNestedPrefix: a cluster whose prefix lies inside another's writes keys in
// the outer one's ranges; the outer store refuses them rather than reading them as its
// own records.
func TestEtcdStoreNestedPrefix(t *testing.T) {
	ctx := testCtx(t)
	outer := etcdConfig(t)
	inner := outer
	inner.Prefix = outer.Prefix + "/task"
	so := openTestEtcdStore(t, outer)
	defer closeStore(t, so)
	si := openTestEtcdStore(t, inner)
	defer closeStore(t, si)
	mustOK(t, si.Apply(ctx, storePut("source", "x", "1")))
	if _, err := so.List(ctx, "task"); err == nil || !strings.Contains(err.Error(), "--etcd-prefix") {
		t.Errorf("outer List(task) = %v, want a refusal naming --etcd-prefix", err)
	}
	if diff := cmp.Diff([]StoreRecord{storeRec("x", "1")}, mustList(t, si, "source")); diff != "" {
		t.Errorf("inner List(source) (-want +got):\n%s", diff)
	}
}
