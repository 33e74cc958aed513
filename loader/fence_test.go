package loader

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
)

// TestFenceStopsLoad: a load whose Fence refuses after the table was created commits no
// row (every batch is asked before its COMMIT) and stops with the fence's error; once the
// fence admits again, the load completes from its checkpoints.
func TestFenceStopsLoad(t *testing.T) {
	const schema = "fence_load"
	cleanSlate(t, "fence", schema)
	src.Exec(t, "CREATE DATABASE "+schema+"; CREATE TABLE "+schema+".t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO "+schema+".t SELECT seq, CONCAT('v', seq) FROM mysql.seq_1_to_300")
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, schema, "t", dumpOpts{rowsPerStmt: 10, stmtsPerFile: 5})
	errFenced := errors.New("fenced")
	var creates, open atomic.Int64
	cfg := testConfig(dir, "fence")
	cfg.BatchBytes = -1 // one statement per transaction: many COMMITs to refuse
	cfg.Fence = func(ctx context.Context, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) error {
		if _, isConn := q.(*sql.Conn); isConn {
			creates.Add(1) // before CREATE TABLE: admitted
			return nil
		}
		if open.Load() == 0 {
			return errFenced
		}
		return nil
	}
	l := newLoader(t, cfg)
	if err := l.LoadDir(t.Context()); !errors.Is(err, errFenced) {
		t.Fatalf("LoadDir = %v, want the fence's error", err)
	}
	if creates.Load() == 0 {
		t.Fatal("the fence was not asked before CREATE TABLE")
	}
	if n := queryInt(t, openDB(t, tgt), "SELECT COUNT(*) FROM "+schema+".t"); n != 0 {
		t.Fatalf("%d rows reached the target through a closed fence", n)
	}
	open.Store(1)
	l2 := newLoader(t, cfg)
	if err := l2.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	compareTables(t, schema, "t", schema, "t")
}
