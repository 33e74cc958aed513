package dm

import (
	"strings"
	"testing"
)

// pausedOn waits until the subtask pauses with an error and returns it.
func pausedOn(t *testing.T, c *Cluster, task string) string {
	t.Helper()
	var msg string
	waitFor(t, "task "+task+" to pause on an error", func() bool {
		st := taskStage(t, c, task)[0]
		msg = st.ErrorMsg
		return st.Stage == StagePaused && msg != ""
	})
	return msg
}

// resumeFromError starts a task paused by an error and waits until it runs again (the
// status shows the old pause until the worker picks the start up).
func resumeFromError(t *testing.T, c *Cluster, task string) {
	t.Helper()
	mustOK(t, c.StartTask(testCtx(t), task, StartTaskRequest{}))
	waitFor(t, "task "+task+" to run again", func() bool {
		st := taskStage(t, c, task)[0]
		return st.Stage == StageRunning && st.ErrorMsg == ""
	})
}

// TestBinlogSkipAndReplace: a subtask paused on a DDL the target refuses runs again after
// binlog skip (the DDL is not applied, later changes are), and after binlog replace (the
// replacement runs instead); the target ends identical to the source.
func TestBinlogSkipAndReplace(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS blop")
	testDst.Exec(t, "DROP DATABASE IF EXISTS blop")
	testSrc.Exec(t, "CREATE DATABASE blop")
	testSrc.Exec(t, "CREATE TABLE blop.t (id INT PRIMARY KEY, v INT)")
	testSrc.Exec(t, "INSERT INTO blop.t SELECT seq, seq FROM blop.seq_1_to_100")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("blop", ModeAll, "blop", "src1")})
	mustOK(t, err)

	// Nothing to operate on yet.
	_, err = c.OperateBinlog(ctx, "blop", "src1", BinlogOperationRequest{Op: "skip"})
	wantCode(t, err, CodeInvalidRequest)
	for _, bad := range []BinlogOperationRequest{
		{Op: "inject"}, {Op: "replace"}, {Op: "skip", SQLs: []string{"SELECT 1"}},
		{Op: "replace", SQLs: []string{"ALTER TABLE"}}, {Op: "skip", BinlogPos: "mysql-bin.000001"},
	} {
		_, err = c.OperateBinlog(ctx, "blop", "src1", bad)
		wantCode(t, err, CodeInvalidRequest)
	}
	_, err = c.OperateBinlog(ctx, "nope", "src1", BinlogOperationRequest{Op: "skip"})
	wantCode(t, err, CodeTaskNotFound)

	mustOK(t, c.StartTask(ctx, "blop", StartTaskRequest{}))
	waitUnit(t, c, "blop", UnitSync)
	waitSame(t, "blop")

	// 1. The target already has a table the source now creates: the CREATE fails.
	testDst.Exec(t, "CREATE TABLE blop.extra (id INT PRIMARY KEY, other TEXT)")
	testSrc.Exec(t, "CREATE TABLE blop.extra (id INT PRIMARY KEY)")
	testSrc.Exec(t, "INSERT INTO blop.t VALUES (101, 101)")
	if msg := pausedOn(t, c, "blop"); !strings.Contains(msg, "binlog position") {
		t.Fatalf("error without the position to operate on: %s", msg)
	}
	op, err := c.OperateBinlog(ctx, "blop", "src1", BinlogOperationRequest{Op: "skip"})
	mustOK(t, err)
	if op.Op != "skip" || !strings.Contains(op.BinlogPos, "mysql-bin") {
		t.Fatalf("stored %+v", op)
	}
	resumeFromError(t, c, "blop")
	waitUnit(t, c, "blop", UnitSync)
	testDst.Exec(t, "DROP TABLE blop.extra") // the skipped DDL's table, the target's own
	testSrc.Exec(t, "DROP TABLE blop.extra")
	testSrc.Exec(t, "INSERT INTO blop.t VALUES (102, 102)")
	waitSame(t, "blop")

	// 2. The target has a column the source adds with another type: replace the ADD by a
	// MODIFY to the source's definition.
	testDst.Exec(t, "ALTER TABLE blop.t ADD COLUMN c BIGINT")
	testSrc.Exec(t, "ALTER TABLE blop.t ADD COLUMN c INT")
	testSrc.Exec(t, "UPDATE blop.t SET c = id WHERE id <= 10")
	pausedOn(t, c, "blop")
	_, err = c.OperateBinlog(ctx, "blop", "src1", BinlogOperationRequest{Op: "replace",
		SQLs: []string{"ALTER TABLE blop.t MODIFY COLUMN c INT"}})
	mustOK(t, err)
	resumeFromError(t, c, "blop")
	waitUnit(t, c, "blop", UnitSync)
	waitSame(t, "blop")
	compareSchema(t, "blop", "blop")
	var typ string
	mustOK(t, openDB(t, testDst).QueryRow("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'blop' AND TABLE_NAME = 't' AND COLUMN_NAME = 'c'").Scan(&typ))
	if !strings.HasPrefix(typ, "int") {
		t.Fatalf("the replacement did not run: target column c is %s", typ)
	}
}
