package tracker

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pingcap/tidb/pkg/parser/mysql"
)

// broadTable covers every column type and attribute the tracker models.
const broadTable = "CREATE TABLE db.broad (" +
	"id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT 'row id', " +
	"ti TINYINT(1) NOT NULL DEFAULT 0, si SMALLINT DEFAULT -5, mi MEDIUMINT UNSIGNED ZEROFILL, i INT(11), " +
	"d DECIMAL, d2 DECIMAL(20,6) UNSIGNED DEFAULT 1.5, f FLOAT, f2 FLOAT(7,3), db DOUBLE, bt BIT(5) DEFAULT b'101', " +
	"c CHAR(4) BINARY, vc VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT 'a\\\\b''c', " +
	"vc2 VARCHAR(10) COLLATE utf8mb4_general_ci, bin BINARY(16), vb VARBINARY(64), " +
	"tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, " +
	"tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, " +
	"e ENUM('a','b''q','c') NOT NULL DEFAULT 'b''q', s SET('x','y') CHARACTER SET latin1, " +
	"dt DATE, dtm DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), ts TIMESTAMP NULL, tm TIME(6), y YEAR, " +
	"j JSON, u VARCHAR(36) DEFAULT (UUID()), " +
	"g1 INT AS (si + 1) VIRTUAL, g2 VARCHAR(20) GENERATED ALWAYS AS (CONCAT(c, '-')) STORED NOT NULL, " +
	"PRIMARY KEY (id), UNIQUE KEY uk (c, vc(10)), KEY k1 (i), KEY k2 (vc2, i), FULLTEXT KEY ft (tx), INDEX fx ((i + 1))" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='broad'"

