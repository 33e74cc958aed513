package syncer

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// DDL scope (issue 7): the target is only ever changed where the task owns it.
//   - CREATE/ALTER/DROP DATABASE run only for a schema the task migrates as a whole
//     (WholeSchema), and DROP DATABASE only when no other upstream schema feeds its
//     target (Shared).
//   - DROP DATABASE of a schema the task owns only some tables of becomes DROP TABLE IF
//     EXISTS of those tables, so the target keeps its own tables and the task's view of
//     the schema still follows the source.
//   - DROP TABLE and TRUNCATE TABLE never run on a target table other upstream tables
//     merge into (DM refuses these in shard merges too: they would destroy the other
//     shards' rows).
//   - RENAME TABLE and ALTER TABLE ... RENAME onto a name outside the rules would move
//     the task's table onto a name it does not own: the task's table is dropped instead
//     (it left the task's scope on the source too); onto a shared target it is skipped.
//
// A DDL kept off the target still updates the schema tracker.

// scopeAction is what to do with a replicated DDL.
type scopeAction int

const (
	scopeRun       scopeAction = iota // run it as routed
	scopeSkip                         // leave the target alone
	scopeDropOwned                    // drop the task's tables the statement removes from its scope
)

// ddlScope decides what a replicated DDL may do on the target; why explains anything
// but scopeRun.
func (r *run) ddlScope(d *ddlStmt) (act scopeAction, why string) {
	switch d.node.(type) {
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt:
		if !r.cfg.WholeSchema(d.schema) {
			return scopeSkip, "the task migrates only some tables of this schema"
		}
	case *ast.DropDatabaseStmt:
		if r.cfg.Shared(d.schema, "") {
			return scopeSkip, "other upstream schemas merge into the target schema"
		}
		if !r.cfg.WholeSchema(d.schema) {
			return scopeDropOwned, "the task migrates only some tables of this schema: dropping only those"
		}
	case *ast.DropTableStmt, *ast.TruncateTableStmt:
		if r.cfg.Shared(d.schema, d.table) {
			return scopeSkip, "other upstream tables merge into the target table"
		}
	case *ast.RenameTableStmt, *ast.AlterTableStmt:
		names := collectTables(d.node)
		if len(names) < 2 {
			return scopeRun, ""
		}
		for _, n := range names {
			if r.cfg.Shared(n.Schema.O, n.Name.O) {
				return scopeSkip, "a renamed table merges with other upstream tables on the target"
			}
		}
		for _, n := range names[1:] {
			if !r.replicated(n.Schema.O, n.Name.O) {
				return scopeDropOwned, fmt.Sprintf("the new name %s.%s is outside the task's rules: dropping the task's table", n.Schema.O, n.Name.O)
			}
		}
	}
	return scopeRun, ""
}

// ownedDrops returns DROP TABLE IF EXISTS statements for the task's tables that d
// removes from its scope: the renamed table, or every table of a dropped schema the task
// owns part of — those the tracker knows and those the target holds under names the
// rules route to themselves.
func (r *run) ownedDrops(ctx context.Context, d *ddlStmt) ([]*ddlStmt, error) {
	var tables []string
	if _, ok := d.node.(*ast.DropDatabaseStmt); !ok {
		tables = []string{d.table}
	} else {
		for _, t := range r.tr.Tables() {
			if strings.EqualFold(t.Schema, d.schema) || (r.cfg.CaseSensitive && t.Schema == d.schema) {
				tables = append(tables, t.Table)
			}
		}
		onTarget, err := r.targetTables(ctx, d.schema)
		if err != nil {
			return nil, err
		}
		tables = append(tables, onTarget...)
	}
	var out []*ddlStmt
	seen := map[[2]string]bool{}
	for _, tbl := range tables {
		if !r.replicated(d.schema, tbl) || r.cfg.Shared(d.schema, tbl) {
			continue
		}
		ts, tt, err := r.cfg.Route(d.schema, tbl)
		if err != nil {
			return nil, err
		}
		if seen[[2]string{ts, tt}] {
			continue
		}
		seen[[2]string{ts, tt}] = true
		node := &ast.DropTableStmt{IfExists: true, Tables: []*ast.TableName{{Schema: ast.NewCIStr(ts), Name: ast.NewCIStr(tt)}}}
		text, err := restore(node)
		if err != nil {
			return nil, err
		}
		out = append(out, &ddlStmt{node: node, schema: d.schema, table: tbl, execute: true, sql: text, routed: true})
	}
	return out, nil
}

// targetTables lists the tables of the target schema a source schema routes to whose
// names route back to themselves (so that a target table named like a source table of
// the task is that table).
func (r *run) targetTables(ctx context.Context, schema string) ([]string, error) {
	ts, _, err := r.cfg.Route(schema, "")
	if err != nil {
		return nil, err
	}
	rows, err := r.target.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", ts)
	if err != nil {
		return nil, fmt.Errorf("list target tables of %s: %w", ts, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if s, t, err := r.cfg.Route(schema, n); err == nil && s == ts && t == n {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}
