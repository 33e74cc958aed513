package tracker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// describe renders a table's shape compactly for assertions:
// "col TYPE [NOT NULL] [AI] [GEN ...] [DEFAULT x], ... | KEY name(cols), ...".
func describe(t *Table) string {
	var cols []string
	for _, c := range t.Columns {
		s := c.Name + " " + typeSQL(c.Type)
		if !c.Nullable {
			s += " NOT NULL"
		}
		if c.AutoIncrement {
			s += " AI"
		}
		if c.Generated {
			s += " GEN(" + c.GeneratedExpr + ")"
			if c.Stored {
				s += " STORED"
			}
		}
		if c.Default != nil {
			s += " DEFAULT " + *c.Default
		}
		cols = append(cols, s)
	}
	var keys []string
	for _, ix := range t.Indexes {
		var parts []string
		for i, c := range ix.Columns {
			p := t.Columns[c].Name
			if i < len(ix.Lengths) && ix.Lengths[i] > 0 {
				p += fmt.Sprintf("(%d)", ix.Lengths[i])
			}
			parts = append(parts, p)
		}
		for _, e := range ix.Exprs {
			parts = append(parts, "("+e+")")
		}
		kind := "KEY"
		switch {
		case ix.Primary:
			kind = "PRIMARY"
		case ix.Unique:
			kind = "UNIQUE"
		case ix.Kind == IndexFulltext:
			kind = "FULLTEXT"
		case ix.Kind == IndexSpatial:
			kind = "SPATIAL"
		}
		keys = append(keys, kind+" "+ix.Name+"("+strings.Join(parts, ",")+")")
	}
	s := strings.Join(cols, ", ")
	if len(keys) > 0 {
		s += " | " + strings.Join(keys, ", ")
	}
	return s
}

// mustExec applies statements with current database "db", failing t on
// error.
func mustExec(t *testing.T, tr *Tracker, ddls ...string) {
	t.Helper()
	for _, ddl := range ddls {
		if _, err := tr.Exec("db", ddl); err != nil {
			t.Fatalf("Exec(%q): %v", ddl, err)
		}
	}
}

func mustTable(t *testing.T, tr *Tracker, schema, table string) *Table {
	t.Helper()
	tbl, ok := tr.Table(schema, table)
	if !ok {
		t.Fatalf("table %s.%s is not tracked; tracked: %v", schema, table, tr.Tables())
	}
	return tbl
}

// fieldTypeEqual compares field types including flags.
var fieldTypeEqual = cmp.Comparer(func(a, b *types.FieldType) bool { return a.Equals(b) })

