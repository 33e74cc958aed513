package tracker

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	// Value expressions (DEFAULT literals) need a driver.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Errors a DDL can fail with; test them with errors.Is. IsIgnorable tells
// which failures DM's tracker ignores.
var (
	ErrTableNotFound  = errors.New("table is not tracked (seed it with SetTable from the dump schema file or SHOW CREATE TABLE, or skip the DDL)")
	ErrSchemaNotFound = errors.New("schema is not tracked")
	ErrTableExists    = errors.New("table already exists")
	ErrSchemaExists   = errors.New("schema already exists")
	ErrColumnNotFound = errors.New("column does not exist")
	ErrColumnExists   = errors.New("column already exists")
	ErrIndexNotFound  = errors.New("index does not exist")
	ErrIndexExists    = errors.New("index already exists")
	// ErrUnsupported marks DDL whose effect the tracker cannot compute
	// (CREATE TABLE ... SELECT without column definitions, dropping every
	// column); fix the table with SetTable.
	ErrUnsupported = errors.New("DDL cannot be tracked")
	// ErrParse marks text the parser rejects.
	ErrParse = errors.New("cannot parse DDL")
)

// ddlError is a tracker failure of a known kind.
type ddlError struct {
	kind error
	msg  string
	// ignorable marks the failures DM's tracker ignores (the statement was
	// already applied or there is nothing to do): CREATE DATABASE of an
	// existing schema, DROP DATABASE/TABLE of a missing one, dropping a
	// missing column or key.
	ignorable bool
}

func (e *ddlError) Error() string { return e.msg + ": " + e.kind.Error() }
func (e *ddlError) Unwrap() error { return e.kind }

func newError(kind error, format string, args ...any) error {
	return &ddlError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func ignorableError(kind error, format string, args ...any) error {
	return &ddlError{kind: kind, msg: fmt.Sprintf(format, args...), ignorable: true}
}

// IsIgnorable reports whether err is a tracker failure that DM ignores
// because the tracked state already reflects the statement: CREATE DATABASE
// of an existing schema, DROP DATABASE or DROP TABLE of a missing one, and
// DROP COLUMN/INDEX/PRIMARY KEY of a missing column or key. Other failures
// (notably CREATE TABLE of an existing table, whose shape may differ) pause
// the task in DM.
func IsIgnorable(err error) bool {
	var de *ddlError
	return errors.As(err, &de) && de.ignorable
}

// TableName names a tracked table by its schema and table names as the
// tracker displays them (their original case).
type TableName struct{ Schema, Table string }

// Tracker holds the upstream schema as of the binlog position being
// processed: the shape of every tracked table, kept up to date by applying
// each DDL the syncer sees. It is safe for concurrent readers with one
// writer.
type Tracker struct {
	caseSensitive bool

	mu      sync.RWMutex
	schemas map[string]*schemaInfo // by key (see key)
	parser  *parser.Parser         // guarded by mu (write lock)
}

// schemaInfo is one tracked schema.
type schemaInfo struct {
	name             string
	charset, collate string // defaults for new tables
	// implicit marks a schema the tracker created because a table was
	// created in it before its CREATE DATABASE was seen.
	implicit bool
	tables   map[string]*Table // by key
}

// New returns an empty tracker. With caseSensitive false, schema and table
// names are matched case-insensitively (MySQL lower_case_table_names != 0);
// the original names are kept for display. Column and index names are
// always case-insensitive.
func New(caseSensitive bool) *Tracker {
	return &Tracker{
		caseSensitive: caseSensitive,
		schemas:       map[string]*schemaInfo{},
		parser:        parser.New(),
	}
}

// key maps a schema or table name to its lookup key.
func (t *Tracker) key(name string) string {
	if t.caseSensitive {
		return name
	}
	return strings.ToLower(name)
}

// Exec applies the DDL text ddl, executed with current database schema
// (the binlog query event's schema), and returns the tables it changed.
// The text may hold several statements, applied in order until one fails.
// See ExecStmt for the statements and the result.
func (t *Tracker) Exec(schema, ddl string) ([]TableName, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	text, replace := rewriteCreateOrReplace(ddl)
	stmts, _, err := t.parser.Parse(text, "", "")
	if err != nil {
		if irrelevant(ddl) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w %s: %v", ErrParse, abbreviate(ddl), err)
	}
	var changed []TableName
	for i, stmt := range stmts {
		if ct, ok := stmt.(*ast.CreateTableStmt); ok && replace && i == 0 {
			// MariaDB's CREATE OR REPLACE TABLE: drop, then create.
			ct.IfNotExists = false
			drop := &ast.DropTableStmt{IfExists: true, Tables: []*ast.TableName{ct.Table}}
			c, err := t.execLocked(schema, drop)
			changed = appendNames(changed, c...)
			if err != nil {
				return changed, fmt.Errorf("track %s: %w", abbreviate(ddl), err)
			}
		}
		c, err := t.execLocked(schema, stmt)
		changed = appendNames(changed, c...)
		if err != nil {
			return changed, fmt.Errorf("track %s: %w", abbreviate(ddl), err)
		}
	}
	return changed, nil
}

// ExecStmt applies one parsed statement executed with current database
// schema and returns the tables it changed: created, altered (including
// option-only ALTERs and TRUNCATE, which keep the shape), dropped, and both
// names of a renamed table. No-ops (IF [NOT] EXISTS that did nothing,
// statements irrelevant to table shapes) return nil.
//
// Tracked: CREATE/DROP/ALTER DATABASE; CREATE TABLE [IF NOT EXISTS] with
// columns and keys, LIKE, or ... SELECT (columns from the definition only);
// DROP TABLE (several tables); RENAME TABLE (several pairs, applied in
// order); ALTER TABLE with any number of ADD/DROP/MODIFY/CHANGE/RENAME/ALTER
// COLUMN, ADD/DROP/RENAME INDEX|KEY, ADD/DROP PRIMARY KEY, ADD UNIQUE/
// FULLTEXT, DROP CONSTRAINT (of a key), RENAME TO, CONVERT TO CHARACTER SET
// and [DEFAULT] CHARSET/COLLATE specs (other options are no-ops); CREATE
// [UNIQUE|FULLTEXT|SPATIAL] INDEX; DROP INDEX ... ON; TRUNCATE TABLE. A
// foreign key adds the index InnoDB creates for it (the constraint itself
// is not tracked). Temporary tables, views, checks, partitions and every
// other statement are ignored.
//
// Key drops and renames apply to the keys before the statement, column
// specs then apply in order, and added keys come last, as MySQL does; the
// statement applies entirely or not at all, except that DROP TABLE of
// several tables drops the existing ones and reports the missing ones.
// Errors: see the Err variables and IsIgnorable; a DDL on an untracked
// table fails with ErrTableNotFound.
func (t *Tracker) ExecStmt(schema string, stmt ast.StmtNode) ([]TableName, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.execLocked(schema, stmt)
}

// Table returns the tracked table schema.table. The result is an
// immutable snapshot shared with other readers: it stays valid (and
// unchanged) after later DDL; the caller must not modify it (Clone it
// first).
func (t *Tracker) Table(schema, table string) (*Table, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.schemas[t.key(schema)]
	if s == nil {
		return nil, false
	}
	tbl, ok := s.tables[t.key(table)]
	return tbl, ok
}

// Tables returns the names of all tracked tables, sorted.
func (t *Tracker) Tables() []TableName {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var names []TableName
	for _, s := range t.schemas {
		for _, tbl := range s.tables {
			names = append(names, TableName{Schema: tbl.Schema, Table: tbl.Name})
		}
	}
	slices.SortFunc(names, func(a, b TableName) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Table, b.Table))
	})
	return names
}

