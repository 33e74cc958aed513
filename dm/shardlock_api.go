package dm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// ShardDDLLock is an unresolved shard DDL lock as the lock API lists it (DM's
// `shard-ddl-lock` output, snake-cased).
type ShardDDLLock struct {
	ID       string   `json:"id"`
	Task     string   `json:"task"`
	Mode     string   `json:"mode"`
	Owner    string   `json:"owner"`
	DDLs     []string `json:"ddls"`
	Synced   []string `json:"synced"`
	Unsynced []string `json:"unsynced"`
}

// UnlockShardDDLLockRequest releases a lock whose missing shards will never send the DDL.
type UnlockShardDDLLockRequest struct {
	// LockID is the lock's id, as listed (task-`schema`.`table`).
	LockID string `json:"lock_id"`
	// Action is "exec" (run the lock's DDLs on the target now) or "skip" (resolve it
	// without running them; the target is then the user's to fix).
	Action string `json:"action"`
}

// Unlock actions.
const (
	UnlockExec = "exec"
	UnlockSkip = "skip"
)

// ListShardDDLLocks lists the unresolved shard DDL locks of a task.
func (c *Cluster) ListShardDDLLocks(ctx context.Context, task string) (List[ShardDDLLock], error) {
	txn := c.read()
	tr, _ := getRecord(txn, kindTask, task).(*taskRecord)
	if tr == nil {
		return List[ShardDDLLock]{}, taskNotFound(task)
	}
	var out []ShardDDLLock
	for _, r := range listRecords[*shardLockRecord](txn, kindShardLock, "") {
		if r.Task != task || r.TaskID != tr.ID || r.Open == nil {
			continue
		}
		out = append(out, lockView(r, tr.Task.ShardMode))
	}
	return newList(out), nil
}

func lockView(r *shardLockRecord, mode string) ShardDDLLock {
	l := ShardDDLLock{ID: r.ID, Task: r.Task, Mode: mode, Owner: r.Open.Owner, DDLs: slices.Clone(r.Open.DDLs),
		Synced: []string{}, Unsynced: []string{}}
	for _, s := range r.Open.Shards {
		if s.Arrived {
			l.Synced = append(l.Synced, s.name())
		} else {
			l.Unsynced = append(l.Unsynced, s.name())
		}
	}
	return l
}

// UnlockShardDDLLock resolves an open lock of a task: with "exec" its DDLs run on the
// target first (as the owner would have run them), with "skip" they do not. The shards
// waiting at the DDL resume; a shard that later sends the DDL opens a new lock.
func (c *Cluster) UnlockShardDDLLock(ctx context.Context, task string, req UnlockShardDDLLockRequest) error {
	if req.Action != UnlockExec && req.Action != UnlockSkip {
		return NewError(CodeInvalidRequest, "unlock action %q is not one of exec, skip", req.Action)
	}
	txn := c.read()
	tr, _ := getRecord(txn, kindTask, task).(*taskRecord)
	if tr == nil {
		return taskNotFound(task)
	}
	r, _ := getRecord(txn, kindShardLock, req.LockID).(*shardLockRecord)
	if r == nil || r.Task != task || r.TaskID != tr.ID || r.Open == nil {
		return NewError(CodeShardLockNotFound, "task %s has no unresolved shard DDL lock %q", task, req.LockID)
	}
	if req.Action == UnlockExec && r.Open.Executor != "" {
		return NewError(CodeShardDDLConflict, "shard DDL lock %s: every shard reached the DDL and %s runs it; wait for it, "+
			"or if that subtask cannot run, unlock with action skip and run the DDL on the target yourself", req.LockID, r.Open.Executor)
	}
	var exec func(*shardLockRecord) error
	if req.Action == UnlockExec {
		target := targetDBConfig(&tr.Task.TargetConfig)
		exec = func(r *shardLockRecord) error { return execLockDDLs(ctx, target, r) }
	}
	if err := c.locks.resolve(ctx, req.LockID, tr.ID, exec); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return NewError(CodeDBDriver, "unlock %s: %v", req.LockID, err).withCause(err)
	}
	c.log.Info("shard DDL lock unlocked through the API", "task", task, "lock", req.LockID, "action", req.Action)
	return nil
}

// execLockDDLs runs an open lock's routed DDLs on the task's target: the lock's own
// target table, which every statement names (the syncer rendered them routed).
func execLockDDLs(ctx context.Context, cfg dbconn.Config, r *shardLockRecord) error {
	db, err := dbconn.Open(ctx, cfg, "")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range r.Open.DDLs {
		if !strings.Contains(q, sqlq.QuoteTable(r.TargetSchema, r.TargetTable)) {
			return NewError(CodeShardDDLConflict, "lock %s: DDL %q does not name the lock's target table; run it yourself and unlock with action skip", r.ID, q)
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("run %q on the target: %w", q, err)
		}
	}
	return nil
}

// decorateShardStatus fills a subtask status with the source's part of its task's
// unresolved locks: the lock id, the blocking DDLs and the unresolved groups.
func (c *Cluster) decorateShardStatus(txn txnReader, s *SubTaskStatus) {
	for _, r := range listRecords[*shardLockRecord](txn, kindShardLock, "") {
		if r.Task != s.Name || r.Open == nil {
			continue
		}
		g := ShardingGroup{Target: sqlq.QuoteTable(r.TargetSchema, r.TargetTable), DDLList: slices.Clone(r.Open.DDLs),
			Synced: []string{}, Unsynced: []string{}}
		var first *lockShard
		for i, sh := range r.Open.Shards {
			if sh.Source != s.SourceName {
				continue
			}
			name := sqlq.QuoteTable(sh.Schema, sh.Table)
			if !sh.Arrived {
				g.Unsynced = append(g.Unsynced, name)
				continue
			}
			g.Synced = append(g.Synced, name)
			if first == nil || sh.File < first.File || (sh.File == first.File && sh.Pos < first.Pos) {
				first = &r.Open.Shards[i]
			}
		}
		if first == nil {
			continue // this source's shards do not wait at the DDL
		}
		g.FirstLocation = fmt.Sprintf("position: (%s, %d)", first.File, first.Pos)
		s.UnresolvedDDLLockID = strPtr(r.ID)
		if s.SyncStatus != nil {
			s.SyncStatus.BlockingDDLs = append(s.SyncStatus.BlockingDDLs, g.DDLList...)
			s.SyncStatus.UnresolvedGroups = append(s.SyncStatus.UnresolvedGroups, g)
		}
	}
}
