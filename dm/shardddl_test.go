package dm

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Shard merge tests: two sources × two tables each, merged into one target table, under
// a write load. Rows of each shard live in their own id range, so the target's rows can
// be compared shard by shard with the sources.

// shardFixture is a merge of src1 (testSrc, schema shard_a) and src2 (its own server,
// schema shard_b), tables t1 and t2 each, into merged.t.
type shardFixture struct {
	src2   *mysqltest.Server
	shards []shardTable
	gtid   bool // the sources replicate by GTID
}

type shardTable struct {
	srv          *mysqltest.Server
	db           *sql.DB
	source       string
	schema, name string
	base         int // first id of the shard's range
}

func (s shardTable) full() string { return "`" + s.schema + "`.`" + s.name + "`" }

func newShardFixture(t *testing.T) *shardFixture {
	t.Helper()
	src2 := lazyServer(t, "shard-src2", mysqltest.Options{})
	f := &shardFixture{src2: src2}
	for i, s := range []struct {
		srv    *mysqltest.Server
		source string
		schema string
	}{{testSrc, "src1", "shard_a"}, {src2, "src2", "shard_b"}} {
		s.srv.Exec(t, "DROP DATABASE IF EXISTS "+s.schema)
		s.srv.Exec(t, "CREATE DATABASE "+s.schema)
		for j, tb := range []string{"t1", "t2"} {
			sh := shardTable{srv: s.srv, db: s.srv.DB(t), source: s.source, schema: s.schema, name: tb, base: (2*i + j + 1) * 1000000}
			s.srv.Exec(t, "CREATE TABLE "+sh.full()+" (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(20))")
			s.srv.Exec(t, fmt.Sprintf("INSERT INTO %s SELECT %d + seq, seq, CONCAT('r', seq) FROM %s.seq_1_to_300", sh.full(), sh.base, s.schema))
			f.shards = append(f.shards, sh)
		}
	}
	testDst.Exec(t, "DROP DATABASE IF EXISTS merged")
	for _, task := range []string{"shard-p", "shard-r", "shard-o", "shard-u", "shard-wp"} {
		// Checkpoints of an earlier run (a new store does not know that task).
		testDst.Exec(t, fmt.Sprintf("DROP TABLE IF EXISTS dm_meta.`%s_syncer_checkpoint`, dm_meta.`%s_loader_checkpoint`", task, task))
	}
	return f
}

// task merges the fixture's shards into merged.t with shard_mode mode.
func (f *shardFixture) task(name, mode string) *Task {
	tk := fullTask(name, ModeAll, "", "src1", "src2")
	tk.ShardMode = mode
	tk.TableMigrateRule = nil
	for _, s := range []struct{ source, schema string }{{"src1", "shard_a"}, {"src2", "shard_b"}} {
		tk.TableMigrateRule = append(tk.TableMigrateRule, TaskTableMigrateRule{
			Source: TaskTableMigrateRuleSource{SourceName: s.source, Schema: s.schema, Table: "t*"},
			Target: &TaskTableMigrateRuleTarget{Schema: "merged", Table: "t"}})
	}
	return tk
}

func (f *shardFixture) addSources(t *testing.T, c *Cluster) {
	t.Helper()
	for name, srv := range map[string]*mysqltest.Server{"src1": testSrc, "src2": f.src2} {
		src := sourceFor(name, srv)
		src.EnableGTID = f.gtid
		if _, err := c.CreateSource(testCtx(t), CreateSourceRequest{Source: src}); err != nil {
			t.Fatal(err)
		}
	}
}

