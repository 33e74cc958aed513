package tracker

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/mysql"
)

// tableKey identifies a table by its lookup keys.
type tableKey struct{ schema, table string }

// txn collects the table changes of one statement so that a failing
// statement leaves the tracker untouched and multi-step statements (RENAME
// a TO b, b TO c) see their own earlier steps.
type txn struct {
	tr      *Tracker
	def     string              // the current database
	overlay map[tableKey]*Table // pending state; nil = dropped
	order   []tableKey
	changed []TableName
}

func (t *Tracker) newTxn(def string) *txn {
	return &txn{tr: t, def: def, overlay: map[tableKey]*Table{}}
}

func (x *txn) keyOf(schema, table string) tableKey {
	return tableKey{x.tr.key(schema), x.tr.key(table)}
}

// get returns the table as the statement currently sees it.
func (x *txn) get(schema, table string) *Table {
	k := x.keyOf(schema, table)
	if t, ok := x.overlay[k]; ok {
		return t
	}
	if s := x.tr.schemas[k.schema]; s != nil {
		return s.tables[k.table]
	}
	return nil
}

// mustGet returns a clone of the table to modify, or ErrTableNotFound.
func (x *txn) mustGet(schema, table string) (*Table, error) {
	t := x.get(schema, table)
	if t == nil {
		return nil, newError(ErrTableNotFound, "table %s", TableName{schema, table})
	}
	return t.Clone(), nil
}

func (x *txn) set(k tableKey, t *Table) {
	if _, ok := x.overlay[k]; !ok {
		x.order = append(x.order, k)
	}
	x.overlay[k] = t
}

// put stores t (finalized) under its name.
func (x *txn) put(t *Table) {
	t.finalize()
	x.set(x.keyOf(t.Schema, t.Name), t)
	x.changed = appendNames(x.changed, TableName{t.Schema, t.Name})
}

// drop removes the table named by t.
func (x *txn) drop(t *Table) {
	x.set(x.keyOf(t.Schema, t.Name), nil)
	x.changed = appendNames(x.changed, TableName{t.Schema, t.Name})
}

// schemaName returns the display name of schema: the tracked one if it
// exists.
func (x *txn) schemaName(schema string) string {
	if s := x.tr.schemas[x.tr.key(schema)]; s != nil {
		return s.name
	}
	return schema
}

func (x *txn) schemaDefaults(schema string) charsetDefaults {
	return x.tr.schemas[x.tr.key(schema)].defaults()
}

// commit publishes the pending changes.
func (x *txn) commit() {
	for _, k := range x.order {
		t := x.overlay[k]
		if t == nil {
			if s := x.tr.schemas[k.schema]; s != nil {
				delete(s.tables, k.table)
			}
			continue
		}
		x.tr.ensureSchema(t.Schema).tables[k.table] = t
	}
}

// qualify resolves a table name against the current database.
func (x *txn) qualify(tn *ast.TableName) (schema, table string, err error) {
	schema = tn.Schema.O
	if schema == "" {
		schema = x.def
	}
	if schema == "" {
		return "", "", fmt.Errorf("table %s has no schema and the statement no current database; qualify the name", tn.Name.O)
	}
	return x.schemaName(schema), tn.Name.O, nil
}

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

// defaults returns the charset defaults new columns of t inherit.
func (t *Table) defaults(schemaDefs charsetDefaults) charsetDefaults {
	if t.Charset != "" {
		return charsetDefaults{charset: t.Charset, collate: t.Collate}
	}
	return schemaDefs
}

// applyTableCharset applies the CHARSET/COLLATE table options (CONVERT TO
// CHARACTER SET too, which also converts the string columns).
func applyTableCharset(t *Table, opts []*ast.TableOption, schemaDefs charsetDefaults) {
	var cs, co string
	var seen, convert, toDefault bool
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			seen = true
			cs = strings.ToLower(o.StrValue)
			toDefault = o.Default && cs == ""
			convert = convert || o.UintValue == ast.TableOptionCharsetWithConvertTo
		case ast.TableOptionCollate:
			seen = true
			co = strings.ToLower(o.StrValue)
		}
	}
	if !seen {
		return
	}
	if toDefault {
		cs = schemaDefs.charset
		if co == "" {
			co = schemaDefs.collate
		}
	}
	if cs == "" && co != "" {
		cs = collationCharset(co)
	}
	if convert {
		for i := range t.Columns {
			convertColumn(&t.Columns[i], cs, co)
		}
	}
	t.Charset, t.Collate = cs, co
}

