package dm

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Tests of the real data path (dumper + loader) driven through the Cluster.

// newDataCluster opens an in-memory cluster with the built-in units.
func newDataCluster(t *testing.T) *Cluster {
	t.Helper()
	c, err := Open(testCtx(t), Config{Store: MemoryStore(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.CreateSource(testCtx(t), CreateSourceRequest{Source: sourceFor("src1", testSrc)}); err != nil {
		t.Fatal(err)
	}
	return c
}

// runToFinish starts a task and waits until every subtask is Finished, failing on a pause.
func runToFinish(t *testing.T, c *Cluster, task string) {
	t.Helper()
	mustOK(t, c.StartTask(testCtx(t), task, StartTaskRequest{}))
	waitFor(t, "task "+task+" to finish", func() bool {
		done := true
		for _, s := range taskStage(t, c, task) {
			if s.Stage == StagePaused && s.ErrorMsg != "" {
				t.Fatalf("task %s paused: %s", task, s.ErrorMsg)
			}
			done = done && s.Stage == StageFinished
		}
		return done
	})
}

func openDB(t *testing.T, s *mysqltest.Server) *sql.DB {
	t.Helper()
	return s.DB(t)
}

// compareSchema fails t unless schema srcSchema on the source equals dstSchema on the target.
func compareSchema(t *testing.T, srcSchema, dstSchema string) {
	t.Helper()
	if err := mysqltest.CompareSchemas(context.Background(), openDB(t, testSrc), srcSchema, openDB(t, testDst), dstSchema); err != nil {
		t.Fatal(err)
	}
}

// seedTypes creates a schema with tables that exercise the value encodings.
func seedTypes(t *testing.T, schema string) {
	t.Helper()
	q := "`" + schema + "`"
	testSrc.Exec(t, "DROP DATABASE IF EXISTS "+q)
	testSrc.Exec(t, "CREATE DATABASE "+q+" CHARACTER SET utf8mb4")
	testSrc.Exec(t, `CREATE TABLE `+q+`.types (
		id INT PRIMARY KEY,
		ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
		i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
		d DECIMAL(20,6), f FLOAT, db DOUBLE,
		dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(6) NULL, y YEAR,
		b BIT(10), bin BINARY(4), vb VARBINARY(20), bl BLOB,
		s VARCHAR(50), txt TEXT, l1 VARCHAR(20) CHARACTER SET latin1,
		e ENUM('a','b','c'), st SET('x','y','z'), j JSON,
		g BIGINT AS (i * 2) VIRTUAL)`)
	testSrc.Exec(t, `INSERT INTO `+q+`.types (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, d, f, db, dt, tm, dtm, ts, y, b, bin, vb, bl, s, txt, l1, e, st, j) VALUES
		(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
		 -12345678901234.123456, 3.25, -2.5e300, '2024-02-29', '-838:59:59.000', '2024-01-01 12:34:56.123456', '2024-01-01 00:00:01.5', 2024,
		 b'1010101010', x'00010a27', x'5c27220a0d00', x'00ff00ff', 'emoji 🚀 ''quote'' \\back', 'line1\nline2\ttab', 'café', 'b', 'x,z', '{"k": [1, "two", null]}'),
		(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0000-00-00', NULL, '0000-00-00 00:00:00', NULL, NULL,
		 NULL, NULL, '', '', '', NULL, NULL, NULL, '', NULL),
		(3, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0.000001, -0, 1e-300, '1000-01-01', '00:00:00', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', 1901,
		 b'0', x'ffffffff', x'00', x'', 'ümlaut', '', 'x', 'c', 'x,y,z', '[]')`)
	testSrc.Exec(t, "CREATE TABLE "+q+".nopk (a INT, b VARCHAR(10))")
	testSrc.Exec(t, "INSERT INTO "+q+".nopk VALUES (1,'x'),(1,'x'),(2,NULL)")
	testSrc.Exec(t, "CREATE TABLE "+q+".empty (id INT PRIMARY KEY)")
	testSrc.Exec(t, "CREATE TABLE "+q+".`we-ird ``name` (`select` INT PRIMARY KEY, `from` VARCHAR(10))")
	testSrc.Exec(t, "INSERT INTO "+q+".`we-ird ``name` VALUES (1,'a'),(2,'b')")
	testSrc.Exec(t, "CREATE TABLE "+q+".big (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64))")
	testSrc.Exec(t, "INSERT INTO "+q+".big (v) SELECT CONCAT('row-', seq) FROM "+q+".seq_1_to_5000")
}

func TestFullModeCopiesEverything(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedTypes(t, "full_types")
	testDst.Exec(t, "DROP DATABASE IF EXISTS full_types")
	task := fullTask("full-types", ModeFull, "full_types", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, "full-types")
	compareSchema(t, "full_types", "full_types")
	st := taskStage(t, c, "full-types")[0]
	// Issue 11: meta_binlog stays once the load finished (and the dump was removed).
	if st.Unit != UnitLoad || st.LoadStatus == nil || st.LoadStatus.Progress != "100.00 %" || st.LoadStatus.MetaBinlog == "" {
		t.Fatalf("finished status = %+v (load %+v)", st, st.LoadStatus)
	}
	got, _ := c.GetTask(ctx, "full-types", false)
	dir := effectiveDataDir(c.cfg.DataDir, got, "src1")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dump dir %s not removed after a full task: %v", dir, err)
	}
}

func TestDumpThenLoadModes(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedTypes(t, "dl_types")
	testDst.Exec(t, "DROP DATABASE IF EXISTS dl_types")
	dir := filepath.Join(c.cfg.DataDir, "exported") // inside the server's data directory
	dump := fullTask("dump-only", ModeDump, "dl_types", "src1")
	dump.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: dir}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: dump})
	mustOK(t, err)
	runToFinish(t, c, "dump-only")
	if st := taskStage(t, c, "dump-only")[0]; st.DumpStatus == nil || st.DumpStatus.Progress != "100.00 %" {
		t.Fatalf("dump status = %+v", st.DumpStatus)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if len(files) == 0 {
		t.Fatalf("dump mode left no files in %s", dir)
	}
	var rows int
	if err := openDB(t, testDst).QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'dl_types'").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("dump mode touched the target: %d, %v", rows, err)
	}

	load := fullTask("load-only", ModeLoad, "dl_types", "src1")
	load.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: dir}
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: load})
	mustOK(t, err)
	runToFinish(t, c, "load-only")
	compareSchema(t, "dl_types", "dl_types")
}

