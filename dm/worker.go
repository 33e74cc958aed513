package dm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
)

// txnReader is a read (or write) transaction over the cluster state.
type txnReader = *memdb.Txn

// worker runs the subtasks of the source bound to it. It is a controller: a loop reads the
// desired state (binding, subtasks and their expected stages) from memdb and converges the
// running subtasks toward it, waking on memdb watch channels, on its own run events and on
// a timer for automatic resumes.
type worker struct {
	c    *Cluster
	name string
	log  *slog.Logger
	wake chan struct{}

	mu        sync.Mutex
	runs      map[string]*subtaskRun // by task name
	suspended map[string]bool        // sources held paused by a transfer
}

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
}

func newWorker(c *Cluster, name string) *worker {
	return &worker{c: c, name: name, log: c.log.With("worker", name), wake: make(chan struct{}, 1),
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
		ws := memdb.NewWatchSet()
		txn := w.c.read()
		ch, obj, err := txn.FirstWatch(kindWorker, "id", w.name)
		ws.Add(ch)
		source := ""
		if err == nil && obj != nil {
			source = obj.(*workerRecord).Source
		}
		desired := map[string]*subtaskRecord{}
		if source != "" {
			it, err := txn.Get(kindSubtask, "source", source)
			if err == nil {
				ws.Add(it.WatchCh())
				for o := it.Next(); o != nil; o = it.Next() {
					st := o.(*subtaskRecord)
					desired[st.Task] = st
				}
			}
		}
		w.reconcile(ctx, txn, source, desired)

		wctx, cancel := context.WithTimeout(ctx, time.Second)
		select {
		case <-ws.WatchCh(wctx):
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
func (w *worker) reconcile(ctx context.Context, txn txnReader, source string, desired map[string]*subtaskRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
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
			r.stop()
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
			if us := modeUnits(w.c.taskMode(st.Task)); len(us) > 0 {
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
			w.start(ctx, txn, r, st)
		}
	}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// start launches a run of the subtask's remaining units.
func (w *worker) start(ctx context.Context, txn txnReader, r *subtaskRun, st *subtaskRecord) {
	cfg, err := w.subtaskConfig(txn, st)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resumeSeq != st.ResumeSeq {
		// A user start resets the automatic-resume backoff and rebuilds the units from the
		// current task definition (it may have been updated while stopped).
		r.retries = 0
		r.closeUnitsLocked()
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
	r.stage, r.errMsg = StageRunning, ""
	log := w.log.With("task", st.Task, "source", st.Source)
	log.Info("subtask starting")
	go func() {
		defer close(done)
		err := r.execute(runCtx, w.c.units, cfg)
		if err == nil {
			// Persist before reporting Finished, so that whoever sees Finished can rely on it
			// surviving a restart.
			w.c.recordFinished(st.Task, st.TaskID, st.Source, st.ResumeSeq)
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
		r.mu.Unlock()
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

// recordFinished persists that the run started for resumeSeq finished, so that a restarted
// process does not run the subtask again.
func (c *Cluster) recordFinished(task, taskID, source string, resumeSeq int64) {
	// Not c.ctx: Close waits for subtask runs, and this record must not be lost to it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.update(ctx, func(w *writeTxn) error {
		st, _ := w.get(kindSubtask, subtaskKey(task, source)).(*subtaskRecord)
		if st == nil || st.TaskID != taskID || st.ResumeSeq != resumeSeq {
			return nil // deleted (perhaps re-created) or restarted meanwhile
		}
		n := *st
		n.FinishedSeq = resumeSeq
		w.put(kindSubtask, &n)
		return nil
	})
	if err != nil {
		c.log.Warn("record subtask finished", "task", task, "source", source, "err", err)
	}
}

// clearStartArgs forgets the start arguments of the run started for resumeSeq.
func (c *Cluster) clearStartArgs(task, taskID, source string, resumeSeq int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.update(ctx, func(w *writeTxn) error {
		st, _ := w.get(kindSubtask, subtaskKey(task, source)).(*subtaskRecord)
		if st == nil || st.TaskID != taskID || st.ResumeSeq != resumeSeq || (st.StartTime == "" && st.SafeModeDuration == "") {
			return nil
		}
		n := *st
		n.StartTime, n.SafeModeDuration = "", ""
		w.put(kindSubtask, &n)
		return nil
	})
	if err != nil {
		c.log.Warn("clear start arguments", "task", task, "source", source, "err", err)
	}
}

// taskMode is the mode of a stored task, "" when it is gone.
func (c *Cluster) taskMode(task string) string {
	if r := c.taskRecord(task); r != nil {
		return r.Task.TaskMode
	}
	return ""
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

// subtaskConfig assembles what the units of st need from the stored task and source.
func (w *worker) subtaskConfig(txn txnReader, st *subtaskRecord) (*SubtaskConfig, error) {
	tr, _ := getRecord(txn, kindTask, st.Task).(*taskRecord)
	sr, _ := getRecord(txn, kindSource, st.Source).(*sourceRecord)
	if tr == nil || sr == nil || tr.ID != st.TaskID {
		return nil, fmt.Errorf("subtask %s/%s: task or source vanished", st.Task, st.Source)
	}
	cfg := &SubtaskConfig{Task: tr.Task, Source: sr.Source, Flavor: sr.Flavor, CaseSensitive: sr.CaseSensitive,
		ServerID: sr.ServerID, StartTime: st.StartTime, SafeModeDuration: st.SafeModeDuration, Worker: w.name,
		SchemaOverrides: tableSchemaOverrides(txn, st.Task, st.Source), Logger: w.log.With("task", st.Task, "source", st.Source)}
	cfg.DataDir = effectiveDataDir(w.c.cfg.DataDir, &tr.Task, st.Source)
	cfg.TaskID = tr.ID
	task, id, source, seq := st.Task, st.TaskID, st.Source, st.ResumeSeq
	cfg.ClearStartArgs = func() { w.c.clearStartArgs(task, id, source, seq) }
	return cfg, nil
}

// effectiveDataDir is the dump directory of one subtask: for full and all modes
// "<data_dir>.<task>" (one per source when the task has several), for dump and load the
// data_dir as is (that is how a dump task hands files to a load task).
func effectiveDataDir(base string, t *Task, source string) string {
	dir := "./dumped_data"
	if f := t.SourceConfig.FullMigrateConf; f != nil && f.DataDir != "" {
		dir = f.DataDir
	}
	switch t.TaskMode {
	case ModeFull, ModeAll:
		dir = dir + "." + t.Name
		if len(t.SourceConfig.SourceConf) > 1 {
			dir = filepath.Join(dir, source)
		}
	case ModeDump, ModeLoad:
		if len(t.SourceConfig.SourceConf) > 1 {
			dir = filepath.Join(dir, source)
		}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	return dir
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
	return s, true
}

// runOf returns the live state of a subtask on this worker, or nil.
func (w *worker) runOf(task string) *subtaskRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs[task]
}

// subtaskUnit is the current unit of a subtask, "" when it has not run.
func (w *worker) subtaskUnit(task string) string {
	r := w.runOf(task)
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unit
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
		if su, ok := u.(*syncUnit); ok {
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
	w.mu.Unlock()
	for _, r := range runs {
		r.closeUnits()
	}
}

// relayStatus reports relay for source on this worker. The relay unit is not part of this
// build yet, so relay is reported paused with an error saying so.
func (w *worker) relayStatus(source string) (*RelayStatus, string) {
	return &RelayStatus{Stage: StagePaused}, fmt.Sprintf("relay log for source %s is not available in this dmkit build; syncers read the source binlog directly\n", source)
}

// purgeRelay removes relay files of source older than name. Without a relay unit there
// are no relay files, so there is nothing to remove.
func (w *worker) purgeRelay(ctx context.Context, source, name, dir string) error {
	return ctx.Err()
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
