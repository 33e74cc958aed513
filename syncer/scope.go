package syncer

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// ddlScope decides whether a replicated DDL may run on the target, which is only ever
// allowed to change what the task owns (issue 7):
//   - CREATE/ALTER/DROP DATABASE only for a schema the task migrates as a whole
//     (WholeSchema), and DROP DATABASE only when no other upstream schema feeds its
//     target (Shared);
//   - DROP TABLE and TRUNCATE TABLE never on a target table other upstream tables merge
//     into (DM refuses these in shard merges too: they would destroy the other shards'
//     rows);
//   - RENAME TABLE and ALTER TABLE ... RENAME only when the new name is migrated as well
//     and neither side is shared; otherwise the statement would move the task's table
//     onto a name the task does not own.
//
// A DDL kept off the target still updates the schema tracker. why explains a refusal.
func (r *run) ddlScope(d *ddlStmt) (ok bool, why string) {
	switch d.node.(type) {
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt:
		if !r.wholeSchema(d.schema) {
			return false, "the task migrates only some tables of this schema"
		}
	case *ast.DropDatabaseStmt:
		if !r.wholeSchema(d.schema) {
			return false, "the task migrates only some tables of this schema; dropping the target schema would drop tables that are not the task's"
		}
		if r.shared(d.schema, "") {
			return false, "other upstream schemas merge into the target schema"
		}
	case *ast.DropTableStmt, *ast.TruncateTableStmt:
		if r.shared(d.schema, d.table) {
			return false, "other upstream tables merge into the target table"
		}
	case *ast.RenameTableStmt, *ast.AlterTableStmt:
		names := collectTables(d.node)
		if len(names) < 2 {
			return true, ""
		}
		for _, n := range names {
			if !r.replicated(n.Schema.O, n.Name.O) {
				return false, "the new name " + n.Schema.O + "." + n.Name.O + " is outside the task's rules"
			}
			if r.shared(n.Schema.O, n.Name.O) {
				return false, "a renamed table merges with other upstream tables on the target"
			}
		}
	}
	return true, ""
}

// wholeSchema reports whether the task owns the source schema as a whole.
func (r *run) wholeSchema(schema string) bool {
	if r.cfg.WholeSchema != nil {
		return r.cfg.WholeSchema(schema)
	}
	return r.cfg.BA.Whole(schema)
}

// shared reports whether the target of a source table (table "" for a schema) receives
// rows from other upstream objects too.
func (r *run) shared(schema, table string) bool {
	if r.cfg.Shared != nil {
		return r.cfg.Shared(schema, table)
	}
	return r.cfg.Router.Merges(schema, table)
}
