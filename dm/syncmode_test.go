package dm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Tests of the modes with a sync unit: all (dump → load → sync) and incremental.

// waitSame waits until schema is identical on source and target.
func waitSame(t *testing.T, schema string) {
	t.Helper()
	src, dst := openDB(t, testSrc), openDB(t, testDst)
	var last error
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if last = mysqltest.CompareSchemas(context.Background(), src, schema, dst, schema); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("schema %s never converged: %v", schema, last)
}

// waitUnit waits until every subtask of task runs unit, failing on an error pause.
func waitUnit(t *testing.T, c *Cluster, task, unit string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("task %s to run unit %s", task, unit), func() bool {
		for _, s := range taskStage(t, c, task) {
			if s.Stage == StagePaused && s.ErrorMsg != "" {
				t.Fatalf("task %s paused: %s", task, s.ErrorMsg)
			}
			if s.Stage != StageRunning || s.Unit != unit {
				return false
			}
		}
		return true
	})
}

func TestAllModeDumpsLoadsThenReplicates(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS allmode")
	testDst.Exec(t, "DROP DATABASE IF EXISTS allmode")
	testSrc.Exec(t, "CREATE DATABASE allmode")
	testSrc.Exec(t, "CREATE TABLE allmode.acct (id INT PRIMARY KEY, owner VARCHAR(20) UNIQUE, balance DECIMAL(12,2))")
	testSrc.Exec(t, "CREATE TABLE allmode.log (n INT, msg VARCHAR(40))")
	testSrc.Exec(t, "INSERT INTO allmode.acct SELECT seq, CONCAT('o', seq), seq * 1.5 FROM allmode.seq_1_to_2000")
	testSrc.Exec(t, "INSERT INTO allmode.log SELECT seq % 7, 'before' FROM allmode.seq_1_to_500")

	task := fullTask("all-task", ModeAll, "allmode", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "all-task", StartTaskRequest{}))
	waitUnit(t, c, "all-task", UnitSync)
	waitSame(t, "allmode")

	// Every DML kind, a primary-key update, a unique-key swap in one transaction, DDL.
	testSrc.Exec(t, "INSERT INTO allmode.acct VALUES (5001, 'new', 1)")
	testSrc.Exec(t, "UPDATE allmode.acct SET balance = balance + 1 WHERE id <= 100")
	testSrc.Exec(t, "UPDATE allmode.acct SET id = 6001 WHERE id = 5")
	testSrc.Exec(t, "DELETE FROM allmode.acct WHERE id BETWEEN 200 AND 260")
	testSrc.Exec(t, "BEGIN; UPDATE allmode.acct SET owner = 'tmp' WHERE id = 1; UPDATE allmode.acct SET owner = 'o1' WHERE id = 2; UPDATE allmode.acct SET owner = 'o2' WHERE id = 1; COMMIT")
	testSrc.Exec(t, "INSERT INTO allmode.log VALUES (1, 'dup'), (1, 'dup')")
	testSrc.Exec(t, "DELETE FROM allmode.log WHERE n = 3 LIMIT 5")
	testSrc.Exec(t, "ALTER TABLE allmode.acct ADD COLUMN note VARCHAR(30) DEFAULT 'x'")
	testSrc.Exec(t, "UPDATE allmode.acct SET note = 'after ddl' WHERE id < 10")
	testSrc.Exec(t, "CREATE TABLE allmode.later (id INT PRIMARY KEY)")
	testSrc.Exec(t, "INSERT INTO allmode.later VALUES (1), (2)")
	waitSame(t, "allmode")
	st := taskStage(t, c, "all-task")[0]
	if st.SyncStatus == nil || st.SyncStatus.TotalEvents == 0 || st.SyncStatus.SyncerBinlog == "" {
		t.Fatalf("sync status = %+v", st.SyncStatus)
	}

	// Stop, write, start: resumes from the checkpoint.
	mustOK(t, c.StopTask(ctx, "all-task", StopTaskRequest{}))
	waitStage(t, c, "all-task", StagePaused, UnitSync)
	testSrc.Exec(t, "INSERT INTO allmode.later VALUES (3), (4)")
	testSrc.Exec(t, "DELETE FROM allmode.acct WHERE id = 1000")
	mustOK(t, c.StartTask(ctx, "all-task", StartTaskRequest{}))
	waitUnit(t, c, "all-task", UnitSync)
	waitSame(t, "allmode")

	// Delete removes the checkpoint tables.
	mustOK(t, c.DeleteTask(ctx, "all-task", DeleteTaskOptions{Force: true}))
	var n int
	openDB(t, testDst).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dm_meta' AND TABLE_NAME LIKE 'all-task%'").Scan(&n)
	if n != 0 {
		t.Fatalf("%d checkpoint tables left after delete", n)
	}
}

