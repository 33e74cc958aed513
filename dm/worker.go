package dm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dmkit/dmkit/syncer"
)

// worker runs the subtasks of the source bound to it. It is a controller: a loop reads the
// desired state (binding, subtasks and their expected stages) from its host and converges
// the running subtasks toward it, waking when the host says the state changed, on its own
// run events and on a timer for automatic resumes. It knows the control plane only as a
// workerHost.
type worker struct {
	host  workerHost
	units UnitFactory
	name  string
	log   *slog.Logger
	wake  chan struct{}

	mu        sync.Mutex
	runs      map[string]*subtaskRun // by task name
	suspended map[string]bool        // sources held paused by a transfer
	relay     *relayRun              // the relay unit, nil when this worker runs no relay
	// relayStopping is closed once a stopped relay released its directory.
	relayStopping chan struct{}
}

func newWorker(host workerHost, units UnitFactory, name string, log *slog.Logger) *worker {
	return &worker{host: host, units: units, name: name, log: log.With("worker", name), wake: make(chan struct{}, 1),
		runs: map[string]*subtaskRun{}, suspended: map[string]bool{}}
}

// poke wakes the reconcile loop.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run is the reconcile loop; it returns when ctx is cancelled.
func (w *worker) run(ctx context.Context) {
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		source, desired, changed := w.host.desiredState(wctx, w.name)
		w.reconcile(ctx, source, desired)
		select {
		case <-changed:
		case <-w.wake:
		case <-ctx.Done():
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// reconcile converges the runs toward desired.
func (w *worker) reconcile(ctx context.Context, source string, desired map[string]*subtaskRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reconcileRelay(ctx)
	for task, r := range w.runs {
		if st, ok := desired[task]; !ok || st.Source != r.source || st.TaskID != r.taskID {
			r.stop()
			delete(w.runs, task)
			go r.closeUnits()
		}
	}
	for task, st := range desired {
		r := w.runs[task]
		if r == nil {
			r = &subtaskRun{task: task, source: st.Source, taskID: st.TaskID, stage: StageStopped, resumeSeq: -1}
			w.runs[task] = r
		}
		expected := st.Expected
		if w.suspended[st.Source] {
			expected = StageStopped
		}
		if expected != StageRunning {
			if w.suspended[st.Source] {
				r.stop()
			} else {
				r.stopGraceful(stopWait(st.StopTimeout))
			}
			continue
		}
		r.mu.Lock()
		running := r.done != nil && !closed(r.done)
		stage, errMsg, retryAt := r.stage, r.errMsg, r.retryAt
		userResume := st.ResumeSeq != r.resumeSeq
		r.mu.Unlock()
		if st.FinishedSeq == st.ResumeSeq && st.ResumeSeq > 0 && stage != StageFinished && !running {
			// Finished before a restart of the process: nothing left to run.
			r.mu.Lock()
			r.stage, r.resumeSeq = StageFinished, st.ResumeSeq
			if us := modeUnits(w.host.taskMode(st.Task)); len(us) > 0 {
				r.unit = us[len(us)-1]
			}
			r.mu.Unlock()
			continue
		}
		switch {
		case running:
		case stage == StageFinished && !userResume:
		case stage == StagePaused && errMsg != "" && !userResume && (retryAt.IsZero() || time.Now().Before(retryAt)):
		default:
			w.start(ctx, r, st)
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// start launches a run of the subtask's remaining units.
func (w *worker) start(ctx context.Context, r *subtaskRun, st *subtaskRecord) {
	cfg, err := w.host.subtaskConfig(st, w.name, w.log)
	if cfg != nil {
		cfg.Relay = w.relayOpener(st.Source)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resumeSeq != st.ResumeSeq {
		// A user start resets the automatic-resume backoff and rebuilds the units from the
		// current task definition (it may have been updated while stopped).
		r.retries = 0
		r.closeUnitsLocked()
	} else if r.stage == StagePaused && r.errMsg != "" {
		w.host.subtaskEvent(st.Task, st.Source, w.name, eventAutoResumed)
	}
	r.resumeSeq = st.ResumeSeq
	r.retryAt = time.Time{}
	if err != nil {
		r.stage, r.errMsg = StagePaused, err.Error()+"\n"
		return
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	r.stopAsked = false
	r.stage, r.errMsg, r.ddlErr = StageRunning, "", nil
	log := w.log.With("task", st.Task, "source", st.Source)
	log.Info("subtask starting")
	go func() {
		defer close(done)
		err := r.execute(runCtx, w.units, cfg)
		if err == nil {
			// Persist before reporting Finished, so that whoever sees Finished can rely on it
			// surviving a restart.
			w.host.recordFinished(st.Task, st.TaskID, st.Source, st.ResumeSeq)
		}
		r.mu.Lock()
		switch {
		case err == nil:
			r.stage, r.retries = StageFinished, 0
			log.Info("subtask finished")
		case runCtx.Err() != nil:
			r.stage = StagePaused
			log.Info("subtask paused")
		default:
			r.stage, r.errMsg = StagePaused, err.Error()+"\n"
			r.ddlErr = ddlFailure(err)
			w.host.subtaskEvent(st.Task, st.Source, w.name, eventPausedByError)
			if retryable(err) {
				r.retries++
				r.retryAt = time.Now().Add(backoff(r.retries))
			}
			log.Warn("subtask paused by error", "err", err, "retryable", retryable(err))
		}
		r.mu.Unlock()
		cancel()
		w.poke()
	}()
}

// status reports one subtask as this worker runs it; ok is false when the worker does not
// know the subtask (yet).
func (w *worker) status(task string) (SubTaskStatus, bool) {
	r := w.runOf(task)
	if r == nil {
		return SubTaskStatus{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := SubTaskStatus{Name: task, SourceName: r.source, WorkerName: w.name, Stage: r.stage, Unit: r.unit,
		UnresolvedDDLLockID: strPtr(""), ErrorMsg: r.errMsg}
	if r.cur != nil {
		switch v := r.cur.Status().(type) {
		case *DumpStatus:
			s.DumpStatus = v
		case *LoadStatus:
			s.LoadStatus = v
		case *SyncStatus:
			s.SyncStatus = v
		}
	}
	s.VerifyStatus = unitVerifyStatus(r.units)
	s.ValidationStatus = r.validationStatusLocked()
	s.Progress = r.progress.sample(time.Now(), s)
	return s, true
}

// pausedDDL is the statement the subtask's last run paused on, nil when it did not.
func (w *worker) pausedDDL(task string) *syncer.DDLError {
	r := w.runOf(task)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stage != StagePaused {
		return nil
	}
	return r.ddlErr
}

// runOf returns the live state of a subtask on this worker, or nil.
func (w *worker) runOf(task string) *subtaskRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs[task]
}

// schemaTracker is a unit that tracks table schemas (the sync unit).
type schemaTracker interface {
	trackedTable(schema, table string) (string, bool)
}

// trackedTable returns the CREATE TABLE the running sync unit of a subtask currently
// uses for a source table; ok is false when there is no sync unit or it does not track
// the table.
func (w *worker) trackedTable(task, schema, table string) (string, bool) {
	r := w.runOf(task)
	if r == nil {
		return "", false
	}
	r.mu.Lock()
	units := r.units
	r.mu.Unlock()
	for _, u := range units {
		if su, ok := u.(schemaTracker); ok {
			return su.trackedTable(schema, table)
		}
	}
	return "", false
}

// subtaskStage is the current stage of a subtask, "" when unknown here.
func (w *worker) subtaskStage(task string) string {
	r := w.runOf(task)
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stage
}

// suspend holds every subtask of source paused until resume, whatever its expected stage.
func (w *worker) suspend(source string) {
	w.mu.Lock()
	w.suspended[source] = true
	for _, r := range w.runs {
		if r.source == source {
			r.stop()
		}
	}
	w.mu.Unlock()
	w.poke()
}

func (w *worker) resume(source string) {
	w.mu.Lock()
	delete(w.suspended, source)
	w.mu.Unlock()
	w.poke()
}

// waitSourceStopped waits until no subtask of source runs here, up to 30 s.
func (w *worker) waitSourceStopped(ctx context.Context, source string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w.mu.Lock()
	var runs []*subtaskRun
	for _, r := range w.runs {
		if r.source == source {
			runs = append(runs, r)
		}
	}
	w.mu.Unlock()
	for _, r := range runs {
		if err := r.wait(ctx); err != nil {
			return fmt.Errorf("subtask %s did not pause: %w", r.task, err)
		}
	}
	return nil
}

// stopTask pauses one subtask and waits up to timeout for it to stop.
func (w *worker) waitTaskStopped(ctx context.Context, task string) error {
	r := w.runOf(task)
	if r == nil {
		return nil
	}
	return r.wait(ctx)
}

// stopAll stops every run and closes the units; used on Close.
func (w *worker) stopAll() {
	w.mu.Lock()
	runs := make([]*subtaskRun, 0, len(w.runs))
	for _, r := range w.runs {
		r.stop()
		runs = append(runs, r)
	}
	w.runs = map[string]*subtaskRun{}
	rr := w.relay
	w.relay = nil
	w.mu.Unlock()
	for _, r := range runs {
		r.closeUnits()
	}
	if rr != nil {
		rr.cancel()
		<-rr.done
		if rr.rel != nil {
			rr.rel.Close()
		}
	}
}
