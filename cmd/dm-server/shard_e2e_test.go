package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// e2eShard is one upstream table of the shard merge test.
type e2eShard struct {
	db           *sql.DB
	schema, name string
	base         int
}

func (s e2eShard) full() string { return "`" + s.schema + "`.`" + s.name + "`" }

type shardLocks struct {
	Data []struct {
		ID       string   `json:"id"`
		DDLs     []string `json:"ddls"`
		Synced   []string `json:"synced"`
		Unsynced []string `json:"unsynced"`
	} `json:"data"`
}

// TestShardLockKillNineAndUnlock merges two sources × two tables into one target table
// under a write load in pessimistic shard mode. (1) dm-server is killed with SIGKILL while
// a lock is half resolved; after the restart the lock is still there and resolves when the
// last shard sends the DDL, also when killed again while the held shards re-read after
// it. (2) A DDL three shards send and the fourth never does is
// released through the unlock API. Each shard's rows end identical on the target.
func TestShardLockKillNineAndUnlock(t *testing.T) {
	src2, err := mysqltest.Start(mysqltest.Options{Name: "e2e-src2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src2.Stop() })
	var shards []e2eShard
	for i, s := range []struct {
		srv    *mysqltest.Server
		schema string
	}{{e2eSrc, "e2e_shard_a"}, {src2, "e2e_shard_b"}} {
		s.srv.Exec(t, "DROP DATABASE IF EXISTS "+s.schema)
		s.srv.Exec(t, "CREATE DATABASE "+s.schema)
		for j, tb := range []string{"t1", "t2"} {
			sh := e2eShard{db: s.srv.DB(t), schema: s.schema, name: tb, base: (2*i + j + 1) * 1000000}
			s.srv.Exec(t, "CREATE TABLE "+sh.full()+" (id INT PRIMARY KEY, v INT NOT NULL)")
			s.srv.Exec(t, fmt.Sprintf("INSERT INTO %s SELECT %d + seq, seq FROM %s.seq_1_to_500", sh.full(), sh.base, s.schema))
			shards = append(shards, sh)
		}
	}
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS e2e_merged")
	// Checkpoints of an earlier run of this test (a new store does not know that task).
	e2eDst.Exec(t, "DROP TABLE IF EXISTS dm_meta.shardt_syncer_checkpoint, dm_meta.shardt_loader_checkpoint")

	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir)
	for name, srv := range map[string]*mysqltest.Server{"shard-s1": e2eSrc, "shard-s2": src2} {
		c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": %q, "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
			name, srv.Port, srv.User, srv.Password), 201, nil)
	}
	c.expect(t, "POST", "/tasks", fmt.Sprintf(`{"task": {"name": "shardt", "task_mode": "all", "shard_mode": "pessimistic", "on_duplicate": "replace",
		"ignore_checking_items": ["all"],
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [
		  {"source": {"source_name": "shard-s1", "schema": "e2e_shard_a", "table": "t*"}, "target": {"schema": "e2e_merged", "table": "t"}},
		  {"source": {"source_name": "shard-s2", "schema": "e2e_shard_b", "table": "t*"}, "target": {"schema": "e2e_merged", "table": "t"}}],
		"source_config": {"incr_migrate_conf": {"repl_threads": 4, "repl_batch": 50},
		  "source_conf": [{"source_name": "shard-s1"}, {"source_name": "shard-s2"}]}}}`,
		e2eDst.Port, e2eDst.User, e2eDst.Password), 201, nil)
	c.expect(t, "POST", "/tasks/shardt/start", "", 200, nil)
	waitShardSync(t, c)

	// The write load: inserts and updates on every shard, naming only the original columns.
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	loadErr := make(chan error, len(shards))
	for _, sh := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; ctx.Err() == nil; n++ {
				q := fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, %d)", sh.full(), sh.base+1000+n, n)
				if n%3 == 0 {
					q = fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", sh.full(), sh.base+1+n%500)
				}
				if _, err := sh.db.ExecContext(ctx, q); err != nil && ctx.Err() == nil {
					loadErr <- fmt.Errorf("%s: %w", q, err)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	// (1) Half a lock, kill -9, restart: the lock survives and resolves.
	for _, sh := range shards[:3] {
		time.Sleep(150 * time.Millisecond)
		if _, err := sh.db.Exec("ALTER TABLE " + sh.full() + " ADD COLUMN c INT DEFAULT 7"); err != nil {
			t.Fatal(err)
		}
	}
	waitShardLock(t, c, 3)
	c.kill9(t)
	c = startChild(t, "--data-dir", dir)
	var l shardLocks
	c.expect(t, "GET", "/tasks/shardt/shard-ddl-locks", "", 200, &l)
	if len(l.Data) != 1 || len(l.Data[0].Synced) != 3 || len(l.Data[0].Unsynced) != 1 {
		t.Fatalf("locks after kill -9 = %+v", l)
	}
	waitShardSync(t, c)
	if _, err := shards[3].db.Exec("ALTER TABLE " + shards[3].full() + " ADD COLUMN c INT DEFAULT 7"); err != nil {
		t.Fatal(err)
	}
	waitShardLock(t, c, 0)
	// Killed again right after the lock resolved, while the held shards re-read.
	c.kill9(t)
	c = startChild(t, "--data-dir", dir)
	waitShardSync(t, c)
	waitShardLock(t, c, 0)

	// (2) The fourth shard never sends the DDL: unlock with exec releases the others.
	for _, sh := range shards[:3] {
		time.Sleep(100 * time.Millisecond)
		if _, err := sh.db.Exec("ALTER TABLE " + sh.full() + " ADD INDEX idx_v (v)"); err != nil {
			t.Fatal(err)
		}
	}
	waitShardLock(t, c, 3)
	c.expect(t, "GET", "/tasks/shardt/shard-ddl-locks", "", 200, &l)
	c.expectError(t, "POST", "/tasks/shardt/shard-ddl-locks/unlock", `{"lock_id": "nope", "action": "exec"}`, 400, 49108)
	c.expect(t, "POST", "/tasks/shardt/shard-ddl-locks/unlock", fmt.Sprintf(`{"lock_id": %q, "action": "exec"}`, l.Data[0].ID), 200, nil)
	waitShardLock(t, c, 0)

	time.Sleep(500 * time.Millisecond)
	stopLoad()
	wg.Wait()
	select {
	case err := <-loadErr:
		t.Fatalf("write load: %v", err)
	default:
	}
	dst := e2eDst.DB(t)
	var last error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = compareShards(dst, shards); last == nil {
			break
		}
	}
	if last != nil {
		_, status := c.call(t, "GET", "/tasks/shardt/status", "")
		t.Fatalf("merged table never converged: %v\nstatus: %s", last, status)
	}
	var idx int
	if err := dst.QueryRow("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'e2e_merged' AND TABLE_NAME = 't' AND INDEX_NAME = 'idx_v'").Scan(&idx); err != nil || idx == 0 {
		t.Fatalf("the unlocked ADD INDEX did not reach the target (%d, %v)", idx, err)
	}
}