func TestIncrementalMode(t *testing.T) {
	for _, byGTID := range []bool{false, true} {
		t.Run(fmt.Sprintf("gtid=%v", byGTID), func(t *testing.T) {
			ctx := testCtx(t)
			c := newDataCluster(t)
			schema := fmt.Sprintf("incr_%v", byGTID)
			// A task name of its own: the subtests share the target, and a task resumes from
			// checkpoints left there under its name instead of using the given start.
			name := fmt.Sprintf("incr-task-%v", byGTID)
			testSrc.Exec(t, "DROP DATABASE IF EXISTS "+schema)
			testDst.Exec(t, "DROP DATABASE IF EXISTS "+schema)
			var file, gtid string
			var pos int64
			var dodb, ignoredb any
			db := openDB(t, testSrc)
			if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &dodb, &ignoredb); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
				t.Fatal(err)
			}
			testSrc.Exec(t, "CREATE DATABASE "+schema)
			testSrc.Exec(t, "CREATE TABLE "+schema+".t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))")
			testSrc.Exec(t, "INSERT INTO "+schema+".t (v) SELECT CONCAT('v', seq) FROM "+schema+".seq_1_to_300")
			testSrc.Exec(t, "UPDATE "+schema+".t SET v = 'changed' WHERE id % 3 = 0")

			task := fullTask(name, ModeIncremental, schema, "src1")
			if byGTID {
				task.SourceConfig.SourceConf[0].BinlogGTID = &gtid
			} else {
				task.SourceConfig.SourceConf[0].BinlogName = &file
				task.SourceConfig.SourceConf[0].BinlogPos = &pos
			}
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			mustOK(t, c.StartTask(ctx, name, StartTaskRequest{}))
			waitUnit(t, c, name, UnitSync)
			waitSame(t, schema)
			testSrc.Exec(t, "DELETE FROM "+schema+".t WHERE id > 250")
			waitSame(t, schema)
		})
	}
}

