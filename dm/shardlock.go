package dm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/dmkit/dmkit/internal/sqlq"
	"github.com/dmkit/dmkit/syncer"
)

// Pessimistic shard DDL locks. A lock is per (task, target table): it opens when the first
// shard (source, upstream table) routed to that target reaches a DDL, records which shards
// reached it and resolves when all did — the last arrival executes the DDL once on the
// target — or when the unlock API releases it. Locks are stored records (kind shardlock),
// so a restarted control plane resolves a lock that was half resolved: the subtasks come
// back, re-read from before their DDL and arrive again.

const kindShardLock = "shardlock"

// maxLockHistory bounds the resolved arrivals a group keeps to recognise replays.
const maxLockHistory = 256

// shardLockRecord is one merge group of a task (all upstream tables routed to a target
// table) with its open lock, if any.
type shardLockRecord struct {
	ID           string `json:"id"`
	Task         string `json:"task"`
	TaskID       string `json:"task_id"`
	TargetSchema string `json:"target_schema"`
	TargetTable  string `json:"target_table"`
	// Open is the unresolved lock; nil when every DDL so far is resolved.
	Open *openLock `json:"open,omitempty"`
	// Done are recent resolved arrivals: a shard re-reading its binlog after a restart
	// meets them again and must not wait a second time.
	Done []lockArrival `json:"done,omitempty"`
	// Optimistic mode: Added names the DDL that brought a column ("col:name") or index
	// ("idx:name") to the joined schema, for conflict messages; Dropped lists the shards
	// that dropped one, which leaves the target when all have.
	Added   map[string]string   `json:"added,omitempty"`
	Dropped map[string][]string `json:"dropped,omitempty"`
	// LastDDLs are the DDLs of the last resolved lock: a shard that joined the group
	// after that lock opened may send them late; they are skipped, not a new lock.
	LastDDLs []string `json:"last_ddls,omitempty"`
}

func (r *shardLockRecord) key() string { return r.ID }

// openLock is an unresolved DDL of a group.
type openLock struct {
	DDLs   []string    `json:"ddls"`
	Owner  string      `json:"owner"` // source of the first arrival
	Shards []lockShard `json:"shards"`
	// Executor is the shard that completed the lock and runs the DDL ("" until then).
	Executor string `json:"executor,omitempty"`
}

// lockShard is one member of a lock.
type lockShard struct {
	Source  string `json:"source"`
	Schema  string `json:"schema"`
	Table   string `json:"table"`
	Arrived bool   `json:"arrived"`
	File    string `json:"file,omitempty"`
	Pos     uint32 `json:"pos,omitempty"`
}

// lockArrival is a shard's resolved DDL position.
type lockArrival struct {
	Source string `json:"source"`
	Schema string `json:"schema"`
	Table  string `json:"table"`
	File   string `json:"file"`
	Pos    uint32 `json:"pos"`
}

func (s *lockShard) name() string { return shardName(s.Source, s.Schema, s.Table) }

// shardName renders a shard as DM does: source-`schema`.`table`.
func shardName(source, schema, table string) string {
	return source + "-" + sqlq.QuoteTable(schema, table)
}

// shardLockID is DM's lock id: task-`schema`.`table` of the target.
func shardLockID(task, schema, table string) string {
	return task + "-" + sqlq.QuoteTable(schema, table)
}

// resolvedAt reports whether d is a resolved arrival met again.
func (r *shardLockRecord) resolvedAt(d syncer.ShardDDL) bool {
	return slices.ContainsFunc(r.Done, func(a lockArrival) bool {
		return a.Source == d.Source && a.Schema == d.Schema && a.Table == d.Table && a.File == d.Location.File && a.Pos == d.Location.Pos
	})
}

// lockKeeper decides arrivals and resolutions; the records are the truth, the channels
// (closed when a lock resolves) only wake the waiting subtasks of this process.
type lockKeeper struct {
	c        *Cluster
	mu       sync.Mutex
	resolved map[string]chan struct{}
}

