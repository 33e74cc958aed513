package dm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/syncer"
)

// Optimistic shard DDL (shard_mode optimistic). There is no barrier: each shard's DDL is
// judged against the joined schema of the group — the target table, which holds every
// compatible change any shard made — and only the part that changes it runs:
//   - ADD COLUMN (nullable or with a default) and ADD INDEX run when the first shard
//     sends them; the same definition from another shard is skipped;
//   - MODIFY/CHANGE COLUMN runs when it widens the joined type;
//   - DROP COLUMN / DROP INDEX run when the last shard of the group dropped it (until then
//     re-adding the column is a conflict, as in DM);
//   - anything else that changes a column incompatibly (narrowing, another definition of
//     an added column, a NOT NULL column without default, renames) is a conflict: with
//     strict_optimistic_shard_mode the subtask pauses with an error naming both DDLs;
//     without it the DDL waits as a pessimistic lock until every shard sent the same
//     statement (or the lock is unlocked through the API).
// Rows of shards still on an older schema keep flowing, written with their own column
// list (the target fills the rest with defaults).

// targetCol is a column of the target table.
type targetCol struct {
	typ      colType
	nullable bool
}

// optimisticCoordinator is the syncer's view of the keeper in optimistic mode.
type optimisticCoordinator struct {
	k            *lockKeeper
	task, taskID string
	strict       bool
}

func (o *optimisticCoordinator) Arrive(ctx context.Context, d syncer.ShardDDL) (syncer.ShardDecision, error) {
	dec, err := o.k.arriveOptimistic(ctx, o.task, o.taskID, o.strict, d)
	return dec, coordErr(err)
}

func (o *optimisticCoordinator) Left(ctx context.Context, d syncer.ShardDDL) error {
	return coordErr(o.k.left(ctx, o.task, o.taskID, d))
}

func (o *optimisticCoordinator) Executed(ctx context.Context, d syncer.ShardDDL) error {
	// Only a conflict that fell back to a lock needs resolving.
	return coordErr(o.k.executed(ctx, o.task, o.taskID, d))
}

// shardConflict is the error of an incompatible optimistic DDL.
func shardConflict(id, shard, ddl, other, why string) error {
	return NewError(CodeShardDDLConflict,
		"shard DDL conflict in %s: %s's %q is incompatible with %s (%s); make the shards' changes compatible "+
			"(or, without strict_optimistic_shard_mode, send the same DDL on every shard or unlock the lock through the API)",
		id, shard, ddl, other, why)
}

func (k *lockKeeper) arriveOptimistic(ctx context.Context, task, taskID string, strict bool, d syncer.ShardDDL) (syncer.ShardDecision, error) {
	id := shardLockID(task, d.TargetSchema, d.TargetTable)
	k.mu.Lock()
	r := k.record(id, task, taskID, d.TargetSchema, d.TargetTable)
	if r.Open != nil && slices.Equal(r.Open.DDLs, d.DDLs) || r.resolvedAt(d) {
		k.mu.Unlock()
		return k.arrive(ctx, task, taskID, d) // a conflict waiting as a lock: join it
	}
	dec, conflict, err := k.judge(ctx, r, d)
	if err != nil || conflict == nil {
		k.mu.Unlock()
		return dec, err
	}
	k.mu.Unlock()
	if strict || r.Open != nil {
		return syncer.ShardDecision{}, conflict
	}
	k.c.log.Warn("optimistic shard DDL conflicts; it waits as a lock until every shard sends it", "lock", id, "conflict", conflict)
	return k.arrive(ctx, task, taskID, d)
}

