package loader

import (
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestDisableBinlog loads into a target with a binlog: by default the load moves the
// target's binlog position; with DisableBinlog it does not move at all (rows, schema
// and checkpoints stay out of the binlog), and a user who may not turn the binlog off
// gets a clear error instead of a load that silently logs.
func TestDisableBinlog(t *testing.T) {
	bin, err := mysqltest.Start(mysqltest.Options{Name: "loader-binlog"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bin.Stop() })
	cleanSlate(t, "nobin", "nobin")
	src.Exec(t, "CREATE DATABASE nobin; CREATE TABLE nobin.t (id INT PRIMARY KEY, v VARCHAR(20)); "+
		"INSERT INTO nobin.t SELECT seq, CONCAT('row', seq) FROM mysql.seq_1_to_500")
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, "nobin", "t", dumpOpts{rowsPerStmt: 50, stmtsPerFile: 4})
	db := bin.DB(t)
	position := func() string {
		t.Helper()
		var file, pos, doDB, ignoreDB string
		if err := db.QueryRowContext(t.Context(), "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
			t.Fatal(err)
		}
		return file + ":" + pos
	}

	for _, tt := range []struct {
		name    string
		disable bool
	}{{"binlog on", false}, {"binlog off", true}} {
		t.Run(tt.name, func(t *testing.T) {
			bin.Exec(t, "DROP DATABASE IF EXISTS nobin; DROP DATABASE IF EXISTS dm_meta")
			before := position()
			cfg := testConfig(dir, "nobin")
			cfg.Target = bin.DBConfig()
			cfg.DisableBinlog = tt.disable
			if err := newLoader(t, cfg).LoadDir(t.Context()); err != nil {
				t.Fatal(err)
			}
			after := position()
			if moved := after != before; moved == tt.disable {
				t.Errorf("binlog position %s before the load, %s after; DisableBinlog=%v", before, after, tt.disable)
			}
			if err := mysqltest.CompareTables(t.Context(), openDB(t, src), "nobin", "t", db, "nobin", "t"); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("no privilege", func(t *testing.T) {
		bin.Exec(t, "DROP DATABASE IF EXISTS nobin; DROP DATABASE IF EXISTS dm_meta; DROP USER IF EXISTS 'nopriv'@'%'; "+
			"CREATE USER 'nopriv'@'%' IDENTIFIED BY 'pw'; GRANT ALL ON `nobin`.* TO 'nopriv'@'%'; GRANT ALL ON `dm_meta`.* TO 'nopriv'@'%'")
		cfg := testConfig(dir, "nobin")
		cfg.Target = bin.DBConfig()
		cfg.Target.User, cfg.Target.Password = "nopriv", "pw"
		cfg.DisableBinlog = true
		cfg.MaxRetries = 1
		err := newLoader(t, cfg).LoadDir(t.Context())
		if err == nil || !strings.Contains(err.Error(), "BINLOG ADMIN") {
			t.Errorf("load without the privilege to turn the binlog off: %v; want the target's access-denied error", err)
		}
	})
}
