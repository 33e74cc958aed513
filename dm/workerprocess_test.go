package dm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// testWorkerProcess is a worker process inside the test binary, its RPC on httptest.
type testWorkerProcess struct {
	*WorkerProcess
	srv *httptest.Server
}

func startTestWorkerProcess(t *testing.T, name string, cli *clientv3.Client, prefix string, ttl time.Duration) *testWorkerProcess {
	t.Helper()
	return startTestWorkerProcessWith(t, WorkerProcessConfig{Name: name, Client: cli, Prefix: prefix, KeepAliveTTL: ttl, DataDir: t.TempDir()})
}

func startTestWorkerProcessWith(t *testing.T, cfg WorkerProcessConfig) *testWorkerProcess {
	t.Helper()
	name := cfg.Name
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg.Addr = strings.TrimPrefix(srv.URL, "http://")
	p, err := StartWorkerProcess(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("start worker process %s: %v", name, err)
	}
	mux.Handle(workerRPCPath, p.Handler())
	tp := &testWorkerProcess{WorkerProcess: p, srv: srv}
	t.Cleanup(func() { tp.Close() })
	return tp
}

// crash stops the worker as a kill -9 would: no revoke, units cut short; its
// registration stays until the lease expires.
func (p *testWorkerProcess) crash() {
	p.cancel()
	p.wg.Wait()
	p.w.stopAll()
	p.mu.Lock()
	l := p.lease
	p.lease = nil
	p.mu.Unlock()
	l.stop()
	<-l.done
	p.srv.Close()
}

func (p *testWorkerProcess) Close() error {
	p.mu.Lock()
	crashed := p.lease == nil
	p.mu.Unlock()
	if crashed {
		return nil
	}
	return p.WorkerProcess.Close()
}

// newRemoteCluster is a leader cluster on the package's etcd whose workers are worker
// processes; it returns the etcd client and store config they register with.
func newRemoteCluster(t *testing.T) (*Cluster, *clientv3.Client, EtcdStoreConfig) {
	t.Helper()
	cfg := etcdConfig(t)
	cli := rawEtcd(t)
	c, err := Open(testCtx(t), Config{Store: openTestEtcdStore(t, cfg), DataDir: t.TempDir(),
		RemoteWorkers: &RemoteWorkers{Client: cli, Prefix: cfg.Prefix}})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	return c, cli, cfg
}

func workerBinding(t *testing.T, c *Cluster) map[string]ClusterWorker {
	t.Helper()
	ws, err := c.ListWorkers(testCtx(t))
	mustOK(t, err)
	out := map[string]ClusterWorker{}
	for _, w := range ws.Data {
		out[w.Name] = w
	}
	return out
}

