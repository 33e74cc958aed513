package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// worker applies the changes bound to it, in order, in batches: one target transaction
// per batch, which also upserts the worker's checkpoint row.
type worker struct {
	id int
	r  *run
	ch chan *change

	// pending counts changes sent to the worker and not yet committed. The dispatcher
	// increments it before sending; the worker decrements it after commit.
	pending atomic.Int64
	// appliedSeq is the dispatch sequence number of the last committed change.
	appliedSeq atomic.Uint64
	// point is the end of the last source transaction whose changes for this worker are
	// all committed (as persisted in the worker row).
	point atomic.Pointer[pubLoc]
	// lastApplied is the last row change committed (a shard re-sync floors on it).
	lastApplied atomic.Pointer[changePos]
	// notify receives a token after every commit (capacity 1), for the dispatcher's waits.
	notify chan struct{}

	builder sqlBuilder
	// conflicts counts on-duplicate rows of the batch being written; conflictLog is when
	// they were last logged (at most every 10 s).
	conflicts   int64
	conflictLog time.Time
	stmts       []stmt
	idx         map[string]int
	keyBuf      []byte
}

func newWorker(r *run, id int, start *pubLoc) *worker {
	w := &worker{
		id:     id,
		r:      r,
		ch:     make(chan *change, r.queueSize),
		notify: make(chan struct{}, 1),
		idx:    map[string]int{},
	}
	w.builder.onDuplicate = r.cfg.OnDuplicate
	w.builder.upsert = true
	w.builder.regroup = !r.cfg.ForeignKeyChecks
	w.point.Store(start)
	return w
}

// loop applies batches until the channel is closed (after draining it) or ctx ends.
func (w *worker) loop(ctx context.Context) error {
	batch := make([]*change, 0, w.r.cfg.Batch)
	for {
		var first *change
		select {
		case c, ok := <-w.ch:
			if !ok {
				return nil
			}
			first = c
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = append(batch[:0], first)
		closed := false
	fill:
		for len(batch) < w.r.cfg.Batch {
			select {
			case c, ok := <-w.ch:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, c)
			default:
				break fill // latency first: flush as soon as the queue is empty
			}
		}
		if err := w.apply(ctx, batch); err != nil {
			return err
		}
		clear(batch)
		if closed {
			return nil
		}
	}
}

// apply writes one batch with its checkpoint row in one transaction, retrying transient
// failures.
func (w *worker) apply(ctx context.Context, batch []*change) error {
	r := w.r
	last := batch[len(batch)-1]
	n := len(batch)
	// Read the published transaction end before looking at pending: if nothing but this
	// batch is pending, every change for this worker up to that point is in the batch.
	point := last.txnPrev
	if pub := r.published.Load(); pub != nil && w.pending.Load() == int64(n) {
		point = pub
	}
	if prev := w.point.Load(); prev != nil && posOf(prev.loc).compare(posOf(point.loc)) > 0 {
		point = prev
	}

	if r.cfg.ForeignKeyChecks {
		clear(w.idx)
	} else {
		compact(batch, w.idx, w.keyBuf)
	}
	var err error
	w.stmts, err = w.builder.build(batch, w.stmts[:0])
	if err != nil {
		return fmt.Errorf("build statements for %s: %w", last.describe(), err)
	}
	applied := last.pos
	if f, ok := r.floor[w.id]; ok && f.compare(applied) > 0 {
		// Never record less than the previous run had applied: the replay window and the
		// exact replay of tables without unique keys depend on it.
		applied = f
	}
	batchID := rand.Uint64() | 1
	cp := workerCheckpointSQL(r.cpTable, r.cfg.Source, w.id, point.loc, applied, batchID)
	started := time.Now()
	err = w.exec(ctx, cp, last.pos, batchID)
	if errors.Is(err, errUpsertNotUpdate) {
		// A row the upsert would have inserted (or found equal): write the batch as the
		// plain UPDATEs it stands for.
		w.builder.upsert = false
		w.stmts, err = w.builder.build(batch, w.stmts[:0])
		w.builder.upsert = true
		if err != nil {
			return fmt.Errorf("build statements for %s: %w", last.describe(), err)
		}
		err = w.exec(ctx, cp, last.pos, batchID)
	}
	if err != nil {
		return err
	}
	if o := r.cfg.Observer; o != nil {
		observeBatch(o, batch, time.Since(started))
	}
	r.s.val.observe(batch) // before the batch counts as applied: see validator.go
	if r.cfg.crashHook != nil {
		r.cfg.crashHook("worker-committed")
	}
	var bytes int
	for _, s := range w.stmts {
		bytes += len(s.sql)
	}
	r.s.ioBytes.Add(uint64(bytes + len(cp)))
	r.s.totalEvents.Add(int64(n))
	w.point.Store(point)
	w.lastApplied.Store(&applied)
	w.appliedSeq.Store(last.seq)
	w.pending.Add(-int64(n))
	select {
	case w.notify <- struct{}{}:
	default:
	}
	return nil
}