func TestCreateSQLRoundTrip(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, broadTable)
	orig := mustTable(t, tr, "db", "broad")

	sql := orig.CreateSQL()
	if err := tr.SetTable("db", "copy", sql); err != nil {
		t.Fatalf("SetTable(CreateSQL()):\n%s\n%v", sql, err)
	}
	got := mustTable(t, tr, "db", "copy")
	want := orig.Clone()
	want.Name = "copy"
	if diff := cmp.Diff(want, got, fieldTypeEqual); diff != "" {
		t.Errorf("CreateSQL round trip (-want +got):\n%s\nSQL:\n%s", diff, sql)
	}
	if again := got.CreateSQL(); again != strings.Replace(sql, "`broad`", "`copy`", 1) {
		t.Errorf("CreateSQL is not stable:\n%s\n%s", sql, again)
	}

	// Spot checks of what the syncer reads.
	col := func(name string) *Column { return &got.Columns[got.FindColumn(name)] }
	checks := []struct {
		name string
		ok   bool
	}{
		{"id unsigned", mysql.HasUnsignedFlag(col("id").Type.GetFlag())},
		{"id not null flag", mysql.HasNotNullFlag(col("id").Type.GetFlag())},
		{"id auto increment", col("id").AutoIncrement && mysql.HasAutoIncrementFlag(col("id").Type.GetFlag())},
		{"id primary key flag", mysql.HasPriKeyFlag(col("id").Type.GetFlag())},
		{"d is DECIMAL(10,0)", col("d").Type.GetFlen() == 10 && col("d").Type.GetDecimal() == 0},
		{"d2 is DECIMAL(20,6)", col("d2").Type.GetFlen() == 20 && col("d2").Type.GetDecimal() == 6},
		{"bin is binary", col("bin").IsBinary() && col("vb").IsBinary() && col("bl").IsBinary()},
		{"c BINARY is a _bin collation, not binary", !col("c").IsBinary() && col("c").Type.GetCollate() == "utf8mb4_bin"},
		{"tx inherits the table charset", col("tx").Type.GetCharset() == "utf8mb4" && col("tx").Type.GetCollate() == "utf8mb4_unicode_ci"},
		{"vc2 charset from its collation", col("vc2").Type.GetCharset() == "utf8mb4" && col("vc2").Type.GetCollate() == "utf8mb4_general_ci"},
		{"lt charset", col("lt").Type.GetCharset() == "utf8mb4" && col("lt").Type.GetCollate() == "utf8mb4_bin"},
		{"vc default", col("vc").Default != nil && *col("vc").Default == `'a\\b''c'`},
		{"enum elems", slices.Equal(col("e").Type.GetElems(), []string{"a", "b'q", "c"})},
		{"set charset", col("s").Type.GetCharset() == "latin1"},
		{"generated", col("g1").Generated && !col("g1").Stored && col("g2").Generated && col("g2").Stored},
		{"timestamp nullable", col("ts").Nullable},
		{"uuid default", col("u").Default != nil && *col("u").Default == "(UUID())"},
		{"comment", col("id").Comment == "row id"},
		{"table charset", got.Charset == "utf8mb4" && got.Collate == "utf8mb4_unicode_ci"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: false", c.name)
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name             string
		ddl              string
		pk               string // "" = none
		unique           []string
		handle           []string
		describeContains string
	}{
		{
			name:   "primary key",
			ddl:    "CREATE TABLE t (a INT, b INT NOT NULL, c INT, PRIMARY KEY (c, a), UNIQUE KEY ub (b))",
			pk:     "PRIMARY",
			unique: []string{"PRIMARY", "ub"},
			handle: []string{"c", "a"},
		},
		{
			name:   "first not-null unique key",
			ddl:    "CREATE TABLE t (a INT, b INT NOT NULL, c INT NOT NULL, UNIQUE KEY ua (a), UNIQUE KEY ucb (c, b), UNIQUE KEY ub (b))",
			unique: []string{"ucb", "ub", "ua"},
			handle: []string{"c", "b"},
		},
		{
			name:   "only nullable unique keys",
			ddl:    "CREATE TABLE t (a INT, b INT AS (a + 1), c TEXT, UNIQUE KEY ua (a))",
			unique: []string{"ua"},
			handle: []string{"a", "c"},
		},
		{
			name:   "functional unique key is not a handle",
			ddl:    "CREATE TABLE t (a INT NOT NULL, UNIQUE KEY fa ((a + 1)))",
			handle: []string{"a"},
		},
		{
			name:             "server key order",
			ddl:              "CREATE TABLE t (a INT, b INT NOT NULL, c VARCHAR(9) NOT NULL, d TEXT, FULLTEXT KEY fd (d), KEY ka (a), UNIQUE KEY ua (a), UNIQUE KEY uc (c(3)), UNIQUE KEY ub (b), PRIMARY KEY (c))",
			pk:               "PRIMARY",
			unique:           []string{"PRIMARY", "ub", "uc", "ua"},
			handle:           []string{"c"},
			describeContains: "PRIMARY PRIMARY(c), UNIQUE ub(b), UNIQUE uc(c(3)), UNIQUE ua(a), KEY ka(a), FULLTEXT fd(d)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(false)
			mustExec(t, tr, tc.ddl)
			tbl := mustTable(t, tr, "db", "t")
			pk := tbl.PrimaryKey()
			switch {
			case tc.pk == "" && pk != nil:
				t.Errorf("PrimaryKey() = %s, want none", pk.Name)
			case tc.pk != "" && (pk == nil || pk.Name != tc.pk):
				t.Errorf("PrimaryKey() = %v, want %s", pk, tc.pk)
			}
			var unique []string
			for _, ix := range tbl.UniqueKeys() {
				unique = append(unique, ix.Name)
			}
			if !slices.Equal(unique, tc.unique) {
				t.Errorf("UniqueKeys() = %v, want %v", unique, tc.unique)
			}
			var handle []string
			for _, c := range tbl.HandleKey() {
				handle = append(handle, tbl.Columns[c].Name)
			}
			if !slices.Equal(handle, tc.handle) {
				t.Errorf("HandleKey() = %v, want %v", handle, tc.handle)
			}
			if !strings.Contains(describe(tbl), tc.describeContains) {
				t.Errorf("describe = %s, want it to contain %s", describe(tbl), tc.describeContains)
			}
		})
	}
}

