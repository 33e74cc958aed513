package dm

import (
	"context"
	"slices"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// targetTables lists the base tables of a target schema.
func targetTables(t *testing.T, schema string) []string {
	t.Helper()
	rows, err := openDB(t, testDst).Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", schema)
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
	slices.Sort(out)
	return out
}

// TestOnlineSchemaChangeTask: enhance_online_schema_change (on by default) keeps gh-ost's
// leftover ghost and trash tables out of the dump, and a gh-ost migration during the sync
// reaches the target as an ALTER of the real table; deleting the task drops its online
// DDL records. With it off, the same tables are ordinary tables and are migrated.
func TestOnlineSchemaChangeTask(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[on]
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			c := newDataCluster(t)
			db := "onl_" + name
			testSrc.Exec(t, "DROP DATABASE IF EXISTS "+db)
			testDst.Exec(t, "DROP DATABASE IF EXISTS "+db)
			testSrc.Exec(t, "CREATE DATABASE "+db)
			testSrc.Exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY, v VARCHAR(20))")
			testSrc.Exec(t, "INSERT INTO "+db+".t SELECT seq, CONCAT('v', seq) FROM "+db+".seq_1_to_500")
			// Left over by an aborted gh-ost run.
			testSrc.Exec(t, "CREATE TABLE "+db+"._t_gho LIKE "+db+".t")
			testSrc.Exec(t, "CREATE TABLE "+db+"._t_ghc (id INT PRIMARY KEY)")
			task := fullTask("onl-"+name, ModeAll, db, "src1")
			task.EnhanceOnlineSchemaChange = &on
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
			waitUnit(t, c, task.Name, UnitSync)
			if !on {
				waitSame(t, db)
				if got := targetTables(t, db); !slices.Equal(got, []string{"_t_ghc", "_t_gho", "t"}) {
					t.Fatalf("target tables %v, want the gh-ost tables migrated as ordinary tables", got)
				}
				return
			}
			if got := targetTables(t, db); !slices.Equal(got, []string{"t"}) {
				t.Fatalf("target tables %v after the dump, want only t", got)
			}
			// A gh-ost migration while syncing.
			for _, q := range []string{
				"DROP TABLE IF EXISTS _t_gho", "DROP TABLE IF EXISTS _t_ghc",
				"CREATE TABLE _t_ghc (id BIGINT AUTO_INCREMENT PRIMARY KEY, hint VARCHAR(64) NOT NULL, value VARCHAR(255), UNIQUE KEY (hint))",
				"CREATE TABLE _t_gho LIKE t", "ALTER TABLE _t_gho ADD COLUMN c2 INT NOT NULL DEFAULT 3",
				"INSERT INTO _t_ghc (hint, value) VALUES ('state', 'migrated')",
				"INSERT INTO t VALUES (1001, 'before copy')",
				"INSERT IGNORE INTO _t_gho (id, v) SELECT id, v FROM t",
				"UPDATE t SET v = 'during' WHERE id = 7", "REPLACE INTO _t_gho (id, v) SELECT id, v FROM t WHERE id = 7",
				"RENAME TABLE t TO _t_del, _t_gho TO t",
				"DROP TABLE IF EXISTS _t_del", "DROP TABLE IF EXISTS _t_ghc",
				"INSERT INTO t (id, v, c2) VALUES (1002, 'after', 9)",
			} {
				testSrc.Exec(t, "USE "+db+"; "+q)
			}
			waitFor(t, "the migrated table on the target", func() bool {
				return mysqltest.CompareTables(context.Background(), openDB(t, testSrc), db, "t", openDB(t, testDst), db, "t") == nil
			})
			waitSame(t, db)
			if got := targetTables(t, db); !slices.Equal(got, []string{"t"}) {
				t.Fatalf("target tables %v, want only t", got)
			}
			mustOK(t, c.DeleteTask(ctx, task.Name, DeleteTaskOptions{Force: true}))
			var n int
			if err := openDB(t, testDst).QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dm_meta' AND TABLE_NAME = ?", task.Name+"_onlineddl").Scan(&n); err != nil || n != 0 {
				t.Fatalf("online DDL table left after delete: %d, %v", n, err)
			}
		})
	}
}