// waitShardSync waits until both subtasks run the sync unit.
func waitShardSync(t *testing.T, c *child) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var st struct {
			Data []struct {
				Stage    string `json:"stage"`
				Unit     string `json:"unit"`
				ErrorMsg string `json:"error_msg"`
			} `json:"data"`
		}
		_, b := c.call(t, "GET", "/tasks/shardt/status", "")
		if json.Unmarshal(b, &st) != nil || len(st.Data) != 2 {
			continue
		}
		ok := true
		for _, d := range st.Data {
			if d.Stage == "Paused" && d.ErrorMsg != "" {
				t.Fatalf("task paused: %s", d.ErrorMsg)
			}
			ok = ok && d.Unit == "Sync" && d.Stage == "Running"
		}
		if ok {
			return
		}
	}
	t.Fatal("the task never reached the sync unit")
}

// waitShardLock waits until the task has one lock with synced shards (synced 0: none).
func waitShardLock(t *testing.T, c *child, synced int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var l shardLocks
		c.expect(t, "GET", "/tasks/shardt/shard-ddl-locks", "", 200, &l)
		if (synced == 0 && len(l.Data) == 0) || (len(l.Data) == 1 && len(l.Data[0].Synced) == synced) {
			return
		}
	}
	_, status := c.call(t, "GET", "/tasks/shardt/status", "")
	t.Fatalf("no lock with %d synced shards; status: %s", synced, status)
}

// compareShards checks each shard's rows (count and checksum over v and c) on the target.
func compareShards(dst *sql.DB, shards []e2eShard) error {
	sum := "COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, v, COALESCE(c, -1)))), 0)"
	for _, sh := range shards {
		var sn, ss, tn, ts int64
		if err := sh.db.QueryRow("SELECT "+sum+" FROM "+sh.full()).Scan(&sn, &ss); err != nil {
			return err
		}
		if err := dst.QueryRow(fmt.Sprintf("SELECT %s FROM e2e_merged.t WHERE id BETWEEN %d AND %d", sum, sh.base, sh.base+999999)).Scan(&tn, &ts); err != nil {
			return err
		}
		if sn != tn || ss != ts {
			return fmt.Errorf("shard %s: %d rows (checksum %d), target %d (checksum %d)", sh.full(), sn, ss, tn, ts)
		}
	}
	return nil
}
