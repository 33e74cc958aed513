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
