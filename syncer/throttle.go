package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Throttle pauses applying while the target says it is overloaded, as gh-ost's
// --throttle-query does: Query runs on the target every Interval and while its first
// column is above Threshold the syncer stops taking events at the next transaction
// boundary (what it already dispatched is applied). A failing or empty query does not
// throttle (it is reported in the status), so a broken check never stalls replication
// silently... nor forever.
type Throttle struct {
	Query     string
	Threshold float64
	Interval  time.Duration // default one second
}

// throttleState is the last verdict, read by the event loop and the status.
type throttleState struct {
	on     atomic.Bool
	reason atomic.Pointer[string]
	wake   chan struct{} // signalled when the verdict turns off
}

func newThrottleState() *throttleState { return &throttleState{wake: make(chan struct{}, 1)} }

func (t *throttleState) set(on bool, reason string) {
	t.reason.Store(&reason)
	if was := t.on.Swap(on); was && !on {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Reason is the last check's explanation ("" before the first check).
func (t *throttleState) Reason() string {
	if p := t.reason.Load(); p != nil {
		return *p
	}
	return ""
}

// throttleLoop evaluates the throttle until ctx ends.
func (r *run) throttleLoop(ctx context.Context) {
	th := r.cfg.Throttle
	interval := th.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		on, reason := checkThrottle(ctx, r.target, th)
		if on != r.s.throttle.on.Load() {
			r.log.Info("throttle "+map[bool]string{true: "on", false: "off"}[on], "reason", reason)
		}
		r.s.throttle.set(on, reason)
		select {
		case <-ctx.Done():
			r.s.throttle.set(false, "")
			return
		case <-t.C:
		}
	}
}

func checkThrottle(ctx context.Context, db *sql.DB, th *Throttle) (bool, string) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var v sql.NullString
	if err := db.QueryRowContext(qctx, th.Query).Scan(&v); err != nil {
		if err == sql.ErrNoRows {
			return false, "throttle query returned no row"
		}
		return false, fmt.Sprintf("throttle query failed (not throttling): %v", err)
	}
	f, err := strconv.ParseFloat(v.String, 64)
	if !v.Valid || err != nil {
		return false, fmt.Sprintf("throttle query returned %q, not a number (not throttling)", v.String)
	}
	if f > th.Threshold {
		return true, fmt.Sprintf("throttle query returned %g > %g", f, th.Threshold)
	}
	return false, fmt.Sprintf("throttle query returned %g <= %g", f, th.Threshold)
}

// waitThrottle holds the event loop at a transaction boundary while throttled.
func (r *run) waitThrottle(ctx context.Context) error {
	for r.s.throttle.on.Load() && !r.stopRequested() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.s.throttle.wake:
		case <-time.After(time.Second):
		}
	}
	return nil
}
