package dm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

func mustRoundTrip(in, out any) {
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("dm: encode %T: %v", in, err))
	}
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("dm: decode %T: %v", out, err))
	}
}

// latches serialises long operations (precheck, metadata cleanup) on one task: a second
// one at the same time is refused with 46024 instead of racing.
type latches struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *latches) acquire(op, name string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]bool{}
	}
	if l.held[name] {
		return nil, NewError(CodeResourceInUse, "when %s, resource %s is in use by other client", op, name)
	}
	l.held[name] = true
	return func() {
		l.mu.Lock()
		delete(l.held, name)
		l.mu.Unlock()
	}, nil
}

// taskView is a task as the API shows it: the target password masked.
func taskView(t *Task) *Task {
	v := cloneTask(t)
	v.TargetConfig.Password = maskedPassword
	if v.TargetConfig.Security != nil {
		v.TargetConfig.Security = &Security{CertAllowedCN: v.TargetConfig.Security.CertAllowedCN}
	}
	if f := v.SourceConfig.FullMigrateConf; f != nil && f.Security != nil {
		f.Security = &Security{CertAllowedCN: f.Security.CertAllowedCN}
	}
	return v
}

// CreateTask validates a task, checks it against the live servers (precheck) and creates
// one subtask per source, stopped. The response carries the task and the precheck result.
func (c *Cluster) CreateTask(ctx context.Context, req CreateTaskRequest) (*OperateTaskResponse, error) {
	if req.Task != nil && req.Task.Name != "" {
		release, err := c.latch.acquire("create task", req.Task.Name)
		if err != nil {
			return nil, err
		}
		defer release()
		if c.taskRecord(req.Task.Name) != nil {
			return nil, c.taskExistsError(req.Task)
		}
	}
	ct, err := c.checkTask(ctx, req.Task, "")
	if err != nil {
		return nil, err
	}
	t := ct.task
	if err := c.cleanStaleMeta(ctx, t); err != nil {
		return nil, err
	}
	id := newTaskID()
	err = c.update(ctx, func(w *writeTxn) error {
		if w.get(kindTask, t.Name) != nil {
			return c.taskExistsError(t)
		}
		var unbound []string
		for _, sc := range t.SourceConfig.SourceConf {
			if w.get(kindSource, sc.SourceName) == nil {
				return NewError(CodeSourceNotFound, "source config with ID %s not exists", sc.SourceName)
			}
			if boundWorker(w.txn, sc.SourceName) == nil {
				unbound = append(unbound, sc.SourceName)
			}
		}
		if len(unbound) > 0 {
			return NewError(CodeSourcesNotBound, "sources %v have not bound", unbound)
		}
		w.put(kindTask, &taskRecord{Task: *t, ID: id})
		for _, sc := range t.SourceConfig.SourceConf {
			w.put(kindSubtask, &subtaskRecord{Task: t.Name, TaskID: id, Source: sc.SourceName, Expected: StageStopped})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("task created", "task", t.Name, "mode", t.TaskMode)
	return &OperateTaskResponse{Task: taskView(t), CheckResult: ct.checkResult}, nil
}

// CheckTask validates a task and runs the precheck exactly as CreateTask does, without
// storing anything (DM's check-task).
func (c *Cluster) CheckTask(ctx context.Context, req CreateTaskRequest) (*OperateTaskResponse, error) {
	ct, err := c.checkTask(ctx, req.Task, "")
	if err != nil {
		return nil, err
	}
	return &OperateTaskResponse{Task: taskView(ct.task), CheckResult: ct.checkResult}, nil
}

func (c *Cluster) taskExistsError(t *Task) error {
	var names []string
	for _, sc := range t.SourceConfig.SourceConf {
		names = append(names, sc.SourceName)
	}
	return NewError(CodeTaskExists, "subtasks with name %s for sources %v already exist", t.Name, names)
}

// taskRecord returns the stored task, or nil.
func (c *Cluster) taskRecord(name string) *taskRecord {
	r, _ := getRecord(c.read(), kindTask, name).(*taskRecord)
	return r
}

func taskNotFound(name string) error {
	return NewError(CodeTaskNotFound, "task with name %s not exist", name)
}

// GetTask returns a task as created or last updated (target password masked); withStatus
// adds status_list.
func (c *Cluster) GetTask(ctx context.Context, name string, withStatus bool) (*Task, error) {
	txn := c.read()
	r, _ := getRecord(txn, kindTask, name).(*taskRecord)
	if r == nil {
		return nil, taskNotFound(name)
	}
	v := taskView(&r.Task)
	if withStatus {
		st := c.taskStatuses(txn, name, nil)
		v.StatusList = &st
	}
	return v, nil
}

// ListTasks returns the tasks, sorted by name, that match opts: with Stage, only tasks
// whose every subtask reports that stage; with SourceNameList, only tasks on exactly those
// sources.
func (c *Cluster) ListTasks(ctx context.Context, opts ListTasksOptions) (List[Task], error) {
	if opts.Stage != "" && !slices.Contains([]string{StageRunning, StagePaused, StageStopped, StageFinished}, opts.Stage) {
		return List[Task]{}, invalidf("stage %q is not one of Running, Paused, Stopped, Finished", opts.Stage)
	}
	txn := c.read()
	var out []Task
	for _, r := range listRecords[*taskRecord](txn, kindTask, "") {
		if len(opts.SourceNameList) > 0 && !sameSet(taskSources(&r.Task), opts.SourceNameList) {
			continue
		}
		v := taskView(&r.Task)
		if opts.Stage != "" || opts.WithStatus {
			st := c.taskStatuses(txn, r.Task.Name, nil)
			if opts.Stage != "" && !allStage(st, opts.Stage) {
				continue
			}
			if opts.WithStatus {
				v.StatusList = &st
			}
		}
		out = append(out, *v)
	}
	return newList(out), nil
}

func allStage(st []SubTaskStatus, stage string) bool {
	for _, s := range st {
		if s.Stage != stage {
			return false
		}
	}
	return len(st) > 0
}

func taskSources(t *Task) []string {
	var out []string
	for _, sc := range t.SourceConfig.SourceConf {
		out = append(out, sc.SourceName)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// updatableTaskFields are the only parts of a task that may change on update (as DM):
// table rules, filters and the sync unit's parallelism. Everything else would make the
// target disagree with what was already migrated.
func updatableView(t *Task) Task {
	v := *cloneTask(t)
	v.TableMigrateRule, v.BinlogFilterRule = nil, nil
	if v.SourceConfig.IncrMigrateConf != nil {
		v.SourceConfig.IncrMigrateConf.ReplThreads, v.SourceConfig.IncrMigrateConf.ReplBatch = nil, nil
	}
	for i := range v.SourceConfig.SourceConf {
		sc := &v.SourceConfig.SourceConf[i]
		sc.BinlogName, sc.BinlogPos, sc.BinlogGTID = nil, nil, nil
	}
	v.IgnoreCheckingItems = nil
	return v
}

// changedFields names the top-level JSON fields that differ between a and b.
func changedFields(a, b Task) []string {
	var ma, mb map[string]json.RawMessage
	mustRoundTrip(a, &ma)
	mustRoundTrip(b, &mb)
	var out []string
	for k, v := range ma {
		if string(v) != string(mb[k]) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// UpdateTask replaces the definition of a task whose subtasks are all stopped. Only table
// rules, binlog filters, source positions and repl_threads/repl_batch may change; a masked
// or empty target password keeps the stored one.
func (c *Cluster) UpdateTask(ctx context.Context, name string, req CreateTaskRequest) (*OperateTaskResponse, error) {
	if req.Task == nil {
		return nil, invalidf("request body must be {\"task\": {...}}")
	}
	in := cloneTask(req.Task)
	if in.Name == "" {
		in.Name = name
	}
	if name != "" && in.Name != name {
		return nil, invalidf("task name %q in the body differs from %q in the path; a task cannot be renamed", in.Name, name)
	}
	release, err := c.latch.acquire("update task", in.Name)
	if err != nil {
		return nil, err
	}
	defer release()
	old := c.taskRecord(in.Name)
	if old == nil {
		return nil, taskNotFound(in.Name)
	}
	if in.TargetConfig.Password == "" || in.TargetConfig.Password == maskedPassword {
		in.TargetConfig.Password = old.Task.TargetConfig.Password
	}
	if err := c.taskUpdateAllowed(c.read(), &old.Task, in); err != nil {
		return nil, err
	}
	ct, err := c.checkTask(ctx, in, old.ID)
	if err != nil {
		return nil, err
	}
	t := ct.task
	if diff := changedFields(updatableView(&old.Task), updatableView(t)); len(diff) > 0 {
		return nil, NewError(CodeTaskUpdateBlocked, "subtask with name %s can not update because new config contains some fields that should not be changed: %s",
			t.Name, strings.Join(diff, ", "))
	}
	err = c.update(ctx, func(w *writeTxn) error {
		cur, _ := w.get(kindTask, t.Name).(*taskRecord)
		if cur == nil {
			return taskNotFound(t.Name)
		}
		if err := c.taskUpdateAllowed(w.txn, &cur.Task, t); err != nil {
			return err
		}
		w.put(kindTask, &taskRecord{Task: *t, ID: cur.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &OperateTaskResponse{Task: taskView(t), CheckResult: ct.checkResult}, nil
}

// taskUpdateAllowed refuses an update that names sources the task lacks or touches a
// running subtask.
func (c *Cluster) taskUpdateAllowed(txn txnReader, old, t *Task) error {
	var missing []string
	for _, s := range taskSources(t) {
		if getRecord(txn, kindSubtask, subtaskKey(old.Name, s)) == nil {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 || len(taskSources(t)) != len(taskSources(old)) {
		return NewError(CodeSubtaskNotInTask, "subtasks with name %s for sources %v not exist; the sources of a task cannot change (delete and re-create it)", old.Name, missing)
	}
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "task", old.Name) {
		if st.Expected == StageRunning {
			return NewError(CodeTaskUpdateBlocked, "subtask with name %s source name %s can only update when no running tasks for now", old.Name, st.Source)
		}
		if boundWorker(txn, st.Source) == nil {
			return NewError(CodeTaskUpdateBlocked, "subtask with name %s source name %s can only update when no running tasks for now: this source: %s have not bound to worker", old.Name, st.Source, st.Source)
		}
	}
	for _, l := range listRecords[*shardLockRecord](txn, kindShardLock, "") {
		if l.Task == old.Name && l.Open != nil {
			return NewError(CodeTaskUpdateBlocked, "subtask with name %s can not update because the shard DDL lock %s is unresolved; let it resolve or unlock it first", old.Name, l.ID)
		}
	}
	return nil
}

// DeleteTask removes a task. Without force it is refused while a subtask is expected to
// run. Unless KeepMeta, the task's checkpoint tables in the target are dropped (best
// effort, as DM: a failure is logged and the delete still succeeds).
func (c *Cluster) DeleteTask(ctx context.Context, name string, opts DeleteTaskOptions) error {
	release, err := c.latch.acquire("delete task", name)
	if err != nil {
		return err
	}
	defer release()
	var task Task
	var taskID string
	var sources []string
	err = c.update(ctx, func(w *writeTxn) error {
		r, _ := w.get(kindTask, name).(*taskRecord)
		if r == nil {
			return taskNotFound(name)
		}
		task, taskID = r.Task, r.ID
		subs := listRecords[*subtaskRecord](w.txn, kindSubtask, "task", name)
		if !opts.Force {
			for _, st := range subs {
				if st.Expected == StageRunning {
					return NewError(CodeOpenAPICommon, "task %s have running subtasks, please stop them or delete task with force.", name)
				}
			}
		}
		for _, st := range subs {
			sources = append(sources, st.Source)
			deleteSubtask(w, st)
		}
		w.del(kindTask, r)
		for _, l := range listRecords[*shardLockRecord](w.txn, kindShardLock, "") {
			if l.Task == name {
				w.del(kindShardLock, l)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.waitTaskGone(ctx, name, sources) {
		c.removeTaskDumps(&task, taskID)
	} else {
		c.log.Warn("task deleted, but a worker did not stop it in time; its dump directory was left in place", "task", name)
	}
	if !opts.KeepMeta {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := dropTaskMeta(cctx, &task); err != nil {
			c.log.Warn("task deleted, but its metadata in the target was not cleaned; a new task of this name cleans it first", "task", name, "err", err)
			c.rememberStaleMeta(ctx, &task)
		}
	}
	c.events.forgetTask(name)
	c.log.Info("task deleted", "task", name)
	return nil
}

// waitTaskGone waits (up to 30 s) until no worker runs the task's subtasks any more; it
// reports whether they all stopped.
func (c *Cluster) waitTaskGone(ctx context.Context, task string, sources []string) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stopped := true
	for _, w := range c.workers.all() {
		w.poke()
		if w.waitTaskStopped(ctx, task) != nil {
			stopped = false
		}
	}
	return stopped
}
