package filter

import (
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

func parseOne(t *testing.T, sql string) ast.StmtNode {
	t.Helper()
	stmt, err := parser.New().ParseOneStmt(sql, "", "")
	if err != nil {
		t.Fatalf("parse %q: %v", sql, err)
	}
	return stmt
}

func TestClassifyDDL(t *testing.T) {
	tests := []struct {
		sql  string
		want EventType
	}{
		{"CREATE DATABASE d", CreateDatabase},
		{"CREATE SCHEMA IF NOT EXISTS d", CreateDatabase},
		{"DROP DATABASE d", DropDatabase},
		{"DROP SCHEMA IF EXISTS d", DropDatabase},
		{"ALTER DATABASE d ENCRYPTION = 'Y'", AlterDatabase},
		{"ALTER DATABASE d CHARACTER SET utf8mb4", ModifySchemaCharsetAndCollate},
		{"CREATE TABLE t (a INT)", CreateTable},
		{"CREATE TABLE t2 LIKE t", CreateTable},
		{"DROP TABLE t", DropTable},
		{"DROP TABLE IF EXISTS t1, t2", DropTable},
		{"DROP VIEW v", DropView},
		{"CREATE VIEW v AS SELECT 1", CreateView},
		{"TRUNCATE TABLE t", TruncateTable},
		{"RENAME TABLE a TO b", RenameTable},
		{"CREATE INDEX i ON t (a)", CreateIndex},
		{"CREATE UNIQUE INDEX i ON t (a)", CreateIndex},
		{"DROP INDEX i ON t", DropIndex},

		// ALTER TABLE: DM's kinds.
		{"ALTER TABLE t RENAME COLUMN a TO b", RenameColumn},
		{"ALTER TABLE t RENAME INDEX a TO b", RenameIndex},
		{"ALTER TABLE t RENAME TO u", RenameTable},
		{"ALTER TABLE t DROP COLUMN a", DropColumn},
		{"ALTER TABLE t DROP a", DropColumn},
		{"ALTER TABLE t DROP INDEX i", DropIndex},
		{"ALTER TABLE t DROP PRIMARY KEY", DropPrimaryKey},
		{"ALTER TABLE t DROP PARTITION p0", DropTablePartition},
		{"ALTER TABLE t TRUNCATE PARTITION p0", TruncateTablePartition},
		{"ALTER TABLE t ALTER COLUMN a DROP DEFAULT", ModifyDefaultValue},
		{"ALTER TABLE t ADD INDEX i (a)", ModifyConstraint},
		{"ALTER TABLE t ADD UNIQUE KEY u (a)", ModifyConstraint},
		{"ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", ModifyConstraint},
		{"ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", ModifyCharset},
		{"ALTER TABLE t DEFAULT CHARSET = utf8mb4", ModifyCharset},
		{"ALTER TABLE t COLLATE = utf8mb4_bin", ModifyCollation},
		{"ALTER TABLE t ENGINE = InnoDB", ModifyStorageEngine},
		{"ALTER TABLE t REORGANIZE PARTITION p0 INTO (PARTITION p1 VALUES LESS THAN (10))", ReorganizePartition},
		{"ALTER TABLE t REBUILD PARTITION p0", RebuildPartition},
		{"ALTER TABLE t COALESCE PARTITION 2", CoalescePartition},
		{"ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE u", ExchangePartition},
		// Without column information MODIFY/CHANGE COLUMN is DM's fallback.
		{"ALTER TABLE t MODIFY COLUMN a BIGINT", AlterTable},
		{"ALTER TABLE t CHANGE a b INT", AlterTable},
		{"ALTER TABLE t FORCE", AlterTable},

		// dmkit refinements of what DM calls "alter table" / "modify constraint".
		{"ALTER TABLE t ADD COLUMN a INT", AddColumn},
		{"ALTER TABLE t ADD COLUMN (a INT, b INT)", AddColumn},
		{"ALTER TABLE t ADD PRIMARY KEY (a)", AddPrimaryKey},
		{"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (a)", AddForeignKey},
		{"ALTER TABLE t DROP FOREIGN KEY fk", DropForeignKey},
		{"ALTER TABLE t ADD PARTITION (PARTITION p9 VALUES LESS THAN (100))", AddTablePartition},
		{"ALTER TABLE t AUTO_INCREMENT = 100", RebaseAutoID},
		{"ALTER TABLE t COMMENT = 'x'", ModifyTableComment},
		{"ALTER TABLE t ALTER INDEX i INVISIBLE", AlterIndexVisibility},
		{"ALTER TABLE t PARTITION BY HASH(a) PARTITIONS 4", AlterTablePartitioning},
		{"ALTER TABLE t REMOVE PARTITIONING", RemovePartitioning},
		{"ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", SetDefaultValue},

		// Several specs: the first spec DM recognises decides, refinements come after.
		{"ALTER TABLE t ADD COLUMN a INT, DROP COLUMN b", DropColumn},
		{"ALTER TABLE t ADD COLUMN a INT, ADD INDEX i (a)", ModifyConstraint},
		{"ALTER TABLE t ADD (a INT, INDEX i (a))", ModifyConstraint},
		{"ALTER TABLE t COMMENT = 'x', ADD COLUMN a INT", ModifyTableComment},
		{"ALTER TABLE t ALGORITHM = INPLACE, LOCK = NONE, DROP COLUMN a", DropColumn},
		{"ALTER TABLE t ENGINE = InnoDB, DROP COLUMN a", ModifyStorageEngine},

		// Not DDL the filter knows.
		{"CREATE USER u", NullEvent},
		{"FLUSH TABLES", NullEvent},
		{"INSERT INTO t VALUES (1)", NullEvent},
	}
	for _, tt := range tests {
		if got := ClassifyDDL(parseOne(t, tt.sql)); got != tt.want {
			t.Errorf("ClassifyDDL(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

// columnsOf returns a lookup over the columns of a CREATE TABLE statement,
// as the syncer builds it from its schema tracker.
func columnsOf(t *testing.T, createTable string) ColumnLookup {
	t.Helper()
	ct, ok := parseOne(t, createTable).(*ast.CreateTableStmt)
	if !ok {
		t.Fatalf("%q is not CREATE TABLE", createTable)
	}
	cols := map[string]Column{}
	for _, def := range ct.Cols {
		cols[def.Name.Name.L] = ColumnFromDef(def)
	}
	return func(name string) (Column, bool) {
		c, ok := cols[strings.ToLower(name)]
		return c, ok
	}
}

func TestClassifyModifyColumn(t *testing.T) {
	lookup := columnsOf(t, `CREATE TABLE t (
		id INT AUTO_INCREMENT PRIMARY KEY,
		i INT,
		u INT UNSIGNED,
		b BIGINT,
		d DECIMAL(10,2),
		vc VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
		ch CHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
		bin BINARY(8),
		e ENUM('a','b'),
		df INT DEFAULT 5,
		txt TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
		dt DATETIME
	)`)
	tests := []struct {
		sql  string
		want EventType
	}{
		{"ALTER TABLE t MODIFY i BIGINT", AlterTable},      // widening
		{"ALTER TABLE t MODIFY i INT(11)", AlterTable},     // same
		{"ALTER TABLE t MODIFY b INT", ValueRangeDecrease}, // narrowing
		{"ALTER TABLE t MODIFY i INT UNSIGNED", PrecisionDecrease},
		{"ALTER TABLE t MODIFY u INT", PrecisionDecrease},
		{"ALTER TABLE t MODIFY d DECIMAL(12,2)", PrecisionDecrease},
		{"ALTER TABLE t MODIFY d DECIMAL(10,2)", AlterTable},
		{"ALTER TABLE t MODIFY vc VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", ValueRangeDecrease},
		{"ALTER TABLE t MODIFY vc VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", AlterTable},
		{"ALTER TABLE t MODIFY vc VARCHAR(40)", AlterTable}, // charset unnamed: kept
		{"ALTER TABLE t MODIFY vc CHAR(20)", ModifyColumn},
		{"ALTER TABLE t MODIFY ch VARCHAR(20)", ModifyColumn},
		{"ALTER TABLE t MODIFY txt VARCHAR(10)", ModifyColumn},
		{"ALTER TABLE t MODIFY txt MEDIUMTEXT", AlterTable},
		{"ALTER TABLE t MODIFY bin BINARY(16)", PrecisionDecrease},
		{"ALTER TABLE t MODIFY e ENUM('a','b','c')", AlterTable},
		{"ALTER TABLE t MODIFY e ENUM('b','a')", ValueRangeDecrease},
		{"ALTER TABLE t MODIFY i VARCHAR(10)", ModifyColumn},
		{"ALTER TABLE t MODIFY dt DATE", ModifyColumn},
		{"ALTER TABLE t MODIFY id INT", RemoveAutoIncrement},
		{"ALTER TABLE t MODIFY id INT AUTO_INCREMENT", AlterTable}, // PRIMARY KEY is kept by MySQL
		{"ALTER TABLE t MODIFY df INT", ModifyDefaultValue},
		{"ALTER TABLE t MODIFY df INT DEFAULT 6", ModifyDefaultValue},
		{"ALTER TABLE t MODIFY df INT DEFAULT 5", AlterTable},
		{"ALTER TABLE t MODIFY i INT DEFAULT NULL", AlterTable},
		{"ALTER TABLE t MODIFY vc VARCHAR(20) CHARACTER SET latin1", ModifyCharset},
		{"ALTER TABLE t MODIFY vc VARCHAR(20) COLLATE utf8mb4_bin", ModifyCollation},
		{"ALTER TABLE t MODIFY i INT FIRST", ModifyColumnsOrder},
		{"ALTER TABLE t MODIFY i INT AFTER b", ModifyColumnsOrder},
		{"ALTER TABLE t CHANGE i j INT", RenameColumn},
		{"ALTER TABLE t CHANGE I i INT", AlterTable},
		{"ALTER TABLE t CHANGE b j INT", ValueRangeDecrease}, // type change wins
		{"ALTER TABLE t MODIFY nosuch INT", AlterTable},
		{"ALTER TABLE t MODIFY b INT, DROP COLUMN i", ValueRangeDecrease},
	}
	for _, tt := range tests {
		if got := ClassifyDDLWithColumns(parseOne(t, tt.sql), lookup); got != tt.want {
			t.Errorf("ClassifyDDLWithColumns(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

// TestClassifyThenFilter checks the path the syncer takes: parse, classify,
// filter, for the rule shapes of the OpenAPI tests.
func TestClassifyThenFilter(t *testing.T) {
	f, err := NewEventFilter([]EventRule{
		{SchemaPattern: "openapi", TablePattern: "*", Events: []EventType{"alter table"}, Action: Ignore},
		{SchemaPattern: "keep", Events: []EventType{"drop column", "create index"}, Action: Ignore},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema, table, sql string
		want               Action
	}{
		{"openapi", "t", "alter table openapi.t add column aaa int", Ignore},
		{"openapi", "t", "alter table openapi.t comment = 'x'", Ignore},
		{"openapi", "t", "alter table openapi.t drop column aaa", Do}, // DM: "drop column" is its own kind
		{"keep", "t", "ALTER TABLE keep.t DROP COLUMN c", Ignore},
		{"keep", "t", "CREATE INDEX i ON keep.t (c)", Ignore},
		{"keep", "t", "ALTER TABLE keep.t ADD INDEX i (c)", Do}, // DM: "modify constraint"
	}
	for _, tt := range tests {
		got, err := f.Filter(tt.schema, tt.table, ClassifyDDL(parseOne(t, tt.sql)), tt.sql)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%q on %s.%s = %s, want %s", tt.sql, tt.schema, tt.table, got, tt.want)
		}
	}
}