func TestShardMergeRouting(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("`merge_%d`", i)
		testSrc.Exec(t, "DROP DATABASE IF EXISTS "+s)
		testSrc.Exec(t, "CREATE DATABASE "+s)
		testSrc.Exec(t, "CREATE TABLE "+s+".orders (id INT PRIMARY KEY, shard INT, v VARCHAR(10))")
		testSrc.Exec(t, fmt.Sprintf("INSERT INTO %s.orders SELECT seq*10+%d, %d, 'v' FROM %s.seq_1_to_300", s, i, i, s))
	}
	testDst.Exec(t, "DROP DATABASE IF EXISTS merged")
	task := fullTask("merge-task", ModeFull, "", "src1")
	task.TableMigrateRule = []TaskTableMigrateRule{{
		Source: TaskTableMigrateRuleSource{SourceName: "src1", Schema: "merge_*", Table: "orders"},
		Target: &TaskTableMigrateRuleTarget{Schema: "merged", Table: "all_orders"},
	}}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, "merge-task")
	var n, shards int
	if err := openDB(t, testDst).QueryRow("SELECT COUNT(*), COUNT(DISTINCT shard) FROM merged.all_orders").Scan(&n, &shards); err != nil {
		t.Fatal(err)
	}
	if n != 900 || shards != 3 {
		t.Fatalf("merged table has %d rows from %d shards, want 900 from 3", n, shards)
	}
	var srcSum, dstSum int64
	openDB(t, testSrc).QueryRow("SELECT SUM(id) FROM (SELECT id FROM merge_1.orders UNION ALL SELECT id FROM merge_2.orders UNION ALL SELECT id FROM merge_3.orders) u").Scan(&srcSum)
	openDB(t, testDst).QueryRow("SELECT SUM(id) FROM merged.all_orders").Scan(&dstSum)
	if srcSum != dstSum {
		t.Fatalf("merged ids differ: source sum %d, target sum %d", srcSum, dstSum)
	}
}

func TestOnDuplicate(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS dup_src")
	testSrc.Exec(t, "CREATE DATABASE dup_src")
	testSrc.Exec(t, "CREATE TABLE dup_src.t (id INT PRIMARY KEY, v VARCHAR(10))")
	testSrc.Exec(t, "INSERT INTO dup_src.t VALUES (1,'source'),(2,'source')")
	for _, tt := range []struct {
		mode    string
		logical string // full_migrate_conf.on_duplicate_logical, the load's own knob
		want    string // the value of row 1 afterwards; "" means the task must fail
		wantErr string
	}{
		{"replace", "", "source", ""},
		{"overwrite", "", "source", ""},
		{"ignore", "", "target", ""},
		{"error", "", "", "Duplicate entry"},
		{"replace", "ignore", "target", ""},
		{"error", "replace", "source", ""},
	} {
		t.Run(tt.mode+"/"+tt.logical, func(t *testing.T) {
			testDst.Exec(t, "DROP DATABASE IF EXISTS dup_src")
			testDst.Exec(t, "CREATE DATABASE dup_src")
			testDst.Exec(t, "CREATE TABLE dup_src.t (id INT PRIMARY KEY, v VARCHAR(10))")
			testDst.Exec(t, "INSERT INTO dup_src.t VALUES (1,'target')")
			name := "dup-" + tt.mode + "-" + tt.logical
			task := fullTask(name, ModeFull, "dup_src", "src1")
			task.OnDuplicate = tt.mode
			if tt.logical != "" {
				task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{OnDuplicateLogical: tt.logical}
			}
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			if tt.wantErr != "" {
				mustOK(t, c.StartTask(ctx, name, StartTaskRequest{}))
				waitFor(t, "the load to fail", func() bool {
					s := taskStage(t, c, name)[0]
					return s.Stage == StagePaused && strings.Contains(s.ErrorMsg, tt.wantErr)
				})
				return
			}
			runToFinish(t, c, name)
			var v string
			openDB(t, testDst).QueryRow("SELECT v FROM dup_src.t WHERE id = 1").Scan(&v)
			if v != tt.want {
				t.Fatalf("row 1 = %q, want %q", v, tt.want)
			}
		})
	}
}
