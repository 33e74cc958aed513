package dm

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// The task-scoped schema endpoints answer from the task's rules applied to the live
// source: which tables the task migrates and where to, and the schema it uses for each.
// A schema set through SetTaskTableStructure is stored with the subtask and takes
// precedence; the sync unit reads it instead of tracking the table itself.

// subtaskScope is one subtask with its stored task and source, resolved for a schema op.
type subtaskScope struct {
	task   *Task
	source *sourceRecord
	sub    *subtaskRecord
	rules  *subtaskRules
}

func (c *Cluster) subtaskScope(task, source string) (*subtaskScope, error) {
	txn := c.read()
	tr, _ := getRecord(txn, kindTask, task).(*taskRecord)
	if tr == nil {
		return nil, taskNotFound(task)
	}
	sr, _ := getRecord(txn, kindSource, source).(*sourceRecord)
	if sr == nil {
		return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", source)
	}
	st, _ := getRecord(txn, kindSubtask, subtaskKey(task, source)).(*subtaskRecord)
	if st == nil {
		return nil, NewError(CodeOpenAPICommon, "[code=40054:class=dm-worker:scope=internal:level=medium], Message: sub task with name %s not found on source %s", task, source)
	}
	if boundWorker(txn, source) == nil {
		return nil, NewError(CodeNoSourceInWorker, "no mysql source is being handled in the worker: source %s is not bound to a worker", source)
	}
	rules, err := c.subtaskRules(&tr.Task, sr)
	if err != nil {
		return nil, err
	}
	return &subtaskScope{task: &tr.Task, source: sr, sub: st, rules: rules}, nil
}

// migratedTables lists the source's base tables that the subtask migrates, with targets.
func (c *Cluster) migratedTables(ctx context.Context, sc *subtaskScope) ([]migrateTarget, error) {
	db, err := c.openSource(ctx, sc.source)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: list tables of source %s", sc.source.Source.SourceName).withCause(err)
	}
	defer rows.Close()
	var tables []filter.Table
	for rows.Next() {
		var t filter.Table
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			return nil, NewError(CodeDBDriver, "database driver error: list tables of source %s", sc.source.Source.SourceName).withCause(err)
		}
		if !filter.IsSystemSchema(t.Schema) {
			tables = append(tables, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: list tables of source %s", sc.source.Source.SourceName).withCause(err)
	}
	targets, err := sc.rules.migrateTargets(tables)
	if err != nil {
		return nil, NewError(CodeBadRoute, "route tables of source %s: %v", sc.source.Source.SourceName, err)
	}
	return targets, nil
}

// TaskMigrateTargets lists the source tables a task migrates from one source and where
// each goes. The patterns are Go regular expressions on the source schema and table
// ("" matches everything).
func (c *Cluster) TaskMigrateTargets(ctx context.Context, task, source, schemaPattern, tablePattern string) (List[TaskMigrateTarget], error) {
	var schemaRE, tableRE *regexp.Regexp
	for _, p := range []struct {
		re   **regexp.Regexp
		name string
		pat  string
	}{{&schemaRE, "schema_pattern", schemaPattern}, {&tableRE, "table_pattern", tablePattern}} {
		if p.pat == "" {
			continue
		}
		re, err := regexp.Compile(p.pat)
		if err != nil {
			return List[TaskMigrateTarget]{}, invalidf("%s %q is not a valid regular expression: %v", p.name, p.pat, err)
		}
		*p.re = re
	}
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return List[TaskMigrateTarget]{}, err
	}
	targets, err := c.migratedTables(ctx, sc)
	if err != nil {
		return List[TaskMigrateTarget]{}, err
	}
	var out []TaskMigrateTarget
	for _, t := range targets {
		if (schemaRE != nil && !schemaRE.MatchString(t.SourceSchema)) || (tableRE != nil && !tableRE.MatchString(t.SourceTable)) {
			continue
		}
		out = append(out, TaskMigrateTarget(t))
	}
	return newList(out), nil
}