func newLockKeeper(c *Cluster) *lockKeeper {
	return &lockKeeper{c: c, resolved: map[string]chan struct{}{}}
}

// chanOf returns the resolution channel of a lock id, creating it. Callers hold mu.
func (k *lockKeeper) chanOf(id string) chan struct{} {
	ch := k.resolved[id]
	if ch == nil {
		ch = make(chan struct{})
		k.resolved[id] = ch
	}
	return ch
}

// wake closes a lock's channel. Callers hold mu.
func (k *lockKeeper) wake(id string) {
	if ch := k.resolved[id]; ch != nil {
		close(ch)
		delete(k.resolved, id)
	}
}

// coordinator is the syncer's view of the keeper for one subtask.
func (k *lockKeeper) coordinator(t *Task, taskID string) syncer.ShardCoordinator {
	switch t.ShardMode {
	case "pessimistic":
		return &subtaskCoordinator{k: k, task: t.Name, taskID: taskID}
	case "optimistic":
		strict := t.StrictOptimisticShardMode != nil && *t.StrictOptimisticShardMode
		return &optimisticCoordinator{k: k, task: t.Name, taskID: taskID, strict: strict}
	}
	return nil
}

type subtaskCoordinator struct {
	k            *lockKeeper
	task, taskID string
}

func (s *subtaskCoordinator) Arrive(ctx context.Context, d syncer.ShardDDL) (syncer.ShardDecision, error) {
	dec, err := s.k.arrive(ctx, s.task, s.taskID, d)
	return dec, coordErr(err)
}

func (s *subtaskCoordinator) Executed(ctx context.Context, d syncer.ShardDDL) error {
	return coordErr(s.k.executed(ctx, s.task, s.taskID, d))
}

// coordErr marks the keeper's failures to reach a source, the target or the store as
// temporary, so the subtask resumes by itself; a DDL conflict is the user's to settle.
func coordErr(err error) error {
	if err == nil || ErrorCode(err) == CodeShardDDLConflict {
		return err
	}
	return &transientError{err}
}

type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Temporary() bool { return true }

func (s *subtaskCoordinator) Left(ctx context.Context, d syncer.ShardDDL) error {
	return coordErr(s.k.left(ctx, s.task, s.taskID, d))
}

// left removes a dropped shard from its group's open lock; when the others all wait at
// the DDL, the keeper runs it on the target itself (no shard is at the DDL to run it)
// and resolves the lock.
func (k *lockKeeper) left(ctx context.Context, task, taskID string, d syncer.ShardDDL) error {
	id := shardLockID(task, d.TargetSchema, d.TargetTable)
	k.mu.Lock()
	r, ok := getRecord(k.c.read(), kindShardLock, id).(*shardLockRecord)
	if !ok || r.Open == nil || r.TaskID != taskID {
		k.mu.Unlock()
		return nil
	}
	r = k.record(id, task, taskID, d.TargetSchema, d.TargetTable)
	me := shardName(d.Source, d.Schema, d.Table)
	r.Open.Shards = slices.DeleteFunc(r.Open.Shards, func(s lockShard) bool { return s.name() == me })
	// With an executor named, a shard already runs the DDL.
	ready := r.Open.Executor == "" && !slices.ContainsFunc(r.Open.Shards, func(s lockShard) bool { return !s.Arrived })
	err := k.save(ctx, r)
	k.mu.Unlock()
	if err != nil || !ready {
		return err
	}
	k.c.log.Info("shard left its group; the shards that remain all reached the DDL", "lock", id, "shard", me)
	tr, _ := getRecord(k.c.read(), kindTask, task).(*taskRecord)
	if tr == nil {
		return nil
	}
	target := targetDBConfig(&tr.Task.TargetConfig)
	return k.resolve(ctx, id, taskID, func(r *shardLockRecord) error { return execLockDDLs(ctx, target, r) })
}

