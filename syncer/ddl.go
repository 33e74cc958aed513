package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/sqlq"
	"github.com/dmkit/dmkit/syncer/tracker"
)

// skipStatement matches statements that are never replicated, also when the parser cannot
// read them (as DM's built-in skip list): savepoints, maintenance, accounts and grants,
// stored programs, views, events, triggers, temporary tables, plugins, XA.
var skipStatement = regexp.MustCompile(`(?is)^\s*(` +
	`SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO|FLUSH|OPTIMIZE|ANALYZE|REPAIR|CHECK\s+TABLE|CHECKSUM|` +
	`GRANT|REVOKE|SET\s+PASSWORD|SET\s+DEFAULT\s+ROLE|(CREATE|DROP|ALTER|RENAME)\s+(USER|ROLE)|` +
	`(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(DEFINER\s*=\s*\S+\s+)?(SQL\s+SECURITY\s+\w+\s+)?(ALGORITHM\s*=\s*\w+\s+)?` +
	`(AGGREGATE\s+)?(TRIGGER|PROCEDURE|FUNCTION|EVENT|VIEW|TABLESPACE|LOGFILE|SERVER|SEQUENCE|PACKAGE)|` +
	`(CREATE|DROP)\s+(OR\s+REPLACE\s+)?TEMPORARY|INSTALL|UNINSTALL|XA\s|` +
	`INSERT|REPLACE|UPDATE|DELETE|LOAD\s+DATA|SELECT|DO\s|CALL|SET\s|USE\s|LOCK|UNLOCK|KILL|SHUTDOWN|RESET|PURGE|CHANGE\s+MASTER|START|STOP` +
	`)\b`)

// ddlStmt is one single-table (or single-database) DDL statement after splitting.
type ddlStmt struct {
	node   ast.StmtNode
	schema string // source schema of the statement's (first) table or database
	table  string // source table ("" for database statements)
	// execute is false when a filter drops it: it is only applied to the tracker.
	execute bool
	sql     string // target statement text
	// routed is set when sql is already the target statement (no routing, and the
	// tracker must not apply node: it names target objects).
	routed bool
	// fallback, when set, is the fully qualified text to run instead of sql if the
	// default schema sql relies on does not exist on the target.
	fallback string
}

// handleStatement handles a non-transaction-control query event. isDDL reports whether it
// was a DDL (which always ends its transaction).
func (r *run) handleStatement(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, q string) (isDDL bool, err error) {
	defSchema := string(e.Schema)
	stmts, _, perr := r.parser.Parse(q, "", "")
	if perr != nil {
		if skipStatement.MatchString(q) {
			return false, nil
		}
		if a, ferr := r.cfg.Events.Filter(defSchema, "", filter.NullEvent, q); ferr == nil && a == filter.Ignore {
			return false, nil
		}
		return false, fmt.Errorf("cannot parse statement at %s: %q: %v; if it need not be replicated, add a binlog filter rule with a sql_pattern matching it",
			position{r.curFile, h.LogPos}, truncate(q, 200), perr)
	}
	var ddls []*ddlStmt
	parts := 0 // single statements after splitting, replicated or not
	for _, st := range stmts {
		if !isReplicatedDDL(st) {
			continue
		}
		isDDL = true
		split := splitDDL(st)
		parts += len(split)
		split, rewritten, oerr := r.onlineDDL(ctx, split, defSchema, q, position{r.curFile, h.LogPos})
		if oerr != nil {
			return true, oerr
		}
		if rewritten {
			parts++ // the original text no longer says what runs
		}
		for _, one := range split {
			qualify(one, defSchema)
			d := &ddlStmt{node: one}
			d.schema, d.table = ddlTarget(one)
			if err := r.checkRename(one, q, position{r.curFile, h.LogPos}); err != nil {
				return true, err
			}
			if !r.replicated(d.schema, d.table) || r.shardSkipped(d.schema, d.table, position{r.curFile, h.LogPos}) {
				continue
			}
			a, ferr := r.cfg.Events.Filter(d.schema, d.table, filter.ClassifyDDL(one), q)
			if ferr != nil {
				return true, ferr
			}
			switch a {
			case filter.Error:
				return true, fmt.Errorf("binlog event filter rejects DDL at %s: %q (action Error)", position{r.curFile, h.LogPos}, truncate(q, 200))
			case filter.Ignore:
				d.execute = false
			default:
				d.execute = true
			}
			var drops []*ddlStmt
			if act, why := r.ddlScope(d); d.execute && act != scopeRun {
				r.log.Warn("DDL not applied to the target as written: it would change objects the task does not own",
					"ddl", truncate(q, 200), "reason", why, "at", position{r.curFile, h.LogPos})
				d.execute = false
				if act == scopeDropOwned {
					if drops, err = r.ownedDrops(ctx, d); err != nil {
						return true, err
					}
				}
			}
			ddls = append(ddls, d)
			ddls = append(ddls, drops...)
		}
	}
	if !isDDL && !skipStatement.MatchString(q) {
		r.log.Debug("skipping non-DDL statement", "query", truncate(q, 200))
	}
	if len(ddls) == 0 {
		return isDDL, r.finishOnline(ctx)
	}
	// The original text may run as is only when it is exactly the one statement kept:
	// a multi-table DROP or RENAME names tables outside the rules too.
	if err := r.applyDDL(ctx, h, e, q, defSchema, ddls, len(stmts) == 1 && parts == 1 && len(ddls) == 1); err != nil {
		return true, err
	}
	return true, r.finishOnline(ctx)
}

