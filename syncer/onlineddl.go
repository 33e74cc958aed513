package syncer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Online schema changes (gh-ost, pt-online-schema-change), DM's online-ddl plugin:
//   - ghost (`_t_gho`, `_t_new`) and trash (`_t_ghc`, `_t_del`, `_t_old`) tables belong to
//     their real table's rule; their rows are never replicated (replicated) and their DDL
//     never reaches the target or the schema tracker;
//   - an ALTER (or CREATE/DROP INDEX) on a ghost table is captured into the record of
//     that ghost table, persisted in `<meta>.<task>_onlineddl`; CREATE of the ghost table
//     starts an empty record, DROP of it (or a rename into a trash name) deletes it;
//   - the cut-over RENAME ghost → real turns into the captured statements with the
//     ghost name replaced by the real one: they continue down the ordinary DDL path as
//     ALTERs of the real table (filters, scope, routing, shard coordination, tracker,
//     target), and the record is deleted once the global checkpoint is past the RENAME;
//   - RENAME real → trash is dropped (the target keeps the real table).
//
// Restart: records are written when the DDL is seen; a DDL replayed after a restart is
// known by its binlog position and not captured twice. The cut-over marks the record with
// its position before anything runs, so a restart before the DDL's checkpoint replays the
// captured ALTERs (accepted as already applied, the replay is in safe mode) and one after
// it finds the mark behind the checkpoint and deletes the record.

// onlineDDL applies the online-DDL rules to the (qualified) parts of one DDL statement.
// It returns the statements that continue down the normal DDL path, and whether any of
// them was rewritten (then the original text must not run).
func (r *run) onlineDDL(ctx context.Context, parts []ast.StmtNode, defSchema, q string, at position) ([]ast.StmtNode, bool, error) {
	if r.online == nil {
		return parts, false, nil
	}
	for _, p := range parts {
		qualify(p, defSchema)
	}
	if err := r.checkCutoverRules(parts, q); err != nil {
		return nil, false, err
	}
	var out []ast.StmtNode
	rewritten := false
	for _, p := range parts {
		kept, err := r.onlinePart(ctx, p, q, at)
		if err != nil {
			return nil, false, err
		}
		if len(kept) != 1 || kept[0] != p {
			rewritten = true
		}
		out = append(out, kept...)
	}
	return out, rewritten, nil
}

// checkCutoverRules is DM's CheckRegex: a two-table RENAME that is half a cut-over
// (real → trash without ghost → real, or the reverse) means the shadow or trash rules do
// not match the tool's names.
func (r *run) checkCutoverRules(parts []ast.StmtNode, q string) error {
	if len(parts) != 2 {
		return nil
	}
	var pairs [2]*ast.TableToTable
	for i, p := range parts {
		rn, ok := p.(*ast.RenameTableStmt)
		if !ok {
			return nil
		}
		pairs[i] = rn.TableToTables[0]
	}
	kind := func(t *ast.TableName) filter.TableKind { k, _ := r.cfg.OnlineDDL.Classify(t.Name.O); return k }
	trashSide := kind(pairs[0].OldTable) == filter.RealTable && kind(pairs[0].NewTable) == filter.TrashTable
	ghostSide := kind(pairs[1].OldTable) == filter.GhostTable && kind(pairs[1].NewTable) == filter.RealTable
	if trashSide == ghostSide {
		return nil
	}
	missing := "shadow table rules (ghost tables, e.g. _t_gho, _t_new)"
	if ghostSide {
		missing = "trash table rules (e.g. _t_del, _t_old)"
	}
	return fmt.Errorf("online DDL: %q looks like a cut-over but only one of its renames matches the online DDL table rules; "+
		"the %s do not match the tool's table names: fix them, or turn enhance_online_schema_change off", truncate(q, 200), missing)
}

