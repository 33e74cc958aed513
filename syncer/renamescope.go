package syncer

import (
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// checkRename refuses, before any part of the statement runs, a RENAME (or ALTER TABLE …
// RENAME) that would leave the target without a table the source still has:
//   - one moving a table the task does not replicate onto a name it does: the target has
//     none of that table's rows, and when the statement also renames the task's table
//     away (gh-ost's and pt-osc's cut-over with enhance_online_schema_change off and a
//     table-level rule) running that half would drop the target's table;
//   - with online DDL handling off, one moving the task's table out of the rules onto the
//     trash name of an online schema change tool (`t` → `_t_del` / `_t_old`): the first
//     step of gh-ost's two-step cut-over, whose second step brings `t` back from a ghost
//     table the task never had. Any other rename out of the rules drops the task's table
//     (ddlScope, issue 7): the source no longer has it under a name the task owns.
//
// A binlog event filter rule that ignores the statement lets it through (skipped).
func (r *run) checkRename(p ast.StmtNode, q string, at position) error {
	var from, to *ast.TableName
	switch n := p.(type) {
	case *ast.RenameTableStmt:
		from, to = n.TableToTables[0].OldTable, n.TableToTables[0].NewTable
	case *ast.AlterTableStmt:
		for _, sp := range n.Specs {
			if sp.Tp == ast.AlterTableRenameTable && sp.NewTable != nil {
				from, to = n.Table, sp.NewTable
			}
		}
	}
	if from == nil {
		return nil
	}
	fromIn, toIn := r.replicated(from.Schema.O, from.Name.O), r.replicated(to.Schema.O, to.Name.O)
	fromName, toName := sqlq.QuoteTable(from.Schema.O, from.Name.O), sqlq.QuoteTable(to.Schema.O, to.Name.O)
	tool := filter.DefaultOnlineDDL()
	var msg, hint string
	owned := to // the name in the rules, for the event filter
	switch {
	case !fromIn && toIn:
		msg = fmt.Sprintf("moves %s, which the task does not replicate, onto %s, which it does: the target has none of that table's rows", fromName, toName)
		hint = "add " + fromName + " to the task's rules"
		if k, _ := tool.Classify(from.Name.O); k != filter.RealTable && r.cfg.OnlineDDL == nil {
			hint = "this looks like gh-ost or pt-online-schema-change: turn enhance_online_schema_change on, or " + hint
		}
	case fromIn && !toIn && r.cfg.OnlineDDL == nil:
		k, real := tool.Classify(to.Name.O)
		if k != filter.TrashTable || !r.sameName(real, from.Name.O) {
			return nil
		}
		msg = fmt.Sprintf("moves the task's table %s onto %s, outside the rules, the way gh-ost's and pt-online-schema-change's cut-over does: "+
			"the target would lose the table the tool brings back", fromName, toName)
		hint = "turn enhance_online_schema_change on, or add " + toName + " to the task's rules"
		owned = from
	default:
		return nil
	}
	if a, err := r.cfg.Events.Filter(owned.Schema.O, owned.Name.O, filter.ClassifyDDL(p), q); err == nil && a == filter.Ignore {
		return nil
	}
	return fmt.Errorf("DDL at %s: %q %s; nothing of the statement was applied: %s, or skip the statement with a binlog event filter rule (sql_pattern)",
		at, truncate(q, 200), msg, hint)
}
