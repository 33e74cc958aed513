package dm

import (
	"context"

	"github.com/hashicorp/go-memdb"
)

func (c *Cluster) setSourceEnabled(ctx context.Context, name string, enable bool) error {
	return c.update(ctx, func(w *writeTxn) error {
		r, _ := w.get(kindSource, name).(*sourceRecord)
		if r == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
		}
		if r.enabled() == enable && (!enable || boundWorker(w.txn, name) != nil) {
			return nil
		}
		// Relay workers of the source hold their relay paused while it is disabled.
		n := *r
		n.Source.Enable = boolPtr(enable)
		w.put(kindSource, &n)
		return c.applyEnable(w, name, enable)
	})
}

// applyEnable follows a source's enable flag: an enabled source is bound to a free worker
// and its subtasks are set to run; a disabled one has its subtasks paused and its worker
// freed for other sources.
func (c *Cluster) applyEnable(w *writeTxn, name string, enable bool) error {
	bw := boundWorker(w.txn, name)
	if enable {
		if bw == nil {
			free := c.freeWorker(w.txn, name)
			if free == nil {
				return NewError(CodeNoSourceInWorker, "no mysql source is being handled in the worker: no free worker can serve source %s; add a worker or disable another source", name)
			}
			nw := *free
			nw.Source = name
			w.put(kindWorker, &nw)
		}
		setSourceSubtasks(w, name, StageRunning)
		return nil
	}
	setSourceSubtasks(w, name, StageStopped)
	if bw != nil {
		nw := *bw
		nw.Source = ""
		w.put(kindWorker, &nw)
		c.bindUnbound(w)
	}
	return nil
}

// TransferSource rebinds a source to another free worker. Running subtasks on the source
// must be in the sync unit; they are paused on the old worker before the new one resumes them.
func (c *Cluster) TransferSource(ctx context.Context, name string, req WorkerNameRequest) error {
	if req.WorkerName == "" {
		return invalidf("worker_name is required")
	}
	txn := c.read()
	sr, _ := getRecord(txn, kindSource, name).(*sourceRecord)
	if sr == nil {
		return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
	}
	if !sr.enabled() {
		return invalidf("source %s is disabled and so bound to no worker; enable it first", name)
	}
	target, _ := getRecord(txn, kindWorker, req.WorkerName).(*workerRecord)
	if target == nil {
		return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
	}
	old := boundWorker(txn, name)
	if old != nil && old.Name == target.Name {
		return nil
	}
	if err := c.transferAllowed(txn, name, target); err != nil {
		return err
	}
	var running []string
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "source", name) {
		if st.Expected == StageRunning {
			running = append(running, st.Task)
		}
	}
	var oldW workerHandle
	if old != nil {
		oldW = c.workers.get(old.Name)
	}
	if oldW != nil && len(running) > 0 {
		for _, task := range running {
			if st, ok := oldW.status(task); ok && st.Unit != "" && st.Unit != UnitSync {
				return NewError(CodeTransferNotInSync, "running tasks %v to be transferred on source %s should in sync unit", running, name)
			}
		}
	}
	if oldW != nil {
		// Pause the subtasks on the old worker and keep them paused until the binding moves.
		oldW.suspend(name)
		defer oldW.resume(name)
		if err := oldW.waitSourceStopped(ctx, name); err != nil {
			return NewError(CodeTransferPauseFailed, "failed to auto pause tasks %v when transfer-source: %v", running, err)
		}
	}
	return c.update(ctx, func(w *writeTxn) error {
		t, _ := w.get(kindWorker, req.WorkerName).(*workerRecord)
		if t == nil {
			return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
		}
		if err := c.transferAllowed(w.txn, name, t); err != nil {
			return err
		}
		if ob := boundWorker(w.txn, name); ob != nil {
			nw := *ob
			nw.Source = ""
			w.put(kindWorker, &nw)
		}
		nt := *t
		nt.Source = name
		w.put(kindWorker, &nt)
		c.bindUnbound(w)
		return nil
	})
}

func (c *Cluster) transferAllowed(txn txnReader, source string, target *workerRecord) error {
	switch {
	case c.workers.get(target.Name) == nil:
		return NewError(CodeWorkerBadStage, "invalid stage transformation for dm-worker %s, from %s to %s", target.Name, WorkerOffline, WorkerBound)
	case target.Source != "":
		return NewError(CodeWorkerBadStage, "invalid stage transformation for dm-worker %s, from %s to %s", target.Name, WorkerBound, WorkerBound)
	case target.RelaySource != "" && target.RelaySource != source:
		return NewError(CodeTransferRelayOther, "require DM worker [%s] to be bound to source [%s], but it has been started relay for source [%s]", target.Name, source, target.RelaySource)
	}
	return nil
}

// bindUnbound binds every enabled, unbound source to a free online worker, in name order.
func (c *Cluster) bindUnbound(w *writeTxn) {
	sources := listRecords[*sourceRecord](w.txn, kindSource, "")
	for _, s := range sources {
		if !s.enabled() || boundWorker(w.txn, s.Source.SourceName) != nil {
			continue
		}
		free := c.freeWorker(w.txn, s.Source.SourceName)
		if free == nil {
			return
		}
		nw := *free
		nw.Source, nw.LastSource = s.Source.SourceName, ""
		w.put(kindWorker, &nw)
	}
}

// freeWorker returns an online worker bound to nothing that may serve source, by DM's
// preferences: one already running relay for it (its subtasks then read that relay),
// then the one that served it last before going offline, then the first free one by
// name.
func (c *Cluster) freeWorker(txn *memdb.Txn, source string) *workerRecord {
	var free []*workerRecord
	for _, n := range c.workers.names() {
		if r, _ := getRecord(txn, kindWorker, n).(*workerRecord); r != nil && r.Source == "" {
			free = append(free, r)
		}
	}
	for _, prefer := range []func(r *workerRecord) bool{
		func(r *workerRecord) bool { return r.RelaySource == source },
		func(r *workerRecord) bool { return r.RelaySource == "" && r.LastSource == source },
		func(r *workerRecord) bool { return r.RelaySource == "" },
	} {
		for _, r := range free {
			if prefer(r) {
				return r
			}
		}
	}
	return nil
}

// boundWorker returns the worker bound to source, or nil.
func boundWorker(txn *memdb.Txn, source string) *workerRecord {
	obj, err := txn.First(kindWorker, "source", source)
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*workerRecord)
}