// onlinePart handles one single-table statement.
func (r *run) onlinePart(ctx context.Context, p ast.StmtNode, q string, at position) ([]ast.StmtNode, error) {
	o := r.cfg.OnlineDDL
	if rn, ok := p.(*ast.RenameTableStmt); ok {
		return r.onlineRename(ctx, rn, q, at)
	}
	schema, table := ddlTarget(p)
	if table == "" {
		return []ast.StmtNode{p}, nil
	}
	kind, real := o.Classify(table)
	switch kind {
	case filter.RealTable:
		return []ast.StmtNode{p}, nil
	case filter.TrashTable:
		r.log.Debug("online DDL: statement on a trash table not replicated", "ddl", truncate(q, 200))
		return nil, nil
	}
	if !r.replicated(schema, real) {
		return nil, nil
	}
	switch n := p.(type) {
	case *ast.CreateTableStmt:
		return nil, r.online.put(ctx, schema, table, &onlineRecord{Schema: schema, Table: real, Positions: []string{fmtPos(at)}})
	case *ast.DropTableStmt:
		return nil, r.dropOnlineRecord(ctx, schema, table)
	case *ast.AlterTableStmt:
		for _, sp := range n.Specs {
			if sp.Tp == ast.AlterTableRenameTable {
				return nil, fmt.Errorf("online DDL: %q renames the ghost table %s with ALTER TABLE; only RENAME TABLE is supported for a cut-over",
					truncate(q, 200), sqlq.QuoteTable(schema, table))
			}
		}
		return nil, r.captureOnline(ctx, p, schema, table, real, q, at)
	case *ast.CreateIndexStmt, *ast.DropIndexStmt:
		return nil, r.captureOnline(ctx, p, schema, table, real, q, at)
	}
	// TRUNCATE and the like change only the ghost table's rows, which are not replicated.
	return nil, nil
}

// captureOnline saves a DDL run on a ghost table, unless the event filter skips it for
// the real table (DM filters ghost DDL by the real name) or it is a replay.
func (r *run) captureOnline(ctx context.Context, p ast.StmtNode, schema, ghost, real, q string, at position) error {
	a, err := r.cfg.Events.Filter(schema, real, filter.ClassifyDDL(p), q)
	if err != nil {
		return err
	}
	switch a {
	case filter.Ignore:
		r.log.Info("online DDL: ghost table DDL skipped by the binlog event filter", "ddl", truncate(q, 200))
		return nil
	case filter.Error:
		return fmt.Errorf("binlog event filter rejects DDL at %s: %q (action Error)", at, truncate(q, 200))
	}
	rec := r.online.get(schema, ghost)
	if rec == nil {
		r.log.Warn("online DDL: ALTER on a ghost table whose CREATE was not seen; the migration began before the task's start point",
			"ghost", sqlq.QuoteTable(schema, ghost))
		rec = &onlineRecord{Schema: schema, Table: real, Partial: true}
	}
	pos := fmtPos(at)
	if slices.Contains(rec.Positions, pos) {
		return nil // replayed after a restart: captured already
	}
	text, err := restore(p)
	if err != nil {
		return err
	}
	next := *rec
	next.DDLs = append(slices.Clone(rec.DDLs), text)
	next.Positions = append(slices.Clone(rec.Positions), pos)
	next.Cutover = ""
	r.log.Info("online DDL: captured ALTER of a ghost table", "ghost", sqlq.QuoteTable(schema, ghost), "ddl", truncate(text, 200))
	return r.online.put(ctx, schema, ghost, &next)
}

func (r *run) dropOnlineRecord(ctx context.Context, schema, ghost string) error {
	if r.online.get(schema, ghost) == nil {
		return nil
	}
	return r.online.remove(ctx, schema, ghost)
}

// onlineRename handles one RENAME pair (DM's rules: real → trash is dropped, ghost → real
// is the cut-over, a rename into a ghost name or out of a ghost name into another ghost
// name is an error).
func (r *run) onlineRename(ctx context.Context, rn *ast.RenameTableStmt, q string, at position) ([]ast.StmtNode, error) {
	o := r.cfg.OnlineDDL
	from, to := rn.TableToTables[0].OldTable, rn.TableToTables[0].NewTable
	fk, freal := o.Classify(from.Name.O)
	tk, _ := o.Classify(to.Name.O)
	if tk == filter.GhostTable {
		return nil, fmt.Errorf("online DDL: %q renames %s onto the ghost table name %s; online schema change tools never do this: "+
			"fix the shadow table rules or turn enhance_online_schema_change off", truncate(q, 200), sqlq.QuoteTable(from.Schema.O, from.Name.O), sqlq.QuoteTable(to.Schema.O, to.Name.O))
	}
	switch fk {
	case filter.RealTable:
		if tk == filter.TrashTable {
			r.log.Info("online DDL: cut-over rename of the real table into a trash table not replicated", "ddl", truncate(q, 200))
			return nil, nil
		}
		return []ast.StmtNode{rn}, nil
	case filter.TrashTable:
		if tk == filter.RealTable && r.replicated(to.Schema.O, to.Name.O) {
			r.log.Warn("online DDL: rename of a trash table onto a real table not replicated (DM's behaviour); the target keeps its table",
				"ddl", truncate(q, 200))
		}
		return nil, nil
	}
	gs, gt := from.Schema.O, from.Name.O
	if tk == filter.TrashTable || !r.replicated(gs, freal) && !r.replicated(to.Schema.O, to.Name.O) {
		return nil, r.dropOnlineRecord(ctx, gs, gt)
	}
	if !r.replicated(to.Schema.O, to.Name.O) {
		// The ghost table's real table is the task's but the cut-over moves it elsewhere.
		return nil, fmt.Errorf("online DDL: the cut-over %q moves the ghost table %s onto %s, which the task does not replicate; add it to the rules or skip the statement with a binlog event filter rule",
			truncate(q, 200), sqlq.QuoteTable(gs, gt), sqlq.QuoteTable(to.Schema.O, to.Name.O))
	}
	return r.cutover(ctx, rn, q, at)
}