// judge decides an optimistic DDL against the target table. conflict is set (and nothing
// stored) when the DDL is incompatible. Callers hold mu.
func (k *lockKeeper) judge(ctx context.Context, r *shardLockRecord, d syncer.ShardDDL) (syncer.ShardDecision, error, error) {
	me := shardName(d.Source, d.Schema, d.Table)
	ddl := d.DDLs[0]
	stmts, _, err := parser.New().Parse(ddl, "", "")
	if err != nil || len(stmts) != 1 {
		return syncer.ShardDecision{}, nil, fmt.Errorf("parse shard DDL %q: %v", ddl, err)
	}
	alter, ok := asAlter(stmts[0])
	if !ok {
		return syncer.ShardDecision{Action: syncer.ShardExecute}, nil, nil
	}
	cols, idx, err := k.c.targetSchema(ctx, r)
	if err != nil {
		return syncer.ShardDecision{}, nil, err
	}
	if r.Added == nil {
		r.Added = map[string]string{}
	}
	if r.Dropped == nil {
		r.Dropped = map[string][]string{}
	}
	by := me + ": " + ddl
	other := func(key, what string) string {
		if o := r.Added[key]; o != "" {
			return fmt.Sprintf("%q", o)
		}
		return "the target's " + what
	}
	var kept []*ast.AlterTableSpec
	for _, sp := range alter.Specs {
		switch sp.Tp {
		case ast.AlterTableAddColumns:
			var add []*ast.ColumnDef
			for _, c := range sp.NewColumns {
				name, def := c.Name.Name.L, columnOf(c)
				if by := r.Dropped["col:"+name]; len(by) > 0 {
					// DM's rule: a column some shards dropped is not re-added until all have.
					return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, fmt.Sprintf("the DROP COLUMN %s of %s", name, strings.Join(by, ", ")),
						"column "+name+" is re-added while other shards still drop it"), nil
				}
				if cur, ok := cols[name]; ok {
					if cur.typ.same(def.typ) && cur.nullable == def.nullable {
						continue // another shard added it already
					}
					return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, other("col:"+name, "column "+name+" "+cur.typ.text),
						"column "+name+" is added with another definition"), nil
				}
				if !def.nullable && !hasDefault(c) {
					return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, "the other shards' rows, which lack the column",
						"column "+name+" is NOT NULL without a DEFAULT"), nil
				}
				add = append(add, c)
				r.Added["col:"+name] = by
			}
			if len(add) > 0 {
				cp := *sp
				cp.NewColumns = add
				kept = append(kept, &cp)
			}
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			c := sp.NewColumns[0]
			name := c.Name.Name.L
			if sp.Tp == ast.AlterTableChangeColumn && sp.OldColumnName.Name.L != name {
				return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, "the other shards' column "+sp.OldColumnName.Name.O, "a column rename"), nil
			}
			cur, ok := cols[name]
			def := columnOf(c)
			switch {
			case !ok:
				kept = append(kept, sp)
			case cur.typ.same(def.typ) && (cur.nullable == def.nullable || def.nullable):
				if cur.nullable != def.nullable {
					kept = append(kept, sp) // NOT NULL → NULL relaxes the joined schema
				}
			case cur.typ.widens(def.typ) && (def.nullable || !cur.nullable):
				kept = append(kept, sp)
				r.Added["col:"+name] = by
			default:
				return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, other("col:"+name, "column "+name+" "+cur.typ.text),
					"column "+name+" would be narrowed or changed in kind"), nil
			}
		case ast.AlterTableDropColumn:
			name := sp.OldColumnName.Name.L
			if _, ok := cols[name]; !ok {
				continue
			}
			all, err := k.droppedByAll(ctx, r, "col:"+name, me)
			if err != nil {
				return syncer.ShardDecision{}, nil, err
			}
			if all {
				kept = append(kept, sp)
			}
		case ast.AlterTableAddConstraint:
			name := strings.ToLower(sp.Constraint.Name)
			if sp.Constraint.Tp == ast.ConstraintPrimaryKey {
				name = "primary"
			}
			if idx[name] {
				continue
			}
			kept = append(kept, sp)
			r.Added["idx:"+name] = by
		case ast.AlterTableDropIndex, ast.AlterTableDropPrimaryKey:
			name := strings.ToLower(sp.Name)
			if sp.Tp == ast.AlterTableDropPrimaryKey {
				name = "primary"
			}
			if !idx[name] {
				continue
			}
			all, err := k.droppedByAll(ctx, r, "idx:"+name, me)
			if err != nil {
				return syncer.ShardDecision{}, nil, err
			}
			if all {
				kept = append(kept, sp)
			}
		case ast.AlterTableRenameColumn, ast.AlterTableRenameTable, ast.AlterTableRenameIndex:
			return syncer.ShardDecision{}, shardConflict(r.ID, me, ddl, "the other shards' names", "a rename"), nil
		default:
			kept = append(kept, sp)
		}
	}
	if err := k.save(ctx, r); err != nil {
		return syncer.ShardDecision{}, nil, err
	}
	if len(kept) == 0 {
		return syncer.ShardDecision{Action: syncer.ShardSkip}, nil, nil
	}
	out := *alter
	out.Specs = kept
	var sb strings.Builder
	if err := out.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return syncer.ShardDecision{}, nil, fmt.Errorf("render shard DDL for the target: %w", err)
	}
	return syncer.ShardDecision{Action: syncer.ShardExecute, DDLs: []string{sb.String()}}, nil, nil
}

