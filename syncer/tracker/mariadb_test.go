package tracker

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// mariadbScript is run, statement by statement with current database db,
// both on a real server and on the tracker.
var mariadbScript = []string{
	"CREATE DATABASE db2",
	"CREATE TABLE t1 (id INT NOT NULL, a INT, b VARCHAR(10), c INT, d DECIMAL(12,3) UNSIGNED, e ENUM('x','y','z') NOT NULL DEFAULT 'y', " +
		"PRIMARY KEY (id), KEY ia (a), KEY iab (a, b(3)), UNIQUE KEY uc (c))",
	"ALTER TABLE t1 ADD COLUMN f INT FIRST, ADD g BIGINT UNSIGNED AFTER a, ADD COLUMN h TEXT CHARACTER SET latin1",
	"ALTER TABLE t1 DROP COLUMN a",
	"ALTER TABLE t1 MODIFY COLUMN b VARCHAR(20) NOT NULL FIRST, CHANGE c c2 SMALLINT AFTER h",
	"ALTER TABLE t1 ADD INDEX (g), ADD INDEX (g), ADD UNIQUE (b), ADD FULLTEXT (h)",
	"ALTER TABLE t1 RENAME COLUMN g TO g2, RENAME INDEX g TO gi",
	"ALTER TABLE t1 DROP PRIMARY KEY, ADD PRIMARY KEY (b, id)",
	"ALTER TABLE t1 ADD COLUMN x INT, ADD INDEX ix (x, d), DROP COLUMN f",
	"ALTER TABLE t1 DROP COLUMN x, DROP INDEX ix",
	"ALTER TABLE t1 ALTER COLUMN c2 SET DEFAULT 5, ALTER COLUMN e DROP DEFAULT, ADD COLUMN k INT AFTER b, ADD INDEX (k)",
	"ALTER TABLE t1 DROP COLUMN k",
	"ALTER TABLE t1 ADD COLUMN vl VARCHAR(200) CHARACTER SET latin1, ADD COLUMN tt TINYTEXT CHARACTER SET latin1, ADD COLUMN vb VARBINARY(10)",
	"ALTER TABLE t1 CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
	"ALTER TABLE t1 DEFAULT CHARSET = latin1, ADD COLUMN l VARCHAR(5), ENGINE = InnoDB, COMMENT 'x'",
	"CREATE TABLE t2 (a INT AUTO_INCREMENT PRIMARY KEY, x INT, b INT AS (x * 2) VIRTUAL, c VARCHAR(5) AS (CONCAT('x', x)) STORED, " +
		"d CHAR(3) BINARY, e SET('p','q') CHARACTER SET latin1, f DATETIME(3), g TIMESTAMP(6) NULL, h YEAR, i BIT(3), j FLOAT, " +
		"k DOUBLE, l BLOB, m VARBINARY(9), n TINYINT(1), o MEDIUMINT UNSIGNED ZEROFILL, p TIME(2), q DATE, r LONGTEXT, " +
		"s VARCHAR(3) COLLATE latin1_bin DEFAULT 'a''b', dt DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), " +
		"dd DECIMAL DEFAULT 2, u INT DEFAULT -1, v DOUBLE DEFAULT 1.5, UNIQUE KEY (c), KEY (d, e))",
	"CREATE TABLE t3 LIKE t2",
	"RENAME TABLE t3 TO t4, t2 TO t3, t4 TO t2",
	"CREATE INDEX ci ON t3 (f, g)",
	"DROP INDEX ci ON t3",
	"CREATE UNIQUE INDEX cu ON t3 (q, h)",
	"ALTER TABLE t3 RENAME TO db2.t5",
	"CREATE TABLE t6 (a INT, b INT NOT NULL, c INT NOT NULL, d VARCHAR(100) NOT NULL, UNIQUE KEY ua (a), UNIQUE KEY ud (d(10)), " +
		"UNIQUE KEY ub (b), KEY k (c), FULLTEXT KEY fd (d), UNIQUE KEY uc (c))",
	"ALTER TABLE t6 ADD PRIMARY KEY (c), ADD COLUMN z INT NOT NULL DEFAULT 0 FIRST, ADD UNIQUE KEY uz (z)",
	"CREATE OR REPLACE TABLE t7 (a INT)",
	"CREATE OR REPLACE TABLE t7 (a INT, c INT)",
	"ALTER TABLE t7 ADD COLUMN IF NOT EXISTS a INT, ADD COLUMN IF NOT EXISTS b INT",
	"ALTER TABLE t7 DROP COLUMN IF EXISTS zz, ADD INDEX IF NOT EXISTS (b), ADD INDEX IF NOT EXISTS b (a), DROP INDEX IF EXISTS nope",
	"TRUNCATE TABLE t7",
	"CREATE TABLE t8 (a INT, b INT)",
	"DROP TABLE IF EXISTS t8, nope",
	"CREATE TABLE db2.t9 (a INT NOT NULL, b VARCHAR(3) CHARACTER SET latin1, PRIMARY KEY (a))",
	"ALTER TABLE db2.t9 CHANGE COLUMN a a BIGINT NOT NULL AFTER b",
	"CREATE TABLE t10 (a INT, b INT, c INT, d INT, KEY kbc (b, c))",
	"ALTER TABLE t10 MODIFY b INT AFTER d, CHANGE c c3 INT FIRST, DROP COLUMN IF EXISTS a, ADD COLUMN e INT AFTER c3",
	"ALTER TABLE t10 ADD COLUMN (f INT, g INT), ADD UNIQUE KEY (g, f), DROP INDEX kbc, ADD INDEX kbc (b)",
	"CREATE TABLE p (id INT PRIMARY KEY)",
	"CREATE TABLE c (a INT, b INT, e INT, f INT, KEY ke (e, f), FOREIGN KEY (a) REFERENCES p (id), CONSTRAINT fkb FOREIGN KEY (b) REFERENCES p (id), " +
		"FOREIGN KEY (e) REFERENCES p (id), FOREIGN KEY (f) REFERENCES p (id))",
	"ALTER TABLE c ADD COLUMN g INT, ADD FOREIGN KEY fkg_idx (g) REFERENCES p (id), ADD COLUMN h INT, ADD KEY h (h), ADD FOREIGN KEY (h) REFERENCES p (id)",
	"ALTER TABLE c DROP FOREIGN KEY fkb",
}

