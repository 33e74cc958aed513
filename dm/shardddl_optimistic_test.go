package dm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Optimistic shard merge tests (fixture in shardddl_test.go).

// maxID is the highest id of a shard on the source.
func maxID(t *testing.T, sh shardTable) int {
	t.Helper()
	var n int
	if err := sh.db.QueryRow("SELECT MAX(id) FROM " + sh.full()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitTargetRow waits until the target has the row id.
func waitTargetRow(t *testing.T, c *Cluster, task string, id int) {
	t.Helper()
	dst := openDB(t, testDst)
	waitFor(t, fmt.Sprintf("row %d on the target", id), func() bool {
		failIfPaused(t, c, task)
		var n int
		dst.QueryRow("SELECT COUNT(*) FROM merged.t WHERE id = ?", id).Scan(&n)
		return n == 1
	})
}

// TestShardOptimisticMerge: an ADD COLUMN (and ADD INDEX) on one shard reaches the target
// at once and every shard keeps flowing; the same DDL on the other shards changes nothing
// more; the end is identical. A column added with another definition on a second shard
// pauses the subtask (strict mode) with both DDLs named.
func TestShardOptimisticMerge(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	f.addSources(t, c)
	tk := f.task("shard-o", "optimistic")
	tk.StrictOptimisticShardMode = boolPtr(true)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: tk})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-o", StartTaskRequest{}))
	waitUnit(t, c, "shard-o", UnitSync)

	load := f.startLoad(t)
	dst := openDB(t, testDst)
	first := f.shards[0]
	first.srv.Exec(t, "ALTER TABLE "+first.full()+" ADD COLUMN c INT DEFAULT 7")
	first.srv.Exec(t, "ALTER TABLE "+first.full()+" ADD INDEX idx_v (v)")
	waitFor(t, "column c and index idx_v on the target", func() bool {
		failIfPaused(t, c, "shard-o")
		defs, _ := columnDefs(ctx, dst, "merged", "t")
		return strings.Contains(defs, "c int(11) YES 7") && strings.Contains(defs, "idx_v")
	})
	// Every shard, on the new schema or not, keeps reaching the target.
	for _, sh := range f.shards {
		waitTargetRow(t, c, "shard-o", maxID(t, sh))
	}
	if l, _ := c.ListShardDDLLocks(ctx, "shard-o"); len(l.Data) != 0 {
		t.Fatalf("optimistic mode holds locks: %+v", l.Data)
	}
	for _, sh := range f.shards[1:] {
		time.Sleep(100 * time.Millisecond)
		sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" ADD COLUMN c INT DEFAULT 7")
		sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" ADD INDEX idx_v (v)")
	}
	for _, sh := range f.shards {
		waitTargetRow(t, c, "shard-o", maxID(t, sh))
	}
	// A column dropped on some shards stays on the target until the last one drops it.
	for _, sh := range f.shards[:3] {
		sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" DROP COLUMN s")
	}
	for _, sh := range f.shards {
		waitTargetRow(t, c, "shard-o", maxID(t, sh))
	}
	if defs, _ := columnDefs(ctx, dst, "merged", "t"); !strings.Contains(defs, "s varchar(20)") {
		t.Fatalf("column s left the target before every shard dropped it: %s", defs)
	}
	f.shards[3].srv.Exec(t, "ALTER TABLE "+f.shards[3].full()+" DROP COLUMN s")
	load.stop(t)
	f.waitMerged(t, c, "shard-o")

	// A conflict: the same new column with two definitions.
	f.shards[0].srv.Exec(t, "ALTER TABLE "+f.shards[0].full()+" ADD COLUMN d INT")
	f.shards[1].srv.Exec(t, "ALTER TABLE "+f.shards[1].full()+" ADD COLUMN d VARCHAR(10)")
	var msg string
	waitFor(t, "the conflict to pause src1", func() bool {
		for _, s := range taskStage(t, c, "shard-o") {
			if s.SourceName == "src1" && s.Stage == StagePaused && s.ErrorMsg != "" {
				msg = s.ErrorMsg
				return true
			}
		}
		return false
	})
	if !strings.Contains(msg, "ADD COLUMN `d` INT") || !strings.Contains(msg, "ADD COLUMN `d` VARCHAR(10)") {
		t.Fatalf("conflict error does not name both DDLs: %s", msg)
	}
}

// TestShardOptimisticConflictWaits: without strict_optimistic_shard_mode a conflicting DDL
// does not pause the task: its table waits as a lock (the others keep flowing) until the
// lock is resolved — here by unlocking it with skip.
func TestShardOptimisticConflictWaits(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	f.addSources(t, c)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-o", "optimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-o", StartTaskRequest{}))
	waitUnit(t, c, "shard-o", UnitSync)
	load := f.startLoad(t)

	f.shards[0].srv.Exec(t, "ALTER TABLE "+f.shards[0].full()+" ADD COLUMN d INT")
	f.shards[1].srv.Exec(t, "ALTER TABLE "+f.shards[1].full()+" ADD COLUMN d VARCHAR(10)")
	l := waitLock(t, c, "shard-o", 1)
	if l.Synced[0] != "src1-`shard_a`.`t2`" || !strings.Contains(l.DDLs[0], "VARCHAR(10)") {
		t.Fatalf("conflict lock = %+v", l)
	}
	for _, i := range []int{0, 2, 3} {
		waitTargetRow(t, c, "shard-o", maxID(t, f.shards[i]))
	}
	err = c.UnlockShardDDLLock(ctx, "shard-o", UnlockShardDDLLockRequest{LockID: "nope", Action: UnlockSkip})
	if ErrorCode(err) != CodeShardLockNotFound {
		t.Fatalf("unlock of an unknown lock: %v", err)
	}
	mustOK(t, c.UnlockShardDDLLock(ctx, "shard-o", UnlockShardDDLLockRequest{LockID: l.ID, Action: UnlockSkip}))
	waitNoLock(t, c, "shard-o")
	waitTargetRow(t, c, "shard-o", maxID(t, f.shards[1]))

	// A column one shard dropped (the others still have it) cannot be re-added.
	sh := f.shards[2]
	sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" DROP COLUMN s")
	sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" ADD COLUMN s VARCHAR(20)")
	l = waitLock(t, c, "shard-o", 1)
	if !strings.Contains(l.DDLs[0], "ADD COLUMN `s`") {
		t.Fatalf("re-add lock = %+v", l)
	}
	mustOK(t, c.UnlockShardDDLLock(ctx, "shard-o", UnlockShardDDLLockRequest{LockID: l.ID, Action: UnlockSkip}))
	waitNoLock(t, c, "shard-o")
	waitTargetRow(t, c, "shard-o", maxID(t, sh))
	// Skipped, the target kept the shard's old values of s; rewriting them settles it.
	sh.srv.Exec(t, "UPDATE "+sh.full()+" SET s = CONCAT('x', id)")
	load.stop(t)
	dst := openDB(t, testDst)
	waitFor(t, "the shards' rows on the target", func() bool {
		failIfPaused(t, c, "shard-o")
		return f.rowsDiff(ctx, dst) == nil
	})
}