// load writes to every shard until stopped: inserts in the shard's id range and updates
// of earlier rows, naming only the columns every schema version has.
type shardLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func (f *shardFixture) startLoad(t *testing.T) *shardLoad {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &shardLoad{cancel: cancel}
	for _, sh := range f.shards {
		db := sh.db
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 1; ctx.Err() == nil; n++ {
				q := fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, %d)", sh.full(), sh.base+1000+n, n)
				if n%3 == 0 {
					q = fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", sh.full(), sh.base+1+n%300)
				}
				if _, err := db.ExecContext(ctx, q); err != nil && ctx.Err() == nil {
					l.mu.Lock()
					l.err = fmt.Errorf("%s: %w", q, err)
					l.mu.Unlock()
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *shardLoad) stop(t *testing.T) {
	t.Helper()
	l.cancel()
	l.wg.Wait()
	if l.err != nil {
		t.Fatal(l.err)
	}
}

// mergedDiff compares the target's merged.t with the shards: the column definitions, and
// per shard the row count and a checksum of every row over the target's columns.
func (f *shardFixture) mergedDiff(ctx context.Context, dst *sql.DB) error {
	want, err := columnDefs(ctx, f.shards[0].db, f.shards[0].schema, f.shards[0].name)
	if err != nil {
		return err
	}
	got, err := columnDefs(ctx, dst, "merged", "t")
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("target columns %s, shard columns %s", got, want)
	}
	return f.rowsDiff(ctx, dst)
}

// rowsDiff compares each shard's rows with the target's rows of its id range, over the
// columns the shard has.
func (f *shardFixture) rowsDiff(ctx context.Context, dst *sql.DB) error {
	for _, sh := range f.shards {
		cols, err := columnList(ctx, sh.db, sh.schema, sh.name)
		if err != nil {
			return err
		}
		sum := "COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', " + cols + "))), 0)"
		var sn, ss, tn, ts int64
		if err := sh.db.QueryRowContext(ctx, "SELECT "+sum+" FROM "+sh.full()).Scan(&sn, &ss); err != nil {
			return err
		}
		if err := dst.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM merged.t WHERE id BETWEEN %d AND %d", sum, sh.base, sh.base+999999)).Scan(&tn, &ts); err != nil {
			return err
		}
		if sn != tn || ss != ts {
			return fmt.Errorf("shard %s: %d rows (checksum %d), target has %d (checksum %d)", sh.full(), sn, ss, tn, ts)
		}
	}
	return nil
}

func columnDefs(ctx context.Context, db *sql.DB, schema, table string) (string, error) {
	var s sql.NullString
	err := db.QueryRowContext(ctx, `SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE, ' ', COALESCE(COLUMN_DEFAULT, 'NULL'))
		ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&s)
	if err != nil {
		return "", err
	}
	var idx sql.NullString
	err = db.QueryRowContext(ctx, `SELECT GROUP_CONCAT(DISTINCT INDEX_NAME ORDER BY INDEX_NAME) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&idx)
	return s.String + " | indexes " + idx.String, err
}

