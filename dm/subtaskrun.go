package dm

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dmkit/dmkit/syncer"
)

// subtaskRun is the live state of one subtask on this worker.
type subtaskRun struct {
	task, source string
	taskID       string // the task's identity: a re-created task gets a fresh run

	mu        sync.Mutex
	stage     string
	unit      string
	errMsg    string
	units     []Unit
	cur       Unit
	cancel    context.CancelFunc
	done      chan struct{} // closed when the current run ends; nil when never started
	resumeSeq int64         // the ResumeSeq the current/last run was started for
	retries   int
	retryAt   time.Time // zero: no automatic resume pending
	stopAsked bool      // a graceful stop of the current run is under way
	// validation is the desired continuous-validation mode ("" off), applied to every new
	// set of units (validation.go).
	validation string
	progress   progressMeter
	ddlErr     *syncer.DDLError // the statement the last run paused on, if any
}

// defaultStopWait is how long a stop lets the source transaction in progress finish when
// the stop gives no timeout_duration (DM's defaultMaxPauseOrStopWaitTime).
const defaultStopWait = 10 * time.Second

// stopWait is the stop's timeout_duration, or the default.
func stopWait(timeout string) time.Duration {
	if timeout == "" {
		return defaultStopWait
	}
	if d, err := time.ParseDuration(timeout); err == nil && d >= 0 {
		return d
	}
	return defaultStopWait
}

// transactionStopper is a unit that can stop at a source transaction end (the sync unit):
// the returned channel is closed once everything it read is committed at such a point.
type transactionStopper interface {
	stopAtTransactionEnd() <-chan struct{}
}

// execute runs the units from the first one that still has work. A panic in a unit is
// turned into the subtask's error instead of taking the whole process down.
func (r *subtaskRun) execute(ctx context.Context, factory UnitFactory, cfg *SubtaskConfig) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in task %s on source %s (please report it): %v\n%s", r.task, r.source, p, debug.Stack())
		}
	}()
	r.mu.Lock()
	units := r.units
	r.mu.Unlock()
	if units == nil {
		us, err := factory(ctx, cfg)
		if err != nil {
			return err
		}
		if len(us) == 0 {
			return fmt.Errorf("task mode %s has no units", cfg.Task.TaskMode)
		}
		units = us
		r.mu.Lock()
		r.units = units
		mode := r.validation
		r.mu.Unlock()
		if err := applyValidation(units, mode); err != nil {
			return err
		}
	}
	start := 0
	for i := len(units) - 1; i > 0; i-- {
		fresh, err := units[i].IsFresh(ctx)
		if err != nil {
			return fmt.Errorf("check progress of unit %s: %w", units[i].Type(), err)
		}
		if !fresh {
			start = i
			break
		}
	}
	for _, u := range units[start:] {
		r.mu.Lock()
		r.cur, r.unit = u, u.Type()
		r.mu.Unlock()
		if err := u.Run(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// stop cancels the current run, if any; the run goroutine records the Paused stage.
func (r *subtaskRun) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
	r.retryAt = time.Time{}
}

// stopGraceful stops the current run as DM's stop with timeout_duration does: a unit
// that can stop at a transaction end is asked to, and the run is cancelled once it got
// there or after timeout, whichever comes first. Other units are cancelled at once (they
// resume from their own checkpoints). Repeated calls for one run start one wait.
func (r *subtaskRun) stopGraceful(timeout time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retryAt = time.Time{}
	if r.cancel == nil || r.done == nil || closed(r.done) {
		return
	}
	ts, ok := r.cur.(transactionStopper)
	if !ok || timeout <= 0 {
		r.cancel()
		return
	}
	if r.stopAsked {
		return
	}
	r.stopAsked = true
	cancel, done, quiet := r.cancel, r.done, ts.stopAtTransactionEnd()
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-quiet:
		case <-t.C:
		case <-done:
		}
		cancel()
	}()
}

// wait blocks until the current run, if any, has ended.
func (r *subtaskRun) wait(ctx context.Context) error {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeUnits waits for the current run to end, then closes its units.
func (r *subtaskRun) closeUnits() {
	_ = r.wait(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeUnitsLocked()
}

// closeUnitsLocked closes the units of a subtask that is not running; r.mu is held.
func (r *subtaskRun) closeUnitsLocked() {
	for _, u := range r.units {
		_ = u.Close()
	}
	r.units, r.cur = nil, nil
}

// retryable reports whether err is worth an automatic resume (a transient database or
// network error). Units mark such errors with a Temporary() bool method.
func retryable(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// backoff is the delay before the n-th automatic resume: 1s doubling to 1 min.
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

// modeUnits lists the units of a task mode, in order.
func modeUnits(mode string) []string {
	switch mode {
	case ModeAll:
		return []string{UnitDump, UnitLoad, UnitSync}
	case ModeFull:
		return []string{UnitDump, UnitLoad}
	case ModeIncremental:
		return []string{UnitSync}
	case ModeDump:
		return []string{UnitDump}
	case ModeLoad:
		return []string{UnitLoad}
	}
	return nil
}
