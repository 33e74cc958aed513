package dm

// Tests of DM fidelity (issue 11): accepted settings act as DM's.

import (
	"testing"

	"github.com/dmkit/dmkit/dumper"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Issue 11: a table structure set right after a stop waits for the subtask to pause
// instead of failing with "current stage is Running".
func TestTableStructureRightAfterStop(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS stopset; CREATE DATABASE stopset; CREATE TABLE stopset.t (id INT PRIMARY KEY)")
	}
	task := incrementalTask(t, "stop-then-set", TaskTableMigrateRuleSource{Schema: "stopset"})
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	mustOK(t, c.StopTask(ctx, task.Name, StopTaskRequest{}))
	q := "CREATE TABLE t (id INT PRIMARY KEY, v INT)"
	mustOK(t, c.SetTaskTableStructure(ctx, task.Name, "src1", "stopset", "t", SetTableStructureRequest{SQLContent: &q}))
}

// Issue 11: dump progress moves with rows, not only when a whole table completes.
func TestDumpProgress(t *testing.T) {
	for _, tt := range []struct {
		pr   dumper.Progress
		want string
	}{
		{dumper.Progress{}, "0.00 %"},
		{dumper.Progress{TotalTables: 1, FinishedRows: 260_000, EstimateTotalRows: 300_000}, "86.67 %"},
		{dumper.Progress{TotalTables: 1, FinishedRows: 400_000, EstimateTotalRows: 300_000}, "99.99 %"},
		{dumper.Progress{TotalTables: 4, CompletedTables: 3, FinishedRows: 10, EstimateTotalRows: 1000}, "75.00 %"},
		{dumper.Progress{TotalTables: 2, CompletedTables: 2, FinishedRows: 5, EstimateTotalRows: 1000}, "100.00 %"},
	} {
		if got := dumpProgress(tt.pr); got != tt.want {
			t.Errorf("dumpProgress(%+v) = %s, want %s", tt.pr, got, tt.want)
		}
	}
}

// Issue 11: a table structure set through the API applies once: after the sync unit has
// checkpointed it, it is forgotten, and a restart does not revert later upstream DDL.
func TestTableStructureAppliesOnce(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS setonce; CREATE DATABASE setonce; CREATE TABLE setonce.t (id INT PRIMARY KEY, v INT)")
	}
	task := incrementalTask(t, "set-once", TaskTableMigrateRuleSource{Schema: "setonce"})
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	q := "CREATE TABLE t (id INT PRIMARY KEY, v INT)"
	mustOK(t, c.SetTaskTableStructure(ctx, task.Name, "src1", "setonce", "t", SetTableStructureRequest{SQLContent: &q}))
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	testSrc.Exec(t, "INSERT INTO setonce.t VALUES (1, 1)")
	waitSame(t, "setonce")
	waitFor(t, "the applied table structure to be forgotten", func() bool {
		return len(tableSchemaOverrides(c.read(), task.Name, "src1")) == 0
	})
	testSrc.Exec(t, "ALTER TABLE setonce.t ADD COLUMN w VARCHAR(10) DEFAULT 'x'")
	testSrc.Exec(t, "INSERT INTO setonce.t VALUES (2, 2, 'two')")
	waitSame(t, "setonce")
	mustOK(t, c.StopTask(ctx, task.Name, StopTaskRequest{}))
	waitStage(t, c, task.Name, StagePaused, "")
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	testSrc.Exec(t, "INSERT INTO setonce.t VALUES (3, 3, 'three')")
	testSrc.Exec(t, "UPDATE setonce.t SET w = 'again' WHERE id = 2")
	waitSame(t, "setonce")
}
