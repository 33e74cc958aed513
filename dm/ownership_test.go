package dm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Regression tests for issue 7: a task never touches what is not its own. Each test
// names the numbered case of the issue it covers.

// sourcePos returns the source's current binlog file and position.
func sourcePos(t *testing.T) (string, int64) {
	t.Helper()
	var file string
	var pos int64
	var dodb, ignoredb any
	if err := openDB(t, testSrc).QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &dodb, &ignoredb); err != nil {
		t.Fatal(err)
	}
	return file, pos
}

// schemaExists reports whether schema exists on s.
func schemaExists(t *testing.T, s *mysqltest.Server, schema string) bool {
	t.Helper()
	var n int
	if err := openDB(t, s).QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// rowCount returns the row count of schema.table on s.
func rowCount(t *testing.T, s *mysqltest.Server, schema, table string) int {
	t.Helper()
	var n int
	if err := openDB(t, s).QueryRow("SELECT COUNT(*) FROM `" + schema + "`.`" + table + "`").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// incrementalTask is an incremental task of src1 from the current position with one rule.
func incrementalTask(t *testing.T, name string, rules ...TaskTableMigrateRuleSource) *Task {
	file, pos := sourcePos(t)
	task := fullTask(name, ModeIncremental, "unused", "src1")
	task.SourceConfig.SourceConf[0].BinlogName, task.SourceConfig.SourceConf[0].BinlogPos = &file, &pos
	task.TableMigrateRule = nil
	for _, r := range rules {
		r.SourceName = "src1"
		task.TableMigrateRule = append(task.TableMigrateRule, TaskTableMigrateRule{Source: r})
	}
	return task
}

// Case 1: with a rule naming one table, DROP/CREATE DATABASE of other schemas on the
// source never reach the target.
func TestOwnSchemaDDLOutsideRules(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS own1; DROP DATABASE IF EXISTS own1_targetonly; DROP DATABASE IF EXISTS own1_new")
	}
	testSrc.Exec(t, "CREATE DATABASE own1; CREATE TABLE own1.t2 (id INT PRIMARY KEY); CREATE DATABASE own1_targetonly")
	testDst.Exec(t, "CREATE DATABASE own1; CREATE TABLE own1.t2 (id INT PRIMARY KEY)")
	testDst.Exec(t, "CREATE DATABASE own1_targetonly; CREATE TABLE own1_targetonly.keep (id INT PRIMARY KEY); INSERT INTO own1_targetonly.keep VALUES (1), (2)")

	task := incrementalTask(t, "own-ddl-outside", TaskTableMigrateRuleSource{Schema: "own1", Table: "t2"})
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS own1_targetonly")
	testSrc.Exec(t, "CREATE DATABASE own1_new")
	testSrc.Exec(t, "INSERT INTO own1.t2 VALUES (1), (2), (3)") // a barrier: replicated after the DDL
	waitSame(t, "own1")
	if !schemaExists(t, testDst, "own1_targetonly") || rowCount(t, testDst, "own1_targetonly", "keep") != 2 {
		t.Fatal("DROP DATABASE of a schema outside the task's rules reached the target")
	}
	if schemaExists(t, testDst, "own1_new") {
		t.Fatal("CREATE DATABASE of a schema outside the task's rules reached the target")
	}
	if st := taskStage(t, c, task.Name)[0]; st.Stage != StageRunning {
		t.Fatalf("task stage %s: %s", st.Stage, st.ErrorMsg)
	}
}

// Case 2: a load task never removes its data_dir or anything in it.
func TestOwnLoadKeepsDataDir(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	dir := filepath.Join(c.cfg.DataDir, "scratch")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(user, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := fullTask("own-load-keeps", ModeLoad, "own2", "src1")
	task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: dir}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, task.Name)
	if b, err := os.ReadFile(user); err != nil || string(b) != "mine" {
		t.Fatalf("load task touched its data_dir: %q, %v", b, err)
	}
}