// Schemas returns the names of all tracked schemas, sorted.
func (t *Tracker) Schemas() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	names := make([]string, 0, len(t.schemas))
	for _, s := range t.schemas {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return names
}

// SetTable replaces (or creates) the table schema.table with the shape of
// createSQL, which must hold exactly one CREATE TABLE statement (other
// statements such as the SET NAMES of a dump file are skipped); its table
// name is ignored. The schema is created if needed. It seeds the tracker
// from dump -schema.sql files, from the source's SHOW CREATE TABLE and
// from the table-schema API.
func (t *Tracker) SetTable(schema, table, createSQL string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ct, err := parseCreateTable(t.parser, createSQL)
	if err != nil {
		return fmt.Errorf("set table %s: %w", TableName{schema, table}, err)
	}
	s := t.ensureSchema(schema)
	tbl, err := tableFromCreate(ct, schema, table, s.defaults())
	if err != nil {
		return fmt.Errorf("set table %s: %w", TableName{schema, table}, err)
	}
	tbl.Schema = s.name
	s.tables[t.key(table)] = tbl
	return nil
}

// ParseTable returns the shape described by a CREATE TABLE statement as
// table schema.table (the statement's own name is ignored), without a
// tracker: for example from the target's SHOW CREATE TABLE. String columns
// that name no charset inherit the table default, else stay empty.
func ParseTable(schema, table, createSQL string) (*Table, error) {
	ct, err := parseCreateTable(parser.New(), createSQL)
	if err != nil {
		return nil, fmt.Errorf("parse table %s: %w", TableName{schema, table}, err)
	}
	tbl, err := tableFromCreate(ct, schema, table, charsetDefaults{})
	if err != nil {
		return nil, fmt.Errorf("parse table %s: %w", TableName{schema, table}, err)
	}
	return tbl, nil
}

// DropTable forgets schema.table; a missing table is a no-op.
func (t *Tracker) DropTable(schema, table string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.schemas[t.key(schema)]; s != nil {
		delete(s.tables, t.key(table))
	}
}

// String renders the name as `schema`.`table`.
func (n TableName) String() string { return sqlq.QuoteTable(n.Schema, n.Table) }

