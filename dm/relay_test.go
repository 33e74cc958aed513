package dm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// relayOf returns the relay status of source on worker, failing when absent.
func relayOf(t *testing.T, c *Cluster, source, worker string) (*RelayStatus, string) {
	t.Helper()
	st, err := c.SourceStatus(testCtx(t), source)
	mustOK(t, err)
	for _, s := range st.Data {
		if s.WorkerName == worker && s.RelayStatus != nil {
			return s.RelayStatus, s.ErrorMsg
		}
	}
	return nil, ""
}

func waitRelayCatchUp(t *testing.T, c *Cluster, source, worker string) *RelayStatus {
	t.Helper()
	var rs *RelayStatus
	waitFor(t, "relay of "+source+" on "+worker+" to catch up", func() bool {
		rs, _ = relayOf(t, c, source, worker)
		return rs != nil && rs.Stage == StageRunning && rs.RelayCatchUpMaster
	})
	return rs
}

func waitBinlogType(t *testing.T, c *Cluster, task, want string) {
	t.Helper()
	waitFor(t, "task "+task+" to read binlog "+want, func() bool {
		for _, s := range taskStage(t, c, task) {
			if s.SyncStatus == nil || s.SyncStatus.BinlogType != want {
				return false
			}
		}
		return true
	})
}

// masterFile is the source's current binlog file and position.
func masterFile(t *testing.T) (string, int64) {
	t.Helper()
	var file string
	var pos int64
	var dodb, ignoredb any
	if err := openDB(t, testSrc).QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &dodb, &ignoredb); err != nil {
		t.Fatal(err)
	}
	return file, pos
}