// Cases 2, 3 and 6: what would break ownership is refused at create time.
func TestOwnRefusedAtCreate(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	busy := filepath.Join(c.cfg.DataDir, "busy")
	if err := os.MkdirAll(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "shop.t.0000000000000.sql"), []byte("user"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	tests := []struct {
		name, mode, dataDir, metaSchema string
		want                            string
	}{
		{"load from /etc", ModeLoad, "/etc", "", "outside the server's data directory"},
		{"dump into /etc", ModeDump, "/etc", "", "outside the server's data directory"},
		{"dump escaping with ..", ModeDump, "../../x", "", "outside the server's data directory"},
		{"full escaping with ..", ModeFull, "../" + filepath.Base(c.cfg.DataDir) + "-sibling", "", "outside the server's data directory"},
		{"dump outside", ModeDump, outside, "", "outside the server's data directory"},
		{"dump into a non-empty directory", ModeDump, busy, "", "is not empty"},
		{"meta_schema mysql", ModeFull, "", "mysql", "system schema"},
		{"meta_schema information_schema", ModeFull, "", "INFORMATION_SCHEMA", "system schema"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := fullTask(fmt.Sprintf("own-refused-%d", i), tt.mode, "own3", "src1")
			task.MetaSchema = tt.metaSchema
			if tt.dataDir != "" {
				task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: tt.dataDir}
			}
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			var de *Error
			if !errors.As(err, &de) || de.HTTPStatus() != 400 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateTask = %v, want a 400 containing %q", err, tt.want)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(busy, "shop.t.0000000000000.sql")); err != nil || string(b) != "user" {
		t.Fatalf("refused task touched the directory: %q, %v", b, err)
	}
	// The operator may allow another root.
	c2, err := Open(ctx, Config{Store: MemoryStore(), DataDir: t.TempDir(), DataDirRoots: []string{outside}})
	mustOK(t, err)
	defer c2.Close()
	_, err = c2.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	task := fullTask("own-allowed-root", ModeDump, "own3", "src1")
	task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: filepath.Join(outside, "d")}
	_, err = c2.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
}

// Case 4: a new task with a deleted task's name and data_dir dumps afresh instead of
// inheriting the old one's (finished) dump.
func TestOwnNewTaskIgnoresDeletedTasksProgress(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS own4")
	}
	testSrc.Exec(t, "CREATE DATABASE own4")
	task := fullTask("own-reborn", ModeAll, "own4", "src1")
	task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: "d4"}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)
	testSrc.Exec(t, "CREATE TABLE own4.t (id INT PRIMARY KEY); INSERT INTO own4.t SELECT seq FROM own4.seq_1_to_100")
	mustOK(t, c.DeleteTask(ctx, task.Name, DeleteTaskOptions{Force: true}))
	testDst.Exec(t, "DROP DATABASE IF EXISTS own4")

	// Even a finished dump of the old task left in the directory is not this task's.
	dir := effectiveDataDir(c.cfg.DataDir, task, "src1")
	if _, err := os.Stat(dir); err == nil {
		t.Logf("old dump directory still present: %s", dir)
	}
	again := fullTask("own-reborn", ModeFull, "own4", "src1")
	again.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: "d4"}
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: again})
	mustOK(t, err)
	runToFinish(t, c, again.Name)
	compareSchema(t, "own4", "own4")
	if n := rowCount(t, testDst, "own4", "t"); n != 100 {
		t.Fatalf("target has %d rows, want 100", n)
	}
}

// Case 4, worker and dump side: a stale finished dump of another identity in the
// directory is never taken for this task's progress.
func TestOwnForeignDumpIsNotProgress(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS own4b")
	}
	testSrc.Exec(t, "CREATE DATABASE own4b; CREATE TABLE own4b.t (id INT PRIMARY KEY); INSERT INTO own4b.t VALUES (1), (2)")
	task := fullTask("own-foreign", ModeFull, "own4b", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	// The directory appears after create, holding a finished dump of an older task.
	dir := effectiveDataDir(c.cfg.DataDir, task, "src1")
	m, err := dumpfile.Claim(dir, dumpOwner("own-foreign", "an-older-id", "src1"))
	mustOK(t, err)
	mustOK(t, m.Add(dumpfile.MetadataName))
	mustOK(t, m.Close())
	old := dumpfile.Metadata{}
	old.Finished = old.Started.AddDate(2000, 0, 0)
	mustOK(t, old.WriteFile(dir))

	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitFor(t, "the task to refuse the foreign directory", func() bool {
		st := taskStage(t, c, task.Name)[0]
		if st.Stage == StageFinished {
			t.Fatalf("task finished on another task's dump (unit %s)", st.Unit)
		}
		return st.Stage == StagePaused && strings.Contains(st.ErrorMsg, "holds the dump of")
	})
	if _, err := os.Stat(filepath.Join(dir, dumpfile.MetadataName)); err != nil {
		t.Fatalf("the foreign dump was touched: %v", err)
	}
}