// TestAgainstMariaDB runs the same DDL on a real server and on the tracker
// and compares the tracked columns and keys with information_schema, then
// checks that SHOW CREATE TABLE read back with SetTable gives the same.
func TestAgainstMariaDB(t *testing.T) {
	srv, err := mysqltest.Start(mysqltest.Options{Name: "tracker", SkipLogBin: true})
	if err != nil {
		t.Fatalf("%v (install MariaDB: scripts/install-deps)", err)
	}
	t.Cleanup(func() { srv.Stop() })
	srv.Exec(t, "CREATE DATABASE db CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	db, err := srv.Open("db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	tr := New(false)
	mustExec(t, tr, "CREATE DATABASE db CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	for _, ddl := range mariadbScript {
		if _, err := db.ExecContext(t.Context(), ddl); err != nil {
			t.Fatalf("server: %s: %v", ddl, err)
		}
		if _, err := tr.Exec("db", ddl); err != nil && !IsIgnorable(err) {
			t.Fatalf("tracker: %s: %v", ddl, err)
		}
	}

	var serverTables []TableName
	rows, err := db.QueryContext(t.Context(), "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('db','db2') ORDER BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n TableName
		if err := rows.Scan(&n.Schema, &n.Table); err != nil {
			t.Fatal(err)
		}
		serverTables = append(serverTables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if diff := cmp.Diff(serverTables, tr.Tables()); diff != "" {
		t.Fatalf("tables (-server +tracker):\n%s", diff)
	}

	seeded := New(false)
	for _, n := range serverTables {
		want := serverShape(t, db, n)
		tracked := mustTable(t, tr, n.Schema, n.Table)
		if diff := cmp.Diff(want, shape(tracked)); diff != "" {
			t.Errorf("%v tracked from DDL (-server +tracker):\n%s\nCreateSQL:\n%s", n, diff, tracked.CreateSQL())
		}
		var name, create string
		if err := db.QueryRowContext(t.Context(), "SHOW CREATE TABLE "+n.String()).Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		if err := seeded.SetTable(n.Schema, n.Table, create); err != nil {
			t.Errorf("SetTable(SHOW CREATE TABLE %v): %v\n%s", n, err, create)
			continue
		}
		if diff := cmp.Diff(want, shape(mustTable(t, seeded, n.Schema, n.Table))); diff != "" {
			t.Errorf("%v seeded from SHOW CREATE TABLE (-server +tracker):\n%s\n%s", n, diff, create)
		}
		// The tracker's own CREATE TABLE is accepted by the server and
		// gives the same shape.
		copyName := TableName{n.Schema, n.Table + "_copy"}
		cp := tracked.Clone()
		cp.Name = copyName.Table
		if _, err := db.ExecContext(t.Context(), cp.CreateSQL()); err != nil {
			t.Errorf("server rejects CreateSQL of %v: %v\n%s", n, err, cp.CreateSQL())
			continue
		}
		if diff := cmp.Diff(want, serverShape(t, db, copyName)); diff != "" {
			t.Errorf("%v recreated from CreateSQL (-original +copy):\n%s", n, diff)
		}
	}
}

// defaultCollations are MariaDB 10.11's defaults for the charsets used.
var defaultCollations = map[string]string{"utf8mb4": "utf8mb4_general_ci", "latin1": "latin1_swedish_ci"}

// shape projects a table onto what information_schema shows: one line per
// column and per key part, keys in server order.
func shape(t *Table) []string {
	var out []string
	for _, c := range t.Columns {
		ft := c.Type
		line := fmt.Sprintf("col %s %s", c.Name, types.TypeToStr(ft.GetType(), ft.GetCharset()))
		if mysql.HasUnsignedFlag(ft.GetFlag()) {
			line += " unsigned"
		}
		if !c.Nullable {
			line += " not null"
		}
		if hasCharset(ft.GetType()) && !c.IsBinary() {
			co := ft.GetCollate()
			if co == "" {
				co = defaultCollations[ft.GetCharset()]
			}
			line += " " + ft.GetCharset() + "/" + co
		}
		switch ft.GetType() {
		case mysql.TypeNewDecimal:
			line += fmt.Sprintf(" (%d,%d)", ft.GetFlen(), ft.GetDecimal())
		case mysql.TypeVarchar, mysql.TypeString:
			line += fmt.Sprintf(" (%d)", ft.GetFlen())
		case mysql.TypeEnum, mysql.TypeSet:
			line += fmt.Sprintf(" %q", ft.GetElems())
		}
		if c.Generated {
			line += " generated"
		}
		if c.AutoIncrement {
			line += " auto_increment"
		}
		if c.Default != nil {
			line += " default " + strings.ToLower(*c.Default)
		}
		out = append(out, line)
	}
	for _, ix := range t.Indexes {
		kind := "key"
		switch {
		case ix.Primary:
			kind = "primary"
		case ix.Unique:
			kind = "unique"
		case ix.Kind == IndexFulltext:
			kind = "fulltext"
		}
		for i, c := range ix.Columns {
			sub := 0
			if i < len(ix.Lengths) {
				sub = ix.Lengths[i]
			}
			out = append(out, fmt.Sprintf("key %s %s %d %s %d", ix.Name, kind, i+1, t.Columns[c].Name, sub))
		}
	}
	return out
}

// serverShape reads the shape of a table from information_schema in the
// same form as shape.
func serverShape(t *testing.T, db *sql.DB, n TableName) []string {
	t.Helper()
	var out []string
	rows, err := db.QueryContext(t.Context(), `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME,
		NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH, EXTRA, COLUMN_DEFAULT
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, n.Schema, n.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, dataType, colType, nullable, extra string
		var cs, co, def sql.NullString
		var prec, scale, maxLen sql.NullInt64
		if err := rows.Scan(&name, &dataType, &colType, &nullable, &cs, &co, &prec, &scale, &maxLen, &extra, &def); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("col %s %s", name, dataType)
		if strings.Contains(colType, "unsigned") {
			line += " unsigned"
		}
		if nullable == "NO" {
			line += " not null"
		}
		if cs.Valid && cs.String != "binary" && dataType != "blob" && !strings.HasSuffix(dataType, "binary") {
			line += " " + cs.String + "/" + co.String
		}
		switch dataType {
		case "decimal":
			line += fmt.Sprintf(" (%d,%d)", prec.Int64, scale.Int64)
		case "varchar", "char", "varbinary", "binary":
			line += fmt.Sprintf(" (%d)", maxLen.Int64)
		case "enum", "set":
			elems := strings.Split(strings.TrimSuffix(strings.TrimPrefix(colType, dataType+"('"), "')"), "','")
			line += fmt.Sprintf(" %q", elems)
		}
		if strings.Contains(extra, "GENERATED") {
			line += " generated"
		}
		if strings.Contains(extra, "auto_increment") {
			line += " auto_increment"
		}
		if def.Valid && def.String != "NULL" {
			line += " default " + strings.ToLower(def.String)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// SHOW INDEX lists keys in the server's key order.
	krows, err := db.QueryContext(t.Context(), "SHOW INDEX FROM "+n.String())
	if err != nil {
		t.Fatal(err)
	}
	defer krows.Close()
	cols, err := krows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for krows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := krows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		get := func(col string) string {
			for i, c := range cols {
				if c == col {
					return vals[i].String
				}
			}
			t.Fatalf("SHOW INDEX has no %s column", col)
			return ""
		}
		kind := "key"
		switch {
		case get("Key_name") == "PRIMARY":
			kind = "primary"
		case get("Non_unique") == "0":
			kind = "unique"
		case get("Index_type") == "FULLTEXT":
			kind = "fulltext"
		}
		sub := get("Sub_part")
		if sub == "" {
			sub = "0"
		}
		out = append(out, fmt.Sprintf("key %s %s %s %s %s", get("Key_name"), kind, get("Seq_in_index"), get("Column_name"), sub))
	}
	if err := krows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
