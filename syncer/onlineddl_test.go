package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// ostLoad writes to db.t (id PK, v, n) until stopped: inserts, updates and deletes. While
// mirror is set it also applies each change to the ghost table db._t_gho in a separate
// transaction, as gh-ost's binlog applier does; mu orders it with the row copy so the
// ghost table ends up equal to t.
type ostLoad struct {
	db     string
	mu     sync.Mutex
	mirror bool
	paused bool
	next   int
	rng    *rand.Rand
	conn   *sql.Conn
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func startLoad(t *testing.T, db string, firstID int) *ostLoad {
	t.Helper()
	pool := src.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "USE "+db); err != nil {
		t.Fatal(err)
	}
	w := &ostLoad{db: db, next: firstID, rng: rand.New(rand.NewPCG(1, uint64(firstID))), conn: conn, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	t.Cleanup(func() { w.stop(t) })
	return w
}

func (w *ostLoad) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		w.mu.Lock()
		if !w.paused {
			if err := w.step(ctx); err != nil && ctx.Err() == nil {
				w.err = err
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

// step runs one change on t (and its mirror on the ghost table).
func (w *ostLoad) step(ctx context.Context) error {
	var id int
	var q, mirror string
	switch op := w.rng.IntN(10); {
	case op < 5 || w.next < 10:
		w.next++
		id = w.next
		q = fmt.Sprintf("INSERT INTO t (id, v, n) VALUES (%d, 'v%d', %d)", id, id, id%7)
	case op < 8:
		id = 1 + w.rng.IntN(w.next)
		q = fmt.Sprintf("UPDATE t SET v = CONCAT(v, 'u'), n = n + 1 WHERE id = %d", id)
	default:
		id = 1 + w.rng.IntN(w.next)
		q = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)
		mirror = fmt.Sprintf("DELETE FROM _t_gho WHERE id = %d", id)
	}
	if mirror == "" {
		mirror = fmt.Sprintf("REPLACE INTO _t_gho (id, v, n) SELECT id, v, n FROM t WHERE id = %d", id)
	}
	if _, err := w.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	if w.mirror {
		if _, err := w.conn.ExecContext(ctx, mirror); err != nil {
			return fmt.Errorf("%s: %w", mirror, err)
		}
	}
	return nil
}

// pause stops the writes (and returns with none in flight) until resume.
func (w *ostLoad) pause(mirror bool) {
	w.mu.Lock()
	w.paused, w.mirror = true, mirror
	w.mu.Unlock()
}

func (w *ostLoad) resume(mirror bool) {
	w.mu.Lock()
	w.paused, w.mirror = false, mirror
	w.mu.Unlock()
}

func (w *ostLoad) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	<-w.done
	w.conn.Close()
	if w.err != nil {
		t.Fatalf("write load: %v", w.err)
	}
}

// ghostSteps is gh-ost's statement sequence for one migration of db.t, split at the
// points where a test may restart the syncer: setup (changelog and ghost tables, the
// ALTER), row copy, cut-over, clean-up. The binlog-applied changes come from the load.
type ghostRun struct {
	t    *testing.T
	db   string
	load *ostLoad
	c    *sql.Conn
}

func newGhostRun(t *testing.T, db string, load *ostLoad) *ghostRun {
	c, err := src.DB(t).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	g := &ghostRun{t: t, db: db, load: load, c: c}
	g.exec("USE " + db)
	return g
}

func (g *ghostRun) exec(qs ...string) {
	g.t.Helper()
	for _, q := range qs {
		if _, err := g.c.ExecContext(context.Background(), q); err != nil {
			g.t.Fatalf("gh-ost step %q: %v", q, err)
		}
	}
}

// setup creates the changelog and ghost tables, alters the ghost table and starts
// applying the binlog (the load's mirror).
func (g *ghostRun) setup(alter string) {
	g.load.pause(false)
	g.exec("DROP TABLE IF EXISTS `_t_ghc`",
		"CREATE TABLE `_t_ghc` (id BIGINT AUTO_INCREMENT, last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, "+
			"hint VARCHAR(64) CHARSET ascii NOT NULL, value VARCHAR(4096) CHARSET ascii NOT NULL, PRIMARY KEY(id), UNIQUE KEY hint_uidx(hint)) AUTO_INCREMENT=256 COMMENT='gh-ost changelog'",
		"CREATE TABLE `_t_gho` LIKE `t`",
		"ALTER TABLE `_t_gho` "+alter,
		"INSERT /* gh-ost */ INTO `_t_ghc` (id, hint, value) VALUES (NULLIF(2, 0), 'state', 'GhostTableMigrated') ON DUPLICATE KEY UPDATE last_update = NOW(), value = VALUES(value)")
	g.load.resume(true)
}

// copyRows copies t into the ghost table in chunks, as gh-ost's row copy does.
func (g *ghostRun) copyRows() {
	var hi int
	if err := g.c.QueryRowContext(context.Background(), "SELECT COALESCE(MAX(id), 0) FROM t").Scan(&hi); err != nil {
		g.t.Fatal(err)
	}
	for lo := 0; lo <= hi; lo += 50 {
		g.load.mu.Lock()
		g.exec(fmt.Sprintf("INSERT /* gh-ost */ IGNORE INTO `_t_gho` (id, v, n) SELECT id, v, n FROM `t` FORCE INDEX (PRIMARY) WHERE id BETWEEN %d AND %d LOCK IN SHARE MODE", lo, lo+49),
			"INSERT /* gh-ost */ INTO `_t_ghc` (id, hint, value) VALUES (NULLIF(1, 0), 'heartbeat', NOW()) ON DUPLICATE KEY UPDATE last_update = NOW(), value = VALUES(value)")
		g.load.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// cutOver is gh-ost's atomic cut-over: sentry table, rename, then the load goes on on the
// new t; cleanUp drops the old table and the changelog.
func (g *ghostRun) cutOver() {
	g.load.pause(false)
	g.exec("CREATE TABLE `_t_del` (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB COMMENT='ghost-cut-over-sentry'",
		"DROP /* gh-ost */ TABLE IF EXISTS `_t_del`",
		"RENAME /* gh-ost */ TABLE `t` TO `_t_del`, `_t_gho` TO `t`")
	g.load.resume(false)
}

// cutOverTwoStep is gh-ost's older --cut-over=two-step: two renames.
func (g *ghostRun) cutOverTwoStep() {
	g.load.pause(false)
	g.exec("RENAME /* gh-ost */ TABLE `t` TO `_t_del`", "RENAME /* gh-ost */ TABLE `_t_gho` TO `t`")
	g.load.resume(false)
}

func (g *ghostRun) cleanUp() {
	g.exec("DROP /* gh-ost */ TABLE IF EXISTS `_t_del`", "DROP /* gh-ost */ TABLE IF EXISTS `_t_ghc`")
}

// targetTables lists the base tables of a target schema.
func targetTableNames(t *testing.T, schema string) []string {
	t.Helper()
	rows, err := dst.DB(t).Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// waitTableSynced waits until db.t is identical on both servers (schema columns, rows).
func waitTableSynced(t *testing.T, r *running, db string) {
	t.Helper()
	waitFor(t, r, func() error {
		if err := mysqltest.CompareTables(context.Background(), src.DB(t), db, "t", dst.DB(t), db, "t"); err != nil {
			return err
		}
		return equal(showCreate(t, src.DB(t), db), showCreate(t, dst.DB(t), db))
	})
}

// showCreate is SHOW CREATE TABLE db.t without the AUTO_INCREMENT counter.
func showCreate(t *testing.T, db *sql.DB, schema string) string {
	t.Helper()
	var name, create string
	if err := db.QueryRow("SHOW CREATE TABLE "+schema+".t").Scan(&name, &create); err != nil {
		return err.Error()
	}
	var keep []string
	for _, part := range strings.Fields(create) {
		if !strings.HasPrefix(part, "AUTO_INCREMENT=") {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, " ")
}

// onlineConfig is a syncer with online DDL on, replicating either the whole schema or
// only db.t (a table-level rule).
func onlineConfig(t *testing.T, task, db string, tableRule bool) Config {
	t.Helper()
	cfg := newTask(t, task, db)
	if tableRule {
		ba, err := filter.NewBAList(filter.Rules{DoTables: []filter.Table{{Schema: db, Name: "t"}}}, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tables = ba.Match
	}
	cfg.OnlineDDL = filter.DefaultOnlineDDL()
	return cfg
}

const ostTable = "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200) NOT NULL, n INT NOT NULL)"

// TestGhostMigration replays gh-ost's statement sequence under a write load: the target
// table ends altered and identical to the source, and no ghost or trash table ever
// reaches the target; with a table-level rule (the shadow tables are in scope through
// their real table) and with a schema-level rule, with gh-ost's two-step cut-over and in
// GTID mode; the syncer restarts mid-migration.
func TestGhostMigration(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tableRule bool
		twoStep   bool
		gtid      bool
	}{{"schema rule", false, false, false}, {"table rule", true, false, false}, {"two step", true, true, false}, {"gtid", true, false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_gho_" + strings.ReplaceAll(tc.name, " ", "_")
			setupSchema(t, db, ostTable, "CREATE TABLE other (id INT PRIMARY KEY)")
			cfg := onlineConfig(t, "gho"+db[6:], db, tc.tableRule)
			cfg.EnableGTID = tc.gtid
			r, stop := startSyncer(t, cfg)
			load := startLoad(t, db, 0)
			time.Sleep(time.Second)
			g := newGhostRun(t, db, load)
			g.setup("ADD COLUMN c2 INT NOT NULL DEFAULT 7, ADD INDEX iv (v), MODIFY n BIGINT NOT NULL")
			waitFor(t, r, func() error { return captured(t, cfg.Task, "_t_gho", "c2") }) // persisted, nothing on the target
			g.copyRows()
			// Restart mid-migration: the captured ALTER comes back from the meta table.
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			r, stop = startSyncer(t, cfg)
			time.Sleep(300 * time.Millisecond)
			if tc.twoStep {
				g.cutOverTwoStep()
			} else {
				g.cutOver()
			}
			time.Sleep(300 * time.Millisecond)
			g.cleanUp()
			load.pause(false)
			waitTableSynced(t, r, db)
			if got := targetTableNames(t, db); !slices.Equal(got, []string{"other", "t"}) {
				t.Errorf("target tables %v, want only other and t", got)
			}
			if !strings.Contains(showCreate(t, dst.DB(t), db), "`c2`") {
				t.Errorf("target table not altered: %s", showCreate(t, dst.DB(t), db))
			}
			if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM dm_meta."+OnlineDDLTableName(cfg.Task)); n != "0" {
				t.Errorf("%s online DDL records left after the cut-over", n)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGhostMigrationOnlineDDLOff: with online DDL handling off the shadow tables are
// ordinary tables. A schema-level rule migrates them and the cut-over RENAME runs on the
// target as on the source; with a table-level rule the cut-over (atomic, or the first
// step of the two-step one) is refused before any part of it runs, so the target keeps t
// (DM would skip the statement and replicate the new t's rows onto the old one).
func TestGhostMigrationOnlineDDLOff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tableRule bool
		twoStep   bool
	}{{"schema rule", false, false}, {"table rule", true, false}, {"two step", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_ghoff_" + strings.ReplaceAll(tc.name, " ", "_")
			setupSchema(t, db, ostTable)
			cfg := onlineConfig(t, "ghoff"+db[8:], db, tc.tableRule)
			cfg.OnlineDDL = nil
			r, stop := startSyncer(t, cfg)
			load := startLoad(t, db, 0)
			time.Sleep(300 * time.Millisecond)
			g := newGhostRun(t, db, load)
			g.setup("ADD COLUMN c2 INT NOT NULL DEFAULT 7")
			g.copyRows()
			if tc.twoStep {
				g.cutOverTwoStep()
			} else {
				g.cutOver()
			}
			if !tc.tableRule {
				g.cleanUp()
				load.pause(false)
				waitSynced(t, r, db)
				if !strings.Contains(showCreate(t, dst.DB(t), db), "`c2`") {
					t.Errorf("target table not altered: %s", showCreate(t, dst.DB(t), db))
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				return
			}
			load.pause(false)
			var err error
			select {
			case err = <-r.done:
				r.done <- err
			case <-time.After(60 * time.Second):
				t.Fatal("the syncer did not stop at the half-in-scope RENAME")
			}
			if err == nil || !strings.Contains(err.Error(), "enhance_online_schema_change") || !strings.Contains(err.Error(), "nothing of the statement was applied") {
				t.Fatalf("want the RENAME refused naming enhance_online_schema_change, got %v", err)
			}
			if got := targetTableNames(t, db); !slices.Equal(got, []string{"t"}) {
				t.Errorf("target tables %v, want t kept", got)
			}
			// Nothing is lost: the target has every change before the RENAME. The source's
			// old table is now _t_del.
			if err := mysqltest.CompareTables(context.Background(), src.DB(t), db, "_t_del", dst.DB(t), db, "t"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGhostMigrationCrash kills the syncer process during a gh-ost migration: once
// during the row copy, then at the cut-over (before its ALTER reaches the target, after
// it did and before the checkpoint, after the checkpoint and before the record is
// deleted, or at a random moment). The restarted syncer resumes
// from the checkpoint and the online DDL records: the target ends altered once and
// identical to the source.
func TestGhostMigrationCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	for _, point := range []string{"before-ddl", "after-ddl", "before-online-finish", "random"} {
		t.Run(point, func(t *testing.T) {
			db := "s_ghocrash_" + strings.ReplaceAll(point, "-", "_")
			task := "ghocrash_" + strings.ReplaceAll(point, "-", "_")
			setupSchema(t, db, ostTable)
			if err := DropCheckpoints(context.Background(), dst.DB(t), "", task); err != nil {
				t.Fatal(err)
			}
			cc := childConfig{Task: task, Schema: db, Source: src.DBConfig(), Target: dst.DBConfig(),
				Start: masterLoc(t), Workers: 4, Batch: 20, CheckpointMillis: 30, OnlineDDL: true}
			load := startLoad(t, db, 0)
			c := startChild(t, cc)
			time.Sleep(300 * time.Millisecond)
			g := newGhostRun(t, db, load)
			g.setup("ADD COLUMN c2 INT NOT NULL DEFAULT 7, MODIFY v VARCHAR(300) NOT NULL")
			time.Sleep(time.Duration(50+rand.IntN(300)) * time.Millisecond)
			c.kill() // mid-migration
			if point != "random" {
				cc.CrashPoint, cc.CrashAfter = point, 1
			}
			c = startChild(t, cc)
			g.copyRows()
			g.cutOver()
			if point == "random" {
				time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
				c.kill()
			} else {
				select {
				case err := <-c.done:
					c.done <- err
					if !killedBySignal(err) {
						t.Fatalf("child exited on its own: %v", err)
					}
				case <-time.After(60 * time.Second):
					t.Fatalf("child did not reach crash point %s", point)
				}
			}
			g.cleanUp()
			time.Sleep(100 * time.Millisecond)
			load.pause(false)
			cfg := baseConfig(t, task, db)
			cfg.Workers, cfg.Batch, cfg.OnlineDDL = 4, 20, filter.DefaultOnlineDDL()
			r, stop := startSyncer(t, cfg)
			waitTableSynced(t, r, db)
			if got := targetTableNames(t, db); !slices.Equal(got, []string{"t"}) {
				t.Errorf("target tables %v, want only t", got)
			}
			if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM dm_meta."+OnlineDDLTableName(task)); n != "0" {
				t.Errorf("%s online DDL records left after the cut-over", n)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// captured reports whether the online DDL record of ghost table ghost holds a DDL
// mentioning word.
func captured(t *testing.T, task, ghost, word string) error {
	var n int
	err := dst.DB(t).QueryRow("SELECT COUNT(*) FROM dm_meta."+OnlineDDLTableName(task)+" WHERE ghost_table = ? AND ddls LIKE ?", ghost, "%"+word+"%").Scan(&n)
	if err == nil && n != 1 {
		err = fmt.Errorf("%d records of %s mention %s", n, ghost, word)
	}
	return err
}

// TestGhostMigrationRouted: the captured ALTER reaches the routed target table of the
// real table (db.t → db_r.t2), and nothing is created under the ghost names there.
func TestGhostMigrationRouted(t *testing.T) {
	const db, tdb = "s_gho_routed", "s_gho_routed_r"
	setupSchema(t, db, ostTable)
	dst.Exec(t, "DROP DATABASE IF EXISTS "+tdb+"; CREATE DATABASE "+tdb+"; CREATE TABLE "+tdb+".t2 (id INT PRIMARY KEY, v VARCHAR(200) NOT NULL, n INT NOT NULL)")
	cfg := onlineConfig(t, "ghorouted", db, true)
	cfg.Route = func(s, tb string) (string, string, error) {
		switch {
		case s == db && tb == "":
			return tdb, "", nil
		case s == db && tb == "t":
			return tdb, "t2", nil
		case s == db:
			return tdb, tb, nil
		}
		return s, tb, nil
	}
	r, stop := startSyncer(t, cfg)
	load := startLoad(t, db, 0)
	time.Sleep(500 * time.Millisecond)
	g := newGhostRun(t, db, load)
	g.setup("ADD COLUMN c2 INT NOT NULL DEFAULT 7")
	g.copyRows()
	g.cutOver()
	time.Sleep(200 * time.Millisecond)
	g.cleanUp()
	load.pause(false)
	waitFor(t, r, func() error {
		return mysqltest.CompareTables(context.Background(), src.DB(t), db, "t", dst.DB(t), tdb, "t2")
	})
	var name, create string
	if err := dst.DB(t).QueryRow("SHOW CREATE TABLE "+tdb+".t2").Scan(&name, &create); err != nil || !strings.Contains(create, "`c2`") {
		t.Errorf("routed target table not altered: %s %v", create, err)
	}
	if got := targetTableNames(t, tdb); !slices.Equal(got, []string{"t2"}) {
		t.Errorf("routed target tables %v, want only t2", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