func TestExec(t *testing.T) {
	const base = "CREATE TABLE db.t (id INT NOT NULL, a INT, b VARCHAR(10), c INT, PRIMARY KEY (id), KEY ia (a), KEY iab (a, b(3)), UNIQUE KEY uc (c))"
	tests := []struct {
		name    string
		setup   []string
		ddl     string
		want    map[string]string // "schema.table" → describe; "" = must be absent
		changed []TableName
		noop    bool  // changed must be empty
		err     error // errors.Is target
		ignore  bool  // IsIgnorable(err)
	}{
		{
			name: "create table with inline and table keys",
			ddl: "CREATE TABLE t (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, email VARCHAR(64) NOT NULL UNIQUE, " +
				"name VARCHAR(32), body TEXT, g INT AS (id + 1) STORED, KEY (name), KEY (name), FULLTEXT KEY ft (body), KEY px (name(4), email), INDEX ((id * 2)))",
			want: map[string]string{"db.t": "id BIGINT UNSIGNED NOT NULL AI, email VARCHAR(64) NOT NULL, name VARCHAR(32), body TEXT, g INT GEN(`id`+1) STORED" +
				" | PRIMARY PRIMARY(id), UNIQUE email(email), KEY name(name), KEY name_2(name), KEY px(name(4),email), KEY functional_index((`id`*2)), FULLTEXT ft(body)"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name:    "create table in another schema creates it",
			ddl:     "CREATE TABLE other.x (a INT)",
			want:    map[string]string{"other.x": "a INT"},
			changed: []TableName{{"other", "x"}},
		},
		{
			name:  "create table if not exists is a no-op",
			noop:  true,
			setup: []string{base},
			ddl:   "CREATE TABLE IF NOT EXISTS t (z INT)",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "create existing table fails",
			setup: []string{base},
			ddl:   "CREATE TABLE t (z INT)",
			err:   ErrTableExists,
		},
		{
			name:    "create table like",
			setup:   []string{base},
			ddl:     "CREATE TABLE db2.t2 LIKE db.t",
			want:    map[string]string{"db2.t2": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
			changed: []TableName{{"db2", "t2"}},
		},
		{
			name: "create table like unknown",
			ddl:  "CREATE TABLE t2 LIKE nope",
			err:  ErrTableNotFound,
		},
		{
			name:    "create table select keeps defined columns",
			ddl:     "CREATE TABLE t3 (a INT PRIMARY KEY) SELECT 1 AS a",
			want:    map[string]string{"db.t3": "a INT NOT NULL | PRIMARY PRIMARY(a)"},
			changed: []TableName{{"db", "t3"}},
		},
		{
			name: "create table select without columns",
			ddl:  "CREATE TABLE t3 SELECT 1 AS a",
			err:  ErrUnsupported,
		},
		{
			name:    "create or replace table",
			setup:   []string{base},
			ddl:     "CREATE OR REPLACE TABLE t (z INT)",
			want:    map[string]string{"db.t": "z INT"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name: "temporary tables are ignored",
			noop: true,
			ddl:  "CREATE TEMPORARY TABLE tmp (a INT)",
			want: map[string]string{"db.tmp": ""},
		},
		{
			name:    "drop several tables",
			setup:   []string{base, "CREATE TABLE u (a INT)"},
			ddl:     "DROP TABLE t, db.u",
			want:    map[string]string{"db.t": "", "db.u": ""},
			changed: []TableName{{"db", "t"}, {"db", "u"}},
		},
		{
			name:    "drop table if exists skips missing",
			setup:   []string{base},
			ddl:     "DROP TABLE IF EXISTS nope, t",
			want:    map[string]string{"db.t": ""},
			changed: []TableName{{"db", "t"}},
		},
		{
			name:    "drop missing table drops the others and is ignorable",
			setup:   []string{base},
			ddl:     "DROP TABLE t, nope",
			want:    map[string]string{"db.t": ""},
			changed: []TableName{{"db", "t"}},
			err:     ErrTableNotFound,
			ignore:  true,
		},
		{
			name:  "drop view and temporary table are ignored",
			noop:  true,
			setup: []string{base},
			ddl:   "DROP VIEW t",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:    "rename several tables in order (swap)",
			setup:   []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"},
			ddl:     "RENAME TABLE a TO tmp, b TO a, tmp TO b",
			want:    map[string]string{"db.a": "y INT", "db.b": "x INT", "db.tmp": ""},
			changed: []TableName{{"db", "a"}, {"db", "tmp"}, {"db", "b"}},
		},
		{
			name:    "rename table across schemas",
			setup:   []string{"CREATE TABLE a (x INT)"},
			ddl:     "RENAME TABLE db.a TO db2.a2",
			want:    map[string]string{"db.a": "", "db2.a2": "x INT"},
			changed: []TableName{{"db", "a"}, {"db2", "a2"}},
		},
		{
			name:  "rename onto an existing table fails atomically",
			setup: []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)", "CREATE TABLE c (z INT)"},
			ddl:   "RENAME TABLE a TO d, b TO c",
			want:  map[string]string{"db.a": "x INT", "db.d": ""},
			err:   ErrTableExists,
		},
		{
			name: "rename unknown table",
			ddl:  "RENAME TABLE nope TO x",
			err:  ErrTableNotFound,
		},
		{
			name:    "add columns first, after and last",
			setup:   []string{base},
			ddl:     "ALTER TABLE t ADD COLUMN f INT FIRST, ADD g INT AFTER a, ADD COLUMN h INT, ADD k INT AFTER g",
			want:    map[string]string{"db.t": "f INT, id INT NOT NULL, a INT, g INT, k INT, b VARCHAR(10), c INT, h INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name:  "add several columns in parentheses with a key",
			setup: []string{"CREATE TABLE t (a INT)"},
			ddl:   "ALTER TABLE t ADD COLUMN (x INT NOT NULL, y VARCHAR(3) UNIQUE, INDEX ix (x))",
			want:  map[string]string{"db.t": "a INT, x INT NOT NULL, y VARCHAR(3) | UNIQUE y(y), KEY ix(x)"},
		},
		{
			name:  "add existing column fails; if not exists does not",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD COLUMN IF NOT EXISTS a BIGINT, ADD COLUMN a INT",
			err:   ErrColumnExists,
		},
		{
			name:  "add column if not exists",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD COLUMN IF NOT EXISTS a BIGINT",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "add column after unknown",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD COLUMN z INT AFTER nope",
			err:   ErrColumnNotFound,
		},
		{
			name:  "drop column removes key parts and empty keys",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP COLUMN a",
			want:  map[string]string{"db.t": "id INT NOT NULL, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY iab(b(3))"},
		},
		{
			name:  "drop primary key column",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP id",
			want:  map[string]string{"db.t": "a INT, b VARCHAR(10), c INT | UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:   "drop missing column is ignorable",
			setup:  []string{base},
			ddl:    "ALTER TABLE t DROP COLUMN nope",
			err:    ErrColumnNotFound,
			ignore: true,
		},
		{
			name:  "drop column if exists",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP COLUMN IF EXISTS nope",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "drop the only column",
			setup: []string{"CREATE TABLE t (a INT)"},
			ddl:   "ALTER TABLE t DROP COLUMN a",
			err:   ErrUnsupported,
		},
		{
			name:  "modify column type and position keeps keys",
			setup: []string{base},
			ddl:   "ALTER TABLE t MODIFY COLUMN b VARCHAR(20) NOT NULL DEFAULT 'x' FIRST",
			want:  map[string]string{"db.t": "b VARCHAR(20) NOT NULL DEFAULT 'x', id INT NOT NULL, a INT, c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "modify column after",
			setup: []string{base},
			ddl:   "ALTER TABLE t MODIFY id BIGINT AFTER c",
			want:  map[string]string{"db.t": "a INT, b VARCHAR(10), c INT, id BIGINT NOT NULL | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "modify unknown column",
			setup: []string{base},
			ddl:   "ALTER TABLE t MODIFY nope INT",
			err:   ErrColumnNotFound,
		},
		{
			name:  "change column renames and moves",
			setup: []string{base},
			ddl:   "ALTER TABLE t CHANGE COLUMN a a2 BIGINT UNSIGNED AFTER b",
			want:  map[string]string{"db.t": "id INT NOT NULL, b VARCHAR(10), a2 BIGINT UNSIGNED, c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a2), KEY iab(a2,b(3))"},
		},
		{
			name:  "change column to existing name",
			setup: []string{base},
			ddl:   "ALTER TABLE t CHANGE a b INT",
			err:   ErrColumnExists,
		},
		{
			name:  "change column case only",
			setup: []string{base},
			ddl:   "ALTER TABLE t CHANGE a A INT",
			want:  map[string]string{"db.t": "id INT NOT NULL, A INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(A), KEY iab(A,b(3))"},
		},
		{
			name:  "rename column",
			setup: []string{base},
			ddl:   "ALTER TABLE t RENAME COLUMN c TO cc",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), cc INT | PRIMARY PRIMARY(id), UNIQUE uc(cc), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "alter column set and drop default",
			setup: []string{"CREATE TABLE t (a INT DEFAULT 1, b VARCHAR(3))"},
			ddl:   "ALTER TABLE t ALTER COLUMN a DROP DEFAULT, ALTER b SET DEFAULT 'it''s'",
			want:  map[string]string{"db.t": "a INT, b VARCHAR(3) DEFAULT 'it''s'"},
		},
		{
			name:  "add keys of every kind",
			setup: []string{"CREATE TABLE t (a INT, b INT, c TEXT)"},
			ddl:   "ALTER TABLE t ADD INDEX (a), ADD KEY kb (b), ADD UNIQUE (b), ADD CONSTRAINT cu UNIQUE KEY (a, b), ADD FULLTEXT (c), ADD PRIMARY KEY (a)",
			want:  map[string]string{"db.t": "a INT NOT NULL, b INT, c TEXT | PRIMARY PRIMARY(a), UNIQUE b(b), UNIQUE cu(a,b), KEY a(a), KEY kb(b), FULLTEXT c(c)"},
		},
		{
			name:  "foreign keys get an index unless a key covers them",
			setup: []string{"CREATE TABLE t (a INT, b INT, c INT, KEY kbc (b, c))"},
			ddl:   "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (x), ADD FOREIGN KEY (b) REFERENCES u (x), ADD FOREIGN KEY (c) REFERENCES u (x), ADD FOREIGN KEY (a, b) REFERENCES u (x, y)",
			want:  map[string]string{"db.t": "a INT, b INT, c INT | KEY kbc(b,c), KEY fk(a), KEY c(c), KEY a(a,b)"},
		},
		{
			name:  "foreign key covered by a later key",
			setup: []string{"CREATE TABLE t (a INT)"},
			ddl:   "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (x), ADD INDEX ia (a)",
			want:  map[string]string{"db.t": "a INT | KEY ia(a)"},
		},
		{
			name:  "drop foreign key keeps its index",
			setup: []string{"CREATE TABLE t (a INT, CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (x))"},
			ddl:   "ALTER TABLE t DROP FOREIGN KEY fk",
			want:  map[string]string{"db.t": "a INT | KEY fk(a)"},
		},
		{
			name:  "second primary key",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD PRIMARY KEY (a)",
			err:   ErrIndexExists,
		},
		{
			name:  "duplicate key name",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD INDEX ia (b)",
			err:   ErrIndexExists,
		},
		{
			name:  "add index if not exists",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD INDEX IF NOT EXISTS ia (b)",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "add index on unknown column",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD INDEX (nope)",
			err:   ErrColumnNotFound,
		},
		{
			name:  "drop keys",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP INDEX ia, DROP KEY uc, DROP PRIMARY KEY",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | KEY iab(a,b(3))"},
		},
		{
			name:   "drop missing key is ignorable",
			setup:  []string{base},
			ddl:    "ALTER TABLE t DROP INDEX nope",
			err:    ErrIndexNotFound,
			ignore: true,
		},
		{
			name:   "drop missing primary key is ignorable",
			setup:  []string{"CREATE TABLE t (a INT)"},
			ddl:    "ALTER TABLE t DROP PRIMARY KEY",
			err:    ErrIndexNotFound,
			ignore: true,
		},
		{
			name:  "drop index if exists",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP INDEX IF EXISTS nope",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "drop constraint drops a unique key",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP CONSTRAINT uc, DROP CONSTRAINT some_check",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:  "rename index",
			setup: []string{base},
			ddl:   "ALTER TABLE t RENAME INDEX ia TO ia2, RENAME KEY uc TO uc2",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc2(c), KEY ia2(a), KEY iab(a,b(3))"},
		},
		{
			name:  "rename unknown index",
			setup: []string{base},
			ddl:   "ALTER TABLE t RENAME INDEX nope TO x",
			err:   ErrIndexNotFound,
		},
		{
			name:    "alter rename to another schema",
			setup:   []string{"CREATE TABLE a (x INT)"},
			ddl:     "ALTER TABLE a RENAME TO db3.b, ADD COLUMN y INT",
			want:    map[string]string{"db.a": "", "db3.b": "x INT, y INT"},
			changed: []TableName{{"db", "a"}, {"db3", "b"}},
		},
		{
			name:  "alter rename onto existing table",
			setup: []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (x INT)"},
			ddl:   "ALTER TABLE a RENAME TO b",
			err:   ErrTableExists,
		},
		{
			name:  "multi-spec: add column then key on it",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD INDEX iz (z), ADD COLUMN z INT",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT, z INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3)), KEY iz(z)"},
		},
		{
			name:  "multi-spec: drop column and its key",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP COLUMN a, DROP INDEX ia",
			want:  map[string]string{"db.t": "id INT NOT NULL, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY iab(b(3))"},
		},
		{
			name:  "multi-spec: drop and recreate a key",
			setup: []string{base},
			ddl:   "ALTER TABLE t DROP INDEX ia, ADD INDEX ia (b, a)",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY iab(a,b(3)), KEY ia(b,a)"},
		},
		{
			name:  "multi-spec failure changes nothing",
			setup: []string{base},
			ddl:   "ALTER TABLE t ADD COLUMN z INT, DROP COLUMN a, MODIFY nope INT",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
			err:   ErrColumnNotFound,
		},
		{
			name:    "table options do not change the shape",
			setup:   []string{base},
			ddl:     "ALTER TABLE t ENGINE=InnoDB, COMMENT 'x', AUTO_INCREMENT=100, ALGORITHM=INPLACE, LOCK=NONE, FORCE",
			want:    map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name:  "default charset changes new columns only",
			setup: []string{"CREATE TABLE t (a VARCHAR(3)) DEFAULT CHARSET=latin1"},
			ddl:   "ALTER TABLE t DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin, ADD COLUMN b TEXT",
			want:  map[string]string{"db.t": "a VARCHAR(3) CHARACTER SET latin1, b TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"},
		},
		{
			name:  "convert to charset converts string columns",
			setup: []string{"CREATE TABLE t (a VARCHAR(3), b TEXT, c INT, d VARBINARY(3), e ENUM('x','y'), f VARCHAR(20000)) CHARSET latin1"},
			ddl:   "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
			want: map[string]string{"db.t": "a VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, b MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, c INT, d VARBINARY(3), " +
				"e ENUM('x','y') CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, f MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"},
		},
		{
			name:    "create index and unique index",
			setup:   []string{base},
			ddl:     "CREATE UNIQUE INDEX ub ON t (b(5))",
			want:    map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), UNIQUE ub(b(5)), KEY ia(a), KEY iab(a,b(3))"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name:  "create fulltext index",
			setup: []string{"CREATE TABLE t (a TEXT)"},
			ddl:   "CREATE FULLTEXT INDEX fa ON db.t (a)",
			want:  map[string]string{"db.t": "a TEXT | FULLTEXT fa(a)"},
		},
		{
			name: "create index on unknown table",
			ddl:  "CREATE INDEX i ON nope (a)",
			err:  ErrTableNotFound,
		},
		{
			name:  "drop index on",
			setup: []string{base},
			ddl:   "DROP INDEX iab ON t",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a)"},
		},
		{
			name:  "drop primary index on",
			setup: []string{base},
			ddl:   "DROP INDEX `PRIMARY` ON t",
			want:  map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
		},
		{
			name:    "truncate keeps the shape",
			setup:   []string{base},
			ddl:     "TRUNCATE TABLE t",
			want:    map[string]string{"db.t": "id INT NOT NULL, a INT, b VARCHAR(10), c INT | PRIMARY PRIMARY(id), UNIQUE uc(c), KEY ia(a), KEY iab(a,b(3))"},
			changed: []TableName{{"db", "t"}},
		},
		{
			name: "truncate unknown table",
			ddl:  "TRUNCATE nope",
			err:  ErrTableNotFound,
		},
		{
			name: "alter unknown table",
			ddl:  "ALTER TABLE nope ADD COLUMN a INT",
			err:  ErrTableNotFound,
		},
		{
			name: "unparseable statement",
			ddl:  "ALTER TABLE t FROBNICATE",
			err:  ErrParse,
		},
		{
			name:    "multi-statement text applies in order",
			ddl:     "/*!40101 SET NAMES binary*/; CREATE TABLE m (a INT); ALTER TABLE m ADD b INT",
			want:    map[string]string{"db.m": "a INT, b INT"},
			changed: []TableName{{"db", "m"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(false)
			mustExec(t, tr, tc.setup...)
			changed, err := tr.Exec("db", tc.ddl)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("Exec: %v", err)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("Exec error = %v, want %v", err, tc.err)
			case tc.err != nil && IsIgnorable(err) != tc.ignore:
				t.Fatalf("IsIgnorable(%v) = %v, want %v", err, !tc.ignore, tc.ignore)
			}
			if tc.changed != nil || tc.noop {
				if diff := cmp.Diff(tc.changed, changed); diff != "" {
					t.Errorf("changed tables (-want +got):\n%s", diff)
				}
			}
			for name, want := range tc.want {
				schema, table, _ := strings.Cut(name, ".")
				tbl, ok := tr.Table(schema, table)
				switch {
				case want == "" && ok:
					t.Errorf("%s still tracked: %s", name, describe(tbl))
				case want != "" && !ok:
					t.Errorf("%s not tracked; tracked: %v", name, tr.Tables())
				case ok && describe(tbl) != want:
					t.Errorf("%s:\n got %s\nwant %s", name, describe(tbl), want)
				}
			}
		})
	}
}

func TestSchemas(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, "CREATE DATABASE s1", "CREATE SCHEMA IF NOT EXISTS s1", "CREATE TABLE s2.t (a INT)")

	_, err := tr.Exec("", "CREATE DATABASE s1")
	if !errors.Is(err, ErrSchemaExists) || !IsIgnorable(err) {
		t.Errorf("CREATE DATABASE of an existing schema: %v, want ignorable ErrSchemaExists", err)
	}
	// s2 was created implicitly; its CREATE DATABASE is then not an error.
	mustExec(t, tr, "CREATE DATABASE s2 CHARACTER SET latin1")
	if got, want := tr.Schemas(), []string{"s1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("Schemas() = %v, want %v", got, want)
	}
	mustExec(t, tr, "CREATE TABLE s2.u (a VARCHAR(3))")
	if got := describe(mustTable(t, tr, "s2", "u")); got != "a VARCHAR(3) CHARACTER SET latin1" {
		t.Errorf("charset not inherited from the schema: %s", got)
	}
	mustExec(t, tr, "ALTER DATABASE s2 CHARACTER SET utf8mb4", "CREATE TABLE s2.v (a VARCHAR(3))")
	if got := describe(mustTable(t, tr, "s2", "v")); got != "a VARCHAR(3) CHARACTER SET utf8mb4" {
		t.Errorf("charset not inherited after ALTER DATABASE: %s", got)
	}

	changed, err := tr.Exec("", "DROP DATABASE s2")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(changed, func(a, b TableName) int { return strings.Compare(a.Table, b.Table) })
	if want := []TableName{{"s2", "t"}, {"s2", "u"}, {"s2", "v"}}; !slices.Equal(changed, want) {
		t.Errorf("DROP DATABASE changed %v, want %v", changed, want)
	}
	if got := tr.Tables(); len(got) != 0 {
		t.Errorf("tables left after DROP DATABASE: %v", got)
	}
	if _, err := tr.Exec("", "DROP DATABASE IF EXISTS s2"); err != nil {
		t.Errorf("DROP DATABASE IF EXISTS: %v", err)
	}
	_, err = tr.Exec("", "DROP DATABASE s2")
	if !errors.Is(err, ErrSchemaNotFound) || !IsIgnorable(err) {
		t.Errorf("DROP DATABASE of a missing schema: %v, want ignorable ErrSchemaNotFound", err)
	}
}

