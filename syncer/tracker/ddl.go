package tracker

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// execLocked applies one statement; t.mu is held for writing.
func (t *Tracker) execLocked(def string, stmt ast.StmtNode) ([]TableName, error) {
	x := t.newTxn(def)
	var err error
	switch s := stmt.(type) {
	case *ast.CreateDatabaseStmt:
		return nil, t.createSchema(s)
	case *ast.DropDatabaseStmt:
		return t.dropSchema(s)
	case *ast.AlterDatabaseStmt:
		t.alterSchema(def, s)
		return nil, nil
	case *ast.CreateTableStmt:
		err = x.createTable(s)
	case *ast.DropTableStmt:
		err = x.dropTables(s)
		// DROP TABLE drops what exists even when some table is missing.
		x.commit()
		return x.changed, err
	case *ast.RenameTableStmt:
		err = x.renameTables(s)
	case *ast.AlterTableStmt:
		err = x.alterTable(s)
	case *ast.CreateIndexStmt:
		err = x.createIndex(s)
	case *ast.DropIndexStmt:
		err = x.dropIndex(s)
	case *ast.TruncateTableStmt:
		err = x.truncate(s)
	default:
		// Views, triggers, grants, DML... do not change table shapes.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	x.commit()
	return x.changed, nil
}

// schemaOptions reads the charset and collation of database options.
func schemaOptions(opts []*ast.DatabaseOption) (cs, co string, ok bool) {
	for _, o := range opts {
		switch o.Tp {
		case ast.DatabaseOptionCharset:
			cs, ok = strings.ToLower(o.Value), true
		case ast.DatabaseOptionCollate:
			co, ok = strings.ToLower(o.Value), true
		}
	}
	if cs == "" && co != "" {
		cs = collationCharset(co)
	}
	return cs, co, ok
}

func (t *Tracker) createSchema(s *ast.CreateDatabaseStmt) error {
	cs, co, _ := schemaOptions(s.Options)
	if cur := t.schemas[t.key(s.Name.O)]; cur != nil {
		if cur.implicit {
			cur.implicit, cur.name, cur.charset, cur.collate = false, s.Name.O, cs, co
			return nil
		}
		if s.IfNotExists {
			return nil
		}
		return ignorableError(ErrSchemaExists, "create database %s", s.Name.O)
	}
	t.schemas[t.key(s.Name.O)] = &schemaInfo{name: s.Name.O, charset: cs, collate: co, tables: map[string]*Table{}}
	return nil
}

func (t *Tracker) dropSchema(s *ast.DropDatabaseStmt) ([]TableName, error) {
	k := t.key(s.Name.O)
	cur := t.schemas[k]
	if cur == nil {
		if s.IfExists {
			return nil, nil
		}
		return nil, ignorableError(ErrSchemaNotFound, "drop database %s", s.Name.O)
	}
	var names []TableName
	for _, tbl := range cur.tables {
		names = append(names, TableName{tbl.Schema, tbl.Name})
	}
	delete(t.schemas, k)
	return names, nil
}

func (t *Tracker) alterSchema(def string, s *ast.AlterDatabaseStmt) {
	name := s.Name.O
	if s.AlterDefaultDatabase || name == "" {
		name = def
	}
	cs, co, ok := schemaOptions(s.Options)
	if name == "" || !ok {
		return
	}
	cur := t.ensureSchema(name)
	cur.charset, cur.collate = cs, co
}

func (x *txn) createTable(s *ast.CreateTableStmt) error {
	if s.TemporaryKeyword != ast.TemporaryNone {
		return nil
	}
	schema, table, err := x.qualify(s.Table)
	if err != nil {
		return err
	}
	if x.get(schema, table) != nil {
		if s.IfNotExists {
			return nil
		}
		return newError(ErrTableExists, "create table %s", TableName{schema, table})
	}
	var tbl *Table
	if s.ReferTable != nil {
		rs, rt, err := x.qualify(s.ReferTable)
		if err != nil {
			return err
		}
		tbl, err = x.mustGet(rs, rt)
		if err != nil {
			return fmt.Errorf("create table %s like: %w", TableName{schema, table}, err)
		}
		tbl.Schema, tbl.Name = schema, table
	} else {
		tbl, err = tableFromCreate(s, schema, table, x.schemaDefaults(schema))
		if err != nil {
			return fmt.Errorf("create table %s: %w", TableName{schema, table}, err)
		}
	}
	x.put(tbl)
	return nil
}

// tableFromCreate builds a table from a CREATE TABLE statement (not LIKE).
func tableFromCreate(s *ast.CreateTableStmt, schema, table string, defs charsetDefaults) (*Table, error) {
	if len(s.Cols) == 0 {
		if s.Select != nil {
			return nil, newError(ErrUnsupported, "CREATE TABLE ... SELECT without column definitions (the column types come from the query)")
		}
		return nil, newError(ErrUnsupported, "CREATE TABLE without columns")
	}
	tbl := &Table{Schema: schema, Name: table}
	applyTableCharset(tbl, s.Options, defs)
	defs = tbl.defaults(defs)
	var keys []inlineKey
	for _, def := range s.Cols {
		c, k, err := buildColumn(def, defs)
		if err != nil {
			return nil, err
		}
		if tbl.FindColumn(c.Name) >= 0 {
			return nil, newError(ErrColumnExists, "column %s is defined twice", c.Name)
		}
		tbl.Columns = append(tbl.Columns, c)
		keys = append(keys, k...)
	}
	for _, k := range keys {
		if err := tbl.addInlineKey(k); err != nil {
			return nil, err
		}
	}
	if err := tbl.addConstraints(s.Constraints); err != nil {
		return nil, err
	}
	tbl.finalize()
	return tbl, nil
}

func (x *txn) dropTables(s *ast.DropTableStmt) error {
	if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
		return nil
	}
	var missing []string
	for _, tn := range s.Tables {
		schema, table, err := x.qualify(tn)
		if err != nil {
			return err
		}
		tbl := x.get(schema, table)
		if tbl == nil {
			if !s.IfExists {
				missing = append(missing, TableName{schema, table}.String())
			}
			continue
		}
		x.drop(tbl)
	}
	if len(missing) > 0 {
		return ignorableError(ErrTableNotFound, "drop table %s", strings.Join(missing, ", "))
	}
	return nil
}

