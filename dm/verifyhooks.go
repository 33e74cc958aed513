package dm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/syncer"
	"github.com/dmkit/dmkit/verify"
)

// verifyLoad is the verification at the end of a full-mode load (see verifyrun.go).
func (u *loadUnit) verifyLoad(ctx context.Context) error {
	p := u.p
	if p.cfg.Task.TaskMode != ModeFull || !p.verifyAfterLoad() {
		return nil
	}
	j := &verifyJob{p: p, repair: p.verifyMode() == VerifyRepair, st: &p.vs, trigger: VerifyAfterLoad}
	if snap := u.snapshotPos(); snap != nil && snap.File != "" {
		j.since = &verify.Position{File: snap.File, Pos: snap.Pos, GTID: snap.GTID}
	}
	if err := j.start(); err != nil {
		return err
	}
	err := j.finish(ctx)
	var me *mismatchError
	if err != nil && !errors.As(err, &me) && (dbconn.IsRetryable(err) || dbconn.IsConnLost(err)) {
		// A server went away mid-comparison: resume (the load is done) and verify again.
		return &tempError{fmt.Errorf("verify the copy: %w", err)}
	}
	return err
}

// tempError marks a failure worth an automatic resume.
type tempError struct{ err error }

func (e *tempError) Error() string   { return e.err.Error() }
func (e *tempError) Unwrap() error   { return e.err }
func (e *tempError) Temporary() bool { return true }

// verifyAfterLoad: verification after the load is on, unless the task left it at the
// default while its load keeps existing target rows (on_duplicate ignore): those rows
// differ from the source by the user's choice, so only an explicit verify setting
// compares them.
func (p *fullPipeline) verifyAfterLoad() bool {
	switch p.cfg.Task.Verify {
	case VerifyOff:
		return false
	case "":
		return loadOnDuplicate(&p.cfg.Task) != "ignore"
	}
	return true
}