func columnList(ctx context.Context, db *sql.DB, schema, table string) (string, error) {
	var s string
	err := db.QueryRowContext(ctx, `SELECT GROUP_CONCAT(CONCAT('COALESCE(`+"`"+`', COLUMN_NAME, '`+"`"+`, ''\\N'')') ORDER BY ORDINAL_POSITION)
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&s)
	return s, err
}

// waitMerged waits until the target matches the shards.
func (f *shardFixture) waitMerged(t *testing.T, c *Cluster, task string) {
	t.Helper()
	dst := openDB(t, testDst)
	var last error
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		failIfPaused(t, c, task)
		if last = f.mergedDiff(context.Background(), dst); last == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("merged table never converged: %v", last)
}

func failIfPaused(t *testing.T, c *Cluster, task string) {
	t.Helper()
	for _, s := range taskStage(t, c, task) {
		if s.Stage == StagePaused && s.ErrorMsg != "" {
			t.Fatalf("task %s paused on %s: %s", task, s.SourceName, s.ErrorMsg)
		}
	}
}

// waitLock waits until the task's only lock has the given synced count.
func waitLock(t *testing.T, c *Cluster, task string, synced int) ShardDDLLock {
	t.Helper()
	var got ShardDDLLock
	waitFor(t, fmt.Sprintf("a lock with %d synced shards", synced), func() bool {
		failIfPaused(t, c, task)
		l, err := c.ListShardDDLLocks(testCtx(t), task)
		mustOK(t, err)
		if len(l.Data) == 1 && len(l.Data[0].Synced) == synced {
			got = l.Data[0]
			return true
		}
		return false
	})
	return got
}

// waitLockFor waits until the task has a lock for a DDL containing fragment with the given
// synced count.
func waitLockFor(t *testing.T, c *Cluster, task, fragment string, synced int) ShardDDLLock {
	t.Helper()
	var got ShardDDLLock
	waitFor(t, fmt.Sprintf("a lock on %s with %d synced shards", fragment, synced), func() bool {
		failIfPaused(t, c, task)
		l, err := c.ListShardDDLLocks(testCtx(t), task)
		mustOK(t, err)
		for _, x := range l.Data {
			if strings.Contains(x.DDLs[0], fragment) && len(x.Synced) == synced {
				got = x
				return true
			}
		}
		return false
	})
	return got
}

// waitLockGone waits until no lock of the task is for a DDL containing fragment.
func waitLockGone(t *testing.T, c *Cluster, task, fragment string) {
	t.Helper()
	waitFor(t, "the lock on "+fragment+" to resolve", func() bool {
		failIfPaused(t, c, task)
		l, err := c.ListShardDDLLocks(testCtx(t), task)
		mustOK(t, err)
		for _, x := range l.Data {
			if strings.Contains(x.DDLs[0], fragment) {
				return false
			}
		}
		return true
	})
}

func waitNoLock(t *testing.T, c *Cluster, task string) {
	t.Helper()
	waitFor(t, "no lock", func() bool {
		failIfPaused(t, c, task)
		l, err := c.ListShardDDLLocks(testCtx(t), task)
		mustOK(t, err)
		return len(l.Data) == 0
	})
}

// pessimisticFragments identify the routed pessimisticDDLs in lock listings.
var pessimisticFragments = []string{"ADD COLUMN `c`", "ADD INDEX `idx_v`", "MODIFY COLUMN `s`"}

// pessimisticDDLs are the done-when DDLs: added column, added index, widened column.
var pessimisticDDLs = []string{
	"ALTER TABLE %s ADD COLUMN c INT DEFAULT 7",
	"ALTER TABLE %s ADD INDEX idx_v (v)",
	"ALTER TABLE %s MODIFY COLUMN s VARCHAR(40)",
}

func TestShardPessimisticMerge(t *testing.T) {
	for _, gtid := range []bool{false, true} {
		t.Run(fmt.Sprintf("gtid=%v", gtid), func(t *testing.T) { testShardPessimisticMerge(t, gtid) })
	}
}

func testShardPessimisticMerge(t *testing.T, gtid bool) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	f.gtid = gtid
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	f.addSources(t, c)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-p", "pessimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-p", StartTaskRequest{}))
	waitUnit(t, c, "shard-p", UnitSync)
	f.waitMerged(t, c, "shard-p")

	load := f.startLoad(t)
	dst := openDB(t, testDst)
	// The first shard runs all three DDLs at once: it waits at the first, and meets the
	// next one when it re-reads after each lock resolves.
	for _, ddl := range pessimisticDDLs {
		f.shards[0].srv.Exec(t, fmt.Sprintf(ddl, f.shards[0].full()))
	}
	for n, ddl := range pessimisticDDLs {
		for i, sh := range f.shards[1:] {
			time.Sleep(150 * time.Millisecond) // the shards reach the DDL at different moments
			sh.srv.Exec(t, fmt.Sprintf(ddl, sh.full()))
			if i == 0 {
				// Half the shards (both of src1) sent it: the lock shows in the status.
				l := waitLockFor(t, c, "shard-p", pessimisticFragments[n], 2)
				checkLockStatus(t, c, "shard-p", l)
			}
			if i == 1 {
				// Three of four shards sent it: the lock is open and visible, the target
				// still has the old schema.
				l := waitLockFor(t, c, "shard-p", pessimisticFragments[n], 3)
				if len(l.Unsynced) != 1 || l.Unsynced[0] != "src2-`shard_b`.`t2`" || len(l.DDLs) != 1 {
					t.Fatalf("lock = %+v", l)
				}
				checkLockStatus(t, c, "shard-p", l)
				if strings.Contains(ddl, "ADD COLUMN") {
					if defs, _ := columnDefs(ctx, dst, "merged", "t"); strings.Contains(defs, "c int") {
						t.Fatalf("target altered before every shard sent the DDL: %s", defs)
					}
				}
			}
		}
		waitLockGone(t, c, "shard-p", pessimisticFragments[n])
	}
	waitNoLock(t, c, "shard-p")
	load.stop(t)
	f.waitMerged(t, c, "shard-p")

	// Tables created while a lock is open wait with it: t3 already has the lock's new
	// column in its rows; t4, on the old schema, sends the DDL late, after the lock
	// resolved, and that is no new lock. A shard dropped upstream while the others wait
	// leaves the group: the lock resolves without it (the shared target is not dropped).
	for _, sh := range f.shards[:3] {
		sh.srv.Exec(t, fmt.Sprintf("ALTER TABLE %s ADD COLUMN e INT", sh.full()))
	}
	waitLockFor(t, c, "shard-p", "ADD COLUMN `e`", 3)
	b := f.shards[3]
	t3 := shardTable{srv: b.srv, db: b.db, source: "src2", schema: "shard_b", name: "t3", base: 5000000}
	t4 := shardTable{srv: b.srv, db: b.db, source: "src2", schema: "shard_b", name: "t4", base: 6000000}
	b.srv.Exec(t, "CREATE TABLE "+t3.full()+" (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40), c INT DEFAULT 7, e INT)")
	b.srv.Exec(t, "INSERT INTO "+t3.full()+" (id, v, e) VALUES (5000001, 1, 9), (5000002, 2, 9)")
	b.srv.Exec(t, "CREATE TABLE "+t4.full()+" (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40), c INT DEFAULT 7)")
	b.srv.Exec(t, "INSERT INTO "+t4.full()+" (id, v) VALUES (6000001, 1)")
	b.srv.Exec(t, "DROP TABLE "+b.full())
	waitNoLock(t, c, "shard-p")
	waitTargetRow(t, c, "shard-p", 5000002)
	waitTargetRow(t, c, "shard-p", 6000001)
	b.srv.Exec(t, "ALTER TABLE "+t4.full()+" ADD COLUMN e INT")
	b.srv.Exec(t, "INSERT INTO "+t4.full()+" (id, v, e) VALUES (6000002, 2, 3)")
	waitTargetRow(t, c, "shard-p", 6000002)
	if l, _ := c.ListShardDDLLocks(ctx, "shard-p"); len(l.Data) != 0 {
		t.Fatalf("the late DDL of a table created mid-lock opened a lock: %+v", l.Data)
	}
	f.shards = append(f.shards[:3], t3, t4)
	f.shards[0].srv.Exec(t, "INSERT INTO "+f.shards[0].full()+" (id, v, e) VALUES (1999999, 1, 5)")
	waitTargetRow(t, c, "shard-p", 1999999)
	f.waitMerged(t, c, "shard-p")
}

// checkLockStatus checks the task status of a half-resolved lock: src1 (both shards
// arrived) reports the lock, its DDL and a group with both tables synced.
func checkLockStatus(t *testing.T, c *Cluster, task string, l ShardDDLLock) {
	t.Helper()
	for _, s := range taskStage(t, c, task) {
		if s.SourceName != "src1" {
			continue
		}
		if s.UnresolvedDDLLockID == nil || *s.UnresolvedDDLLockID != l.ID || s.SyncStatus == nil ||
			len(s.SyncStatus.BlockingDDLs) != 1 || len(s.SyncStatus.UnresolvedGroups) != 1 {
			t.Fatalf("src1 status does not show lock %s: %+v %+v", l.ID, s, s.SyncStatus)
		}
		g := s.SyncStatus.UnresolvedGroups[0]
		if g.Target != "`merged`.`t`" || len(g.Synced) != 2 || len(g.Unsynced) != 0 || g.FirstLocation == "" {
			t.Fatalf("src1 group = %+v", g)
		}
		return
	}
	t.Fatal("no status for src1")
}

// TestShardPessimisticRestart closes the control plane while a lock is half resolved and
// reopens it on the same file store: the lock is still there, and resolves when the last
// shard sends the DDL.
func TestShardPessimisticRestart(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	storeDir, dataDir := t.TempDir(), t.TempDir()
	open := func() *Cluster {
		st, err := OpenFileStore(storeDir)
		mustOK(t, err)
		c, err := Open(ctx, Config{Store: st, DataDir: dataDir})
		mustOK(t, err)
		return c
	}
	c := open()
	f.addSources(t, c)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-r", "pessimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-r", StartTaskRequest{}))
	waitUnit(t, c, "shard-r", UnitSync)

	load := f.startLoad(t)
	for _, sh := range f.shards[:3] {
		time.Sleep(150 * time.Millisecond)
		sh.srv.Exec(t, fmt.Sprintf(pessimisticDDLs[0], sh.full()))
	}
	before := waitLock(t, c, "shard-r", 3)
	// No task update while a lock is unresolved (DM's rule).
	mustOK(t, c.StopTask(ctx, "shard-r", StopTaskRequest{}))
	waitStage(t, c, "shard-r", StagePaused, UnitSync)
	_, err = c.UpdateTask(ctx, "shard-r", CreateTaskRequest{Task: f.task("shard-r", "pessimistic")})
	if ErrorCode(err) != CodeTaskUpdateBlocked || !strings.Contains(err.Error(), before.ID) {
		t.Fatalf("update with an open lock: %v", err)
	}
	mustOK(t, c.StartTask(ctx, "shard-r", StartTaskRequest{}))
	waitUnit(t, c, "shard-r", UnitSync)
	mustOK(t, c.Close())

	time.Sleep(500 * time.Millisecond) // the load goes on while the control plane is down
	c = open()
	t.Cleanup(func() { c.Close() })
	l, err := c.ListShardDDLLocks(ctx, "shard-r")
	mustOK(t, err)
	if len(l.Data) != 1 || l.Data[0].ID != before.ID || len(l.Data[0].Synced) != 3 {
		t.Fatalf("after reopen locks = %+v, want %+v", l.Data, before)
	}
	waitUnit(t, c, "shard-r", UnitSync)
	waitLock(t, c, "shard-r", 3)
	last := f.shards[3]
	last.srv.Exec(t, fmt.Sprintf(pessimisticDDLs[0], last.full()))
	waitNoLock(t, c, "shard-r")
	load.stop(t)
	f.waitMerged(t, c, "shard-r")
}

// TestShardKeyConflictsCounted: two shards write the same key into the merged table; the
// second row is settled by on_duplicate and counted in the sync status.
func TestShardKeyConflictsCounted(t *testing.T) {
	for _, tc := range []struct{ onDup, wantV string }{{"replace", "2"}, {"ignore", "1"}} {
		t.Run(tc.onDup, func(t *testing.T) {
			ctx := testCtx(t)
			f := newShardFixture(t)
			c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
			mustOK(t, err)
			t.Cleanup(func() { c.Close() })
			f.addSources(t, c)
			tk := f.task("shard-u", "pessimistic")
			tk.OnDuplicate = tc.onDup
			_, err = c.CreateTask(ctx, CreateTaskRequest{Task: tk})
			mustOK(t, err)
			mustOK(t, c.StartTask(ctx, "shard-u", StartTaskRequest{}))
			waitUnit(t, c, "shard-u", UnitSync)
			f.waitMerged(t, c, "shard-u")

			f.shards[0].srv.Exec(t, "INSERT INTO "+f.shards[0].full()+" (id, v) VALUES (999, 1)")
			waitTargetRow(t, c, "shard-u", 999)
			f.shards[2].srv.Exec(t, "INSERT INTO "+f.shards[2].full()+" (id, v) VALUES (999, 2)")
			waitFor(t, "the conflict to be counted", func() bool {
				failIfPaused(t, c, "shard-u")
				for _, s := range taskStage(t, c, "shard-u") {
					if s.SourceName == "src2" && s.SyncStatus != nil && s.SyncStatus.DuplicateKeyConflicts == 1 {
						return true
					}
				}
				return false
			})
			var v string
			mustOK(t, openDB(t, testDst).QueryRow("SELECT v FROM merged.t WHERE id = 999").Scan(&v))
			if v != tc.wantV {
				t.Fatalf("on_duplicate %s kept v = %s, want %s", tc.onDup, v, tc.wantV)
			}
			for _, s := range taskStage(t, c, "shard-u") {
				if s.SourceName == "src1" && s.SyncStatus != nil && s.SyncStatus.DuplicateKeyConflicts != 0 {
					t.Fatalf("src1 counted %d conflicts, want 0", s.SyncStatus.DuplicateKeyConflicts)
				}
			}
			// The colliding row leaves both shards; the rest is identical.
			f.shards[0].srv.Exec(t, "DELETE FROM "+f.shards[0].full()+" WHERE id = 999")
			f.shards[2].srv.Exec(t, "DELETE FROM "+f.shards[2].full()+" WHERE id = 999")
			waitFor(t, "the colliding row to leave the target", func() bool {
				var n int
				mustOK(t, openDB(t, testDst).QueryRow("SELECT COUNT(*) FROM merged.t WHERE id = 999").Scan(&n))
				return n == 0
			})
			f.waitMerged(t, c, "shard-u")
		})
	}
}

// TestShardPessimisticDropColumnReplay: a source stopped while its shards wait at a DROP
// COLUMN lock, which then resolves without it, replays from before the lock on restart:
// its rows written before the DROP name the column the target no longer has, and land
// without it.
func TestShardPessimisticDropColumnReplay(t *testing.T) {
	ctx := testCtx(t)
	f := newShardFixture(t)
	c, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir()})
	mustOK(t, err)
	t.Cleanup(func() { c.Close() })
	f.addSources(t, c)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: f.task("shard-r", "pessimistic")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "shard-r", StartTaskRequest{}))
	waitUnit(t, c, "shard-r", UnitSync)

	a1, a2 := f.shards[0], f.shards[1]
	a1.srv.Exec(t, "ALTER TABLE "+a1.full()+" DROP COLUMN s")
	a2.srv.Exec(t, fmt.Sprintf("INSERT INTO %s (id, v, s) VALUES (%d, 1, 'before the drop')", a2.full(), a2.base+900))
	a2.srv.Exec(t, "ALTER TABLE "+a2.full()+" DROP COLUMN s")
	waitLockFor(t, c, "shard-r", "DROP COLUMN `s`", 2)
	mustOK(t, c.StopTask(ctx, "shard-r", StopTaskRequest{SourceNameList: []string{"src1"}}))
	waitFor(t, "src1 to stop", func() bool {
		for _, s := range taskStage(t, c, "shard-r") {
			if s.SourceName == "src1" {
				return s.Stage == StagePaused
			}
		}
		return false
	})
	for _, sh := range f.shards[2:] {
		sh.srv.Exec(t, "ALTER TABLE "+sh.full()+" DROP COLUMN s")
	}
	waitNoLock(t, c, "shard-r")
	mustOK(t, c.StartTask(ctx, "shard-r", StartTaskRequest{SourceNameList: []string{"src1"}}))
	a1.srv.Exec(t, fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, 2)", a1.full(), a1.base+901))
	waitTargetRow(t, c, "shard-r", a1.base+901)
	f.waitMerged(t, c, "shard-r")
}
