package loader

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// TestLoadIdentity loads tables of many column types, a table without a primary key
// (with duplicate rows) and an empty table under their own names.
func TestLoadIdentity(t *testing.T) {
	cleanSlate(t, "identity", "ident")
	src.Exec(t, `SET SESSION sql_mode = '';
CREATE DATABASE ident DEFAULT CHARSET utf8mb4;
CREATE TABLE ident.types (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  u BIGINT UNSIGNED, d DECIMAL(20,6), f DOUBLE,
  s VARCHAR(64), l TEXT CHARACTER SET latin1, b BLOB, bt BIT(8),
  dt DATETIME(6), ts TIMESTAMP NULL, da DATE, ti TIME, y YEAR,
  e ENUM('a','b'), st SET('x','y'), j JSON,
  g INT AS (id * 2) VIRTUAL
);
INSERT INTO ident.types (id, u, d, f, s, l, b, bt, dt, ts, da, ti, y, e, st, j)
SELECT seq, 18446744073709551615 - seq, seq / 7, seq / 3,
  CONCAT('it''s \\ "q" ;', seq, '\n),(\r\0', '€'), CONCAT('caf', CHAR(0xE9), seq), UNHEX(CONCAT('00FF0A0D27', HEX(seq))), seq % 256,
  IF(seq % 10 = 0, '0000-00-00 00:00:00', '2024-02-29 12:34:56.123456'), FROM_UNIXTIME(1700000000 + seq), '2024-01-01', '-12:00:01', 2024,
  IF(seq % 2, 'a', 'b'), 'x,y', '{"k": [1, "two"]}'
FROM mysql.seq_1_to_450;
INSERT INTO ident.types (id) VALUES (0);
INSERT INTO ident.types (id, s, l, b) VALUES (1000, '', '', ''), (1001, NULL, NULL, NULL);
CREATE TABLE ident.nopk (a INT, b VARCHAR(10));
INSERT INTO ident.nopk SELECT seq % 5, 'dup' FROM mysql.seq_1_to_300;
CREATE TABLE ident.empty (id INT PRIMARY KEY);`)
	dir := t.TempDir()
	var dataFiles []string
	for _, tb := range []string{"types", "nopk", "empty"} {
		dataFiles = append(dataFiles, dumpTable(t, openDB(t, src), dir, "ident", tb, dumpOpts{rowsPerStmt: 37, stmtsPerFile: 4})...)
	}
	l := newLoader(t, testConfig(dir, "identity"))
	ctx := t.Context()
	if fresh, err := l.Fresh(ctx); err != nil || !fresh {
		t.Fatalf("Fresh before loading = %v, %v; want true", fresh, err)
	}
	if done, err := l.Done(ctx); err != nil || done {
		t.Fatalf("Done before loading = %v, %v; want false", done, err)
	}
	if err := l.LoadDir(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mysqltest.CompareSchemas(ctx, openDB(t, src), "ident", openDB(t, tgt), "ident"); err != nil {
		t.Error(err)
	}
	if fresh, err := l.Fresh(ctx); err != nil || fresh {
		t.Errorf("Fresh after loading = %v, %v; want false", fresh, err)
	}
	if done, err := l.Done(ctx); err != nil || !done {
		t.Errorf("Done after loading = %v, %v; want true", done, err)
	}
	var total int64
	for _, f := range dataFiles {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if p := l.Progress(); p.FinishedBytes != total || p.TotalBytes != total {
		t.Errorf("Progress = %+v, want %d of %d bytes", p, total, total)
	}
	// Loading again is a no-op: every file is at its end.
	l2 := newLoader(t, testConfig(dir, "identity"))
	if err := l2.LoadDir(ctx); err != nil {
		t.Fatal(err)
	}
	if p := l2.Progress(); p.FinishedBytes != total || p.TotalBytes != total {
		t.Errorf("Progress of a second load = %+v, want %d of %d bytes", p, total, total)
	}
	compareTables(t, "ident", "nopk", "ident", "nopk")
}

// TestQuotedNames loads schema, table and column names that need quoting and escaping
// in file names.
func TestQuotedNames(t *testing.T) {
	schema, table := "we-ird.db`x", "t.a-b`c é"
	cleanSlate(t, "quoted", schema)
	src.Exec(t, "CREATE DATABASE "+sqlq.QuoteName(schema)+"; CREATE TABLE "+sqlq.QuoteTable(schema, table)+
		" (`col one` INT PRIMARY KEY, `c``q` VARCHAR(10)); INSERT INTO "+sqlq.QuoteTable(schema, table)+
		" SELECT seq, CONCAT('v', seq) FROM mysql.seq_1_to_50")
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, schema, table, dumpOpts{rowsPerStmt: 7, stmtsPerFile: 2})
	l := newLoader(t, testConfig(dir, "quoted"))
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	compareTables(t, schema, table, schema, table)
}

// TestRouteShardMerge routes two source schemas into one target table, which is created
// once, and checks that a routing error stops the load.
func TestRouteShardMerge(t *testing.T) {
	cleanSlate(t, "merge", "shard1", "shard2", "shard_all", "merged")
	cleanSlate(t, "merge_route_error")
	for i, sh := range []string{"shard1", "shard2"} {
		src.Exec(t, "CREATE DATABASE "+sh+"; CREATE TABLE "+sh+".orders (id INT PRIMARY KEY, note VARCHAR(20)); "+
			"INSERT INTO "+sh+".orders SELECT seq + ?, CONCAT(?, seq) FROM mysql.seq_1_to_120", i*1000, sh)
	}
	src.Exec(t, "CREATE DATABASE shard_all; CREATE TABLE shard_all.orders (id INT PRIMARY KEY, note VARCHAR(20)); "+
		"INSERT INTO shard_all.orders SELECT * FROM shard1.orders UNION ALL SELECT * FROM shard2.orders")
	dir := t.TempDir()
	for _, sh := range []string{"shard1", "shard2"} {
		dumpTable(t, openDB(t, src), dir, sh, "orders", dumpOpts{rowsPerStmt: 10, stmtsPerFile: 3})
	}
	rec := &logRecorder{}
	cfg := testConfig(dir, "merge")
	cfg.Logger = slog.New(rec)
	cfg.Route = func(schema, table string) (string, string, error) {
		if strings.HasPrefix(schema, "shard") {
			if table == "" {
				return "merged", "", nil
			}
			return "merged", "all_" + table, nil
		}
		return schema, table, nil
	}
	l := newLoader(t, cfg)
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	compareTables(t, "shard_all", "orders", "merged", "all_orders")
	if n := rec.count("created table"); n != 1 {
		t.Errorf("the merged table was created %d times, want once", n)
	}
	if n := queryInt(t, openDB(t, tgt), "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'shard%'"); n != 0 {
		t.Errorf("%d source schemas were created on the target; want only the routed one", n)
	}

	cfg = testConfig(dir, "merge_route_error")
	cfg.Route = func(schema, table string) (string, string, error) {
		return "", "", errors.New("no route for you")
	}
	err := newLoader(t, cfg).LoadDir(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no route for you") {
		t.Errorf("LoadDir with a failing route: %v, want the route's error", err)
	}
}

// TestOnDuplicate loads rows into a table that already has conflicting ones, in each
// on_duplicate mode.
func TestOnDuplicate(t *testing.T) {
	cleanSlate(t, "dup_replace", "dup", "dup_replace", "dup_overwrite", "dup_ignore", "dup_error")
	for _, task := range []string{"dup_overwrite", "dup_ignore", "dup_error"} {
		cleanSlate(t, task)
	}
	src.Exec(t, "CREATE DATABASE dup; CREATE TABLE dup.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO dup.t VALUES (1, 'new'), (2, 'new'), (3, 'new')")
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, "dup", "t", dumpOpts{rowsPerStmt: 1})
	tests := []struct {
		mode string
		want string // the target's rows after the load; "" when the load must fail
	}{
		{mode: "replace", want: "1=new,2=new,3=new,9=old"},
		{mode: "overwrite", want: "1=new,2=new,3=new,9=old"},
		{mode: "ignore", want: "1=new,2=old,3=new,9=old"},
		{mode: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			target := "dup_" + tt.mode
			tgt.Exec(t, "CREATE DATABASE "+target+"; CREATE TABLE "+target+".t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO "+target+".t VALUES (2, 'old'), (9, 'old')")
			cfg := testConfig(dir, "dup_"+tt.mode)
			cfg.OnDuplicate = tt.mode
			cfg.Route = func(schema, table string) (string, string, error) { return target, table, nil }
			err := newLoader(t, cfg).LoadDir(t.Context())
			if tt.want == "" {
				if err == nil {
					t.Fatal("LoadDir succeeded; want a duplicate-key error")
				}
				var temp interface{ Temporary() bool }
				if errors.As(err, &temp) {
					t.Errorf("a duplicate key is reported as temporary: %v", err)
				}
				for _, s := range []string{dumpfile.DataName("dup", "t", 0, 0), "at byte", "Duplicate entry", `on_duplicate is "error"`} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := openDB(t, tgt).QueryRowContext(t.Context(), "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM "+target+".t").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("rows = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPipelinedRun feeds files one by one, as a running dump would, and checks that a
// data file is loaded before the dump sends the next.
func TestPipelinedRun(t *testing.T) {
	cleanSlate(t, "pipe", "pipe")
	src.Exec(t, "CREATE DATABASE pipe; CREATE TABLE pipe.a (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO pipe.a SELECT seq, 'a' FROM mysql.seq_1_to_200;"+
		"CREATE TABLE pipe.b (v VARCHAR(10)); INSERT INTO pipe.b SELECT 'b' FROM mysql.seq_1_to_90")
	dir := t.TempDir()
	aFiles := dumpTable(t, openDB(t, src), dir, "pipe", "a", dumpOpts{rowsPerStmt: 20, stmtsPerFile: 3})
	bFiles := dumpTable(t, openDB(t, src), dir, "pipe", "b", dumpOpts{rowsPerStmt: 20, stmtsPerFile: 3})
	if len(aFiles) < 2 || len(bFiles) < 2 {
		t.Fatalf("want several files per table, got %v and %v", aFiles, bFiles)
	}
	l := newLoader(t, testConfig(dir, "pipe"))
	files := make(chan string)
	done := make(chan error, 1)
	go func() { done <- l.Run(t.Context(), files) }()

	send := func(name string) {
		t.Helper()
		select {
		case files <- filepath.Join(dir, name):
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		}
	}
	waitLoaded := func(bytes int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for l.Progress().FinishedBytes < bytes {
			if time.Now().After(deadline) {
				t.Fatalf("data not loaded in time: %+v, want %d bytes", l.Progress(), bytes)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	send(dumpfile.SchemaCreateName("pipe"))
	send(dumpfile.TableSchemaName("pipe", "a"))
	send(aFiles[0])
	waitLoaded(size(aFiles[0]))
	send(dumpfile.TableSchemaName("pipe", "b"))
	send(bFiles[0]) // b's data before a's remaining files
	loaded := size(aFiles[0]) + size(bFiles[0])
	waitLoaded(loaded)
	for _, f := range append(aFiles[1:], bFiles[1:]...) {
		send(f)
	}
	send(dumpfile.MetadataName) // ignored
	close(files)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	compareTables(t, "pipe", "a", "pipe", "a")
	compareTables(t, "pipe", "b", "pipe", "b")
}

// TestResetFreshDone covers the checkpoint life cycle: load, Reset (checkpoints gone,
// tables truncated), load again, DropCheckpoints.
func TestResetFreshDone(t *testing.T) {
	cleanSlate(t, "rst", "rst")
	src.Exec(t, "CREATE DATABASE rst; CREATE TABLE rst.t (id INT PRIMARY KEY); INSERT INTO rst.t SELECT seq FROM mysql.seq_1_to_100;"+
		"CREATE TABLE rst.schema_only (id INT); CREATE TABLE rst.pre (id INT PRIMARY KEY); INSERT INTO rst.pre VALUES (1)")
	// rst.pre exists on the target before the load, with a row of the user's.
	tgt.Exec(t, "CREATE DATABASE rst; CREATE TABLE rst.pre (id INT PRIMARY KEY); INSERT INTO rst.pre VALUES (1000)")
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, "rst", "t", dumpOpts{})
	dumpTable(t, openDB(t, src), dir, "rst", "schema_only", dumpOpts{})
	dumpTable(t, openDB(t, src), dir, "rst", "pre", dumpOpts{})
	ctx := t.Context()
	l := newLoader(t, testConfig(dir, "rst"))
	check := func(wantFresh, wantDone bool) {
		t.Helper()
		fresh, err := l.Fresh(ctx)
		if err != nil || fresh != wantFresh {
			t.Errorf("Fresh = %v, %v; want %v", fresh, err, wantFresh)
		}
		done, err := l.Done(ctx)
		if err != nil || done != wantDone {
			t.Errorf("Done = %v, %v; want %v", done, err, wantDone)
		}
	}
	check(true, false)
	if err := l.LoadDir(ctx); err != nil {
		t.Fatal(err)
	}
	check(false, true)
	compareTables(t, "rst", "t", "rst", "t")

	// A checkpoint of another source is not this source's.
	other := testConfig(dir, "rst")
	other.Source = "mysql-02"
	if fresh, err := newLoader(t, other).Fresh(ctx); err != nil || !fresh {
		t.Errorf("Fresh of another source = %v, %v; want true", fresh, err)
	}

	if err := l.ResetForRedo(ctx, [][2]string{{"rst", "t"}, {"rst", "pre"}, {"rst", "no_such_table"}}); err != nil {
		t.Fatal(err)
	}
	check(true, false)
	if n := queryInt(t, openDB(t, tgt), "SELECT COUNT(*) FROM rst.t"); n != 0 {
		t.Errorf("after Reset the target table has %d rows, want 0", n)
	}
	// A table that existed before the load is not the load's to truncate (issue 7).
	if n := queryInt(t, openDB(t, tgt), "SELECT COUNT(*) FROM rst.pre WHERE id = 1000"); n != 1 {
		t.Errorf("after Reset the pre-existing table lost the user's row")
	}
	if p := l.Progress(); p != (Progress{}) {
		t.Errorf("Progress after Reset = %+v, want zero", p)
	}
	if err := l.LoadDir(ctx); err != nil {
		t.Fatal(err)
	}
	check(false, true)
	compareTables(t, "rst", "t", "rst", "t")

	// The schema-only table's checkpoint makes Done notice a missing CREATE.
	tgt.Exec(t, "DELETE FROM dm_meta.rst_loader_checkpoint WHERE filename = ?", dumpfile.TableSchemaName("rst", "schema_only"))
	check(false, false)

	if err := DropCheckpoints(ctx, openDB(t, tgt), "dm_meta", "rst"); err != nil {
		t.Fatal(err)
	}
	check(true, false)
	if err := DropCheckpoints(ctx, openDB(t, tgt), "dm_meta", "rst"); err != nil {
		t.Errorf("DropCheckpoints of a dropped table: %v", err)
	}
	if err := DropCheckpoints(ctx, openDB(t, tgt), "no_such_meta", "rst"); err != nil {
		t.Errorf("DropCheckpoints in a missing schema: %v", err)
	}
}

// TestSplitLargeStatements loads statements larger than MaxStatementBytes, which are cut
// at tuple lines, and small statements batched many per transaction.
func TestSplitLargeStatements(t *testing.T) {
	cleanSlate(t, "split_split", "split", "split_split", "split_batched")
	cleanSlate(t, "split_batched")
	src.Exec(t, "CREATE DATABASE split; CREATE TABLE split.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO split.t SELECT seq, REPEAT('s', seq % 40) FROM mysql.seq_1_to_700")
	dir := t.TempDir()
	files := dumpTable(t, openDB(t, src), dir, "split", "t", dumpOpts{rowsPerStmt: 100, stmtsPerFile: 4})
	tests := []struct {
		name       string
		maxStmt    int
		batchBytes int
	}{
		{name: "split", maxStmt: 300, batchBytes: -1},
		{name: "batched", batchBytes: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(dir, "split_"+tt.name)
			cfg.MaxStatementBytes, cfg.BatchBytes = tt.maxStmt, tt.batchBytes
			cfg.OnDuplicate = OnDuplicateError // a repeated tuple would fail
			cfg.Route = func(schema, table string) (string, string, error) { return "split_" + tt.name, table, nil }
			if err := newLoader(t, cfg).LoadDir(t.Context()); err != nil {
				t.Fatal(err)
			}
			compareTables(t, "split", "t", "split_"+tt.name, "t")
			for _, f := range files {
				fi, _ := os.Stat(filepath.Join(dir, f))
				got := queryInt(t, openDB(t, tgt), "SELECT `offset` FROM dm_meta.split_"+tt.name+"_loader_checkpoint WHERE filename = ?", f)
				if got != fi.Size() {
					t.Errorf("checkpoint of %s at %d, want %d", f, got, fi.Size())
				}
			}
		})
	}
}

// TestHandWrittenFiles loads files in other dumpers' layouts: no column list, tuples on
// the header line, extra session statements (which must not leak to other files), blank
// and comment lines, and MariaDB-only DDL the TiDB parser cannot read.
func TestHandWrittenFiles(t *testing.T) {
	cleanSlate(t, "hand", "hand")
	for _, task := range []string{"hand_truncated", "hand_statement", "hand_invalid_value"} {
		cleanSlate(t, task)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dumpfile.SchemaCreateName("hand"), "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `hand` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n")
	write(dumpfile.TableSchemaName("hand", "m"), preamble+"CREATE TABLE `m` (\n  `id` int(11) NOT NULL,\n  `h` int(11) INVISIBLE DEFAULT 7,\n"+
		"  `u` uuid DEFAULT NULL,\n  `ip` inet6 DEFAULT NULL,\n  `x` int(11) DEFAULT (1 + 1),\n  `ts` timestamp NULL DEFAULT NULL,\n"+
		"  `c` varchar(10) DEFAULT NULL CHECK (`c` <> 'bad'),\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
	write(dumpfile.DataName("hand", "m", 0, 0), preamble+"/*!40103 SET TIME_ZONE='+00:00' */;\n\n-- rows\n"+
		"INSERT INTO `m` VALUES (1,_utf8mb4'00000000-0000-0000-0000-000000000001',_utf8mb4'::1',5,'2024-01-01 00:00:00','a'),(2,NULL,NULL,NULL,NULL,NULL);\n"+
		"# trailing comment\n")
	// A file whose session runs an hour ahead: its timestamp means 00:00 UTC.
	write(dumpfile.DataName("hand", "m", 0, 1), "SET time_zone = '+01:00';\nINSERT IGNORE INTO m (id, ts) VALUES\n(3, '2024-01-01 01:00:00');\n")
	write(dumpfile.DataName("hand", "m", 0, 2), preamble+"INSERT INTO `m` (`id`,`ts`) VALUES\n(4,'2024-01-01 00:00:00');\n")
	write(dumpfile.DataName("hand", "m", 0, 3), preamble) // no rows at all
	write("notes.txt", "not a dump file")
	cfg := testConfig(dir, "hand")
	cfg.Threads = 1 // one connection: a leaked time zone would reach the next file
	l := newLoader(t, cfg)
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, tgt)
	if n := queryInt(t, db, "SELECT COUNT(DISTINCT UNIX_TIMESTAMP(ts)) FROM hand.m WHERE id IN (1, 3, 4)"); n != 1 {
		t.Errorf("the three timestamps differ (%d distinct values); a file's SET time_zone leaked or was lost", n)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM hand.m WHERE h = 7 AND (id > 1 OR (u IS NOT NULL AND ip = '::1' AND x = 5))"); n != 4 {
		var dump string
		_ = db.QueryRow("SELECT GROUP_CONCAT(CONCAT_WS('/', id, h, u, ip, x, ts, c)) FROM hand.m").Scan(&dump)
		t.Errorf("%d rows as expected, want 4: %s", n, dump)
	}
	if done, err := l.Done(t.Context()); err != nil || !done {
		t.Errorf("Done = %v, %v; want true", done, err)
	}

	// Broken files: each error names the file and the byte offset.
	for name, body := range map[string]string{
		"truncated": preamble + "INSERT INTO `m` VALUES\n(5,NULL,NULL,NULL,NULL,NULL),\n",
		"statement": preamble + "DELETE FROM `m`;\n",
		// Under SET NAMES binary a plain literal is a binary UUID; strict mode makes
		// the mismatch an error instead of a NULL.
		"invalid_value": preamble + "INSERT INTO `m` (`id`,`u`) VALUES\n(6,'00000000-0000-0000-0000-000000000001');\n",
	} {
		t.Run(name, func(t *testing.T) {
			bad := t.TempDir()
			file := dumpfile.DataName("hand", "m", 1, 0)
			if err := os.WriteFile(filepath.Join(bad, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			err := newLoader(t, testConfig(bad, "hand_"+name)).LoadDir(t.Context())
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "at byte") {
				t.Errorf("LoadDir = %v; want an error naming %s and the offset", err, file)
			}
		})
	}
}

// TestConfigErrors checks New's validation.
func TestConfigErrors(t *testing.T) {
	base := testConfig(t.TempDir(), "cfg")
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no dir", func(c *Config) { c.Dir = "" }, "Dir"},
		{"no task", func(c *Config) { c.Task = "" }, "Task and Source"},
		{"long source", func(c *Config) { c.Source = strings.Repeat("s", 33) }, "32 bytes"},
		{"long task", func(c *Config) { c.Task = strings.Repeat("t", 60) }, "64 characters"},
		{"bad mode", func(c *Config) { c.OnDuplicate = "merge" }, "on_duplicate"},
		{"negative threads", func(c *Config) { c.Threads = -1 }, "Threads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.modify(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestRunCancel checks that a Loader refuses a second concurrent run and that Run stops
// on cancellation even while its channel stays open.
func TestRunCancel(t *testing.T) {
	l := newLoader(t, testConfig(t.TempDir(), "cancel"))
	ctx, cancel := context.WithCancel(t.Context())
	files := make(chan string) // never closed
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, files) }()
	for !l.running.Load() {
		time.Sleep(time.Millisecond)
	}
	if err := l.Run(ctx, files); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Run = %v, want an already-running error", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
}