func TestIgnoredStatements(t *testing.T) {
	for _, ddl := range []string{
		"CREATE VIEW v AS SELECT 1",
		"DROP VIEW v",
		"CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @a = 1",
		"DROP TRIGGER tr",
		"CREATE PROCEDURE p() BEGIN SELECT 1; END",
		"CREATE FUNCTION f() RETURNS INT RETURN 1",
		"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
		"GRANT SELECT ON *.* TO u",
		"CREATE USER u",
		"FLUSH PRIVILEGES",
		"ANALYZE TABLE t",
		"DROP /*!40005 TEMPORARY */ TABLE IF EXISTS tmp",
		"SAVEPOINT sp",
		"# Dummy event replacing event type 160",
		"INSERT INTO t VALUES (1)",
	} {
		tr := New(false)
		mustExec(t, tr, "CREATE TABLE t (a INT)")
		changed, err := tr.Exec("db", ddl)
		if err != nil {
			t.Errorf("Exec(%q): %v", ddl, err)
			continue
		}
		if got := describe(mustTable(t, tr, "db", "t")); got != "a INT" {
			t.Errorf("Exec(%q) changed the table: %s", ddl, got)
		}
		if changed != nil {
			t.Errorf("Exec(%q) changed %v, want nil", ddl, changed)
		}
	}
}

