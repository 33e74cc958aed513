package dm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// leaderOf campaigns for prefix's election in a new session on cli and returns both.
func leaderOf(t *testing.T, cli *clientv3.Client, prefix, name string) (*concurrency.Session, *concurrency.Election) {
	t.Helper()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	el := concurrency.NewElection(sess, EtcdElectionPrefix(prefix))
	if err := el.Campaign(testCtx(t), `{"name":"`+name+`","api_url":"http://`+name+`:8261"}`); err != nil {
		t.Fatal(err)
	}
	return sess, el
}

func TestFencedEtcdStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		cfg := etcdConfig(t)
		_, el := leaderOf(t, rawEtcd(t), cfg.Prefix, "m1")
		s, err := NewFencedEtcdStore(rawEtcd(t), cfg, el.Key(), el.Rev())
		mustOK(t, err)
		return s
	})
}

// TestFencedEtcdStoreFence: once the leader's election key is gone (resigned, or its
// lease expired) its store writes nothing; its Close leaves the caller's client open.
func TestFencedEtcdStoreFence(t *testing.T) {
	ctx := testCtx(t)
	cfg := etcdConfig(t)
	cli := rawEtcd(t)
	_, el := leaderOf(t, cli, cfg.Prefix, "m1")
	s, err := NewFencedEtcdStore(cli, cfg, el.Key(), el.Rev())
	mustOK(t, err)
	mustOK(t, s.Apply(ctx, storePut("k", "x", "1")))

	// A --role all server is refused on a prefix with masters; and if one holds the
	// prefix's lock anyway, the leader writes nothing beside it.
	if _, err := OpenEtcdStore(ctx, cfg); err == nil || !strings.Contains(err.Error(), "--role master") {
		t.Fatalf("OpenEtcdStore on the masters' prefix = %v, want a refusal", err)
	}
	if _, err := cli.Put(ctx, cfg.Prefix+"/"+etcdLockName, "a --role all server"); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, storePut("k", "z", "beside")); err == nil || !strings.Contains(err.Error(), "--role all") {
		t.Fatalf("Apply while the lock exists = %v, want a refusal", err)
	}
	if _, err := cli.Delete(ctx, cfg.Prefix+"/"+etcdLockName); err != nil {
		t.Fatal(err)
	}
	mustOK(t, el.Resign(ctx))
	_, el2 := leaderOf(t, cli, cfg.Prefix, "m2")
	next, err := NewFencedEtcdStore(cli, cfg, el2.Key(), el2.Rev())
	mustOK(t, err)
	err = s.Apply(ctx, storePut("k", "x", "stale"), storePut("k", "y", "stale"))
	if err == nil || !strings.Contains(err.Error(), "no longer the leader") {
		t.Fatalf("Apply after losing the election = %v, want a refusal", err)
	}
	closeStore(t, s)
	if diff := cmp.Diff([]StoreRecord{storeRec("x", "1")}, mustList(t, next, "k")); diff != "" {
		t.Errorf("the deposed leader wrote (-want +got):\n%s", diff)
	}
	if _, err := cli.Get(ctx, "x"); err != nil {
		t.Errorf("the fenced store's Close closed the caller's client: %v", err)
	}
	for _, bad := range []struct {
		key string
		rev int64
	}{{"", 1}, {el2.Key(), 0}, {"/elsewhere/%election/1", 5}, {cfg.Prefix + "/task/x", 5}} {
		if _, err := NewFencedEtcdStore(cli, cfg, bad.key, bad.rev); err == nil {
			t.Errorf("NewFencedEtcdStore(%q, %d) accepted", bad.key, bad.rev)
		}
	}
}

// register registers a master under a session of its own and returns the session.
func register(t *testing.T, cli *clientv3.Client, prefix string, mi MasterInfo) *concurrency.Session {
	t.Helper()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	mustOK(t, RegisterMaster(testCtx(t), cli, prefix, mi, sess.Lease()))
	return sess
}

// TestEtcdMasters: the directory lists registered masters with the election's leader;
// a master whose session ended stays listed as not alive until offlined; a running one
// cannot be offlined; an unknown one is 38048. The Cluster answers through it.
func TestEtcdMasters(t *testing.T) {
	ctx := testCtx(t)
	cli := rawEtcd(t)
	prefix := etcdConfig(t).Prefix
	register(t, cli, prefix, MasterInfo{Name: "m1", APIURL: "http://m1:8261"})
	s2 := register(t, cli, prefix, MasterInfo{Name: "m2", APIURL: "https://m2:8261"})
	leaderOf(t, cli, prefix, "m1")
	dir := &EtcdMasters{Client: cli, Prefix: prefix}
	c, err := Open(ctx, Config{Store: MemoryStore(), Masters: dir, Name: "m1"})
	mustOK(t, err)
	defer c.Close()

	list := func() []ClusterMaster {
		t.Helper()
		l, err := c.ListMasters(ctx)
		mustOK(t, err)
		if l.Total != len(l.Data) {
			t.Fatalf("total %d for %d masters", l.Total, len(l.Data))
		}
		return l.Data
	}
	want := []ClusterMaster{
		{Name: "m1", Alive: true, Leader: true, Addr: "http://m1:8261"},
		{Name: "m2", Alive: true, Addr: "https://m2:8261"},
	}
	if diff := cmp.Diff(want, list()); diff != "" {
		t.Fatalf("masters (-want +got):\n%s", diff)
	}
	wantCode(t, c.OfflineMaster(ctx, "m2"), CodeOpenAPICommon) // running
	dup, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	mustOK(t, err)
	defer dup.Close()
	if err := RegisterMaster(ctx, cli, prefix, MasterInfo{Name: "m2", APIURL: "http://elsewhere:8261"}, dup.Lease()); !errors.Is(err, ErrMasterNameTaken) {
		t.Fatalf("a second m2 registered: %v", err)
	}
	wantCode(t, c.OfflineMaster(ctx, "nope"), CodeMasterNotFound)

	mustOK(t, s2.Close()) // m2 stops: its lease is revoked
	want[1].Alive = false
	if diff := cmp.Diff(want, list()); diff != "" {
		t.Fatalf("masters after m2 stopped (-want +got):\n%s", diff)
	}
	mustOK(t, c.OfflineMaster(ctx, "m2"))
	if diff := cmp.Diff(want[:1], list()); diff != "" {
		t.Fatalf("masters after offlining m2 (-want +got):\n%s", diff)
	}
	wantCode(t, c.OfflineMaster(ctx, "m2"), CodeMasterNotFound)

	// With Members the embedded etcd's members are masters too: the package's member
	// never registered, so it is listed as not alive, at its first peer URL.
	members, err := (&EtcdMasters{Client: cli, Prefix: prefix, Members: true}).List(ctx)
	mustOK(t, err)
	var found bool
	for _, m := range members {
		if m.Name == "etcdtest" {
			found = !m.Alive && !m.Leader && strings.HasPrefix(m.Addr, "http://127.0.0.1:")
		}
	}
	if !found {
		t.Errorf("masters with Members = %+v, want the etcd member etcdtest not alive at its peer URL", members)
	}

	// An etcd that does not answer is a 400 naming the fix, not a 500.
	dead, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: time.Second, Logger: zap.NewNop()})
	mustOK(t, err)
	defer dead.Close()
	c2, err := Open(ctx, Config{Store: MemoryStore(), Masters: &EtcdMasters{Client: dead, Prefix: prefix, RequestTimeout: time.Second}})
	mustOK(t, err)
	defer c2.Close()
	_, err = c2.ListMasters(ctx)
	wantCode(t, err, CodeOpenAPICommon)
}
