package dm

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/dmkit/dmkit/syncer"
)

// The worker seam. A worker depends on workerHost only — the desired state it converges
// on, and the few reports it makes back — and the control plane reaches a worker only
// through workerHandle. Cluster implements workerHost over its memdb state and
// persists through its Store; a worker in another process (HA on etcd) is a second
// implementation of the same two interfaces, not a change to the worker.

// workerHost is what a worker needs from the control plane.
type workerHost interface {
	// desiredState returns the source bound to worker and that source's subtasks (by
	// task name), and a channel that receives when either may have changed or ctx ends.
	desiredState(ctx context.Context, worker string) (source string, subtasks map[string]*subtaskRecord, changed <-chan error)
	// subtaskConfig assembles what the units of st need (task, source, data dir, …).
	subtaskConfig(st *subtaskRecord, worker string, log *slog.Logger) (*SubtaskConfig, error)
	// taskMode is the mode of a task, "" when it is gone.
	taskMode(task string) string
	// relaySpec is the relay this worker runs, nil when none.
	relaySpec(worker string) *relaySpec
	// recordFinished persists that the run started for resumeSeq finished all units.
	recordFinished(task, taskID, source string, resumeSeq int64)
	// subtaskEvent reports a pause by error or an automatic resume (for the metrics).
	subtaskEvent(task, source, worker string, ev subtaskEventKind)
}

// subtaskEventKind is what subtaskEvent reports.
type subtaskEventKind int

const (
	eventPausedByError subtaskEventKind = iota
	eventAutoResumed
)

// subtaskEvent implements workerHost.
func (c *Cluster) subtaskEvent(task, source, worker string, ev subtaskEventKind) {
	switch ev {
	case eventPausedByError:
		c.events.pausedByError(task, source, worker)
	case eventAutoResumed:
		c.events.autoResumed(task, source, worker)
	}
}

// workerHandle is how the control plane reaches a live worker.
type workerHandle interface {
	// run is the worker's reconcile loop; it returns when ctx ends.
	run(ctx context.Context)
	// poke wakes the reconcile loop.
	poke()
	// status reports one subtask as the worker runs it; ok is false when unknown there.
	status(task string) (SubTaskStatus, bool)
	// subtaskStage is the current stage of a subtask, "" when unknown.
	subtaskStage(task string) string
	// trackedTable is the CREATE TABLE the subtask's sync unit tracks for a source table.
	trackedTable(task, schema, table string) (string, bool)
	// pausedDDL is the statement the subtask is paused on, nil when none.
	pausedDDL(task string) *syncer.DDLError
	// suspend holds the subtasks of source paused (a transfer) until resume.
	suspend(source string)
	resume(source string)
	// waitSourceStopped and waitTaskStopped wait until no such subtask runs.
	waitSourceStopped(ctx context.Context, source string) error
	waitTaskStopped(ctx context.Context, task string) error
	// relayStatus and purgeRelay serve the relay API for source.
	relayStatus(source string) (*RelayStatus, string)
	purgeRelay(ctx context.Context, source, name, dir string) error
	// verifyTask starts an on-demand verification of a running subtask (verifyhooks.go).
	verifyTask(task string, repair bool) error
	// validate sets a subtask's continuous validation ("" stops it); validationOf reads it
	// (validation.go).
	validate(task, mode string) error
	validationOf(task string) (*syncer.ValidationStatus, []syncer.ValidationError)
	// stopAll stops every run and closes its units (Close).
	stopAll()
}

var (
	_ workerHost   = (*Cluster)(nil)
	_ workerHandle = (*worker)(nil)
)

// desiredState implements workerHost over memdb, with its watch channels.
func (c *Cluster) desiredState(ctx context.Context, name string) (string, map[string]*subtaskRecord, <-chan error) {
	ws := memdb.NewWatchSet()
	txn := c.read()
	ch, obj, err := txn.FirstWatch(kindWorker, "id", name)
	ws.Add(ch)
	source := ""
	if err == nil && obj != nil {
		source = obj.(*workerRecord).Source
		// The relay follows the relay source's (or the bound source's) config too.
		for _, s := range []string{source, obj.(*workerRecord).RelaySource} {
			if s != "" {
				if sch, _, err := txn.FirstWatch(kindSource, "id", s); err == nil {
					ws.Add(sch)
				}
			}
		}
	}
	desired := map[string]*subtaskRecord{}
	if source != "" {
		if it, err := txn.Get(kindSubtask, "source", source); err == nil {
			ws.Add(it.WatchCh())
			for o := it.Next(); o != nil; o = it.Next() {
				st := o.(*subtaskRecord)
				desired[st.Task] = st
			}
		}
	}
	return source, desired, ws.WatchCh(ctx)
}