func TestNoCurrentDatabase(t *testing.T) {
	tr := New(false)
	if _, err := tr.Exec("", "CREATE TABLE t (a INT)"); err == nil || !strings.Contains(err.Error(), "qualify") {
		t.Errorf("unqualified CREATE TABLE without a current database: %v, want an error asking to qualify", err)
	}
}

func TestCaseSensitivity(t *testing.T) {
	t.Run("insensitive", func(t *testing.T) {
		tr := New(false)
		if _, err := tr.Exec("", "CREATE TABLE MyDB.MyTable (ID INT PRIMARY KEY, Name VARCHAR(3))"); err != nil {
			t.Fatal(err)
		}
		tbl := mustTable(t, tr, "mydb", "MYTABLE")
		if tbl.Schema != "MyDB" || tbl.Name != "MyTable" {
			t.Errorf("display names = %s.%s, want MyDB.MyTable", tbl.Schema, tbl.Name)
		}
		if got, want := tr.Tables(), []TableName{{"MyDB", "MyTable"}}; !slices.Equal(got, want) {
			t.Errorf("Tables() = %v, want %v", got, want)
		}
		// Column and key names are case-insensitive too.
		mustExec(t, tr, "ALTER TABLE mydb.mytable MODIFY name VARCHAR(9), ADD INDEX (NAME), DROP INDEX `primary`")
		if got, want := describe(mustTable(t, tr, "MYDB", "mytable")), "ID INT NOT NULL, name VARCHAR(9) | KEY name(name)"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		_, err := tr.Exec("", "CREATE TABLE mydb.MYTABLE (a INT)")
		if !errors.Is(err, ErrTableExists) {
			t.Errorf("creating a table differing in case: %v, want ErrTableExists", err)
		}
		mustExec(t, tr, "RENAME TABLE mydb.mytable TO MYDB.Renamed")
		if got, want := tr.Tables(), []TableName{{"MyDB", "Renamed"}}; !slices.Equal(got, want) {
			t.Errorf("after rename Tables() = %v, want %v", got, want)
		}
		tr.DropTable("MYDB", "RENAMED")
		if got := tr.Tables(); len(got) != 0 {
			t.Errorf("DropTable left %v", got)
		}
	})
	t.Run("sensitive", func(t *testing.T) {
		tr := New(true)
		mustExec(t, tr, "CREATE TABLE T (a INT)", "CREATE TABLE t (b INT)")
		if _, ok := tr.Table("DB", "T"); ok {
			t.Error("schema matched case-insensitively")
		}
		if got := describe(mustTable(t, tr, "db", "T")); got != "a INT" {
			t.Errorf("db.T = %s", got)
		}
		if got := describe(mustTable(t, tr, "db", "t")); got != "b INT" {
			t.Errorf("db.t = %s", got)
		}
	})
}

func TestConcurrentReaders(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, "CREATE TABLE t (a INT)")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if tbl, ok := tr.Table("db", "t"); ok {
					_ = tbl.CreateSQL()
					_ = tbl.HandleKey()
				}
				_ = tr.Tables()
			}
		}()
	}
	for i := range 200 {
		mustExec(t, tr, fmt.Sprintf("ALTER TABLE t ADD COLUMN c%d INT, ADD INDEX (c%d)", i, i))
	}
	close(stop)
	wg.Wait()
	if got := len(mustTable(t, tr, "db", "t").Columns); got != 201 {
		t.Errorf("columns = %d, want 201", got)
	}
}

func TestPublishedTableIsImmutable(t *testing.T) {
	tr := New(false)
	mustExec(t, tr, "CREATE TABLE t (a INT, KEY (a))")
	before := mustTable(t, tr, "db", "t")
	want := describe(before)
	mustExec(t, tr, "ALTER TABLE t ADD COLUMN b INT FIRST, MODIFY a BIGINT NOT NULL, ADD PRIMARY KEY (b)")
	if got := describe(before); got != want {
		t.Errorf("a table returned before an ALTER changed: %s, was %s", got, want)
	}
}