// TestSyncSurvivesServerRestarts restarts the target and then the source under a write
// load; the task resumes by itself and the target converges.
func TestSyncSurvivesServerRestarts(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS restarts")
	testDst.Exec(t, "DROP DATABASE IF EXISTS restarts")
	testSrc.Exec(t, "CREATE DATABASE restarts")
	testSrc.Exec(t, "CREATE TABLE restarts.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("restarts", ModeAll, "restarts", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "restarts", StartTaskRequest{}))
	waitUnit(t, c, "restarts", UnitSync)

	write := func(n int) {
		t.Helper()
		db, err := testSrc.Open("restarts")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for i := range n {
			if _, err := db.Exec("INSERT INTO t (v) VALUES (?)", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(200)
	if err := testDst.Restart(); err != nil {
		t.Fatal(err)
	}
	write(200)
	waitSame(t, "restarts")
	if err := testSrc.Restart(); err != nil {
		t.Fatal(err)
	}
	write(200)
	waitSame(t, "restarts")
	waitUnit(t, c, "restarts", UnitSync)
}

// TestTableStructureWhilePaused sets and deletes a table's schema while the task is
// paused; replication continues with it afterwards.
func TestTableStructureWhilePaused(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS tsp")
	testDst.Exec(t, "DROP DATABASE IF EXISTS tsp")
	testSrc.Exec(t, "CREATE DATABASE tsp")
	testSrc.Exec(t, "CREATE TABLE tsp.t (id INT PRIMARY KEY, v VARCHAR(10))")
	testSrc.Exec(t, "INSERT INTO tsp.t VALUES (1, 'a')")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("tsp", ModeAll, "tsp", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "tsp", StartTaskRequest{}))
	waitUnit(t, c, "tsp", UnitSync)

	// Not while running.
	wantCode(t, c.SetTaskTableStructure(ctx, "tsp", "src1", "tsp", "t", SetTableStructureRequest{SchemaSource: "upstream"}), CodeOpenAPICommon)
	mustOK(t, c.StopTask(ctx, "tsp", StopTaskRequest{}))
	waitStage(t, c, "tsp", StagePaused, UnitSync)
	sqlText := "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"
	mustOK(t, c.SetTaskTableStructure(ctx, "tsp", "src1", "tsp", "t", SetTableStructureRequest{SQLContent: &sqlText}))
	ts, err := c.TaskTableStructure(ctx, "tsp", "src1", "tsp", "t")
	mustOK(t, err)
	if !strings.Contains(ts.SchemaCreateSQL, "`tsp`.`t`") {
		t.Fatalf("structure after set = %q", ts.SchemaCreateSQL)
	}
	testSrc.Exec(t, "INSERT INTO tsp.t VALUES (2, 'b'), (3, 'c')")
	mustOK(t, c.StartTask(ctx, "tsp", StartTaskRequest{}))
	waitUnit(t, c, "tsp", UnitSync)
	waitSame(t, "tsp")
	mustOK(t, c.StopTask(ctx, "tsp", StopTaskRequest{}))
	waitStage(t, c, "tsp", StagePaused, UnitSync)
	mustOK(t, c.DeleteTaskTableStructure(ctx, "tsp", "src1", "tsp", "t"))
	testSrc.Exec(t, "UPDATE tsp.t SET v = 'z'")
	mustOK(t, c.StartTask(ctx, "tsp", StartTaskRequest{}))
	waitSame(t, "tsp")
}

// TestIncrementalFromStartTime starts an incremental task by time instead of position; the
// start time is forgotten once replication has its own checkpoint.
func TestIncrementalFromStartTime(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS bytime")
	testDst.Exec(t, "DROP DATABASE IF EXISTS bytime")
	var now string
	if err := openDB(t, testSrc).QueryRow("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')").Scan(&now); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // binlog timestamps have a resolution of one second
	testSrc.Exec(t, "CREATE DATABASE bytime")
	testSrc.Exec(t, "CREATE TABLE bytime.t (id INT PRIMARY KEY, v INT)")
	testSrc.Exec(t, "INSERT INTO bytime.t SELECT seq, seq FROM bytime.seq_1_to_100")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("bytime", ModeIncremental, "bytime", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "bytime", StartTaskRequest{StartTime: &now, SafeModeTimeDuration: strPtr("10s")}))
	waitUnit(t, c, "bytime", UnitSync)
	waitSame(t, "bytime")
	waitFor(t, "the start arguments to be cleared", func() bool {
		st, _ := getRecord(c.read(), kindSubtask, subtaskKey("bytime", "src1")).(*subtaskRecord)
		return st != nil && st.StartTime == "" && st.SafeModeDuration == ""
	})
}

// TestTableStructureFollowsTracker: while syncing, the table structure endpoint answers
// with the schema as of the syncer's position, which follows replicated DDL.
func TestTableStructureFollowsTracker(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS tracked")
	testDst.Exec(t, "DROP DATABASE IF EXISTS tracked")
	testSrc.Exec(t, "CREATE DATABASE tracked")
	testSrc.Exec(t, "CREATE TABLE tracked.t (id INT PRIMARY KEY)")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("tracked", ModeAll, "tracked", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "tracked", StartTaskRequest{}))
	waitUnit(t, c, "tracked", UnitSync)
	testSrc.Exec(t, "ALTER TABLE tracked.t ADD COLUMN added_later VARCHAR(5)")
	waitSame(t, "tracked")
	ts, err := c.TaskTableStructure(ctx, "tracked", "src1", "tracked", "t")
	mustOK(t, err)
	if !strings.Contains(ts.SchemaCreateSQL, "added_later") {
		t.Fatalf("structure = %q, want the replicated column", ts.SchemaCreateSQL)
	}
	// Paused, the syncer's position stays behind a newer source DDL: the answer is the
	// tracked schema, not the source's current one.
	mustOK(t, c.StopTask(ctx, "tracked", StopTaskRequest{}))
	waitStage(t, c, "tracked", StagePaused, UnitSync)
	testSrc.Exec(t, "ALTER TABLE tracked.t ADD COLUMN not_yet INT")
	ts, err = c.TaskTableStructure(ctx, "tracked", "src1", "tracked", "t")
	mustOK(t, err)
	if !strings.Contains(ts.SchemaCreateSQL, "added_later") || strings.Contains(ts.SchemaCreateSQL, "not_yet") {
		t.Fatalf("structure while paused = %q, want the schema as of the syncer's position", ts.SchemaCreateSQL)
	}
}