// applyDDL drains the workers, checkpoints the point before the DDL, updates the tracker,
// executes the routed statements on the target and checkpoints the point after it.
func (r *run) applyDDL(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, q, defSchema string, ddls []*ddlStmt, single bool) error {
	end := changePos{r.curFile, h.LogPos, 0}
	endLoc := Location{File: r.curFile, Pos: h.LogPos}
	// Render the target statements first: the tracker needs the source names.
	for _, d := range ddls {
		if !d.execute || d.routed {
			continue
		}
		var err error
		if d.sql, d.fallback, err = r.routeDDL(d, q, single); err != nil {
			return err
		}
	}
	if held, err := r.shardGate(ctx, h, ddls); held || err != nil {
		return err
	}
	if err := r.drain(ctx); err != nil {
		return err
	}
	// Point before the DDL: every change before it is committed. Mark the DDL itself as
	// replay-tolerant until it is checkpointed.
	r.cpMu.Lock()
	prevExit := r.exitSafe
	if r.exitSafe.File == "" || posOf(endLoc).compare(posOf(r.exitSafe)) > 0 {
		r.exitSafe = endLoc
	}
	r.cpMu.Unlock()
	if err := r.flushGlobal(ctx, true); err != nil {
		return err
	}
	if r.cfg.crashHook != nil {
		r.cfg.crashHook("before-ddl")
	}
	safe := r.safeAt(end, h.Timestamp) || posOf(prevExit).compare(posOf(endLoc)) >= 0
	tz := statusTimeZone(e.StatusVars)
	if tz == "" || tz == "SYSTEM" {
		tz = r.ddlTZ
	}
	for _, d := range ddls {
		// A routed statement (the task's own table dropped in place of one it may not
		// run) names target objects: the tracker has applied the original already.
		if _, err := r.trackDDL(defSchema, d); err != nil && !tracker.IsIgnorable(err) {
			// The target statement still runs; forgetting the table makes the next rows
			// event re-read its schema from the target, which has the DDL applied.
			r.log.Warn("schema tracker could not apply DDL; will re-read the table from the target",
				"ddl", truncate(q, 200), "error", err)
			if d.table != "" {
				r.tr.DropTable(d.schema, d.table)
			}
		}
		if !d.execute {
			continue
		}
		r.blockingDDL.Store(&d.sql)
		err := r.execDDL(ctx, d, defSchema, h.Timestamp, tz, safe)
		r.blockingDDL.Store(nil)
		if err != nil {
			return err
		}
		r.s.totalEvents.Add(1)
	}
	if err := r.shardExecuted(ctx); err != nil {
		return err
	}
	clear(r.tables)
	if r.cfg.crashHook != nil {
		r.cfg.crashHook("after-ddl")
	}
	r.endTxn(h)
	if err := r.takeSnapshot(); err != nil {
		return err
	}
	return r.writeGlobalAt(ctx, r.published.Load().loc, true)
}

// dropsMissing reports whether err is a DROP TABLE / DROP DATABASE finding nothing to drop.
func dropsMissing(d *ddlStmt, err error) bool {
	switch d.node.(type) {
	case *ast.DropTableStmt:
		return errNumber(err) == erBadTable || errNumber(err) == erNoSuchTable
	case *ast.DropDatabaseStmt:
		return errNumber(err) == erDBDropExists
	}
	return false
}

// trackDDL applies d to the schema tracker, unless it is a routed target statement.
func (r *run) trackDDL(defSchema string, d *ddlStmt) ([]tracker.TableName, error) {
	if d.routed {
		return nil, nil
	}
	return r.tr.ExecStmt(defSchema, d.node)
}