// droppedByAll records that shard me dropped key and reports whether every shard of the
// group has.
func (k *lockKeeper) droppedByAll(ctx context.Context, r *shardLockRecord, key, me string) (bool, error) {
	if !slices.Contains(r.Dropped[key], me) {
		r.Dropped[key] = append(r.Dropped[key], me)
	}
	shards, err := k.c.groupShards(ctx, r.Task, r.TargetSchema, r.TargetTable)
	if err != nil {
		return false, err
	}
	for _, s := range shards {
		if !slices.Contains(r.Dropped[key], s.name()) {
			return false, nil
		}
	}
	delete(r.Dropped, key)
	return true, nil
}

// asAlter views a table DDL as an ALTER TABLE (CREATE/DROP INDEX become its specs).
func asAlter(st ast.StmtNode) (*ast.AlterTableStmt, bool) {
	switch n := st.(type) {
	case *ast.AlterTableStmt:
		return n, true
	case *ast.CreateIndexStmt:
		tp := ast.ConstraintIndex
		if n.KeyType == ast.IndexKeyTypeUnique {
			tp = ast.ConstraintUniq
		}
		return &ast.AlterTableStmt{Table: n.Table, Specs: []*ast.AlterTableSpec{{Tp: ast.AlterTableAddConstraint,
			Constraint: &ast.Constraint{Tp: tp, Name: n.IndexName, Keys: n.IndexPartSpecifications, Option: n.IndexOption}}}}, true
	case *ast.DropIndexStmt:
		return &ast.AlterTableStmt{Table: n.Table, Specs: []*ast.AlterTableSpec{{Tp: ast.AlterTableDropIndex, Name: n.IndexName}}}, true
	}
	return nil, false
}

// columnOf is a column definition's type and nullability.
func columnOf(c *ast.ColumnDef) targetCol {
	t := targetCol{typ: parseColType(c.Tp.InfoSchemaStr()), nullable: true}
	for _, o := range c.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull, ast.ColumnOptionPrimaryKey:
			t.nullable = false
		case ast.ColumnOptionNull:
			t.nullable = true
		}
	}
	return t
}

func hasDefault(c *ast.ColumnDef) bool {
	for _, o := range c.Options {
		if o.Tp == ast.ColumnOptionDefaultValue || o.Tp == ast.ColumnOptionAutoIncrement {
			return true
		}
	}
	return false
}

// targetSchema reads the target table's columns and index names.
func (c *Cluster) targetSchema(ctx context.Context, r *shardLockRecord) (map[string]targetCol, map[string]bool, error) {
	tr, _ := getRecord(c.read(), kindTask, r.Task).(*taskRecord)
	if tr == nil {
		return nil, nil, fmt.Errorf("task %s vanished", r.Task)
	}
	db, err := dbconn.Open(ctx, targetDBConfig(&tr.Task.TargetConfig), "")
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT LOWER(COLUMN_NAME), COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, r.TargetSchema, r.TargetTable)
	if err != nil {
		return nil, nil, fmt.Errorf("read the target schema of %s: %w", r.ID, err)
	}
	defer rows.Close()
	cols := map[string]targetCol{}
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			return nil, nil, err
		}
		cols[name] = targetCol{typ: parseColType(typ), nullable: nullable == "YES"}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	irows, err := db.QueryContext(ctx, `SELECT DISTINCT LOWER(INDEX_NAME) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, r.TargetSchema, r.TargetTable)
	if err != nil {
		return nil, nil, fmt.Errorf("read the target indexes of %s: %w", r.ID, err)
	}
	defer irows.Close()
	idx := map[string]bool{}
	for irows.Next() {
		var n string
		if err := irows.Scan(&n); err != nil {
			return nil, nil, err
		}
		idx[n] = true
	}
	return cols, idx, irows.Err()
}
