package dm

import (
	"context"
	"slices"
	"time"

	"github.com/dmkit/dmkit/syncer"
)

// Continuous validation (DM's dmctl `validation start|stop|status|show-errors`, as routes
// under /api/v1/tasks/{name}/validation/…): the sync unit's validator re-reads every row
// it replicated from the target and reports persistent differences (syncer/validator.go).
// The desired mode is kept by the worker's subtask run, so it survives pauses and user
// starts (the units are rebuilt) but not a process restart.

// ValidationStatus is one subtask's validator (dmkit's shape of DM's validator status).
type ValidationStatus struct {
	SourceName string `json:"source_name"`
	// Mode is full, fast or "" (never started); Stage running or stopped.
	Mode  string `json:"mode"`
	Stage string `json:"stage"`
	// PendingRows wait for their check; CheckedRows matched; ErrorRows differ
	// persistently; DroppedRows were not validated (too many pending).
	PendingRows   int64    `json:"pending_rows"`
	CheckedRows   int64    `json:"checked_rows"`
	ErrorRows     int64    `json:"error_rows"`
	DroppedRows   int64    `json:"dropped_rows"`
	SkippedTables []string `json:"skipped_tables,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// ValidationErrorRow is one persistent difference.
type ValidationErrorRow struct {
	SourceName string `json:"source_name"`
	Table      string `json:"table"`
	Key        string `json:"key"`
	Kind       string `json:"kind"`
	Expected   string `json:"expected,omitempty"`
	Time       string `json:"time"`
}

// ValidationRequest is the body of the validation start and stop routes.
type ValidationRequest struct {
	// Mode is full (compare every column; the default) or fast (existence only); start only.
	Mode           string   `json:"mode,omitempty"`
	SourceNameList []string `json:"source_name_list,omitempty"`
}

// validatingUnit is a unit with a validator (the sync unit).
type validatingUnit interface {
	setValidation(mode string) error
	validation() (syncer.ValidationStatus, []syncer.ValidationError, bool)
}

// setValidation starts (mode full/fast) or stops ("") the unit's validator now if its
// syncer runs, and at every later run.
func (u *syncUnit) setValidation(mode string) error {
	u.mu.Lock()
	u.valMode = mode
	ctx, s := u.runCtx, u.s
	u.mu.Unlock()
	if s == nil {
		return nil
	}
	if mode == "" {
		s.StopValidation()
		return nil
	}
	if ctx != nil {
		return s.StartValidation(ctx, mode)
	}
	return nil
}

// startValidation is called by runSync with the run's context.
func (u *syncUnit) startValidation(ctx context.Context, s *syncer.Syncer) {
	u.mu.Lock()
	mode := u.valMode
	u.mu.Unlock()
	if mode == "" {
		return
	}
	if err := s.StartValidation(ctx, mode); err != nil {
		u.cfg.Logger.Warn("start validation", "err", err)
	}
}

func (u *syncUnit) validation() (syncer.ValidationStatus, []syncer.ValidationError, bool) {
	u.mu.Lock()
	s, mode := u.s, u.valMode
	u.mu.Unlock()
	if s == nil {
		return syncer.ValidationStatus{Mode: mode}, nil, true
	}
	st := s.ValidationStatus()
	if st.Mode == "" {
		st.Mode = mode
	}
	return st, s.ValidationErrors(), true
}

// validate sets the desired validation of a subtask on this worker and applies it to its
// sync unit.
func (w *worker) validate(task, mode string) error {
	r := w.runOf(task)
	if r == nil {
		return NewError(CodeVerifyNotRunning, "task %s is not running on worker %s; start it first", task, w.name)
	}
	r.mu.Lock()
	r.validation = mode
	units := r.units
	r.mu.Unlock()
	return applyValidation(units, mode)
}

func applyValidation(units []Unit, mode string) error {
	for _, u := range units {
		if vu, ok := u.(validatingUnit); ok {
			return vu.setValidation(mode)
		}
	}
	return nil
}

// validationOf reads a subtask's validator on this worker.
func (w *worker) validationOf(task string) (*syncer.ValidationStatus, []syncer.ValidationError) {
	r := w.runOf(task)
	if r == nil {
		return nil, nil
	}
	r.mu.Lock()
	units, mode := r.units, r.validation
	r.mu.Unlock()
	for _, u := range units {
		if vu, ok := u.(validatingUnit); ok {
			st, errs, _ := vu.validation()
			return &st, errs
		}
	}
	if mode != "" {
		return &syncer.ValidationStatus{Mode: mode}, nil
	}
	return nil, nil
}

// StartValidation starts the continuous validator of a task's subtasks (DM's
// `validation start --mode`). Only tasks with a sync unit (modes all, incremental).
func (c *Cluster) StartValidation(ctx context.Context, name string, req ValidationRequest) error {
	mode := req.Mode
	if mode == "" {
		mode = syncer.ValidationFull
	}
	if mode != syncer.ValidationFull && mode != syncer.ValidationFast {
		return invalidf("validation mode %q is not one of full, fast", req.Mode)
	}
	return c.setValidation(name, req.SourceNameList, mode)
}

// StopValidation stops the validator of a task's subtasks (DM's `validation stop`).
func (c *Cluster) StopValidation(ctx context.Context, name string, req ValidationRequest) error {
	if req.Mode != "" {
		return invalidf("validation stop takes no mode")
	}
	return c.setValidation(name, req.SourceNameList, "")
}

func (c *Cluster) setValidation(name string, sources []string, mode string) error {
	tr := c.taskRecord(name)
	if tr == nil {
		return taskNotFound(name)
	}
	if tr.Task.TaskMode != ModeAll && tr.Task.TaskMode != ModeIncremental {
		return NewError(CodeVerifyNotRunning, "task %s is in mode %s: continuous validation checks replicated rows, so it needs mode all or incremental", name, tr.Task.TaskMode)
	}
	handles, err := c.subtaskWorkers(tr, sources)
	if err != nil {
		return err
	}
	for _, h := range handles {
		if err := h.validate(name, mode); err != nil {
			return err
		}
	}
	return nil
}

// subtaskWorkers returns the online workers of the task's subtasks on sources (all when
// empty).
func (c *Cluster) subtaskWorkers(tr *taskRecord, sources []string) ([]workerHandle, error) {
	all := taskSources(&tr.Task)
	if len(sources) == 0 {
		sources = all
	}
	txn := c.read()
	var out []workerHandle
	for _, s := range sources {
		if !slices.Contains(all, s) {
			return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", s)
		}
		bw := boundWorker(txn, s)
		if bw == nil || c.workers.get(bw.Name) == nil {
			return nil, NewError(CodeVerifyNotRunning, "source %s of task %s has no online worker; the task must be running", s, tr.Task.Name)
		}
		out = append(out, c.workers.get(bw.Name))
	}
	return out, nil
}

// ValidationStatus reports the validator of each subtask (DM's `validation status`).
func (c *Cluster) ValidationStatus(ctx context.Context, name string) (List[ValidationStatus], error) {
	var out []ValidationStatus
	err := c.eachValidation(name, func(source string, st *syncer.ValidationStatus, _ []syncer.ValidationError) {
		if st == nil {
			st = &syncer.ValidationStatus{}
		}
		out = append(out, *toValidationStatus(source, st))
	})
	return newList(nonNil(out)), err
}

// ValidationErrors lists each subtask's persistent differences (DM's `validation show-errors`).
func (c *Cluster) ValidationErrors(ctx context.Context, name string) (List[ValidationErrorRow], error) {
	var out []ValidationErrorRow
	err := c.eachValidation(name, func(source string, _ *syncer.ValidationStatus, errs []syncer.ValidationError) {
		for _, e := range errs {
			out = append(out, ValidationErrorRow{SourceName: source, Table: e.Table, Key: e.Key, Kind: e.Kind,
				Expected: e.Expected, Time: e.At.UTC().Format(time.RFC3339)})
		}
	})
	return newList(nonNil(out)), err
}

func (c *Cluster) eachValidation(name string, f func(string, *syncer.ValidationStatus, []syncer.ValidationError)) error {
	tr := c.taskRecord(name)
	if tr == nil {
		return taskNotFound(name)
	}
	txn := c.read()
	for _, s := range taskSources(&tr.Task) {
		var st *syncer.ValidationStatus
		var errs []syncer.ValidationError
		if bw := boundWorker(txn, s); bw != nil && c.workers.get(bw.Name) != nil {
			st, errs = c.workers.get(bw.Name).validationOf(name)
		}
		f(s, st, errs)
	}
	return nil
}

// validationStatusLocked is the validator for the task status, nil when never started;
// r.mu is held.
func (r *subtaskRun) validationStatusLocked() *ValidationStatus {
	for _, u := range r.units {
		if vu, ok := u.(validatingUnit); ok {
			st, _, _ := vu.validation()
			if st.Mode == "" {
				return nil
			}
			return toValidationStatus(r.source, &st)
		}
	}
	return nil
}

func toValidationStatus(source string, st *syncer.ValidationStatus) *ValidationStatus {
	v := &ValidationStatus{SourceName: source, Mode: st.Mode, Stage: "stopped", PendingRows: st.PendingRows,
		CheckedRows: st.CheckedRows, ErrorRows: st.ErrorRows, DroppedRows: st.DroppedRows, SkippedTables: st.SkippedTables, Error: st.Error}
	if st.Running {
		v.Stage = "running"
	}
	return v
}