// incrTask creates an incremental task named name over schema name (a fresh table t),
// starting at the source's current binlog position.
func incrTask(t *testing.T, c *Cluster, name string) {
	t.Helper()
	testSrc.Exec(t, "DROP DATABASE IF EXISTS "+name)
	testDst.Exec(t, "DROP DATABASE IF EXISTS "+name)
	file, pos := masterFile(t)
	testSrc.Exec(t, "CREATE DATABASE "+name)
	testSrc.Exec(t, "CREATE TABLE "+name+".t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	task := fullTask(name, ModeIncremental, name, "src1")
	task.SourceConfig.SourceConf[0].BinlogName, task.SourceConfig.SourceConf[0].BinlogPos = &file, &pos
	_, err := c.CreateTask(testCtx(t), CreateTaskRequest{Task: task})
	mustOK(t, err)
}

// TestRelayUnderRunningTask enables and disables relay under a running incremental task
// and a write load (the syncer switches between relay and source), purges the relay
// (refused while the task is paused, naming it), and ends identical.
func TestRelayUnderRunningTask(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	schema := "relayrun"
	incrTask(t, c, "relayrun")
	mustOK(t, c.StartTask(ctx, "relayrun", StartTaskRequest{}))
	waitUnit(t, c, "relayrun", UnitSync)
	waitBinlogType(t, c, "relayrun", "remote")

	var wg sync.WaitGroup
	load := func(n int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := openDB(t, testSrc)
			for i := range n {
				if _, err := db.Exec("INSERT INTO "+schema+".t (v) VALUES (?)", i); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	load(600)
	mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{}))
	rs := waitRelayCatchUp(t, c, "src1", "worker1")
	if rs.MasterBinlog == "" || rs.MasterBinlogGTID == "" || rs.RelayBinlogGTID == "" || !strings.Contains(rs.RelayDir, ".0000") {
		t.Fatalf("relay status incomplete: %+v", rs)
	}
	waitBinlogType(t, c, "relayrun", "local")
	ws, _ := c.ListWorkers(ctx)
	if ws.Data[0].BoundStage != WorkerBound {
		t.Fatalf("worker1 = %+v", ws.Data[0])
	}
	load(300)
	wg.Wait()
	waitSame(t, schema)
	waitRelayCatchUp(t, c, "src1", "worker1")

	// Purge: a paused task keeps the file of its checkpoint; a purge past it is refused
	// naming the task, and removes nothing.
	mustOK(t, c.StopTask(ctx, "relayrun", StopTaskRequest{}))
	waitStage(t, c, "relayrun", StagePaused, "")
	testSrc.Exec(t, "INSERT INTO "+schema+".t (v) VALUES (1)")
	testSrc.Exec(t, "FLUSH BINARY LOGS")
	testSrc.Exec(t, "INSERT INTO "+schema+".t (v) VALUES (2)")
	cur, _ := masterFile(t)
	waitRelayCatchUp(t, c, "src1", "worker1")
	err := c.PurgeRelay(ctx, "src1", PurgeRelayRequest{RelayBinlogName: cur})
	if err == nil || !strings.Contains(err.Error(), "task relayrun") || ErrorCode(err) != CodeOpenAPICommon {
		t.Fatalf("purge past the paused task's checkpoint: %v", err)
	}
	mustOK(t, c.StartTask(ctx, "relayrun", StartTaskRequest{}))
	waitUnit(t, c, "relayrun", UnitSync)
	waitBinlogType(t, c, "relayrun", "local")
	testSrc.Exec(t, "INSERT INTO "+schema+".t (v) VALUES (1)")
	waitSame(t, schema)
	// The task is caught up in the newest file: everything before it can go.
	waitFor(t, "checkpoint in "+cur, func() bool {
		return c.PurgeRelay(ctx, "src1", PurgeRelayRequest{RelayBinlogName: cur}) == nil
	})
	rs, _ = relayOf(t, c, "src1", "worker1")
	left, err := filepath.Glob(filepath.Join(c.cfg.DataDir, "relay-dir", "src1", "worker1", rs.RelayDir, "mysql-bin.*"))
	mustOK(t, err)
	for _, f := range left {
		if filepath.Base(f) < cur {
			t.Fatalf("relay file %s survived a purge before %s", f, cur)
		}
	}
	if len(left) == 0 {
		t.Fatal("purge removed the active relay file")
	}

	// Relay off under load: back to the source, nothing lost.
	load(300)
	mustOK(t, c.DisableRelay(ctx, "src1", DisableRelayRequest{}))
	waitBinlogType(t, c, "relayrun", "remote")
	wg.Wait()
	waitSame(t, schema)
	if rs, _ := relayOf(t, c, "src1", "worker1"); rs != nil {
		t.Fatalf("relay status after disable: %+v", rs)
	}
}

// TestTaskFromRelayAfterSourcePurge: the source purges its binlogs past a task's start;
// the task, created afterwards, replicates everything from the relay.
func TestTaskFromRelayAfterSourcePurge(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	schema := "relaypurged"
	testSrc.Exec(t, "DROP DATABASE IF EXISTS "+schema)
	testDst.Exec(t, "DROP DATABASE IF EXISTS "+schema)
	testSrc.Exec(t, "FLUSH BINARY LOGS")
	file, pos := masterFile(t)
	mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{RelayBinlogName: &file}))
	testSrc.Exec(t, "CREATE DATABASE "+schema)
	testSrc.Exec(t, "CREATE TABLE "+schema+".t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))")
	for i := range 5 {
		testSrc.Exec(t, fmt.Sprintf("INSERT INTO %s.t (v) SELECT CONCAT('v', seq) FROM %s.seq_1_to_200", schema, schema))
		testSrc.Exec(t, fmt.Sprintf("UPDATE %s.t SET v = 'u%d' WHERE id %% 7 = %d", schema, i, i))
		testSrc.Exec(t, "FLUSH BINARY LOGS")
	}
	waitRelayCatchUp(t, c, "src1", "worker1")
	now, _ := masterFile(t)
	testSrc.Exec(t, "PURGE BINARY LOGS TO '"+now+"'")

	task := fullTask("relaypurged", ModeIncremental, schema, "src1")
	task.SourceConfig.SourceConf[0].BinlogName, task.SourceConfig.SourceConf[0].BinlogPos = &file, &pos
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "relaypurged", StartTaskRequest{}))
	waitUnit(t, c, "relaypurged", UnitSync)
	waitSame(t, schema)
	waitBinlogType(t, c, "relaypurged", "local")
	_ = context.Background
}

