package dm

import (
	"fmt"
	"testing"
	"time"
)

// TestShardPessimisticGhost: every shard of a pessimistic merge runs gh-ost's sequence
// (ghost table, ALTER, copy, atomic cut-over RENAME); the captured ALTER reaches the merged
// target table once, through the shard lock, and the merged table equals the shards
// (columns and rows), with no online-DDL record left.
func TestShardPessimisticGhost(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	f.addSources(t, c)
	testDst.Exec(t, "DROP TABLE IF EXISTS dm_meta.`shard-p_onlineddl`")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-p", "pessimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-p", StartTaskRequest{}))
	waitUnit(t, c, "shard-p", UnitSync)
	f.waitMerged(t, c, "shard-p")
	load := f.startLoad(t)
	for _, sh := range f.shards {
		time.Sleep(200 * time.Millisecond)
		g := "_" + sh.name + "_gho"
		for _, q := range []string{
			"CREATE TABLE " + g + " LIKE " + sh.name,
			"ALTER TABLE " + g + " ADD COLUMN c2 INT NOT NULL DEFAULT 7",
		} {
			sh.srv.Exec(t, "USE "+sh.schema+"; "+q)
		}
	}
	load.stop(t)
	time.Sleep(200 * time.Millisecond)
	for _, sh := range f.shards {
		g := "_" + sh.name + "_gho"
		sh.srv.Exec(t, fmt.Sprintf("USE %s; INSERT INTO %s (id, v, s) SELECT id, v, s FROM %s; RENAME TABLE %s TO _%s_del, %s TO %s; DROP TABLE _%s_del",
			sh.schema, g, sh.name, sh.name, sh.name, g, sh.name, sh.name))
		time.Sleep(300 * time.Millisecond)
	}
	waitNoLock(t, c, "shard-p")
	f.waitMerged(t, c, "shard-p")
	dst := openDB(t, testDst)
	var c2 int
	mustOK(t, dst.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'merged' AND TABLE_NAME = 't' AND COLUMN_NAME = 'c2'").Scan(&c2))
	if c2 != 1 {
		t.Fatal("the ghost table's ALTER never reached the merged table")
	}
	// A record goes once the source's checkpoint is past the cut-over, which an idle
	// source moves with its next event: write one on every shard.
	for _, sh := range f.shards {
		sh.srv.Exec(t, fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", sh.full(), sh.base+1))
	}
	f.waitMerged(t, c, "shard-p")
	waitFor(t, "the online-DDL records to be cleaned up", func() bool {
		var n int
		err := dst.QueryRow("SELECT COUNT(*) FROM dm_meta.`shard-p_onlineddl`").Scan(&n)
		return err == nil && n == 0
	})
}