// TestWorkerProcessFailover: a leader cluster with two worker processes on etcd runs a
// mode-all task on the first; the first dies (its lease left to expire) under a write
// load; the source is bound to the second, the subtask resumes from its checkpoint there,
// and the target ends identical to the source.
func TestWorkerProcessFailover(t *testing.T) {
	ctx := testCtx(t)
	c, cli, cfg := newRemoteCluster(t)
	w1 := startTestWorkerProcess(t, "wp1", cli, cfg.Prefix, 3*time.Second)
	startTestWorkerProcess(t, "wp2", cli, cfg.Prefix, 3*time.Second)
	waitFor(t, "both worker processes online", func() bool {
		b := workerBinding(t, c)
		return b["wp1"].BoundStage == WorkerFree && b["wp2"].BoundStage == WorkerFree
	})
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	if b := workerBinding(t, c); b["wp1"].BoundSourceName != "src1" {
		t.Fatalf("src1 should be bound to wp1 (first free by name): %+v", b)
	}

	testSrc.Exec(t, "DROP DATABASE IF EXISTS hafail")
	testDst.Exec(t, "DROP DATABASE IF EXISTS hafail")
	testSrc.Exec(t, "CREATE DATABASE hafail")
	testSrc.Exec(t, "CREATE TABLE hafail.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(30), n INT)")
	testSrc.Exec(t, "INSERT INTO hafail.t (v, n) SELECT CONCAT('v', seq), seq FROM hafail.seq_1_to_3000")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("ha-all", ModeAll, "hafail", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "ha-all", StartTaskRequest{}))
	waitUnit(t, c, "ha-all", UnitSync)
	if st := taskStage(t, c, "ha-all")[0]; st.WorkerName != "wp1" || st.SyncStatus == nil {
		t.Fatalf("status through the worker RPC = %+v", st)
	}
	waitSame(t, "hafail")

	// A write load across the crash.
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan error, 1)
	go func() {
		db := openDB(t, testSrc)
		for i := 0; loadCtx.Err() == nil; i++ {
			if _, err := db.Exec("INSERT INTO hafail.t (v, n) VALUES ('load', ?)", i); err != nil {
				loadDone <- err
				return
			}
			if _, err := db.Exec("UPDATE hafail.t SET n = n + 1 WHERE id = ?", 1+i%3000); err != nil {
				loadDone <- err
				return
			}
		}
		loadDone <- nil
	}()
	time.Sleep(500 * time.Millisecond)
	w1.crash()
	crashed := time.Now()
	waitFor(t, "src1 rebound to wp2", func() bool {
		b := workerBinding(t, c)
		return b["wp1"].BoundStage == WorkerOffline && b["wp2"].BoundSourceName == "src1"
	})
	t.Logf("source rebound %s after the crash (lease TTL 3s)", time.Since(crashed).Round(100*time.Millisecond))
	time.Sleep(time.Second)
	stopLoad()
	mustOK(t, <-loadDone)
	waitUnit(t, c, "ha-all", UnitSync)
	waitSame(t, "hafail")
	if st := taskStage(t, c, "ha-all")[0]; st.WorkerName != "wp2" {
		t.Fatalf("the subtask should run on wp2 now: %+v", st)
	}
	// The offline worker can be offlined now; the online one cannot.
	mustOK(t, c.OfflineWorker(ctx, "wp1"))
	if err := c.OfflineWorker(ctx, "wp2"); err == nil {
		t.Fatal("offlining an online worker process should be refused")
	}
	mustOK(t, c.DeleteTask(ctx, "ha-all", DeleteTaskOptions{Force: true}))
	var n int
	_ = openDB(t, testDst).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dm_meta' AND TABLE_NAME LIKE 'ha-all%'").Scan(&n)
	if n != 0 {
		t.Fatalf("%d meta tables (checkpoints, fence) left after delete", n)
	}
}

// TestFence: a binding's fence admits only the newest binding revision, and nothing
// once the registration is not certainly alive.
func TestFence(t *testing.T) {
	ctx := testCtx(t)
	db := openDB(t, testDst)
	testDst.Exec(t, "DROP TABLE IF EXISTS dm_meta.`fence-t_worker_fence`")
	alive := true
	valid := func() bool { return alive }
	old, cur := &Fence{Rev: 10, Valid: valid}, &Fence{Rev: 20, Valid: valid}
	mustOK(t, takeFence(ctx, db, "dm_meta", "fence-t", "s1", old))
	mustOK(t, fenceHook("dm_meta", "fence-t", "s1", old)(ctx, db))
	mustOK(t, takeFence(ctx, db, "dm_meta", "fence-t", "s1", cur))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"old binding checks", fenceHook("dm_meta", "fence-t", "s1", old)(ctx, db)},
		{"old binding takes again", takeFence(ctx, db, "dm_meta", "fence-t", "s1", old)},
		{"other source has no row", fenceHook("dm_meta", "fence-t", "s2", cur)(ctx, db)},
	} {
		if !errors.Is(tc.err, ErrStaleBinding) {
			t.Errorf("%s: got %v, want ErrStaleBinding", tc.name, tc.err)
		}
	}
	mustOK(t, fenceHook("dm_meta", "fence-t", "s1", cur)(ctx, db))
	alive = false
	if err := fenceHook("dm_meta", "fence-t", "s1", cur)(ctx, db); !errors.Is(err, ErrStaleBinding) {
		t.Errorf("an expired registration must not write: %v", err)
	}
	mustOK(t, dropFence(ctx, db, "dm_meta", "fence-t"))
}

