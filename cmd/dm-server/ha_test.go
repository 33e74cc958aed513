package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// haCluster is a cluster of three --role master processes (embedded etcd) and
// --role worker processes; api is the master the test talks to.
type haCluster struct {
	ms  *masterSet
	api *child
}

func (h *haCluster) startWorker(t *testing.T, name string) *child {
	t.Helper()
	return startChild(t, "--role", "worker", "--name", name, "--data-dir", t.TempDir(), "--etcd-endpoints", strings.Join(h.ms.clients, ","),
		"--etcd-prefix", h.ms.prefix, "--secret-key-path", h.ms.key, "--keepalive-ttl", "3s")
}

type haWorker struct {
	Name   string `json:"name"`
	Stage  string `json:"bound_stage"`
	Source string `json:"bound_source_name"`
}

func (h *haCluster) workers(t *testing.T) map[string]haWorker {
	t.Helper()
	var l struct {
		Data []haWorker `json:"data"`
	}
	h.api.expect(t, "GET", "/cluster/workers", "", 200, &l)
	out := map[string]haWorker{}
	for _, w := range l.Data {
		out[w.Name] = w
	}
	return out
}

// waitBound waits until source is bound to worker and returns how long that took.
func (h *haCluster) waitBound(t *testing.T, source, worker string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if h.workers(t)[worker].Source == source {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("source %s not bound to %s within %s: %+v", source, worker, within, h.workers(t))
	return 0
}

// taskOn waits until the task's subtask runs the sync unit on worker.
func (h *haCluster) taskOn(t *testing.T, task, worker string) {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var st struct {
			Data []struct {
				Worker   string `json:"worker_name"`
				Stage    string `json:"stage"`
				Unit     string `json:"unit"`
				ErrorMsg string `json:"error_msg"`
			} `json:"data"`
		}
		_, last = h.api.call(t, "GET", "/tasks/"+task+"/status", "")
		if jsonOK(last, &st) && len(st.Data) == 1 && st.Data[0].Worker == worker && st.Data[0].Stage == "Running" && st.Data[0].Unit == "Sync" {
			return
		}
	}
	t.Fatalf("task %s never ran the sync unit on %s: %s", task, worker, last)
}