func (x *txn) renameTables(s *ast.RenameTableStmt) error {
	for _, tt := range s.TableToTables {
		os, ot, err := x.qualify(tt.OldTable)
		if err != nil {
			return err
		}
		ns, nt, err := x.qualify(tt.NewTable)
		if err != nil {
			return err
		}
		tbl, err := x.mustGet(os, ot)
		if err != nil {
			return fmt.Errorf("rename table: %w", err)
		}
		if err := x.move(tbl, ns, nt); err != nil {
			return fmt.Errorf("rename table: %w", err)
		}
	}
	return nil
}

// move renames tbl (a clone of the stored table) to schema.table.
func (x *txn) move(tbl *Table, schema, table string) error {
	oldKey := x.keyOf(tbl.Schema, tbl.Name)
	newKey := x.keyOf(schema, table)
	if newKey != oldKey && x.get(schema, table) != nil {
		return newError(ErrTableExists, "rename %s to %s", TableName{tbl.Schema, tbl.Name}, TableName{schema, table})
	}
	if newKey != oldKey {
		x.drop(tbl)
	}
	tbl.Schema, tbl.Name = schema, table
	x.put(tbl)
	return nil
}

func (x *txn) truncate(s *ast.TruncateTableStmt) error {
	schema, table, err := x.qualify(s.Table)
	if err != nil {
		return err
	}
	tbl := x.get(schema, table)
	if tbl == nil {
		return newError(ErrTableNotFound, "truncate table %s", TableName{schema, table})
	}
	x.changed = appendNames(x.changed, TableName{tbl.Schema, tbl.Name})
	return nil
}