// TaskSchemas lists the source schemas a task migrates from one source.
func (c *Cluster) TaskSchemas(ctx context.Context, task, source string) ([]string, error) {
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return nil, err
	}
	targets, err := c.migratedTables(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, t := range targets {
		out = append(out, t.SourceSchema)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// TaskTables lists the tables of one source schema that a task migrates.
func (c *Cluster) TaskTables(ctx context.Context, task, source, schema string) ([]string, error) {
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return nil, err
	}
	targets, err := c.migratedTables(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, t := range targets {
		if t.SourceSchema == schema {
			out = append(out, t.SourceTable)
		}
	}
	return out, nil
}

// migratedTable finds one table among those the subtask migrates.
func (c *Cluster) migratedTable(ctx context.Context, sc *subtaskScope, schema, table string) (*migrateTarget, error) {
	targets, err := c.migratedTables(ctx, sc)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if t.SourceSchema == schema && t.SourceTable == table {
			return &t, nil
		}
	}
	return nil, NewError(CodeOpenAPICommon, "table %s is not migrated by task %s from source %s", sqlq.QuoteTable(schema, table), sc.task.Name, sc.source.Source.SourceName)
}

// TaskTableStructure returns the CREATE TABLE the task uses for one source table, on one
// line: a schema set with SetTaskTableStructure, else the one the sync unit tracks (the
// table as of its binlog position), else the source's current one.
func (c *Cluster) TaskTableStructure(ctx context.Context, task, source, schema, table string) (*TableStructure, error) {
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return nil, err
	}
	if r, _ := getRecord(c.read(), kindSchema, schemaKey(task, source, schema, table)).(*schemaRecord); r != nil {
		return &TableStructure{SchemaName: schema, TableName: table, SchemaCreateSQL: r.CreateSQL}, nil
	}
	// What the running sync unit tracks: the schema as of its binlog position.
	if bw := boundWorker(c.read(), source); bw != nil && c.workers.get(bw.Name) != nil {
		if create, ok := c.workers.get(bw.Name).trackedTable(task, schema, table); ok {
			return &TableStructure{SchemaName: schema, TableName: table, SchemaCreateSQL: oneLine(create)}, nil
		}
	}
	if _, err := c.migratedTable(ctx, sc, schema, table); err != nil {
		return nil, err
	}
	db, err := c.openSource(ctx, sc.source)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	create, err := showCreateTable(ctx, db, schema, table)
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: read the schema of %s on source %s", sqlq.QuoteTable(schema, table), source).withCause(err)
	}
	return &TableStructure{SchemaName: schema, TableName: table, SchemaCreateSQL: oneLine(create)}, nil
}

func showCreateTable(ctx context.Context, db *sql.DB, schema, table string) (string, error) {
	var name, create string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlq.QuoteTable(schema, table)).Scan(&name, &create); err != nil {
		return "", err
	}
	return create, nil
}

// oneLine joins a multi-line statement into one line, as DM returns it.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

// SetTaskTableStructure replaces the schema a paused (or not yet started) subtask uses for
// one source table. The statement comes from req.SQLContent (schema_source "sql"), or is
// read from the source ("upstream") or the routed target table ("downstream"); it must be
// one CREATE TABLE, whose names are forced to the path's.
func (c *Cluster) SetTaskTableStructure(ctx context.Context, task, source, schema, table string, req SetTableStructureRequest) error {
	src := req.SchemaSource
	if src == "" {
		src = "sql"
	}
	switch src {
	case "sql":
		if req.SQLContent == nil || strings.TrimSpace(*req.SQLContent) == "" {
			return NewError(CodeOpenAPICommon, "`sql_content` must be provided and non-empty when `schema_source` is `sql`")
		}
	case "upstream", "downstream":
		if req.SQLContent != nil {
			return NewError(CodeOpenAPICommon, "`sql_content` must be omitted when `schema_source` is `%s`", src)
		}
	default:
		return invalidf("schema_source %q is not one of sql, upstream, downstream", src)
	}
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return err
	}
	if err := c.requireNotRunning(ctx, sc); err != nil {
		return err
	}
	var create string
	switch src {
	case "sql":
		create = *req.SQLContent
	case "upstream", "downstream":
		mt, err := c.migratedTable(ctx, sc, schema, table)
		if err != nil {
			return err
		}
		if src == "upstream" {
			db, err := c.openSource(ctx, sc.source)
			if err != nil {
				return err
			}
			defer db.Close()
			if create, err = showCreateTable(ctx, db, schema, table); err != nil {
				return NewError(CodeDBDriver, "database driver error: read the schema of %s on source %s", sqlq.QuoteTable(schema, table), source).withCause(err)
			}
		} else {
			db, err := openTarget(ctx, sc.task)
			if err != nil {
				return err
			}
			defer db.Close()
			if create, err = showCreateTable(ctx, db, mt.TargetSchema, mt.TargetTable); err != nil {
				return NewError(CodeDBDriver, "database driver error: read the schema of %s on the target", sqlq.QuoteTable(mt.TargetSchema, mt.TargetTable)).withCause(err)
			}
		}
	}
	stmt, err := normalizeCreateTable(create, schema, table)
	if err != nil {
		return err
	}
	return c.update(ctx, func(w *writeTxn) error {
		if w.get(kindSubtask, subtaskKey(task, source)) == nil {
			return NewError(CodeOpenAPICommon, "sub task with name %s not found on source %s", task, source)
		}
		w.put(kindSchema, &schemaRecord{Task: task, Source: source, Schema: schema, Table: table, CreateSQL: stmt})
		return nil
	})
}