func TestSnapshotRestore(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, "CREATE DATABASE db CHARACTER SET latin1", broadTable,
		"CREATE TABLE db.Mixed (A INT PRIMARY KEY)", "CREATE TABLE other.t (x VARCHAR(3))", "CREATE DATABASE empty")
	data, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got := New(false)
	mustExec(t, got, "CREATE TABLE stale.t (a INT)")
	if err := got.Restore(data); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if diff := cmp.Diff(tr.Schemas(), got.Schemas()); diff != "" {
		t.Errorf("Schemas (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(tr.Tables(), got.Tables()); diff != "" {
		t.Errorf("Tables (-want +got):\n%s", diff)
	}
	for _, n := range tr.Tables() {
		want := mustTable(t, tr, n.Schema, n.Table)
		have := mustTable(t, got, strings.ToUpper(n.Schema), strings.ToUpper(n.Table))
		if diff := cmp.Diff(want, have, fieldTypeEqual); diff != "" {
			t.Errorf("%v (-want +got):\n%s", n, diff)
		}
	}
	// The restored tracker keeps working the same way: schema defaults
	// and implicit schemas survive.
	for _, tk := range []*Tracker{tr, got} {
		mustExec(t, tk, "CREATE TABLE db.n (v VARCHAR(2))", "CREATE DATABASE other")
	}
	if a, b := describe(mustTable(t, tr, "db", "n")), describe(mustTable(t, got, "db", "n")); a != b || !strings.Contains(a, "latin1") {
		t.Errorf("after restore: %s vs %s", a, b)
	}
	again, err := got.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := tr.Snapshot()
	if string(again) != string(orig) {
		t.Errorf("snapshots differ after the same DDL:\n%s\n%s", orig, again)
	}

	for _, bad := range []string{`{`, `{"Version":99}`, `{"Version":1,"Schemas":[{"Name":"a","Tables":[{"Name":"t","Columns":[{"Name":"a","Type":{"Tp":3}}],"Indexes":[{"Name":"i","Columns":[5]}]}]}]}`} {
		if err := got.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%s) succeeded", bad)
		}
	}
	if diff := cmp.Diff(tr.Tables(), got.Tables()); diff != "" {
		t.Errorf("a failed Restore changed the state (-want +got):\n%s", diff)
	}
}

func TestSetTable(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, "CREATE TABLE t (a INT)")
	// A dump schema file: executable comments, then the table.
	dump := "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\nCREATE TABLE `whatever` (\n  `a` bigint(20) NOT NULL,\n  `b` varchar(3) DEFAULT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n"
	if err := tr.SetTable("db", "T", dump); err != nil {
		t.Fatal(err)
	}
	tbl := mustTable(t, tr, "db", "t")
	if got, want := describe(tbl), "a BIGINT(20) NOT NULL, b VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci | PRIMARY PRIMARY(a)"; got != want {
		t.Errorf("SetTable replaced with %s, want %s", got, want)
	}
	if tbl.Name != "T" || tbl.Schema != "db" {
		t.Errorf("name = %s.%s, want db.T", tbl.Schema, tbl.Name)
	}
	if err := tr.SetTable("new", "x", "CREATE TABLE x (a INT)"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tr.Schemas(), "new") {
		t.Errorf("SetTable did not create the schema: %v", tr.Schemas())
	}

	for _, bad := range []struct{ sql, want string }{
		{"CREATE TABLE a (x INT); CREATE TABLE b (y INT)", "more than one"},
		{"SET NAMES utf8", "no CREATE TABLE"},
		{"CREATE TABLE a LIKE b", "LIKE"},
		{"DROP TABLE a", "pass exactly one CREATE TABLE"},
		{"CREATE TABLE (", "cannot parse"},
	} {
		err := tr.SetTable("db", "t", bad.sql)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("SetTable(%q) = %v, want an error containing %q", bad.sql, err, bad.want)
		}
	}
	if got := describe(mustTable(t, tr, "db", "t")); !strings.HasPrefix(got, "a BIGINT(20)") {
		t.Errorf("a failed SetTable changed the table: %s", got)
	}
	if err := tr.SetTable("db", "t", "CREATE TABLE t (x INT) PARTITION BY HASH(x) PARTITIONS 2"); err != nil {
		t.Errorf("partitioned table: %v", err)
	}
}

func TestParseTable(t *testing.T) {
	tbl, err := ParseTable("tgt", "t1", "CREATE TABLE `x` (`a` int NOT NULL, `b` text, UNIQUE KEY `ua` (`a`)) DEFAULT CHARSET=latin1")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Schema != "tgt" || tbl.Name != "t1" {
		t.Errorf("name = %s.%s", tbl.Schema, tbl.Name)
	}
	if got, want := describe(tbl), "a INT NOT NULL, b TEXT CHARACTER SET latin1 | UNIQUE ua(a)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := ParseTable("a", "b", "nonsense"); !errors.Is(err, ErrParse) {
		t.Errorf("ParseTable(nonsense) = %v, want ErrParse", err)
	}
}

func TestClone(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, broadTable)
	orig := mustTable(t, tr, "db", "broad")
	want := describe(orig)
	c := orig.Clone()
	c.Columns[0].Type.SetFlen(99)
	*c.Columns[1].Default = "7"
	c.Indexes[0].Columns[0] = 3
	c.Indexes[1].Lengths[1] = 1
	c.Indexes[c.FindIndex("fx")].Exprs[0] = "x"
	if got := describe(orig); got != want {
		t.Errorf("modifying a clone changed the original:\n%s\n%s", got, want)
	}
}