// TestWorkerProcessShardMerge: a pessimistic shard merge whose two sources run on two
// worker processes: each DDL waits on its lock in the leader (reached over the shard
// RPC) until every shard sent it, and the merged target ends identical to the shards.
func TestWorkerProcessShardMerge(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	c, cli, cfg := newRemoteCluster(t)
	leader := httptest.NewServer(c.ShardHandler())
	defer leader.Close()
	for _, name := range []string{"swp1", "swp2"} {
		startTestWorkerProcessWith(t, WorkerProcessConfig{Name: name, Client: cli, Prefix: cfg.Prefix, KeepAliveTTL: 3 * time.Second,
			DataDir: t.TempDir(), Leader: func(context.Context) (string, error) { return leader.URL, nil }})
	}
	waitFor(t, "both worker processes online", func() bool {
		b := workerBinding(t, c)
		return b["swp1"].BoundStage == WorkerFree && b["swp2"].BoundStage == WorkerFree
	})
	f.addSources(t, c)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-wp", "pessimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-wp", StartTaskRequest{}))
	waitUnit(t, c, "shard-wp", UnitSync)
	f.waitMerged(t, c, "shard-wp")
	load := f.startLoad(t)
	for n, ddl := range pessimisticDDLs {
		for i, sh := range f.shards {
			sh.srv.Exec(t, fmt.Sprintf(ddl, sh.full()))
			if i == 2 {
				// Three of four shards sent it: the lock waits for the last.
				waitLockFor(t, c, "shard-wp", pessimisticFragments[n], 3)
			}
		}
		waitLockGone(t, c, "shard-wp", pessimisticFragments[n])
	}
	waitNoLock(t, c, "shard-wp")
	load.stop(t)
	f.waitMerged(t, c, "shard-wp")
	mustOK(t, c.DeleteTask(ctx, "shard-wp", DeleteTaskOptions{Force: true}))
}

// TestWorkerProcessRelay: relay on a worker process — enabled through the leader, run
// in the worker's data dir, its status and purge answered over the worker RPC, the
// subtask reading it locally, and back to the source when disabled.
func TestWorkerProcessRelay(t *testing.T) {
	ctx := testCtx(t)
	c, cli, cfg := newRemoteCluster(t)
	w := startTestWorkerProcess(t, "rwp1", cli, cfg.Prefix, 3*time.Second)
	waitFor(t, "worker process online", func() bool { return workerBinding(t, c)["rwp1"].BoundStage == WorkerFree })
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	incrTask(t, c, "wprelay")
	mustOK(t, c.StartTask(ctx, "wprelay", StartTaskRequest{}))
	waitUnit(t, c, "wprelay", UnitSync)
	mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{}))
	for i := range 200 {
		testSrc.Exec(t, fmt.Sprintf("INSERT INTO wprelay.t (v) VALUES (%d)", i))
		if i%50 == 0 {
			testSrc.Exec(t, "FLUSH BINARY LOGS")
		}
	}
	rs := waitRelayCatchUp(t, c, "src1", "rwp1")
	if rs.RelayDir == "" || rs.MasterBinlog == "" {
		t.Fatalf("relay status over the RPC: %+v", rs)
	}
	waitBinlogType(t, c, "wprelay", "local")
	waitSame(t, "wprelay")
	// The relay lives in the worker's data dir, not the master's.
	if got, _ := filepath.Glob(filepath.Join(w.cfg.DataDir, "relay-dir", "src1", "rwp1", "*", "mysql-bin.*")); len(got) == 0 {
		t.Fatalf("no relay files in the worker's data dir %s", w.cfg.DataDir)
	}
	cur, _ := masterFile(t)
	waitFor(t, "purge before "+cur, func() bool {
		return c.PurgeRelay(ctx, "src1", PurgeRelayRequest{RelayBinlogName: cur}) == nil
	})
	mustOK(t, c.DisableRelay(ctx, "src1", DisableRelayRequest{}))
	waitBinlogType(t, c, "wprelay", "remote")
	testSrc.Exec(t, "INSERT INTO wprelay.t (v) VALUES (1)")
	waitSame(t, "wprelay")
	mustOK(t, c.DeleteTask(ctx, "wprelay", DeleteTaskOptions{Force: true}))
}

