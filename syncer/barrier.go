package syncer

import (
	"context"
	"errors"
	"sync"
)

// A Hold stops the apply at a source transaction boundary with every worker drained, so
// the target holds exactly the source's changes up to Location() — the seam verification
// uses to read source and target at one point while replication continues around it
// (VDiff's "stop the stream at a position, snapshot, restart"):
//
//	h, _ := s.Hold(ctx)        // held at the next boundary, at Q
//	snap := snapshot source    // at P ≥ Q: everything applied so far is in it
//	h.Advance(ctx, P)          // apply up to P, hold again
//	snapshot target            // the target is at P
//	h.Release()
//
// Only the event loop holds; the binlog stream keeps buffering (bounded by go-mysql's
// channel). The hold also ends when the ctx given to Hold ends or the run stops.
type Hold struct {
	s   *Syncer
	req *holdReq
}

// holdReq is one request to the event loop: hold at the first transaction boundary whose
// published location is at or after until (nil: the next boundary).
type holdReq struct {
	ctx     context.Context
	until   *position
	loc     Location      // where the event loop holds; written before held is closed
	err     error         // set instead of holding when the loop cannot hold (see atBarrier)
	held    chan struct{} // closed by the event loop once it holds
	release chan struct{} // closed to let the event loop go on
	once    sync.Once
}

func (q *holdReq) free() { q.once.Do(func() { close(q.release) }) }

// barrier is the Syncer's hold state, shared by the holder and the event loop.
type barrier struct {
	mu     sync.Mutex
	req    *holdReq
	ended  chan struct{} // closed when the current Run stops; nil between runs
	wakeMu sync.Mutex
	wctx   context.Context // the event loop's GetEvent context, cancelled to wake it
	wcan   context.CancelFunc
	parent context.Context
}

// ErrShardDDLPending is returned by Hold and Advance while a shard DDL lock defers some
// tables' changes: the target then matches no single source position.
var ErrShardDDLPending = errors.New("syncer: a shard DDL lock is unresolved, so some tables' changes are deferred and the target matches no single source position; resolve the lock, then hold again")

// ErrNotRunning is returned by Hold and Advance when no Run is replicating (yet, or any more).
var ErrNotRunning = errors.New("syncer: not running; start the task (or resume it) before holding replication")

// Hold asks the running syncer to stop applying at its next transaction boundary and
// returns once it holds there with all workers drained.
func (s *Syncer) Hold(ctx context.Context) (*Hold, error) {
	h := &Hold{s: s}
	if err := h.request(ctx, nil); err != nil {
		return nil, err
	}
	return h, nil
}

// Location is where the apply is held: every source change before it is committed on
// the target and none after it.
func (h *Hold) Location() Location { return h.req.loc }

// Advance lets the apply go on until its location is at or after to, then holds again
// there (drained). If it already is, it stays held where it is.
func (h *Hold) Advance(ctx context.Context, to Location) error {
	p := posOf(to)
	return h.request(ctx, &p)
}

// Release lets the apply go on. It is safe to call more than once.
func (h *Hold) Release() {
	b := &h.s.hold
	b.mu.Lock()
	if b.req == h.req {
		b.req = nil
	}
	b.mu.Unlock()
	h.req.free()
}

// request installs a new hold request (replacing and releasing this Hold's previous one)
// and waits until the event loop holds for it.
func (h *Hold) request(ctx context.Context, until *position) error {
	b := &h.s.hold
	q := &holdReq{ctx: ctx, until: until, held: make(chan struct{}), release: make(chan struct{})}
	b.mu.Lock()
	ended := b.ended
	if ended == nil {
		b.mu.Unlock()
		return ErrNotRunning
	}
	if b.req != nil && b.req != h.req {
		b.mu.Unlock()
		return errors.New("syncer: replication is already held by another verification; wait for it to finish")
	}
	prev := h.req
	b.req, h.req = q, q
	b.mu.Unlock()
	if prev != nil {
		prev.free()
	}
	b.wake()
	select {
	case <-q.held:
		if q.err != nil {
			h.Release()
			return q.err
		}
		return nil
	case <-ended:
		h.Release()
		return ErrNotRunning
	case <-ctx.Done():
		h.Release()
		return ctx.Err()
	}
}

// beginRun and endRun bracket a Run: requests are accepted only while one runs, and a
// request outstanding when it stops is dropped (its holder sees ErrNotRunning).
func (b *barrier) beginRun() {
	b.mu.Lock()
	b.ended = make(chan struct{})
	b.mu.Unlock()
}

func (b *barrier) endRun() {
	b.mu.Lock()
	if b.ended != nil {
		close(b.ended)
		b.ended = nil
	}
	if b.req != nil {
		b.req.free()
		b.req = nil
	}
	b.mu.Unlock()
}

// waitCtx is the context the event loop reads the next event with: ctx, also cancelled
// by wake when a hold request arrives, so an idle stream does not delay a hold. A
// cancelled one stays until rearm (after the loop has seen the wake), so a wake between
// the loop's barrier check and its read is never lost.
func (b *barrier) waitCtx(ctx context.Context) context.Context {
	b.wakeMu.Lock()
	defer b.wakeMu.Unlock()
	if b.wctx == nil || b.parent != ctx {
		b.rearmLocked(ctx)
	}
	return b.wctx
}

// rearm replaces a woken wait context; the event loop calls it before re-checking.
func (b *barrier) rearm(ctx context.Context) {
	b.wakeMu.Lock()
	b.rearmLocked(ctx)
	b.wakeMu.Unlock()
}

func (b *barrier) rearmLocked(ctx context.Context) {
	if b.wcan != nil {
		b.wcan()
	}
	b.wctx, b.wcan = context.WithCancel(ctx)
	b.parent = ctx
}

func (b *barrier) wake() {
	b.wakeMu.Lock()
	if b.wcan != nil {
		b.wcan()
	}
	b.wakeMu.Unlock()
}

// woken reports whether err from reading with waitCtx(ctx) was a wake, not a failure.
func woken(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() == nil
}

// atBarrier is called by the event loop before each event: at a transaction boundary
// that satisfies the pending hold request it drains the workers, reports the location
// and waits until the request is released or replaced.
func (r *run) atBarrier(ctx context.Context) error {
	b := &r.s.hold
	for {
		b.mu.Lock()
		q := b.req
		b.mu.Unlock()
		if q == nil || r.inTxn || r.stopRequested() {
			return nil // a graceful stop goes first: never hold it up
		}
		pub := r.published.Load().loc
		if q.until != nil && posOf(pub).compare(*q.until) < 0 {
			return nil
		}
		if len(r.sh.blocked) > 0 || r.sh.resync != nil {
			// Shard DDL coordination defers some tables' changes past this point (they are
			// re-read after the lock resolves): the target is not the source at any one
			// position, so there is nothing exact to hold at.
			q.err = ErrShardDDLPending
			close(q.held)
			b.mu.Lock()
			if b.req == q {
				b.req = nil
			}
			b.mu.Unlock()
			return nil
		}
		if err := r.drain(ctx); err != nil {
			return err
		}
		q.loc = pub
		close(q.held)
		select {
		case <-q.release:
		case <-q.ctx.Done():
			q.free()
			b.mu.Lock()
			if b.req == q {
				b.req = nil
			}
			b.mu.Unlock()
		case <-ctx.Done():
			return ctx.Err()
		case <-r.errc:
			return r.werr
		case <-r.stopReq:
			return nil // the run is stopping; its end releases the holder (ErrNotRunning)
		}
	}
}