// rowsApplied reads a worker process's dmkit_syncer_rows_applied_total (all series).
func rowsApplied(t *testing.T, w *child) float64 {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(w.base, "/api/v1") + "/metrics")
	if err != nil {
		t.Fatalf("metrics of a worker: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "dmkit_syncer_rows_applied_total{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}

// TestHAWorkerFailover runs an all-mode task on a cluster of worker processes under a
// write load: (b) the worker running it is killed with SIGKILL and the source is rebound
// to the other worker, which resumes from the checkpoint; (c) that worker is frozen with
// SIGSTOP past its lease, the source goes back to the first (restarted) worker, and once
// thawed the frozen worker applies not a single row. The target ends identical to the
// source.
func TestHAWorkerFailover(t *testing.T) {
	t.Run("embedded-etcd", func(t *testing.T) { testHAWorkerFailover(t, "") })
	// Once on Debian's etcd-server (3.4) as the external etcd of masters and workers.
	t.Run("external-etcd", func(t *testing.T) { testHAWorkerFailover(t, startSystemEtcd(t)) })
}

func testHAWorkerFailover(t *testing.T, externalEtcd string) {
	h := &haCluster{ms: startMasters(t, externalEtcd)}
	leader := h.ms.waitLeader(t, "")
	// Talk to a master that does not lead: every call is forwarded.
	h.api = h.ms.procs[(h.ms.index(leader)+1)%3]
	w1 := h.startWorker(t, "ha-w1")
	w2 := h.startWorker(t, "ha-w2")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ws := h.workers(t)
		if ws["ha-w1"].Stage == "free" && ws["ha-w2"].Stage == "free" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker processes never came online: %+v", ws)
		}
	}

	// Each run its own task name: the fence and checkpoints of the other run's task stay
	// in the shared target until that task is deleted.
	task := "ha-" + map[bool]string{true: "ext", false: "emb"}[externalEtcd != ""]
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS hadb")
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS hadb")
	e2eSrc.Exec(t, "CREATE DATABASE hadb")
	e2eSrc.Exec(t, "CREATE TABLE hadb.pk (id INT PRIMARY KEY, v INT, s VARCHAR(40))")
	e2eSrc.Exec(t, "INSERT INTO hadb.pk SELECT seq, seq, 'seed' FROM hadb.seq_1_to_5000")
	h.api.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "ha-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)
	h.waitBound(t, "ha-src", "ha-w1", 10*time.Second)
	h.api.expect(t, "POST", "/tasks", fmt.Sprintf(`{"task": {"name": %q, "task_mode": "all", "on_duplicate": "replace",
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [{"source": {"source_name": "ha-src", "schema": "hadb", "table": ""}}],
		"source_config": {"incr_migrate_conf": {"repl_threads": 4, "repl_batch": 50}, "source_conf": [{"source_name": "ha-src"}]}}}`,
		task, e2eDst.Port, e2eDst.User, e2eDst.Password), 201, nil)
	h.api.expect(t, "POST", "/tasks/"+task+"/start", "", 200, nil)
	h.taskOn(t, task, "ha-w1")

	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	load := make(chan bool, 1) // false pauses the load, true resumes it
	go func() {
		db, err := e2eSrc.Open("hadb")
		if err != nil {
			loadDone <- err
			return
		}
		defer db.Close()
		on := true
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case on = <-load:
			default:
			}
			if !on {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err := pkLoad(db, i%3, i); err != nil {
				loadDone <- err
				return
			}
		}
		loadDone <- nil
	}()

	// (b) SIGKILL the worker running the task.
	time.Sleep(time.Second)
	w1.kill9(t)
	took := h.waitBound(t, "ha-src", "ha-w2", 10*time.Second)
	t.Logf("(b) source rebound to ha-w2 %s after SIGKILL of ha-w1 (keepalive TTL 3s)", took.Round(100*time.Millisecond))
	h.taskOn(t, task, "ha-w2")
	w1 = h.startWorker(t, "ha-w1")

	// (a) with the workers: SIGKILL the leading master; another leads, the workers keep
	// running, and the rest goes through the new leader.
	li := h.ms.index(leader)
	h.ms.procs[li].kill9(t)
	h.ms.procs[li] = nil
	killed := time.Now()
	leader = h.ms.waitLeader(t, leader)
	t.Logf("(a) %s leads %s after SIGKILL of the leader", leader, time.Since(killed).Round(100*time.Millisecond))
	h.taskOn(t, task, "ha-w2")

	// (c) SIGSTOP ha-w2 past its lease, with the load paused so that what it applied so
	// far is known; the load resumes while it is frozen, so it wakes up behind.
	time.Sleep(time.Second)
	load <- false
	waitConverged(t, "hadb")
	before := rowsApplied(t, w2)
	if err := w2.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	load <- true
	took = h.waitBound(t, "ha-src", "ha-w1", 15*time.Second)
	t.Logf("(c) source rebound to ha-w1 %s after SIGSTOP of ha-w2", took.Round(100*time.Millisecond))
	h.taskOn(t, task, "ha-w1")
	time.Sleep(time.Second)
	if err := w2.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // room for a stale write to happen, if it could
	if after := rowsApplied(t, w2); after != before {
		t.Fatalf("the thawed worker applied %v rows after its source was rebound", after-before)
	}
	if out := w2.stderrText(); !strings.Contains(out, "worker registration lost") {
		t.Fatalf("the thawed worker did not notice its lost registration; its log:\n%s", out)
	}
	time.Sleep(time.Second)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("write load: %v", err)
	}
	waitConverged(t, "hadb")
	if ws := h.workers(t); ws["ha-w2"].Stage != "free" || ws["ha-w1"].Source != "ha-src" {
		t.Fatalf("after the thaw ha-w2 should be online and free, ha-w1 bound: %+v", ws)
	}
	h.api.expect(t, "DELETE", "/tasks/"+task+"?force=true", "", 204, nil)
	var n int
	if err := e2eDst.DB(t).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dm_meta' AND TABLE_NAME LIKE ?", task+"\\_%").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d meta tables of %s (checkpoints, worker fence) left after delete: %v", n, task, err)
	}
}

func (c *child) stderrText() string {
	c.stderr.mu.Lock()
	defer c.stderr.mu.Unlock()
	return c.stderr.w.(*strings.Builder).String()
}

func jsonOK(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }

func waitConverged(t *testing.T, schema string) {
	t.Helper()
	srcDB, dstDB := e2eSrc.DB(t), e2eDst.DB(t)
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = mysqltest.CompareSchemas(context.Background(), srcDB, schema, dstDB, schema); last == nil {
			return
		}
	}
	t.Fatalf("target never converged: %v", last)
}
