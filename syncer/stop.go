package syncer

import (
	"context"
	"errors"
	"sync"
)

// errQuiesced ends the event loop at a transaction boundary after StopAtTransactionEnd.
var errQuiesced = errors.New("syncer: stopped at a transaction end on request")

// gracefulStop is the stop-at-transaction-end request of one Run.
type gracefulStop struct {
	mu      sync.Mutex
	running bool
	req     chan struct{} // closed on request
	quiet   chan struct{} // closed once everything read is committed at a transaction end
	asked   bool
}

// begin arms a fresh request for a Run.
func (g *gracefulStop) begin() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running, g.asked = true, false
	g.req, g.quiet = make(chan struct{}), make(chan struct{})
}

// end marks the Run over; a pending request is answered.
func (g *gracefulStop) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running = false
	if g.quiet != nil {
		select {
		case <-g.quiet:
		default:
			close(g.quiet)
		}
	}
}

// requested returns the request channel of the current Run (nil before any Run).
func (g *gracefulStop) requested() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.req
}

func (g *gracefulStop) markQuiet() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.quiet:
	default:
		close(g.quiet)
	}
}

// StopAtTransactionEnd asks the running Run to stop as DM's syncer does on a stop with
// timeout_duration: keep reading until the source transaction in progress ends, commit
// everything read, write the checkpoint, then stay idle until its ctx is cancelled (Run
// still returns ctx.Err() then). The returned channel is closed once that point is reached
// (at once when no Run is active). The caller bounds the wait and cancels Run's ctx
// afterwards; cancelling without waiting is the hard stop it always was.
func (s *Syncer) StopAtTransactionEnd() <-chan struct{} {
	g := &s.stop
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.running {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if !g.asked {
		g.asked = true
		close(g.req)
	}
	return g.quiet
}

// stopRequested reports whether a graceful stop was asked for (event loop goroutine).
func (r *run) stopRequested() bool {
	select {
	case <-r.stopReq:
		return true
	default:
		return false
	}
}

// readContext returns the context GetEvent waits with: ctx, additionally ended by a
// graceful-stop request so that an idle stream notices it. Once the request came while a
// transaction is open, the event loop reads with ctx itself until the transaction ends.
func (r *run) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-r.stopReq:
			cancel()
		case <-rctx.Done():
		}
	}()
	return rctx, cancel
}

// waitAfterQuiesce reports the quiet point and holds Run until ctx ends, as its contract
// says (Run returns when ctx is cancelled).
func (r *run) waitAfterQuiesce(ctx context.Context) error {
	r.s.stop.markQuiet()
	r.log.Info("syncer stopped at a transaction end; waiting for the stop to complete")
	<-ctx.Done()
	return ctx.Err()
}
