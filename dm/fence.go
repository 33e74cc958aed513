package dm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Fence keeps a worker process whose binding moved away from writing to the target.
//
// The leader gives a source to another worker only after the first one's registration
// lease expired. The first worker cannot write after that: Valid turns false a margin
// before the lease's end, and the units check it inside every transaction, right before
// COMMIT. A worker that was frozen (SIGSTOP, a VM pause) between that check and its
// COMMIT is caught by the target-side half: the row `<meta>.<task>_worker_fence`
// (source, rev) holds the revision of the newest binding, which every worker raises to
// its own when its run starts (before any write) and every transaction reads back; a
// run whose binding revision is older stops with ErrStaleBinding.
//
// Only worker processes (HA on etcd) fence: in one process a binding cannot outlive
// the process that holds it.
type Fence struct {
	// Rev is the etcd revision of this worker's binding record when the run started:
	// a later binding has a larger one.
	Rev int64
	// Valid reports whether the worker's registration is certainly still alive.
	Valid func() bool
}

// ErrStaleBinding stops a unit whose worker no longer holds the source.
var ErrStaleBinding = errors.New("dm: this worker's binding of the source is stale (its registration expired and the source may be another worker's now); nothing was written")

// fenceTable is the fence table of a task.
func fenceTable(metaSchema, task string) string {
	return sqlq.QuoteName(metaSchema) + "." + sqlq.QuoteName(task+fenceSuffix)
}

const fenceSuffix = "_worker_fence"

// takeFence raises the task's fence for source to f.Rev, or fails with ErrStaleBinding
// when a newer binding already raised it beyond.
func takeFence(ctx context.Context, db *sql.DB, metaSchema, task, source string, f *Fence) error {
	if !f.Valid() {
		return ErrStaleBinding
	}
	table := fenceTable(metaSchema, task)
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + sqlq.QuoteName(metaSchema),
		"CREATE TABLE IF NOT EXISTS " + table + " (source VARCHAR(32) NOT NULL PRIMARY KEY, rev BIGINT NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create the worker fence %s: %w", table, err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" (source, rev) VALUES (?, ?) ON DUPLICATE KEY UPDATE rev = GREATEST(rev, VALUES(rev))", source, f.Rev); err != nil {
		return fmt.Errorf("raise the worker fence %s: %w", table, err)
	}
	return checkFence(ctx, db, table, source, f)
}

// queryer is what checkFence reads with: the unit's transaction, or its pool before a
// statement that is not transactional (DDL). Unnamed in the units' Fence fields, so one
// hook fits the loader's and the syncer's.
type queryer = interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkFence fails with ErrStaleBinding unless the fence for source still holds f.Rev
// and the registration is alive.
func checkFence(ctx context.Context, q queryer, table, source string, f *Fence) error {
	var rev int64
	err := q.QueryRowContext(ctx, "SELECT rev FROM "+table+" WHERE source = ?", source).Scan(&rev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: the fence row of source %s in %s is gone", ErrStaleBinding, source, table)
	case err != nil:
		return fmt.Errorf("read the worker fence %s: %w", table, err)
	case rev != f.Rev:
		return fmt.Errorf("%w: source %s was bound again at revision %d (this run's binding is %d)", ErrStaleBinding, source, rev, f.Rev)
	case !f.Valid():
		return ErrStaleBinding
	}
	return nil
}

// fenceHook is the units' Fence hook: it reads the fence through q, the transaction about
// to commit (or the pool, before a DDL).
func fenceHook(metaSchema, task, source string, f *Fence) func(ctx context.Context, q queryer) error {
	table := fenceTable(metaSchema, task)
	return func(ctx context.Context, q queryer) error { return checkFence(ctx, q, table, source, f) }
}

// dropFence drops the task's fence table (with its other meta tables).
func dropFence(ctx context.Context, db *sql.DB, metaSchema, task string) error {
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+fenceTable(metaSchema, task)); err != nil {
		return fmt.Errorf("drop the worker fence of task %s: %w", task, err)
	}
	return nil
}