// cutover turns the cut-over RENAME ghost → real into the captured statements on the
// real table and marks the record so that a restart knows where the cut-over is.
func (r *run) cutover(ctx context.Context, rn *ast.RenameTableStmt, q string, at position) ([]ast.StmtNode, error) {
	from, to := rn.TableToTables[0].OldTable, rn.TableToTables[0].NewTable
	gs, gt := from.Schema.O, from.Name.O
	rec := r.online.get(gs, gt)
	if rec == nil || rec.Partial {
		if a, err := r.cfg.Events.Filter(to.Schema.O, to.Name.O, filter.ClassifyDDL(rn), q); err == nil && a == filter.Ignore {
			return nil, nil
		}
		why := "no CREATE or ALTER of it was seen"
		if rec != nil {
			why = "its CREATE was not seen, so ALTERs may have been missed"
		}
		return nil, fmt.Errorf("online DDL: cut-over %q of the ghost table %s at %s, but %s (the migration began before the task's start point): "+
			"apply the tool's ALTER to the target table %s yourself, then skip this statement with a binlog event filter rule (sql_pattern)",
			truncate(q, 200), sqlq.QuoteTable(gs, gt), at, why, sqlq.QuoteTable(to.Schema.O, to.Name.O))
	}
	out := make([]ast.StmtNode, 0, len(rec.DDLs))
	for _, text := range rec.DDLs {
		stmts, _, err := r.parser.Parse(text, "", "")
		if err != nil || len(stmts) != 1 {
			return nil, fmt.Errorf("online DDL: cannot parse the captured statement %q of %s: %v", truncate(text, 200), sqlq.QuoteTable(gs, gt), err)
		}
		st := stmts[0]
		qualify(st, gs)
		for _, n := range collectTables(st) {
			if r.sameName(n.Schema.O, gs) && r.sameName(n.Name.O, gt) {
				n.Schema, n.Name = to.Schema, to.Name
			}
		}
		out = append(out, st)
	}
	if p, ok := parsePos(rec.Cutover); !ok || p != at {
		next := *rec
		next.Cutover = fmtPos(at)
		if err := r.online.put(ctx, gs, gt, &next); err != nil {
			return nil, err
		}
	}
	r.onlineDone = append(r.onlineDone, [2]string{gs, gt})
	r.log.Info("online DDL: cut-over; applying the captured statements to the real table",
		"ghost", sqlq.QuoteTable(gs, gt), "table", sqlq.QuoteTable(to.Schema.O, to.Name.O), "statements", len(out))
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// finishOnline is called after each DDL statement is handled (and the checkpoint writer
// calls finishOnlineCutovers): the cut-overs the statement ran become pending, and a pending record is deleted
// once the persisted global checkpoint is at or past its cut-over, so that nothing reads
// the RENAME again — neither a restart nor a re-read of the stream (a DDL held by shard
// coordination keeps the checkpoint before it). Without coordination the DDL's own
// checkpoint is there already.
func (r *run) finishOnline(ctx context.Context) error {
	if r.online == nil {
		return nil
	}
	done := r.onlineDone
	r.onlineDone = nil
	return r.finishOnlineCutovers(ctx, done)
}

// finishOnlineCutovers deletes the records of pending cut-overs the persisted checkpoint
// has passed (done are new ones). The checkpoint writer calls it with none.
func (r *run) finishOnlineCutovers(ctx context.Context, done [][2]string) error {
	if r.online == nil {
		return nil
	}
	r.cpMu.Lock()
	cp := r.lastGlobal
	r.cpMu.Unlock()
	return r.online.finish(ctx, done, cp, r.cfg.crashHook)
}

func (r *run) sameName(a, b string) bool {
	if r.cfg.CaseSensitive {
		return a == b
	}
	return strings.EqualFold(a, b)
}