func parseCreateTable(p *parser.Parser, createSQL string) (*ast.CreateTableStmt, error) {
	stmts, _, err := p.Parse(createSQL, "", "")
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrParse, abbreviate(createSQL), err)
	}
	var ct *ast.CreateTableStmt
	for _, stmt := range stmts {
		switch s := stmt.(type) {
		case *ast.CreateTableStmt:
			if ct != nil {
				return nil, fmt.Errorf("%s holds more than one CREATE TABLE; pass exactly one", abbreviate(createSQL))
			}
			ct = s
		case *ast.SetStmt, *ast.UseStmt:
		default:
			return nil, fmt.Errorf("%s holds a %s statement; pass exactly one CREATE TABLE", abbreviate(createSQL), strings.TrimPrefix(fmt.Sprintf("%T", stmt), "*ast."))
		}
	}
	switch {
	case ct == nil:
		return nil, fmt.Errorf("%s holds no CREATE TABLE; pass exactly one", abbreviate(createSQL))
	case ct.ReferTable != nil:
		return nil, fmt.Errorf("%s is CREATE TABLE ... LIKE; pass a full definition", abbreviate(createSQL))
	}
	return ct, nil
}

// ensureSchema returns the schema named name, creating it implicitly.
func (t *Tracker) ensureSchema(name string) *schemaInfo {
	k := t.key(name)
	s := t.schemas[k]
	if s == nil {
		s = &schemaInfo{name: name, implicit: true, tables: map[string]*Table{}}
		t.schemas[k] = s
	}
	return s
}

func (s *schemaInfo) defaults() charsetDefaults {
	if s == nil {
		return charsetDefaults{}
	}
	return charsetDefaults{charset: s.charset, collate: s.collate}
}

// snapshotVersion is the format version of Snapshot.
const snapshotVersion = 1

type snapshot struct {
	Version int
	Schemas []snapshotSchema
}

type snapshotSchema struct {
	Name     string
	Charset  string `json:",omitempty"`
	Collate  string `json:",omitempty"`
	Implicit bool   `json:",omitempty"`
	Tables   []*Table
}

// Snapshot returns the whole tracked state as JSON, to persist with the
// syncer's checkpoint; Restore reads it back.
func (t *Tracker) Snapshot() ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	snap := snapshot{Version: snapshotVersion}
	for _, s := range t.schemas {
		ss := snapshotSchema{Name: s.name, Charset: s.charset, Collate: s.collate, Implicit: s.implicit}
		for _, tbl := range s.tables {
			ss.Tables = append(ss.Tables, tbl)
		}
		slices.SortFunc(ss.Tables, func(a, b *Table) int { return cmp.Compare(a.Name, b.Name) })
		snap.Schemas = append(snap.Schemas, ss)
	}
	slices.SortFunc(snap.Schemas, func(a, b snapshotSchema) int { return cmp.Compare(a.Name, b.Name) })
	data, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("snapshot schema tracker: %w", err)
	}
	return data, nil
}

// Restore replaces the whole tracked state with a Snapshot. Lookups after
// Restore give the same answers as on the snapshotted tracker. On error the
// state is unchanged.
func (t *Tracker) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("restore schema tracker: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("restore schema tracker: snapshot version %d, want %d; re-seed the tracker", snap.Version, snapshotVersion)
	}
	schemas := map[string]*schemaInfo{}
	for _, ss := range snap.Schemas {
		k := t.key(ss.Name)
		if schemas[k] != nil {
			return fmt.Errorf("restore schema tracker: schema %q appears twice", ss.Name)
		}
		s := &schemaInfo{name: ss.Name, charset: ss.Charset, collate: ss.Collate, implicit: ss.Implicit, tables: map[string]*Table{}}
		for _, tbl := range ss.Tables {
			if err := tbl.validate(); err != nil {
				return fmt.Errorf("restore schema tracker: table %s: %w", TableName{ss.Name, tbl.Name}, err)
			}
			tk := t.key(tbl.Name)
			if s.tables[tk] != nil {
				return fmt.Errorf("restore schema tracker: table %s appears twice", TableName{ss.Name, tbl.Name})
			}
			tbl.Schema = ss.Name
			s.tables[tk] = tbl
		}
		schemas[k] = s
	}
	t.mu.Lock()
	t.schemas = schemas
	t.mu.Unlock()
	return nil
}

// validate checks the invariants a restored table must meet so lookups
// cannot panic.
func (t *Table) validate() error {
	if len(t.Columns) == 0 {
		return errors.New("no columns")
	}
	for _, c := range t.Columns {
		if c.Type == nil {
			return fmt.Errorf("column %s has no type", c.Name)
		}
	}
	for _, ix := range t.Indexes {
		for _, off := range ix.Columns {
			if off < 0 || off >= len(t.Columns) {
				return fmt.Errorf("index %s refers to column %d of %d", ix.Name, off, len(t.Columns))
			}
		}
		if ix.Lengths != nil && len(ix.Lengths) != len(ix.Columns) {
			return fmt.Errorf("index %s has %d prefix lengths for %d columns", ix.Name, len(ix.Lengths), len(ix.Columns))
		}
	}
	return nil
}

// abbreviate shortens a statement for error messages.
func abbreviate(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	const max = 200
	if len(sql) > max {
		sql = sql[:max] + "..."
	}
	return fmt.Sprintf("%q", sql)
}

func appendNames(names []TableName, more ...TableName) []TableName {
	for _, n := range more {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