// Case 5: the loader creates only target schemas rules route to.
func TestOwnLoaderCreatesOnlyRoutedSchemas(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS own5; DROP DATABASE IF EXISTS own5_dst; DROP DATABASE IF EXISTS own5_empty")
	}
	testSrc.Exec(t, "CREATE DATABASE own5; CREATE TABLE own5.a (id INT PRIMARY KEY); INSERT INTO own5.a VALUES (1), (2)")
	testSrc.Exec(t, "CREATE DATABASE own5_empty")
	task := fullTask("own-routed", ModeFull, "own5", "src1")
	task.TableMigrateRule = []TaskTableMigrateRule{
		{Source: TaskTableMigrateRuleSource{SourceName: "src1", Schema: "own5", Table: "*"}, Target: &TaskTableMigrateRuleTarget{Schema: "own5_dst"}},
		{Source: TaskTableMigrateRuleSource{SourceName: "src1", Schema: "own5_nothing", Table: "t"}},
	}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, task.Name)
	compareSchema(t, "own5", "own5_dst")
	for _, s := range []string{"own5", "own5_empty", "own5_nothing"} {
		if schemaExists(t, testDst, s) {
			t.Errorf("the load created schema %s, which no rule routes to", s)
		}
	}
}

// Cases 6 and 7: deleting a task drops only the checkpoint tables its units create — never
// a database named `<meta_schema>_<task>`, and with a 46-character name it still succeeds.
func TestOwnDropTaskMeta(t *testing.T) {
	ctx := testCtx(t)
	name := strings.Repeat("n", maxTaskNameLen)
	task := fullTask(name, ModeFull, "own6", "src1")
	task.MetaSchema = "own6_meta"
	testDst.Exec(t, "DROP DATABASE IF EXISTS own6_meta; DROP DATABASE IF EXISTS `own6_meta_"+name+"`")
	testDst.Exec(t, "CREATE DATABASE own6_meta")
	for _, tbl := range []string{"_loader_checkpoint", "_syncer_checkpoint"} {
		testDst.Exec(t, "CREATE TABLE own6_meta.`"+name+tbl+"` (id INT)")
	}
	testDst.Exec(t, "CREATE TABLE own6_meta.`"+name[:40]+"_validator` (id INT)") // a user's, named like DM's
	testDst.Exec(t, "CREATE DATABASE `own6_meta_"+name+"`; CREATE TABLE `own6_meta_"+name+"`.keep (id INT)")
	if err := dropTaskMeta(ctx, task); err != nil {
		t.Fatalf("dropTaskMeta of a %d-character task: %v", len(name), err)
	}
	var tables []string
	rows, err := openDB(t, testDst).Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'own6_meta'")
	mustOK(t, err)
	for rows.Next() {
		var s string
		mustOK(t, rows.Scan(&s))
		tables = append(tables, s)
	}
	mustOK(t, rows.Close())
	if len(tables) != 1 || !slices.Contains(tables, name[:40]+"_validator") {
		t.Fatalf("meta schema holds %v after the clean-up, want only the user's table", tables)
	}
	if !schemaExists(t, testDst, "own6_meta_"+name) {
		t.Fatal("the clean-up dropped a database it never created")
	}
	testDst.Exec(t, "DROP DATABASE IF EXISTS own6_meta; DROP DATABASE IF EXISTS `own6_meta_"+name+"`")
}

// Case 4, checkpoint side: when deleting a task cannot drop its checkpoints, a new task
// of the same name drops them first, and is refused while they cannot be dropped.
func TestOwnStaleCheckpointsOfDeletedTask(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	name := "own-stale-meta"
	testDst.Exec(t, "DROP USER IF EXISTS own_tomb; CREATE USER own_tomb IDENTIFIED BY 'p1'; GRANT ALL ON *.* TO own_tomb")
	defer testDst.Exec(t, "DROP USER IF EXISTS own_tomb")
	testDst.Exec(t, "CREATE DATABASE IF NOT EXISTS dm_meta; CREATE TABLE IF NOT EXISTS dm_meta.`"+name+"_syncer_checkpoint` (id INT)")
	task := fullTask(name, ModeFull, "own7", "src1")
	task.TargetConfig.User, task.TargetConfig.Password = "own_tomb", "p1"
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	testDst.Exec(t, "ALTER USER own_tomb IDENTIFIED BY 'p2'")
	mustOK(t, c.DeleteTask(ctx, name, DeleteTaskOptions{})) // clean-up fails: logged, delete succeeds
	if !tableExists(t, testDst, "dm_meta", name+"_syncer_checkpoint") {
		t.Fatal("setup: the checkpoint table was dropped although the target refused the login")
	}
	again := fullTask(name, ModeFull, "own7", "src1")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: again})
	if err == nil || !strings.Contains(err.Error(), "checkpoints of a deleted task") {
		t.Fatalf("CreateTask over undroppable checkpoints of a deleted task = %v, want a refusal", err)
	}
	testDst.Exec(t, "ALTER USER own_tomb IDENTIFIED BY 'p1'")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: again})
	mustOK(t, err)
	if tableExists(t, testDst, "dm_meta", name+"_syncer_checkpoint") {
		t.Fatal("the new task would resume from the deleted task's checkpoints")
	}
}
