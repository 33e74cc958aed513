package tracker

import (
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"
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