// subtaskConfig implements workerHost: it assembles what the units of st need from the
// stored task and source.
func (c *Cluster) subtaskConfig(st *subtaskRecord, worker string, log *slog.Logger) (*SubtaskConfig, error) {
	return c.subtaskConfigWith(st, worker, log, c.locks)
}

// subtaskConfigWith is subtaskConfig with the shard coordinator from locks (nil: none;
// a worker process sets its own).
func (c *Cluster) subtaskConfigWith(st *subtaskRecord, worker string, log *slog.Logger, locks *lockKeeper) (*SubtaskConfig, error) {
	txn := c.read()
	tr, _ := getRecord(txn, kindTask, st.Task).(*taskRecord)
	sr, _ := getRecord(txn, kindSource, st.Source).(*sourceRecord)
	if tr == nil || sr == nil || tr.ID != st.TaskID {
		return nil, fmt.Errorf("subtask %s/%s: task or source vanished", st.Task, st.Source)
	}
	cfg := &SubtaskConfig{Task: tr.Task, Source: sr.Source, Flavor: sr.Flavor, CaseSensitive: sr.CaseSensitive,
		ServerID: sr.ServerID, StartTime: st.StartTime, SafeModeDuration: st.SafeModeDuration, Worker: worker,
		SchemaOverrides: tableSchemaOverrides(txn, st.Task, st.Source), BinlogOps: syncerBinlogOps(st.BinlogOps),
		Logger: log.With("task", st.Task, "source", st.Source)}
	cfg.DataDir = effectiveDataDir(c.cfg.DataDir, &tr.Task, st.Source)
	cfg.TaskID = tr.ID
	task, id, source, seq := st.Task, st.TaskID, st.Source, st.ResumeSeq
	cfg.ClearStartArgs = func() { c.clearStartArgs(task, id, source, seq) }
	applied := cfg.SchemaOverrides
	cfg.ForgetSchemaOverrides = func() { c.forgetSchemaOverrides(task, id, source, applied) }
	if tr.Task.ShardMode != "" && locks != nil {
		cfg.Shard = locks.coordinator(&tr.Task, tr.ID)
	}
	cfg.Observer = c.events.observer(st.Task, st.Source, worker)
	return cfg, nil
}

// recordFinished persists that the run started for resumeSeq finished, so that a restarted
// process does not run the subtask again.
func (c *Cluster) recordFinished(task, taskID, source string, resumeSeq int64) {
	if err := c.recordFinishedErr(task, taskID, source, resumeSeq); err != nil {
		c.log.Warn("record subtask finished", "task", task, "source", source, "err", err)
	}
}

// recordFinishedErr is recordFinished returning the store's error (a worker process's report stays
// in etcd until it is applied).
func (c *Cluster) recordFinishedErr(task, taskID, source string, resumeSeq int64) error {
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
	return err
}

// clearStartArgs forgets the start arguments of the run started for resumeSeq.
func (c *Cluster) clearStartArgs(task, taskID, source string, resumeSeq int64) {
	if err := c.clearStartArgsErr(task, taskID, source, resumeSeq); err != nil {
		c.log.Warn("clear start arguments", "task", task, "source", source, "err", err)
	}
}

// clearStartArgsErr is clearStartArgs returning the store's error (a worker process's report stays
// in etcd until it is applied).
func (c *Cluster) clearStartArgsErr(task, taskID, source string, resumeSeq int64) error {
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
	return err
}

// taskMode is the mode of a stored task, "" when it is gone.
func (c *Cluster) taskMode(task string) string {
	if r := c.taskRecord(task); r != nil {
		return r.Task.TaskMode
	}
	return ""
}