// exec runs the statements and the checkpoint upsert in one transaction. Deadlocks, lock
// wait timeouts and broken connections are retried with backoff for up to the retry
// budget; a commit whose outcome is unknown is resolved by reading the checkpoint row.
func (w *worker) exec(ctx context.Context, cp string, applied changePos, batchID uint64) error {
	r := w.r
	deadline := time.Now().Add(r.cfg.retryBudget)
	backoff := 50 * time.Millisecond
	unknown := false // a commit may have landed without acknowledgement
	for attempt := 0; ; attempt++ {
		var err error
		if unknown {
			var done bool
			if done, err = w.committed(ctx, batchID); err == nil {
				if done {
					return nil
				}
				unknown = false
			}
		}
		var failed *stmt
		if !unknown {
			failed, err = w.tryExec(ctx, cp)
			if err == nil {
				return nil
			}
			if failed == nil && dbconn.IsConnLost(err) {
				unknown = true
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errUpsertNotUpdate) {
			return err
		}
		if !dbconn.IsRetryable(err) {
			if failed != nil {
				return &applyError{op: failed.op.String(), table: failed.c.table.target, loc: failed.c.pos, stmt: failed.sql, err: err}
			}
			return fmt.Errorf("worker %d: commit batch ending at (%s, %d): %w", w.id, applied.File, applied.Pos, err)
		}
		if time.Now().After(deadline) {
			return temporary(fmt.Errorf("worker %d: target still failing after %s of retries: %w", w.id, r.cfg.retryBudget, err))
		}
		r.log.Warn("retrying target transaction", "worker", w.id, "attempt", attempt+1, "error", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// tryExec runs the batch once. failed is the statement that failed, nil when the
// failure was at BEGIN or COMMIT.
func (w *worker) tryExec(ctx context.Context, cp string) (failed *stmt, err error) {
	db := w.r.target
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	w.conflicts = 0
	for i := range w.stmts {
		s := &w.stmts[i]
		res, err := tx.ExecContext(ctx, s.sql)
		if err != nil {
			_ = tx.Rollback()
			return s, err
		}
		if s.onDup > 0 {
			w.conflicts += duplicateRows(s, res)
		}
		if s.upserts > 0 {
			// 2 per row is every row existing and changed, what the UPDATEs would do.
			if n, err := res.RowsAffected(); err != nil || n != 2*int64(s.upserts) {
				_ = tx.Rollback()
				return nil, errUpsertNotUpdate
			}
		}
	}
	if _, err := tx.ExecContext(ctx, cp); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("write checkpoint row: %w", err)
	}
	if err := w.r.fence(ctx, tx); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if w.conflicts > 0 {
		total := w.r.s.dupConflicts.Add(w.conflicts)
		if time.Since(w.conflictLog) > 10*time.Second {
			w.conflictLog = time.Now()
			w.r.log.Warn("rows hit an existing key on the target and were settled by on_duplicate",
				"rows", w.conflicts, "total", total, "on_duplicate", w.r.cfg.OnDuplicate, "table", w.stmts[0].c.table.target)
		}
	}
	return nil, nil
}

// duplicateRows is how many rows of an on-duplicate statement met an existing key:
// REPLACE counts a replaced row twice in its affected rows, INSERT IGNORE not at all.
func duplicateRows(s *stmt, res sql.Result) int64 {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	switch s.op {
	case opReplace:
		return max(0, n-int64(s.onDup))
	case opInsertIgnore:
		return max(0, int64(s.onDup)-n)
	}
	return 0
}

// committed reports whether the worker row already holds batchID, i.e. the batch
// committed although the acknowledgement was lost.
func (w *worker) committed(ctx context.Context, batchID uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := readBatchID(ctx, w.r.target, w.r.cpTable, w.r.cfg.Source, w.id)
	if err != nil {
		return false, err
	}
	return got == batchID, nil
}

// waitApplied blocks until the worker has committed every change up to seq.
func (w *worker) waitApplied(ctx context.Context, seq uint64, errc <-chan struct{}) error {
	for w.appliedSeq.Load() < seq {
		select {
		case <-w.notify:
		case <-errc:
			return errWorkersStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitIdle blocks until the worker has committed everything sent to it.
func (w *worker) waitIdle(ctx context.Context, errc <-chan struct{}) error {
	for w.pending.Load() > 0 {
		select {
		case <-w.notify:
		case <-errc:
			return errWorkersStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

var errWorkersStopped = errors.New("a worker stopped")