// convertColumn converts a non-binary string column to charset cs, as
// CONVERT TO CHARACTER SET does: TEXT and VARCHAR types grow when the new
// charset needs more bytes per character.
func convertColumn(c *Column, cs, co string) {
	ft := c.Type
	tp := ft.GetType()
	if !hasCharset(tp) || c.IsBinary() {
		return
	}
	if oldMax, newMax := maxLen(ft.GetCharset()), maxLen(cs); oldMax > 0 && newMax > oldMax {
		switch {
		case tp == mysql.TypeVarchar && ft.GetFlen() > 0 && ft.GetFlen()*newMax > 65535:
			ft.SetType(mysql.TypeMediumBlob)
			ft.SetFlen(-1)
		case tp == mysql.TypeTinyBlob, tp == mysql.TypeBlob, tp == mysql.TypeMediumBlob:
			chars := blobBytes(tp) / oldMax
			for chars*newMax > blobBytes(ft.GetType()) && ft.GetType() != mysql.TypeLongBlob {
				ft.SetType(nextBlob(ft.GetType()))
			}
		}
	}
	if cs == charset.CharsetBin {
		ft.AddFlag(mysql.BinaryFlag)
		co = charset.CollationBin
	}
	ft.SetCharset(cs)
	ft.SetCollate(co)
}

func maxLen(cs string) int {
	if cs == "" {
		return 0
	}
	info, err := charset.GetCharsetInfo(cs)
	if err != nil {
		return 0
	}
	return info.Maxlen
}

func blobBytes(tp byte) int {
	switch tp {
	case mysql.TypeTinyBlob:
		return 1<<8 - 1
	case mysql.TypeBlob:
		return 1<<16 - 1
	case mysql.TypeMediumBlob:
		return 1<<24 - 1
	}
	return 1<<32 - 1
}

