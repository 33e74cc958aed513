package loader

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dumpfile"
)

// TestParallelSchemas: CREATE TABLE files are applied in parallel (dispatch), yet a target
// table that several source tables merge into is created once, every data file waits for
// its table, and a schema file that fails stops the load before any of its table's rows.
func TestParallelSchemas(t *testing.T) {
	cleanSlate(t, "par", "par", "par_merged")
	cleanSlate(t, "par_bad")
	src.Exec(t, "CREATE DATABASE par")
	for i := range 6 {
		src.Exec(t, fmt.Sprintf("CREATE TABLE par.t%d (id INT PRIMARY KEY, v VARCHAR(20)); "+
			"INSERT INTO par.t%d SELECT seq + %d, CONCAT('t%d-', seq) FROM mysql.seq_1_to_150", i, i, i*1000, i))
	}
	dir := t.TempDir()
	for i := range 6 {
		dumpTable(t, openDB(t, src), dir, "par", fmt.Sprintf("t%d", i), dumpOpts{rowsPerStmt: 10, stmtsPerFile: 4})
	}
	// t0..t3 merge into par_merged.all; t4 and t5 keep their names.
	route := func(schema, table string) (string, string, error) {
		if table != "" && table < "t4" {
			return "par_merged", "all", nil
		}
		return schema, table, nil
	}
	rec := &logRecorder{}
	cfg := testConfig(dir, "par")
	cfg.Route, cfg.Logger = route, slog.New(rec)
	l := newLoader(t, cfg)
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("created table"); n != 3 {
		t.Errorf("created table logged %d times, want 3 (the merged table once, t4, t5)", n)
	}
	db := openDB(t, tgt)
	if n := queryInt(t, db, "SELECT COUNT(*) FROM par_merged.all"); n != 600 {
		t.Errorf("par_merged.all has %d rows, want 600", n)
	}
	var srcSum, dstSum int64
	srcSum = queryInt(t, openDB(t, src), "SELECT SUM(CRC32(CONCAT(id, v))) FROM (SELECT * FROM par.t0 UNION ALL SELECT * FROM par.t1 UNION ALL SELECT * FROM par.t2 UNION ALL SELECT * FROM par.t3) u")
	dstSum = queryInt(t, db, "SELECT SUM(CRC32(CONCAT(id, v))) FROM par_merged.all")
	if srcSum != dstSum {
		t.Errorf("merged checksum %d, want %d", dstSum, srcSum)
	}
	compareTables(t, "par", "t4", "par", "t4")
	compareTables(t, "par", "t5", "par", "t5")

	// A CREATE TABLE the target refuses: the load fails naming the file, and no data file
	// of that table is loaded (its rows would have nowhere to go, or the wrong table).
	bad := t.TempDir()
	for _, name := range []string{dumpfile.SchemaCreateName("par"), dumpfile.TableSchemaName("par", "t4"),
		dumpfile.DataName("par", "t4", 0, 0)} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "-schema.sql") {
			b = []byte(preamble + "CREATE TABLE `t4` (id INT PRIMARY KEY, id INT);\n") // duplicate column
		}
		if err := os.WriteFile(filepath.Join(bad, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tgt.Exec(t, "DROP TABLE par.t4")
	cfg = testConfig(bad, "par_bad")
	err := newLoader(t, cfg).LoadDir(t.Context())
	if err == nil || !strings.Contains(err.Error(), dumpfile.TableSchemaName("par", "t4")) {
		t.Fatalf("LoadDir with a refused CREATE TABLE = %v; want an error naming the schema file", err)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'par' AND TABLE_NAME = 't4'"); n != 0 {
		t.Errorf("par.t4 exists after its CREATE TABLE failed")
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM dm_meta.par_bad_loader_checkpoint WHERE filename = ?", dumpfile.DataName("par", "t4", 0, 0)); n != 0 {
		t.Errorf("the data file of the failed table has a checkpoint row: it was started")
	}
}
