package syncer

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestFenceStopsWrites: once Config.Fence refuses, the syncer commits nothing more — no
// row, no checkpoint — and stops with the fence's error (which is not retried).
func TestFenceStopsWrites(t *testing.T) {
	const db = "s_fence"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	errFenced := errors.New("fenced")
	var open atomic.Bool
	open.Store(true)
	var asked atomic.Int64
	cfg := newTask(t, "fence", db)
	cfg.Fence = func(ctx context.Context, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) error {
		asked.Add(1)
		if !open.Load() {
			return errFenced
		}
		return nil
	}
	r, stop := startSyncer(t, cfg)
	src.Exec(t, "INSERT INTO "+db+".t VALUES (1, 1), (2, 2)")
	waitSynced(t, r, db)
	if asked.Load() == 0 {
		t.Fatal("the fence was never asked")
	}
	open.Store(false)
	src.Exec(t, "INSERT INTO "+db+".t VALUES (3, 3)")
	src.Exec(t, "UPDATE "+db+".t SET v = 10 WHERE id = 1")
	select {
	case err := <-r.done:
		if !errors.Is(err, errFenced) {
			t.Fatalf("Run ended with %v, want the fence's error", err)
		}
		r.done <- err // for stop
	case <-time.After(30 * time.Second):
		t.Fatal("the syncer kept running after the fence closed")
	}
	_ = stop()
	var n, v int
	if err := dst.DB(t).QueryRow("SELECT COUNT(*), SUM(v) FROM "+db+".t").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != 2 || v != 3 {
		t.Fatalf("target has %d rows summing to %d after the fence closed; want the 2 rows (sum 3) from before", n, v)
	}
}
