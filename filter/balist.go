package filter

import (
	"fmt"
	"strings"
)

// Table names one upstream table. In rules its fields are patterns.
type Table struct {
	Schema string `json:"db-name" yaml:"db-name"`
	Name   string `json:"tbl-name" yaml:"tbl-name"`
}

// String returns the table as `schema`.`name` (or `schema` without a name).
func (t Table) String() string {
	if t.Name == "" {
		return "`" + t.Schema + "`"
	}
	return "`" + t.Schema + "`.`" + t.Name + "`"
}

// Rules is a DM block-allow list (MySQL replication-filter style). Every
// entry is a Pattern: a wildcard or a `~` regular expression.
type Rules struct {
	DoDBs        []string `json:"do-dbs,omitempty" yaml:"do-dbs,omitempty"`
	DoTables     []Table  `json:"do-tables,omitempty" yaml:"do-tables,omitempty"`
	IgnoreDBs    []string `json:"ignore-dbs,omitempty" yaml:"ignore-dbs,omitempty"`
	IgnoreTables []Table  `json:"ignore-tables,omitempty" yaml:"ignore-tables,omitempty"`
}

// IsEmpty reports whether r has no entries, i.e. allows every non-system schema.
func (r Rules) IsEmpty() bool {
	return len(r.DoDBs) == 0 && len(r.DoTables) == 0 && len(r.IgnoreDBs) == 0 && len(r.IgnoreTables) == 0
}

type tablePattern struct{ schema, table *Pattern }

func (t tablePattern) match(schema, table string) bool {
	return t.schema.Match(schema) && t.table.Match(table)
}

// BAList decides which upstream schemas and tables are migrated. It is
// immutable after construction and safe for concurrent use. A nil *BAList
// allows every non-system table.
type BAList struct {
	doDBs, ignoreDBs       []*Pattern
	doTables, ignoreTables []tablePattern
}

// NewBAList compiles r. Errors name the offending entry; empty names and
// malformed patterns are rejected.
func NewBAList(r Rules, caseSensitive bool) (*BAList, error) {
	l := &BAList{}
	var err error
	if l.doDBs, err = compileDBs("do-dbs", r.DoDBs, caseSensitive); err != nil {
		return nil, err
	}
	if l.ignoreDBs, err = compileDBs("ignore-dbs", r.IgnoreDBs, caseSensitive); err != nil {
		return nil, err
	}
	if l.doTables, err = compileTables("do-tables", r.DoTables, caseSensitive); err != nil {
		return nil, err
	}
	if l.ignoreTables, err = compileTables("ignore-tables", r.IgnoreTables, caseSensitive); err != nil {
		return nil, err
	}
	return l, nil
}

func compileDBs(kind string, dbs []string, caseSensitive bool) ([]*Pattern, error) {
	out := make([]*Pattern, 0, len(dbs))
	for i, db := range dbs {
		if db == "" {
			return nil, fmt.Errorf("block-allow list %s[%d] is empty; give a schema name or pattern", kind, i)
		}
		p, err := CompilePattern(db, caseSensitive)
		if err != nil {
			return nil, fmt.Errorf("block-allow list %s[%d]: %w", kind, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func compileTables(kind string, tables []Table, caseSensitive bool) ([]tablePattern, error) {
	out := make([]tablePattern, 0, len(tables))
	for i, t := range tables {
		if t.Schema == "" || t.Name == "" {
			return nil, fmt.Errorf("block-allow list %s[%d] %s: schema and table must both be set; use do-dbs/ignore-dbs for whole schemas", kind, i, t)
		}
		s, err := CompilePattern(t.Schema, caseSensitive)
		if err != nil {
			return nil, fmt.Errorf("block-allow list %s[%d] schema: %w", kind, i, err)
		}
		n, err := CompilePattern(t.Name, caseSensitive)
		if err != nil {
			return nil, fmt.Errorf("block-allow list %s[%d] table: %w", kind, i, err)
		}
		out = append(out, tablePattern{schema: s, table: n})
	}
	return out, nil
}

// systemSchemas are never migrated, whatever the rules say (upper case).
var systemSchemas = map[string]bool{
	"MYSQL":              true,
	"SYS":                true,
	"INFORMATION_SCHEMA": true,
	"PERFORMANCE_SCHEMA": true,
	"METRICS_SCHEMA":     true,
	"INSPECTION_SCHEMA":  true,
	"DM_HEARTBEAT":       true,
}

// IsSystemSchema reports whether schema is a MySQL/TiDB/DM system schema
// (case-insensitive). Such schemas are never migrated.
func IsSystemSchema(schema string) bool {
	return systemSchemas[strings.ToUpper(schema)]
}

// Match reports whether schema.table is migrated. table == "" asks the
// schema-level question (is any table of the schema migrated?). Evaluation
// follows DM:
//  1. system schemas are excluded;
//  2. if do-dbs is set the schema must match one of them, otherwise if
//     ignore-dbs is set the schema must match none of them;
//  3. for a schema without do-dbs but with do-tables, the schema must be the
//     schema of some do-table (a rule naming only shop.t2 says nothing about
//     schema other, so other is not migrated);
//  4. for a table: a do-tables match allows it, else an ignore-tables match
//     denies it, else it is allowed only when do-tables is empty.
func (l *BAList) Match(schema, table string) bool {
	if IsSystemSchema(schema) {
		return false
	}
	if l == nil {
		return true
	}
	if len(l.doDBs) > 0 {
		if !matchAny(l.doDBs, schema) {
			return false
		}
	} else if len(l.ignoreDBs) > 0 && matchAny(l.ignoreDBs, schema) {
		return false
	}
	if table == "" {
		return len(l.doDBs) > 0 || len(l.doTables) == 0 || l.doTableSchema(schema)
	}
	for _, t := range l.doTables {
		if t.match(schema, table) {
			return true
		}
	}
	for _, t := range l.ignoreTables {
		if t.match(schema, table) {
			return false
		}
	}
	return len(l.doTables) == 0
}

// doTableSchema reports whether schema is the schema of some do-table.
func (l *BAList) doTableSchema(schema string) bool {
	for _, t := range l.doTables {
		if t.schema.Match(schema) {
			return true
		}
	}
	return false
}

// Whole reports whether every table of schema is migrated, so that the schema
// itself belongs to the task: schema-level DDL (CREATE/ALTER/DROP DATABASE)
// may reach the target only for such schemas. A schema is whole when it is
// migrated and no table rule narrows it: with do-tables, one of them must be
// `schema.*`; an ignore-table that may match inside it carves it up.
func (l *BAList) Whole(schema string) bool {
	if !l.Match(schema, "") {
		return false
	}
	if l == nil {
		return true
	}
	for _, t := range l.ignoreTables {
		if t.schema.Match(schema) {
			return false
		}
	}
	if len(l.doTables) == 0 {
		return true
	}
	for _, t := range l.doTables {
		if t.schema.Match(schema) && t.table.String() == "*" {
			return true
		}
	}
	return false
}

func matchAny(ps []*Pattern, name string) bool {
	for _, p := range ps {
		if p.Match(name) {
			return true
		}
	}
	return false
}

// Filter returns the tables of the input that Match allows, in input order.
func (l *BAList) Filter(tables []Table) []Table {
	out := make([]Table, 0, len(tables))
	for _, t := range tables {
		if l.Match(t.Schema, t.Name) {
			out = append(out, t)
		}
	}
	return out
}
