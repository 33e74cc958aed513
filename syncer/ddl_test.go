package syncer

import (
	"context"
	"testing"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/router"
)

func TestDDL(t *testing.T) {
	const db = "s_ddl"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	dst.Exec(t, "DROP DATABASE IF EXISTS s_ddl2")
	src.Exec(t, "SET sql_log_bin=0; DROP DATABASE IF EXISTS s_ddl2; SET sql_log_bin=1")
	cfg := newTask(t, "ddl", db, "s_ddl2")
	r, stop := startSyncer(t, cfg)
	steps := []string{
		"INSERT INTO t VALUES (1,'a'),(2,'b')",
		"ALTER TABLE t ADD COLUMN n INT DEFAULT 5, ADD COLUMN m VARCHAR(5) AFTER id",
		"INSERT INTO t (id, v, n, m) VALUES (3,'c',7,'mm')",
		"ALTER TABLE t MODIFY v VARCHAR(50) NOT NULL DEFAULT ''",
		"UPDATE t SET v = REPEAT('x', 40) WHERE id = 1",
		"UPDATE t SET n = id",
		"ALTER TABLE t ADD UNIQUE INDEX un (n)",
		"ALTER TABLE t DROP COLUMN m",
		"UPDATE t SET n = 100 WHERE id = 2",
		"CREATE TABLE t2 (a INT AUTO_INCREMENT PRIMARY KEY, b TEXT)",
		"INSERT INTO t2 (b) VALUES ('one'),('two')",
		"RENAME TABLE t2 TO t3",
		"INSERT INTO t3 (b) VALUES ('three')",
		"CREATE TABLE t4 LIKE t3",
		"INSERT INTO t4 SELECT * FROM t3",
		"TRUNCATE TABLE t4",
		"INSERT INTO t4 (b) VALUES ('after truncate')",
		"CREATE TABLE gone1 (x INT)", "CREATE TABLE gone2 (x INT)",
		"DROP TABLE gone1, gone2",
		"CREATE INDEX ib ON t3 (b(10))",
		"DROP INDEX ib ON t3",
		"ALTER TABLE t CHANGE n num BIGINT",
		"INSERT INTO t (id, v, num) VALUES (4, 'd', 9)",
		"CREATE DATABASE s_ddl2",
		"CREATE TABLE s_ddl2.x (id INT PRIMARY KEY)",
		"INSERT INTO s_ddl2.x VALUES (1)",
		"RENAME TABLE t3 TO s_ddl2.t3moved, t4 TO t5",
		"INSERT INTO s_ddl2.t3moved (b) VALUES ('moved')",
		"GRANT SELECT ON s_ddl.* TO 'dmkit'@'%'",
		"FLUSH PRIVILEGES",
	}
	for _, s := range steps {
		src.Exec(t, "USE "+db+"; "+s)
	}
	waitSynced(t, r, db, "s_ddl2")
	src.Exec(t, "DROP DATABASE s_ddl2")
	src.Exec(t, "USE "+db+"; INSERT INTO t5 (b) VALUES ('last')")
	waitSynced(t, r, db)
	if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 's_ddl2'"); n != "0" {
		t.Errorf("DROP DATABASE not replicated")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The table schemas match too.
	for _, tbl := range []string{"t", "t5"} {
		srcCreate, _ := showCreateTable(context.Background(), src.DB(t), db, tbl)
		dstCreate, _ := showCreateTable(context.Background(), dst.DB(t), db, tbl)
		if srcCreate != dstCreate {
			t.Errorf("schema of %s differs:\nsource: %s\ntarget: %s", tbl, srcCreate, dstCreate)
		}
	}
}