// executed resolves the open lock d's shard was asked to execute (nothing else: an
// optimistic DDL that ran without a lock leaves an unrelated open lock alone).
func (k *lockKeeper) executed(ctx context.Context, task, taskID string, d syncer.ShardDDL) error {
	id := shardLockID(task, d.TargetSchema, d.TargetTable)
	r, ok := getRecord(k.c.read(), kindShardLock, id).(*shardLockRecord)
	if !ok || r.Open == nil || r.Open.Executor != shardName(d.Source, d.Schema, d.Table) || !slices.Equal(r.Open.DDLs, d.DDLs) {
		return nil
	}
	return k.resolve(ctx, id, taskID, nil)
}

// record returns the stored group of id (a copy), or a new one.
func (k *lockKeeper) record(id, task, taskID, schema, table string) *shardLockRecord {
	if r, ok := getRecord(k.c.read(), kindShardLock, id).(*shardLockRecord); ok && r.TaskID == taskID {
		cp := *r
		if r.Open != nil {
			o := *r.Open
			o.Shards = slices.Clone(o.Shards)
			cp.Open = &o
		}
		cp.Done = slices.Clone(r.Done)
		cp.LastDDLs = slices.Clone(r.LastDDLs)
		cp.Added = maps.Clone(r.Added)
		cp.Dropped = maps.Clone(r.Dropped)
		for k, v := range cp.Dropped {
			cp.Dropped[k] = slices.Clone(v)
		}
		return &cp
	}
	return &shardLockRecord{ID: id, Task: task, TaskID: taskID, TargetSchema: schema, TargetTable: table}
}

func (k *lockKeeper) save(ctx context.Context, r *shardLockRecord) error {
	return k.c.update(ctx, func(w *writeTxn) error {
		w.put(kindShardLock, r)
		return nil
	})
}

// arrive records d and decides: skip a resolved DDL met again, wait for the other
// shards, or execute when d completes the lock.
func (k *lockKeeper) arrive(ctx context.Context, task, taskID string, d syncer.ShardDDL) (syncer.ShardDecision, error) {
	id := shardLockID(task, d.TargetSchema, d.TargetTable)
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.record(id, task, taskID, d.TargetSchema, d.TargetTable)
	if r.resolvedAt(d) {
		return syncer.ShardDecision{Action: syncer.ShardSkip}, nil
	}
	if d.Create {
		// A shard created while a lock is open waits with the lock's shards; otherwise
		// its CREATE TABLE IF NOT EXISTS runs.
		if r.Open == nil {
			return syncer.ShardDecision{Action: syncer.ShardExecute}, nil
		}
		k.c.log.Info("shard table created while a lock is open; it waits for the lock", "lock", id, "shard", shardName(d.Source, d.Schema, d.Table))
		return syncer.ShardDecision{Action: syncer.ShardWait, Resolved: k.chanOf(id)}, nil
	}
	if r.Open == nil && slices.Equal(r.LastDDLs, d.DDLs) {
		// A shard that joined after the last lock opened sends its DDL late: the
		// target has it already.
		k.c.log.Info("shard sent the DDL of the last resolved lock; it is on the target already", "lock", id, "shard", shardName(d.Source, d.Schema, d.Table))
		return syncer.ShardDecision{Action: syncer.ShardSkip}, nil
	}
	if r.Open == nil {
		shards, err := k.c.groupShards(ctx, task, d.TargetSchema, d.TargetTable)
		if err != nil {
			return syncer.ShardDecision{}, err
		}
		r.Open = &openLock{DDLs: d.DDLs, Owner: d.Source, Shards: shards}
		k.c.log.Info("shard DDL lock opened", "lock", id, "ddls", d.DDLs, "shards", len(shards))
	} else if !slices.Equal(r.Open.DDLs, d.DDLs) {
		return syncer.ShardDecision{}, NewError(CodeShardDDLConflict,
			"shard DDL lock %s: %s sent %q, but the lock waits for %q from every shard; in pessimistic mode every shard must issue the same DDLs in the same order "+
				"(unlock the lock through the API, or make the shards' DDLs identical)", id, shardName(d.Source, d.Schema, d.Table), d.DDLs, r.Open.DDLs)
	}
	me := shardName(d.Source, d.Schema, d.Table)
	i := slices.IndexFunc(r.Open.Shards, func(s lockShard) bool { return s.name() == me })
	if i < 0 {
		// A table created after the lock opened (or not visible then) joins it.
		r.Open.Shards = append(r.Open.Shards, lockShard{Source: d.Source, Schema: d.Schema, Table: d.Table})
		i = len(r.Open.Shards) - 1
	}
	sh := &r.Open.Shards[i]
	sh.Arrived, sh.File, sh.Pos = true, d.Location.File, d.Location.Pos
	all := !slices.ContainsFunc(r.Open.Shards, func(s lockShard) bool { return !s.Arrived })
	if all && r.Open.Executor == "" {
		r.Open.Executor = me
	}
	if err := k.save(ctx, r); err != nil {
		return syncer.ShardDecision{}, err
	}
	if all && r.Open.Executor == me {
		return syncer.ShardDecision{Action: syncer.ShardExecute}, nil
	}
	return syncer.ShardDecision{Action: syncer.ShardWait, Resolved: k.chanOf(id)}, nil
}

