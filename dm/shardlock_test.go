package dm

import (
	"errors"
	"testing"

	"github.com/dmkit/dmkit/syncer"
)

// TestLockKeeperDecisions drives the keeper through one lock of two shards, its replays
// and a mismatch, on a stored lock (no sources needed).
func TestLockKeeperDecisions(t *testing.T) {
	ctx := testCtx(t)
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	id := shardLockID("tk", "db", "t")
	ddl := []string{"ALTER TABLE `db`.`t` ADD COLUMN `c` INT"}
	mustOK(t, c.update(ctx, func(w *writeTxn) error {
		w.put(kindShardLock, &shardLockRecord{ID: id, Task: "tk", TaskID: "id1", TargetSchema: "db", TargetTable: "t",
			Open: &openLock{DDLs: ddl, Owner: "s1", Shards: []lockShard{{Source: "s1", Schema: "a", Table: "t1"}, {Source: "s2", Schema: "b", Table: "t1"}}}})
		return nil
	}))
	k := c.locks
	at := func(source, schema string, pos uint32, ddls []string) syncer.ShardDDL {
		return syncer.ShardDDL{Source: source, Schema: schema, Table: "t1", TargetSchema: "db", TargetTable: "t", DDLs: ddls,
			Location: syncer.Location{File: "bin.000001", Pos: pos}}
	}
	a, b := at("s1", "a", 100, ddl), at("s2", "b", 200, ddl)

	steps := []struct {
		name string
		d    syncer.ShardDDL
		want syncer.ShardAction
		code int
	}{
		{"first shard waits", a, syncer.ShardWait, 0},
		{"first shard again (a replay) still waits", a, syncer.ShardWait, 0},
		{"another DDL while the lock is open is refused", at("s2", "b", 200, []string{"ALTER TABLE `db`.`t` DROP COLUMN `x`"}), 0, CodeShardDDLConflict},
		{"last shard executes", b, syncer.ShardExecute, 0},
		{"the executor again (a replay before it reported) executes again", b, syncer.ShardExecute, 0},
	}
	var waiting <-chan struct{}
	for _, st := range steps {
		dec, err := k.arrive(ctx, "tk", "id1", st.d)
		if st.code != 0 {
			if ErrorCode(err) != st.code {
				t.Fatalf("%s: err = %v, want code %d", st.name, err, st.code)
			}
			continue
		}
		mustOK(t, err)
		if dec.Action != st.want {
			t.Fatalf("%s: action %v, want %v", st.name, dec.Action, st.want)
		}
		if dec.Action == syncer.ShardWait {
			waiting = dec.Resolved
		}
	}
	if l, _ := c.ListShardDDLLocks(ctx, "tk"); len(l.Data) != 0 {
		t.Fatalf("listed a lock of a task that does not exist: %+v", l)
	}
	// The waiting shard's report does nothing: it is not the executor.
	mustOK(t, k.executed(ctx, "tk", "id1", a))
	select {
	case <-waiting:
		t.Fatal("resolved by a shard that was not asked to execute")
	default:
	}
	mustOK(t, k.executed(ctx, "tk", "id1", b))
	select {
	case <-waiting:
	default:
		t.Fatal("the waiting shard was not woken")
	}
	for _, d := range []syncer.ShardDDL{a, b} {
		dec, err := k.arrive(ctx, "tk", "id1", d)
		mustOK(t, err)
		if dec.Action != syncer.ShardSkip {
			t.Fatalf("replay of %s after resolution: action %v, want skip", d.Source, dec.Action)
		}
	}
	r := getRecord(c.read(), kindShardLock, id).(*shardLockRecord)
	if r.Open != nil || len(r.Done) != 2 {
		t.Fatalf("resolved record = %+v", r)
	}
	// A record of an older task of the same name is not this task's.
	if got := k.record(id, "tk", "id2", "db", "t"); got.Open != nil || len(got.Done) != 0 {
		t.Fatalf("record of another task identity = %+v", got)
	}
}

// TestCoordErr: only a DDL conflict is permanent; the keeper's other failures retry.
func TestCoordErr(t *testing.T) {
	if coordErr(nil) != nil {
		t.Fatal("nil error wrapped")
	}
	if retryable(coordErr(NewError(CodeShardDDLConflict, "conflict"))) {
		t.Error("a DDL conflict is retried")
	}
	if !retryable(coordErr(errors.New("connection refused"))) {
		t.Error("a connection failure is not retried")
	}
}