func TestFilters(t *testing.T) {
	const db = "s_filter"
	setupSchema(t, db,
		"CREATE TABLE keep (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE noins (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE nodel (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE skipped (id INT PRIMARY KEY)",
	)
	cfg := newTask(t, "filter", db)
	ba, err := filter.NewBAList(filter.Rules{DoDBs: []string{db}, IgnoreTables: []filter.Table{{Schema: db, Name: "skipped"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tables, cfg.WholeSchema = ba.Match, ba.Whole
	cfg.Events, err = filter.NewEventFilter([]filter.EventRule{
		{SchemaPattern: db, TablePattern: "noins", Events: []filter.EventType{filter.InsertEvent}, Action: filter.Ignore},
		{SchemaPattern: db, TablePattern: "nodel", Events: []filter.EventType{filter.DeleteEvent}, Action: filter.Ignore},
		{SchemaPattern: db, SQLPatterns: []string{"^ALTER TABLE `?keep`? ADD COLUMN ignored"}, Action: filter.Ignore},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	r, stop := startSyncer(t, cfg)
	dst.Exec(t, "INSERT INTO "+db+".noins VALUES (1, 0)")
	src.Exec(t, "USE "+db+"; INSERT INTO keep VALUES (1,1); INSERT INTO noins VALUES (1,1); INSERT INTO nodel VALUES (1,1); INSERT INTO skipped VALUES (1)")
	src.Exec(t, "USE "+db+"; UPDATE noins SET v = 2; DELETE FROM nodel; UPDATE keep SET v = 3")
	src.Exec(t, "USE "+db+"; ALTER TABLE keep ADD COLUMN ignored INT; ALTER TABLE keep ADD COLUMN other INT")
	src.Exec(t, "USE "+db+"; ALTER TABLE skipped ADD COLUMN z INT")
	src.Exec(t, "USE "+db+"; INSERT INTO noins VALUES (2, 2)")
	// Rows of keep would now fail on the target (like DM, an ignored ADD COLUMN leaves the
	// target without it), so the marker goes to another table.
	src.Exec(t, "USE "+db+"; INSERT INTO nodel VALUES (2, 2)")
	dstDB := dst.DB(t)
	waitFor(t, r, func() error {
		return equal(queryString(t, dstDB, "SELECT GROUP_CONCAT(id, ':', v ORDER BY id) FROM "+db+".nodel")+"|"+
			queryString(t, dstDB, "SELECT GROUP_CONCAT(id, ':', v ORDER BY id) FROM "+db+".noins"), "1:1,2:2|1:2")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SELECT v FROM " + db + ".keep":  "3",
		"SELECT v FROM " + db + ".nodel": "1", // delete ignored
		"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='" + db + "' AND TABLE_NAME='keep' AND COLUMN_NAME='ignored'": "0",
		"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='" + db + "' AND TABLE_NAME='keep' AND COLUMN_NAME='other'":   "1",
		"SELECT COUNT(*) FROM " + db + ".skipped": "0",
		"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='" + db + "' AND TABLE_NAME='skipped' AND COLUMN_NAME='z'": "0",
	} {
		if got := queryString(t, dstDB, q); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
}

func TestRouteShardMerge(t *testing.T) {
	const db = "s_shard"
	setupSchema(t, db,
		"CREATE TABLE t_1 (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE t_2 (id INT PRIMARY KEY, v VARCHAR(10))",
	)
	dst.Exec(t, "DROP DATABASE IF EXISTS s_merged; CREATE DATABASE s_merged; CREATE TABLE s_merged.t (id INT PRIMARY KEY, v VARCHAR(10))")
	cfg := newTask(t, "shard", db)
	rt, err := router.New([]router.Rule{
		{SchemaPattern: db, TablePattern: "t_*", TargetSchema: "s_merged", TargetTable: "t"},
		{SchemaPattern: db, TargetSchema: "s_merged"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Route, cfg.Shared = rt.Route, rt.Merges
	r, stop := startSyncer(t, cfg)
	src.Exec(t, "USE "+db+"; INSERT INTO t_1 VALUES (1,'a'),(3,'c'); INSERT INTO t_2 VALUES (2,'b'),(4,'d')")
	src.Exec(t, "USE "+db+"; UPDATE t_1 SET v='cc' WHERE id=3; DELETE FROM t_2 WHERE id=4")
	src.Exec(t, "USE "+db+"; ALTER TABLE t_1 ADD COLUMN w INT")
	src.Exec(t, "USE "+db+"; CREATE TABLE other (id INT PRIMARY KEY); INSERT INTO other VALUES (9)")
	dstDB := dst.DB(t)
	waitFor(t, r, func() error {
		return equal(queryString(t, dstDB, "SELECT COALESCE(GROUP_CONCAT(id, v ORDER BY id), '') FROM s_merged.t")+
			"|"+queryString(t, dstDB, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='s_merged' AND TABLE_NAME='t' AND COLUMN_NAME='w'")+
			"|"+queryString(t, dstDB, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='s_merged' AND TABLE_NAME='other'"),
			"1a,2b,3cc|1|1")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
