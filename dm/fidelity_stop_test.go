package dm

import (
	"fmt"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Issue 11: stop's timeout_duration lets the source transaction in progress finish, as
// DM's does: a stop issued while the sync unit is in the middle of one large transaction
// pauses the subtask with the whole transaction on the target (before, the stop cut the
// transaction wherever the reader was).
func TestStopLetsTheTransactionFinish(t *testing.T) {
	const rows = 100000
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS stopwait; CREATE DATABASE stopwait; CREATE TABLE stopwait.t (id INT PRIMARY KEY, v VARCHAR(100))")
	}
	task := incrementalTask(t, "stop-wait", TaskTableMigrateRuleSource{Schema: "stopwait"})
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)

	target := openDB(t, testDst)
	count := func() int {
		var n int
		if err := target.QueryRow("SELECT COUNT(*) FROM stopwait.t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testSrc.Exec(t, fmt.Sprintf("INSERT INTO stopwait.t SELECT seq, REPEAT('x', 100) FROM stopwait.seq_1_to_%d", rows))
	deadline := time.Now().Add(60 * time.Second)
	for count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("stop issued with %d of %d rows on the target", count(), rows)
	mustOK(t, c.StopTask(ctx, task.Name, StopTaskRequest{TimeoutDuration: strPtr("60s")}))
	waitStage(t, c, task.Name, StagePaused, UnitSync)
	if n := count(); n != rows {
		t.Fatalf("paused with %d of the transaction's %d rows on the target; the stop must let it finish", n, rows)
	}
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	testSrc.Exec(t, "INSERT INTO stopwait.t VALUES (0, 'after')")
	waitSame(t, "stopwait")
}

// timeout_duration "0s" stops at once; a stop without it waits DM's default.
func TestStopWait(t *testing.T) {
	for in, want := range map[string]time.Duration{"": defaultStopWait, "0s": 0, "90s": 90 * time.Second, "bad": defaultStopWait} {
		if got := stopWait(in); got != want {
			t.Errorf("stopWait(%q) = %s, want %s", in, got, want)
		}
	}
}