func (x *txn) createIndex(s *ast.CreateIndexStmt) error {
	schema, table, err := x.qualify(s.Table)
	if err != nil {
		return err
	}
	tbl, err := x.mustGet(schema, table)
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	c := &ast.Constraint{IfNotExists: s.IfNotExists, Name: s.IndexName, Keys: s.IndexPartSpecifications}
	switch s.KeyType {
	case ast.IndexKeyTypeUnique:
		c.Tp = ast.ConstraintUniq
	case ast.IndexKeyTypeFulltext:
		c.Tp = ast.ConstraintFulltext
	case ast.IndexKeyTypeSpatial:
		c.Tp = ast.ConstraintIndex
	case ast.IndexKeyTypeNone:
		c.Tp = ast.ConstraintIndex
	default:
		return nil // TiDB-only vector/columnar indexes
	}
	if s.KeyType == ast.IndexKeyTypeSpatial {
		err = tbl.addIndex(c, IndexSpatial)
	} else {
		err = tbl.addConstraint(c)
	}
	if err != nil {
		return fmt.Errorf("create index on %s: %w", TableName{schema, table}, err)
	}
	x.put(tbl)
	return nil
}

func (x *txn) dropIndex(s *ast.DropIndexStmt) error {
	if s.IsHypo {
		return nil
	}
	schema, table, err := x.qualify(s.Table)
	if err != nil {
		return err
	}
	tbl, err := x.mustGet(schema, table)
	if err != nil {
		return fmt.Errorf("drop index: %w", err)
	}
	if err := tbl.dropIndex(s.IndexName, s.IfExists); err != nil {
		return fmt.Errorf("drop index on %s: %w", TableName{schema, table}, err)
	}
	x.put(tbl)
	return nil
}

// irrelevantRe matches statements the parser may reject but that never
// change a table's shape (stored programs, views, events, tablespaces,
// account management, maintenance), so Exec ignores them instead of
// failing.
var irrelevantRe = regexp.MustCompile(`(?is)^(?:\s|/\*[^!].*?\*/|#[^\n]*\n|--[^\n]*\n)*(?:` +
	`(?:CREATE|ALTER|DROP)\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?(?:ALGORITHM\s*=\s*\S+\s+)?(?:SQL\s+SECURITY\s+\S+\s+)?(?:TRIGGER|PROCEDURE|FUNCTION|VIEW|EVENT|TABLESPACE|SERVER|USER|ROLE|PACKAGE|SEQUENCE|LOGFILE|RESOURCE|SPATIAL\s+REFERENCE)\b` +
	`|DROP\s+(?:/\*!\d*\s*)?TEMPORARY\b` +
	`|CREATE\s+(?:OR\s+REPLACE\s+)?TEMPORARY\b` +
	`|(?:GRANT|REVOKE|RENAME\s+USER|SET\s+PASSWORD|SET\s+DEFAULT\s+ROLE|SAVEPOINT|RELEASE\s+SAVEPOINT|FLUSH|ANALYZE|OPTIMIZE|REPAIR|CHECK|CHECKSUM|INSTALL|UNINSTALL|RESET|PURGE|XA|BEGIN|COMMIT|ROLLBACK|KILL|DO|CALL|HANDLER|LOCK|UNLOCK)\b` +
	`|#)`)

func irrelevant(ddl string) bool { return irrelevantRe.MatchString(ddl) }

var createOrReplaceRe = regexp.MustCompile(`(?is)^(\s*CREATE\s+)OR\s+REPLACE(\s+TABLE\b)`)

// rewriteCreateOrReplace turns MariaDB's CREATE OR REPLACE TABLE, which
// the parser lacks, into CREATE TABLE, reporting whether it did.
func rewriteCreateOrReplace(ddl string) (string, bool) {
	if !createOrReplaceRe.MatchString(ddl) {
		return ddl, false
	}
	return createOrReplaceRe.ReplaceAllString(ddl, "${1}${2}"), true
}