// TestRelaySourceOperations: disable pauses relay and the task, enable resumes both from
// their checkpoints (the source goes back to its relay worker); a transfer under load
// moves the task to a worker without relay (it reads the source); delete with force
// stops relay. The target ends identical.
func TestRelaySourceOperations(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	schema := "relayops"
	incrTask(t, c, "relayops")
	mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{}))
	mustOK(t, c.StartTask(ctx, "relayops", StartTaskRequest{}))
	waitUnit(t, c, "relayops", UnitSync)
	waitRelayCatchUp(t, c, "src1", "worker1")
	waitBinlogType(t, c, "relayops", "local")

	var wg sync.WaitGroup
	load := func(n int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := openDB(t, testSrc)
			for i := range n {
				if _, err := db.Exec("INSERT INTO "+schema+".t (v) VALUES (?)", i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	load(300)
	mustOK(t, c.DisableSource(ctx, "src1"))
	waitFor(t, "relay paused by the disable", func() bool {
		rs, msg := relayOf(t, c, "src1", "worker1")
		return rs != nil && rs.Stage == StagePaused && strings.Contains(msg, "disabled")
	})
	wg.Wait()
	load(200)
	wg.Wait()
	mustOK(t, c.EnableSource(ctx, "src1"))
	ws, _ := c.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "src1" {
		t.Fatalf("enabled source should go back to its relay worker: %+v", ws.Data)
	}
	waitUnit(t, c, "relayops", UnitSync)
	waitRelayCatchUp(t, c, "src1", "worker1")
	waitSame(t, schema)
	waitBinlogType(t, c, "relayops", "local")

	// Transfer under load: worker2 has no relay, so the task reads the source there.
	load(400)
	mustOK(t, c.TransferSource(ctx, "src1", WorkerNameRequest{WorkerName: "worker2"}))
	wg.Wait()
	waitUnit(t, c, "relayops", UnitSync)
	waitSame(t, schema)
	waitBinlogType(t, c, "relayops", "remote")

	// Delete with force stops relay and the subtask.
	mustOK(t, c.DeleteSource(ctx, "src1", true))
	ws, _ = c.ListWorkers(ctx)
	for _, w := range ws.Data {
		if w.BoundStage == WorkerRelay || w.BoundSourceName == "src1" {
			t.Fatalf("after delete: %+v", ws.Data)
		}
	}
}

// TestRelayFollowsTransfer: with enable_relay in the source's config, relay runs on the
// bound worker and moves with a transfer under load; the task reads the new worker's
// relay once it holds the task's position, and the target ends identical.
func TestRelayFollowsTransfer(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	s := sourceFor("src1", testSrc)
	s.RelayConfig = &RelayConfig{EnableRelay: true}
	_, err := c.UpdateSource(ctx, "src1", UpdateSourceRequest{Source: s})
	mustOK(t, err)
	schema := "relaymove"
	incrTask(t, c, "relaymove")
	mustOK(t, c.StartTask(ctx, "relaymove", StartTaskRequest{}))
	waitUnit(t, c, "relaymove", UnitSync)
	waitRelayCatchUp(t, c, "src1", "worker1")
	waitBinlogType(t, c, "relaymove", "local")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db := openDB(t, testSrc)
		for i := range 800 {
			if _, err := db.Exec("INSERT INTO "+schema+".t (v) VALUES (?)", i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	mustOK(t, c.TransferSource(ctx, "src1", WorkerNameRequest{WorkerName: "worker2"}))
	wg.Wait()
	waitUnit(t, c, "relaymove", UnitSync)
	waitSame(t, schema)
	waitRelayCatchUp(t, c, "src1", "worker2")
	waitBinlogType(t, c, "relaymove", "local")
	if rs, _ := relayOf(t, c, "src1", "worker1"); rs != nil {
		t.Fatalf("relay still on worker1 after the transfer: %+v", rs)
	}
	testSrc.Exec(t, "INSERT INTO "+schema+".t (v) VALUES (-1)")
	waitSame(t, schema)
}

// TestDamagedRelayFallsBackToSource: a corrupt relay file (checksum mismatch) makes the
// task read the source instead of stalling; the target ends identical.
func TestDamagedRelayFallsBackToSource(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	schema := "relaybad"
	testSrc.Exec(t, "DROP DATABASE IF EXISTS "+schema)
	testDst.Exec(t, "DROP DATABASE IF EXISTS "+schema)
	testSrc.Exec(t, "FLUSH BINARY LOGS")
	file, pos := masterFile(t)
	mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{RelayBinlogName: &file}))
	testSrc.Exec(t, "CREATE DATABASE "+schema)
	testSrc.Exec(t, "CREATE TABLE "+schema+".t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))")
	testSrc.Exec(t, fmt.Sprintf("INSERT INTO %s.t (v) SELECT CONCAT('v', seq) FROM %s.seq_1_to_500", schema, schema))
	testSrc.Exec(t, "FLUSH BINARY LOGS")
	rs := waitRelayCatchUp(t, c, "src1", "worker1")
	path := filepath.Join(c.cfg.DataDir, "relay-dir", "src1", "worker1", rs.RelayDir, file)
	b, err := os.ReadFile(path)
	mustOK(t, err)
	b[len(b)-200] ^= 0xff // inside the last transaction's events
	mustOK(t, os.WriteFile(path, b, 0o644))

	task := fullTask("relaybad", ModeIncremental, schema, "src1")
	task.SourceConfig.SourceConf[0].BinlogName, task.SourceConfig.SourceConf[0].BinlogPos = &file, &pos
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "relaybad", StartTaskRequest{}))
	waitUnit(t, c, "relaybad", UnitSync)
	waitSame(t, schema)
	waitBinlogType(t, c, "relaybad", "remote")
}