// runSync runs the syncer; in mode all, on the first start after the load, it verifies
// the copy at the first consistent point alongside (see verifyrun.go). A difference left
// unrepaired (or a verification that could not be made) stops the run with that error.
func (u *syncUnit) runSync(ctx context.Context, s *syncer.Syncer) error {
	rctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	u.mu.Lock()
	u.runCtx = rctx
	u.mu.Unlock()
	u.startValidation(rctx, s)
	defer func() {
		fail(nil)
		u.mu.Lock()
		u.runCtx = nil // no verification starts after this (startVerify checks it under u.mu)
		u.mu.Unlock()
		u.vwg.Wait()
	}()
	if u.cfg.Task.TaskMode == ModeAll && u.p.verifyAfterLoad() {
		fresh, err := s.Fresh(ctx)
		if err != nil {
			return err
		}
		if fresh {
			j := &verifyJob{p: u.p, repair: u.p.verifyMode() == VerifyRepair, syncer: s, st: &u.p.vs, trigger: VerifyAfterLoad}
			if err := j.start(); err != nil {
				return err
			}
			u.vwg.Add(1)
			go func() {
				defer u.vwg.Done()
				err := j.finish(rctx)
				var me *mismatchError
				switch {
				case err == nil || rctx.Err() != nil:
				case errors.As(err, &me):
					fail(fmt.Errorf("verify the copy of task %s on source %s: %w", u.cfg.Task.Name, u.cfg.Source.SourceName, err))
				default:
					// Could not compare (a server restarting, …): replication goes on; the
					// status says why (stage error) and POST …/verify tries again.
					u.cfg.Logger.Warn("verification after the load could not be made", "err", err)
				}
			}()
		}
	}
	err := s.Run(rctx)
	if cause := context.Cause(rctx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// startVerify starts an on-demand verification of the running sync unit; its result is
// only reported (verify_status), it never stops replication.
func (u *syncUnit) startVerify(repair bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	ctx, s := u.runCtx, u.s
	if ctx == nil || s == nil {
		return NewError(CodeVerifyNotRunning, "task %s is not replicating from source %s; on-demand verification holds replication at a point, so start the task first",
			u.cfg.Task.Name, u.cfg.Source.SourceName)
	}
	j := &verifyJob{p: u.p, repair: repair, syncer: s, st: &u.p.vs, trigger: VerifyOnDemand}
	if err := j.start(); err != nil {
		return err
	}
	u.vwg.Add(1) // under u.mu with runCtx set: runSync has not begun waiting
	go func() {
		defer u.vwg.Done()
		if err := j.finish(ctx); err != nil && ctx.Err() == nil {
			u.cfg.Logger.Warn("on-demand verification", "err", err)
		}
	}()
	return nil
}

// verifyReporter is a unit that knows its subtask's verification.
type verifyReporter interface{ verifyStatus() *VerifyStatus }

func (u *loadUnit) verifyStatus() *VerifyStatus { return u.p.vs.status() }
func (u *syncUnit) verifyStatus() *VerifyStatus { return u.p.vs.status() }

// onDemandVerifier is a unit that verifies on demand (the sync unit).
type onDemandVerifier interface{ startVerify(repair bool) error }

// unitVerifyStatus is the verification of a subtask's units, nil when none ran.
func unitVerifyStatus(units []Unit) *VerifyStatus {
	for _, u := range units {
		if vr, ok := u.(verifyReporter); ok {
			if st := vr.verifyStatus(); st != nil {
				return st
			}
		}
	}
	return nil
}

// verifyTask starts an on-demand verification of a subtask on this worker.
func (w *worker) verifyTask(task string, repair bool) error {
	r := w.runOf(task)
	if r == nil {
		return NewError(CodeVerifyNotRunning, "task %s is not running on worker %s; start it first", task, w.name)
	}
	r.mu.Lock()
	units, stage := r.units, r.stage
	r.mu.Unlock()
	for _, u := range units {
		if v, ok := u.(onDemandVerifier); ok && stage == StageRunning {
			return v.startVerify(repair)
		}
	}
	return NewError(CodeVerifyNotRunning, "task %s is %s on worker %s without a running sync unit; on-demand verification needs replication running (task mode all or incremental)",
		task, stage, w.name)
}

// VerifyTask starts an on-demand verification of a task's subtasks (all, or those of
// req.SourceNameList): each compares its tables at a consistent point while replication
// continues. It returns once every verification started; GET /tasks/{name}/verify reports.
func (c *Cluster) VerifyTask(ctx context.Context, name string, req VerifyTaskRequest) error {
	tr := c.taskRecord(name)
	if tr == nil {
		return taskNotFound(name)
	}
	repair := cmpVerifyMode(tr.Task.Verify) == VerifyRepair
	if req.Repair != nil {
		repair = *req.Repair
	}
	sources := req.SourceNameList
	if len(sources) == 0 {
		sources = taskSources(&tr.Task)
	}
	txn := c.read()
	var handles []workerHandle
	for _, s := range sources {
		if !slices.Contains(taskSources(&tr.Task), s) {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", s)
		}
		bw := boundWorker(txn, s)
		if bw == nil || c.workers.get(bw.Name) == nil {
			return NewError(CodeVerifyNotRunning, "source %s of task %s has no online worker; the task must be running to verify it", s, name)
		}
		handles = append(handles, c.workers.get(bw.Name))
	}
	for _, h := range handles {
		if err := h.verifyTask(name, repair); err != nil {
			return err
		}
	}
	return nil
}

// TaskVerify reports each subtask's current or last verification.
func (c *Cluster) TaskVerify(ctx context.Context, name string) (TaskVerifyResult, error) {
	st, err := c.TaskStatus(ctx, name, nil)
	if err != nil {
		return TaskVerifyResult{}, err
	}
	out := TaskVerifyResult{Data: []SubtaskVerifyInfo{}}
	for _, s := range st.Data {
		out.Data = append(out.Data, SubtaskVerifyInfo{SourceName: s.SourceName, WorkerName: s.WorkerName, VerifyStatus: s.VerifyStatus})
	}
	out.Total = len(out.Data)
	return out, nil
}

func cmpVerifyMode(m string) string {
	if m == "" {
		return VerifyChecksum
	}
	return m
}