// TestWorkerProcessReportsFinished: a full-mode task on a worker process finishes; the
// worker's report reaches the leader through etcd (the subtask is recorded finished, so a
// restart does not run it again) and is deleted once applied.
func TestWorkerProcessReportsFinished(t *testing.T) {
	ctx := testCtx(t)
	c, cli, cfg := newRemoteCluster(t)
	startTestWorkerProcess(t, "fwp1", cli, cfg.Prefix, 3*time.Second)
	waitFor(t, "worker process online", func() bool { return workerBinding(t, c)["fwp1"].BoundStage == WorkerFree })
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS wpfull")
	testDst.Exec(t, "DROP DATABASE IF EXISTS wpfull")
	testSrc.Exec(t, "CREATE DATABASE wpfull")
	testSrc.Exec(t, "CREATE TABLE wpfull.t (id INT PRIMARY KEY, v VARCHAR(20))")
	testSrc.Exec(t, "INSERT INTO wpfull.t SELECT seq, CONCAT('v', seq) FROM wpfull.seq_1_to_500")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("wpfull", ModeFull, "wpfull", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "wpfull", StartTaskRequest{}))
	waitStage(t, c, "wpfull", StageFinished, UnitLoad)
	waitSame(t, "wpfull")
	waitFor(t, "the finished report applied", func() bool {
		st, _ := getRecord(c.read(), kindSubtask, subtaskKey("wpfull", "src1")).(*subtaskRecord)
		return st != nil && st.FinishedSeq == st.ResumeSeq && st.ResumeSeq > 0
	})
	waitFor(t, "the applied report deleted", func() bool {
		resp, err := cli.Get(ctx, cfg.Prefix+"/"+etcdReportDir+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && resp.Count == 0
	})
	mustOK(t, c.DeleteTask(ctx, "wpfull", DeleteTaskOptions{Force: true}))
}

// TestFreeWorkerPreferences: a source needing a worker gets, among the free online ones,
// its relay worker first, then the worker that served it last (DM's previous binding),
// then the first by name.
func TestFreeWorkerPreferences(t *testing.T) {
	c, err := Open(testCtx(t), Config{Store: MemoryStore(), Workers: []string{"a", "b", "c"}, Units: (&stepUnits{}).factory})
	mustOK(t, err)
	defer c.Close()
	mustOK(t, c.update(testCtx(t), func(w *writeTxn) error {
		w.put(kindWorker, &workerRecord{Name: "b", LastSource: "s-last"})
		w.put(kindWorker, &workerRecord{Name: "c", RelaySource: "s-relay", LastSource: "s-last"})
		return nil
	}))
	for _, tc := range []struct{ source, want string }{
		{"s-relay", "c"}, // relay worker
		{"s-last", "b"},  // previous binding (c runs another source's relay)
		{"s-new", "a"},   // first free by name
	} {
		if got := c.freeWorker(c.read(), tc.source); got == nil || got.Name != tc.want {
			t.Errorf("freeWorker(%s) = %+v, want %s", tc.source, got, tc.want)
		}
	}
}