// requireNotRunning refuses schema changes while the subtask runs (DM requires Paused). A
// subtask that was asked to stop and is still winding down is waited for, up to the
// stop's timeout_duration (default 10 s), so that a set right after a stop succeeds.
func (c *Cluster) requireNotRunning(ctx context.Context, sc *subtaskScope) error {
	bw := boundWorker(c.read(), sc.sub.Source)
	if bw == nil {
		return NewError(CodeNoSourceInWorker, "no mysql source is being handled in the worker: source %s is not bound to a worker", sc.sub.Source)
	}
	w := c.workers.get(bw.Name)
	if w != nil && w.subtaskStage(sc.sub.Task) == StageRunning && sc.sub.Expected != StageRunning {
		// A stop cancels the run at the latest after its wait; allow a little for the
		// units to unwind.
		wctx, cancel := context.WithTimeout(ctx, max(stopWait(sc.sub.StopTimeout), time.Second)+5*time.Second)
		_ = w.waitTaskStopped(wctx, sc.sub.Task)
		cancel()
	}
	if w != nil && w.subtaskStage(sc.sub.Task) == StageRunning {
		return NewError(CodeOpenAPICommon, "[code=40051:class=dm-worker:scope=internal:level=medium], Message: current stage is Running but not paused, invalid, Workaround: Please stop the task first.")
	}
	return nil
}

// normalizeCreateTable parses one CREATE TABLE and restores it with the given names.
func normalizeCreateTable(sqlText, schema, table string) (string, error) {
	p := parser.New()
	stmts, _, err := p.Parse(sqlText, "", "")
	if err != nil {
		return "", NewError(CodeOpenAPICommon, "[code=44009:class=schema-tracker:scope=internal:level=high], Message: statement %q is not a valid CREATE TABLE: %v", sqlText, err)
	}
	if len(stmts) != 1 {
		return "", NewError(CodeOpenAPICommon, "[code=44009:class=schema-tracker:scope=internal:level=high], Message: expected exactly one CREATE TABLE statement, got %d statements", len(stmts))
	}
	ct, ok := stmts[0].(*ast.CreateTableStmt)
	if !ok {
		return "", NewError(CodeOpenAPICommon, "[code=44009:class=schema-tracker:scope=internal:level=high], Message: statement %q is not a CREATE TABLE", sqlText)
	}
	ct.Table.Schema = ast.NewCIStr(schema)
	ct.Table.Name = ast.NewCIStr(table)
	var b strings.Builder
	if err := ct.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &b)); err != nil {
		return "", NewError(CodeInternal, "restore CREATE TABLE: %v", err)
	}
	return b.String(), nil
}

// DeleteTaskTableStructure drops a schema set with SetTaskTableStructure; the subtask then
// uses the schema it tracks itself. Deleting none is not an error.
func (c *Cluster) DeleteTaskTableStructure(ctx context.Context, task, source, schema, table string) error {
	sc, err := c.subtaskScope(task, source)
	if err != nil {
		return err
	}
	if err := c.requireNotRunning(ctx, sc); err != nil {
		return err
	}
	return c.update(ctx, func(w *writeTxn) error {
		if r := w.get(kindSchema, schemaKey(task, source, schema, table)); r != nil {
			w.del(kindSchema, r)
		}
		return nil
	})
}

// forgetSchemaOverrides deletes the table schemas set for a subtask once its sync unit has
// checkpointed them (they apply once, as in DM); a schema set again since is kept.
func (c *Cluster) forgetSchemaOverrides(task, taskID, source string, applied map[[2]string]string) {
	if err := c.forgetSchemaOverridesErr(task, taskID, source, applied); err != nil {
		c.log.Warn("forget applied table schemas", "task", task, "source", source, "err", err)
	}
}

// forgetSchemaOverridesErr is forgetSchemaOverrides returning the store's error (a worker process's report stays
// in etcd until it is applied).
func (c *Cluster) forgetSchemaOverridesErr(task, taskID, source string, applied map[[2]string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.update(ctx, func(w *writeTxn) error {
		st, _ := w.get(kindSubtask, subtaskKey(task, source)).(*subtaskRecord)
		if st == nil || st.TaskID != taskID {
			return nil
		}
		for k, sqlText := range applied {
			if r, _ := w.get(kindSchema, schemaKey(task, source, k[0], k[1])).(*schemaRecord); r != nil && r.CreateSQL == sqlText {
				w.del(kindSchema, r)
			}
		}
		return nil
	})
	return err
}

// tableSchemaOverrides returns the schemas set for a subtask, by (schema, table); the
// sync unit applies them on its next start.
func tableSchemaOverrides(txn txnReader, task, source string) map[[2]string]string {
	out := map[[2]string]string{}
	for _, r := range listRecords[*schemaRecord](txn, kindSchema, "id_prefix", task+"\x00"+source+"\x00") {
		out[[2]string{r.Schema, r.Table}] = r.CreateSQL
	}
	return out
}