// execDDL runs one statement on a dedicated connection with the source session's time
// zone and timestamp. Broken connections and lock waits are retried; "already exists /
// does not exist" errors are accepted when the statement may be a replay (safe mode or a
// retry after an unknown outcome).
func (r *run) execDDL(ctx context.Context, d *ddlStmt, defSchema string, ts uint32, tz string, safe bool) error {
	text := d.sql
	deadline := time.Now().Add(r.cfg.retryBudget)
	backoff := 200 * time.Millisecond
	retried, schemaCreated := false, false
	for {
		err := r.execDDLOnce(ctx, d, defSchema, ts, tz)
		if err == nil {
			return nil
		}
		if !schemaCreated {
			created, cerr := r.createMissingSchema(ctx, d, err)
			if cerr != nil {
				return cerr
			}
			if schemaCreated = created; created {
				continue
			}
		}
		if dropsMissing(d, err) {
			// What it drops is gone: the outcome the statement wants. MariaDB logs a
			// multi-table DROP TABLE that failed on a missing table with every name.
			r.log.Warn("DDL drops an object the target does not have; continuing", "ddl", truncate(text, 200), "error", err)
			return nil
		}
		if (safe || retried) && ddlAlreadyDone(err) {
			r.log.Warn("DDL already applied on the target; continuing", "ddl", truncate(text, 200), "error", err)
			return nil
		}
		if !dbconn.IsRetryable(err) {
			return fmt.Errorf("execute DDL on the target: %q: %w; fix the target or skip the statement with a binlog filter rule", truncate(text, 300), err)
		}
		if time.Now().After(deadline) {
			return temporary(fmt.Errorf("execute DDL on the target: %q: still failing after %s: %w", truncate(text, 300), r.cfg.retryBudget, err))
		}
		retried = retried || dbconn.IsConnLost(err)
		r.log.Warn("retrying DDL", "ddl", truncate(text, 200), "error", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// createMissingSchema creates the target schema of a CREATE TABLE that failed because the
// schema does not exist: schema-level DDL reaches the target only for schemas the task
// owns as a whole, so a table the task owns may land in a schema nobody created yet.
func (r *run) createMissingSchema(ctx context.Context, d *ddlStmt, err error) (bool, error) {
	if _, ok := d.node.(*ast.CreateTableStmt); !ok || errNumber(err) != erBadDB {
		return false, nil
	}
	ts, _, rerr := r.cfg.Route(d.schema, d.table)
	if rerr != nil {
		return false, rerr
	}
	q := "CREATE DATABASE IF NOT EXISTS " + sqlq.QuoteName(ts)
	if err := r.fence(ctx, r.target); err != nil {
		return false, err
	}
	if _, cerr := r.target.ExecContext(ctx, q); cerr != nil {
		return false, fmt.Errorf("create the target schema of %s: %q: %w", sqlq.QuoteTable(d.schema, d.table), q, cerr)
	}
	r.log.Info("created target schema for a table", "schema", ts, "table", d.table)
	return true, nil
}

func (r *run) execDDLOnce(ctx context.Context, d *ddlStmt, defSchema string, ts uint32, tz string) error {
	text := d.sql
	if err := r.fence(ctx, r.target); err != nil {
		return err
	}
	conn, err := r.target.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	setup := []string{"SET TIMESTAMP = " + fmt.Sprint(ts)}
	if tz != "" {
		setup = append(setup, "SET SESSION time_zone = "+string(appendQuoted(nil, tz)))
	}
	for _, s := range setup {
		if _, err := conn.ExecContext(ctx, s); err != nil && dbconn.IsConnLost(err) {
			return err
		}
	}
	if d.fallback != "" {
		if defSchema == "" {
			text = d.fallback
		} else if _, err := conn.ExecContext(ctx, "USE "+sqlq.QuoteName(defSchema)); err != nil {
			if dbconn.IsConnLost(err) {
				return err
			}
			text = d.fallback
		}
	}
	_, err = conn.ExecContext(ctx, text)
	// Leave the pooled connection as the DSN set it up.
	_, _ = conn.ExecContext(context.Background(), "SET TIMESTAMP = DEFAULT")
	_, _ = conn.ExecContext(context.Background(), "SET SESSION time_zone = '"+r.cfg.TimeZone+"'")
	r.s.ioBytes.Add(uint64(len(text)))
	return err
}

// routeDDL renders the target text of d: the original statement when nothing is renamed
// (so syntax the TiDB parser would normalise stays as written; it runs after USE of the
// event's default schema), else the statement restored from the AST with routed, fully
// qualified names. fallback is the restored text, for when the default schema does not
// exist on the target. The AST keeps the source names: the tracker needs them.
func (r *run) routeDDL(d *ddlStmt, original string, single bool) (text, fallback string, err error) {
	switch n := d.node.(type) {
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt, *ast.DropDatabaseStmt:
		s, _, err := r.cfg.Route(d.schema, "")
		if err != nil {
			return "", "", err
		}
		text, err := restore(cloneDBStmt(n, s))
		if err != nil {
			return "", "", err
		}
		if _, create := n.(*ast.CreateDatabaseStmt); s == d.schema && single && !create {
			return original, text, nil
		}
		return text, "", nil
	}
	names := collectTables(d.node)
	type name struct{ schema, table ast.CIStr }
	orig := make([]name, len(names))
	routed := make([]name, len(names))
	renamed := false
	for i, t := range names {
		orig[i] = name{t.Schema, t.Name}
		s, tb, err := r.cfg.Route(t.Schema.O, t.Name.O)
		if err != nil {
			return "", "", err
		}
		if s != t.Schema.O || tb != t.Name.O {
			renamed = true
		}
		routed[i] = name{ast.NewCIStr(s), ast.NewCIStr(tb)}
	}
	for i, t := range names {
		t.Schema, t.Name = routed[i].schema, routed[i].table
	}
	text, err = restore(d.node)
	for i, t := range names {
		t.Schema, t.Name = orig[i].schema, orig[i].table
	}
	if err != nil {
		return "", "", err
	}
	if !renamed && single {
		return original, text, nil
	}
	return text, "", nil
}

// tableInfo returns the applier view of a source table, learning its schema from the
// target (then the source) when the tracker does not know it.
func (r *run) tableInfo(ctx context.Context, schema, table string) (*tableInfo, error) {
	key := [2]string{schema, table}
	if ti, ok := r.tables[key]; ok {
		return ti, nil
	}
	tgtSchema, tgtTable, err := r.cfg.Route(schema, table)
	if err != nil {
		return nil, err
	}
	tbl, ok := r.tr.Table(schema, table)
	if !ok {
		if err := r.bootstrap(ctx, schema, table, tgtSchema, tgtTable); err != nil {
			return nil, err
		}
		if tbl, ok = r.tr.Table(schema, table); !ok {
			return nil, fmt.Errorf("schema tracker lost %s after loading it", sqlq.QuoteTable(schema, table))
		}
	}
	ti := newTableInfo(tbl, schema, table, tgtSchema, tgtTable)
	if err := r.shardReplayColumns(ctx, ti); err != nil {
		return nil, err
	}
	r.tables[key] = ti
	return ti, nil
}

// bootstrap loads a table's schema into the tracker: from the target table (DM's way: the
// target has the source's schema as of the replicated point), else from the source.
func (r *run) bootstrap(ctx context.Context, schema, table, tgtSchema, tgtTable string) error {
	create, err := showCreateTable(ctx, r.target, tgtSchema, tgtTable)
	from := "target"
	if err != nil {
		create, err = showCreateTable(ctx, r.source, schema, table)
		from = "source (current schema)"
		if err != nil {
			return fmt.Errorf("schema of %s is unknown: not in the checkpoint, the target or the source (%v); set it through the table-schema API",
				sqlq.QuoteTable(schema, table), err)
		}
	}
	if err := r.tr.SetTable(schema, table, create); err != nil {
		return fmt.Errorf("load schema of %s from the %s: %w", sqlq.QuoteTable(schema, table), from, err)
	}
	r.log.Info("loaded table schema", "table", sqlq.QuoteTable(schema, table), "from", from)
	return r.takeSnapshot()
}

func showCreateTable(ctx context.Context, db *sql.DB, schema, table string) (string, error) {
	var name, create string
	err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlq.QuoteTable(schema, table)).Scan(&name, &create)
	if err != nil {
		return "", err
	}
	return create, nil
}

// statusTimeZone extracts Q_TIME_ZONE_CODE from a query event's status variables, ""
// when absent or when an unknown variable precedes it.
func statusTimeZone(vars []byte) string {
	for i := 0; i < len(vars); {
		code := vars[i]
		i++
		switch code {
		case 0: // Q_FLAGS2_CODE
			i += 4
		case 1: // Q_SQL_MODE_CODE
			i += 8
		case 2: // Q_CATALOG_CODE: length, string, NUL
			if i >= len(vars) {
				return ""
			}
			i += 1 + int(vars[i]) + 1
		case 3: // Q_AUTO_INCREMENT
			i += 4
		case 4: // Q_CHARSET_CODE
			i += 6
		case 5: // Q_TIME_ZONE_CODE
			if i >= len(vars) {
				return ""
			}
			n := int(vars[i])
			if i+1+n > len(vars) {
				return ""
			}
			return string(vars[i+1 : i+1+n])
		case 6: // Q_CATALOG_NZ_CODE
			if i >= len(vars) {
				return ""
			}
			i += 1 + int(vars[i])
		case 7: // Q_LC_TIME_NAMES_CODE
			i += 2
		case 8: // Q_CHARSET_DATABASE_CODE
			i += 2
		case 9: // Q_TABLE_MAP_FOR_UPDATE_CODE
			i += 8
		default:
			return ""
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