// resolve closes the open lock of id: its arrivals become history and the waiting
// shards are woken. exec, when set, runs first (the unlock API's "exec").
func (k *lockKeeper) resolve(ctx context.Context, id, taskID string, exec func(*shardLockRecord) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok := getRecord(k.c.read(), kindShardLock, id).(*shardLockRecord)
	if !ok || r.Open == nil || (taskID != "" && r.TaskID != taskID) {
		return nil // already resolved (an unlock raced the executor)
	}
	r = k.record(id, r.Task, r.TaskID, r.TargetSchema, r.TargetTable)
	if exec != nil {
		if err := exec(r); err != nil {
			return err
		}
	}
	for _, s := range r.Open.Shards {
		if s.Arrived {
			r.Done = append(r.Done, lockArrival{Source: s.Source, Schema: s.Schema, Table: s.Table, File: s.File, Pos: s.Pos})
		}
	}
	if n := len(r.Done); n > maxLockHistory {
		r.Done = slices.Clone(r.Done[n-maxLockHistory:])
	}
	ddls := r.Open.DDLs
	r.LastDDLs = ddls
	r.Open = nil
	if err := k.save(ctx, r); err != nil {
		return err
	}
	k.wake(id)
	k.c.log.Info("shard DDL lock resolved", "lock", id, "ddls", ddls)
	return nil
}

// groupShards lists the merge group of a target table: every upstream table of every
// source of the task that the task's rules route to it.
func (c *Cluster) groupShards(ctx context.Context, task, schema, table string) ([]lockShard, error) {
	txn := c.read()
	tr, _ := getRecord(txn, kindTask, task).(*taskRecord)
	if tr == nil {
		return nil, fmt.Errorf("task %s vanished", task)
	}
	var out []lockShard
	for _, sc := range tr.Task.SourceConfig.SourceConf {
		sr, _ := getRecord(txn, kindSource, sc.SourceName).(*sourceRecord)
		if sr == nil {
			return nil, fmt.Errorf("source %s of task %s vanished", sc.SourceName, task)
		}
		rules, err := buildSubtaskRules(sc.SourceName, tr.Task.TableMigrateRule, tr.Task.BinlogFilterRule, sr.CaseSensitive)
		if err != nil {
			return nil, err
		}
		p := &fullPipeline{cfg: &SubtaskConfig{Source: sr.Source}}
		tables, err := p.sourceTables(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the tables of source %s for the shard group of %s: %w", sc.SourceName, sqlq.QuoteTable(schema, table), err)
		}
		for _, t := range tables {
			if !rules.BA.Match(t.Schema, t.Name) {
				continue
			}
			ts, tt, err := rules.Router.Route(t.Schema, t.Name)
			if err != nil || ts != schema || tt != table {
				continue
			}
			out = append(out, lockShard{Source: sc.SourceName, Schema: t.Schema, Table: t.Name})
		}
	}
	return out, nil
}