func nextBlob(tp byte) byte {
	switch tp {
	case mysql.TypeTinyBlob:
		return mysql.TypeBlob
	case mysql.TypeBlob:
		return mysql.TypeMediumBlob
	}
	return mysql.TypeLongBlob
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

// addConstraints adds the keys table constraints declare, then the index
// InnoDB creates for a foreign key that no key covers. Foreign keys
// themselves and checks are not tracked.
func (t *Table) addConstraints(cs []*ast.Constraint) error {
	for i, c := range cs {
		var err error
		if c.Tp == ast.ConstraintForeignKey {
			err = t.addForeignKeyIndex(c, cs[i+1:])
		} else {
			err = t.addConstraint(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addForeignKeyIndex adds the key InnoDB creates for a foreign key unless
// a key (existing or declared later in the statement) starts with its
// columns; it is named after the constraint, else after its first column.
func (t *Table) addForeignKeyIndex(c *ast.Constraint, later []*ast.Constraint) error {
	cols, ok := t.partColumns(c.Keys)
	if !ok || len(cols) == 0 {
		return newError(ErrColumnNotFound, "foreign key %s columns", c.Name)
	}
	covers := func(ix []int, lens []int) bool {
		return len(ix) >= len(cols) && slices.Equal(ix[:len(cols)], cols) &&
			!slices.ContainsFunc(lens[:min(len(cols), len(lens))], func(n int) bool { return n > 0 })
	}
	for _, ix := range t.Indexes {
		if ix.Kind == IndexKey && covers(ix.Columns, ix.Lengths) {
			return nil
		}
	}
	for _, lc := range later {
		switch lc.Tp {
		case ast.ConstraintPrimaryKey, ast.ConstraintKey, ast.ConstraintIndex,
			ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
			lcols, ok := t.partColumns(lc.Keys)
			var lens []int
			for _, p := range lc.Keys {
				lens = append(lens, max(p.Length, 0))
			}
			if ok && covers(lcols, lens) {
				return nil
			}
		}
	}
	name := c.Name
	if name == "" || t.FindIndex(name) >= 0 {
		name = t.uniqueIndexName(t.Columns[cols[0]].Name)
	}
	t.Indexes = append(t.Indexes, Index{Name: name, Columns: cols})
	return nil
}

// partColumns resolves column key parts to offsets; ok is false if a
// part is an expression or names an unknown column.
func (t *Table) partColumns(parts []*ast.IndexPartSpecification) (cols []int, ok bool) {
	for _, p := range parts {
		if p.Column == nil {
			return nil, false
		}
		off := t.FindColumn(p.Column.Name.O)
		if off < 0 {
			return nil, false
		}
		cols = append(cols, off)
	}
	return cols, true
}

// addConstraint adds the key a table constraint declares (not foreign
// keys, see addConstraints).
func (t *Table) addConstraint(c *ast.Constraint) error {
	switch c.Tp {
	case ast.ConstraintPrimaryKey, ast.ConstraintKey, ast.ConstraintIndex,
		ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		return t.addIndex(c, IndexKey)
	case ast.ConstraintFulltext:
		return t.addIndex(c, IndexFulltext)
	}
	return nil
}

// addInlineKey adds the key of a PRIMARY KEY or UNIQUE column option.
func (t *Table) addInlineKey(k inlineKey) error {
	c := &ast.Constraint{Tp: ast.ConstraintUniq, Keys: []*ast.IndexPartSpecification{{Column: &ast.ColumnName{Name: ast.NewCIStr(k.column)}}}}
	if k.primary {
		c.Tp = ast.ConstraintPrimaryKey
	}
	return t.addIndex(c, IndexKey)
}

// addIndex adds the key c describes, naming it as MySQL does when unnamed.
func (t *Table) addIndex(c *ast.Constraint, kind IndexKind) error {
	ix := Index{Name: c.Name, Kind: kind}
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		ix.Primary, ix.Name = true, "PRIMARY"
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		ix.Unique = true
	}
	for _, part := range c.Keys {
		if part.Expr != nil {
			s, err := exprSQL(part.Expr)
			if err != nil {
				return fmt.Errorf("index %s: %w", c.Name, err)
			}
			ix.Exprs = append(ix.Exprs, s)
			continue
		}
		off := t.FindColumn(part.Column.Name.O)
		if off < 0 {
			return newError(ErrColumnNotFound, "key column %s", part.Column.Name.O)
		}
		ix.Columns = append(ix.Columns, off)
		ix.Lengths = append(ix.Lengths, max(part.Length, 0))
	}
	if !ix.partial() {
		ix.Lengths = nil
	}
	if ix.Primary {
		if t.PrimaryKey() != nil {
			if c.IfNotExists {
				return nil
			}
			return newError(ErrIndexExists, "multiple primary keys defined")
		}
	} else if ix.Name == "" {
		ix.Name = t.uniqueIndexName(t.baseIndexName(ix))
	} else if t.FindIndex(ix.Name) >= 0 {
		if c.IfNotExists {
			return nil
		}
		return newError(ErrIndexExists, "duplicate key name %s", ix.Name)
	}
	t.Indexes = append(t.Indexes, ix)
	return nil
}

// baseIndexName is the name MySQL derives for an unnamed key.
func (t *Table) baseIndexName(ix Index) string {
	if len(ix.Columns) > 0 {
		return t.Columns[ix.Columns[0]].Name
	}
	return "functional_index"
}

// uniqueIndexName returns base, or base_2, base_3... if taken.
func (t *Table) uniqueIndexName(base string) string {
	name := base
	for i := 2; t.FindIndex(name) >= 0 || strings.EqualFold(name, "PRIMARY"); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// dropIndex drops the key named name ("PRIMARY" is the primary key).
func (t *Table) dropIndex(name string, ifExists bool) error {
	i := t.FindIndex(name)
	if i < 0 {
		if ifExists {
			return nil
		}
		return ignorableError(ErrIndexNotFound, "can't drop key %s", name)
	}
	t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
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
