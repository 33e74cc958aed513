package dm

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// The precheck (DM's check-task) runs before a task is created or updated. It inspects the
// sources and the target with the rules of each subtask and reports DM's check_result text.
// The items, their names, descriptions and messages follow tiflow dm/pkg/checker so that
// DM's clients, which look for substrings such as "column length mismatch" or "have
// auto-increment key", keep working.

// Precheck item names, as listed in ignore_checking_items (tiflow dm/config/checking_item.go).
const (
	precheckAll                  = "all"
	precheckDumpPrivilege        = "dump_privilege"
	precheckReplicationPrivilege = "replication_privilege"
	precheckVersion              = "version"
	precheckServerID             = "server_id"
	precheckBinlogEnable         = "binlog_enable"
	precheckBinlogFormat         = "binlog_format"
	precheckBinlogRowImage       = "binlog_row_image"
	precheckBinlogDB             = "binlog_db"
	precheckTableSchema          = "table_schema"
	precheckShardTableSchema     = "schema_of_shard_tables"
	precheckShardAutoIncrement   = "auto_increment_ID"
	precheckMetaPosition         = "meta_position"
	precheckConnNumber           = "conn_number"
	precheckTargetPrivilege      = "target_privilege"
)

const (
	// precheckMsgHeader starts every failed or warning check_result, as in DM.
	precheckMsgHeader = "fail to check synchronization configuration with type"
	// precheckPassed is the check_result of a clean precheck (the trailing space is DM's).
	precheckPassed = "pre-check is passed. "
	// precheckErrLimit and precheckWarnLimit cap the errors and warnings shown in the
	// detail, as DM's OpenAPI does (DefaultErrorCnt, DefaultWarnCnt).
	precheckErrLimit  = 10
	precheckWarnLimit = 10
	// precheckParallel bounds the concurrent checks and source inspections.
	precheckParallel = 8
	// pcAutoIncrementExtra marks the sharding result whose only problem is auto-increment keys.
	pcAutoIncrementExtra = "auto-increment key checking"
)

// precheckSource is one source of the task: an open connection and the subtask's rules.
type precheckSource struct {
	Name   string
	DB     *sql.DB       // connection to the source
	Flavor string        // "mysql" | "mariadb"
	Rules  *subtaskRules // from buildSubtaskRules; nil migrates every non-system table
	// Addr is host:port of the source, shown in the detail as DM does; optional.
	Addr string
}

// precheckInput is one task's precheck input: per source an open connection and the rules.
type precheckInput struct {
	Mode      string // task_mode: all|full|incremental|dump|load
	ShardMode string // "", "pessimistic", "optimistic"
	Sources   []precheckSource
	Target    *sql.DB  // always present in dm
	Ignore    []string // ignore_checking_items

	ExportThreads, ImportThreads int // 0 means DM's defaults (4 and 16)
	// Optional refinements; the zero values behave like DM's defaults.

	// TargetAddr is host:port of the target, shown in the detail.
	TargetAddr string
	// Consistency is full_migrate_conf.consistency; "" means "auto" (needs RELOAD).
	Consistency string
	// Meta is each source's source_conf entry; when it names a binlog file, meta_position
	// verifies that the file still exists on the source (incremental tasks only).
	Meta map[string]TaskSourceConf
	// TaskName and MetaSchema, when both set, let the shard checks skip a task that already
	// has checkpoints in the target (DM checks only fresh tasks).
	TaskName, MetaSchema string
}

// precheckState is the outcome of one check or one finding.
type precheckState string

// The states of DM's checker.
const (
	precheckSuccess precheckState = "success"
	precheckFailure precheckState = "fail"
	precheckWarning precheckState = "warn"
)

// precheckFinding is one problem found by a check (DM's checker.Error).
type precheckFinding struct {
	Severity    precheckState `json:"severity"`
	ShortErr    string        `json:"short_error"`
	Self        string        `json:"self,omitempty"`
	Other       string        `json:"other,omitempty"`
	Instruction string        `json:"instruction,omitempty"`
}

// precheckItemResult is the result of one check (DM's checker.Result).
type precheckItemResult struct {
	ID          uint64             `json:"id"`
	Name        string             `json:"name"`
	Desc        string             `json:"desc"`
	State       precheckState      `json:"state"`
	Errors      []*precheckFinding `json:"errors,omitempty"`
	Instruction string             `json:"instruction,omitempty"`
	Extra       string             `json:"extra,omitempty"`
}

// fail records a failure finding and turns the result into a failure.
func (r *precheckItemResult) fail(format string, args ...any) *precheckFinding {
	r.State = precheckFailure
	f := &precheckFinding{Severity: precheckFailure, ShortErr: fmt.Sprintf(format, args...)}
	r.Errors = append(r.Errors, f)
	return f
}

// warn records a warning finding; it does not hide an earlier failure.
func (r *precheckItemResult) warn(format string, args ...any) *precheckFinding {
	if r.State != precheckFailure {
		r.State = precheckWarning
	}
	f := &precheckFinding{Severity: precheckWarning, ShortErr: fmt.Sprintf(format, args...)}
	r.Errors = append(r.Errors, f)
	return f
}

// precheckSummary counts the results (DM's checker.ResultSummary).
type precheckSummary struct {
	Passed     bool  `json:"passed"`
	Total      int64 `json:"total"`
	Successful int64 `json:"successful"`
	Failed     int64 `json:"failed"`
	Warning    int64 `json:"warning"`
}

// precheckReport is the detail JSON of check_result (DM's checker.Results).
type precheckReport struct {
	Results []*precheckItemResult `json:"results"`
	Summary *precheckSummary      `json:"summary"`
}

// precheckFunc is one check; it never returns nil.
type precheckFunc func(ctx context.Context) *precheckItemResult

// precheck runs the checks; it returns DM's check_result text and a *Error (code 26005,
// CodePrecheckFailed) when any check fails with an error.
func precheck(ctx context.Context, in precheckInput) (checkResult string, err error) {
	items := precheckItems(in.Ignore)
	if items == nil {
		return "", nil
	}
	p := &prechecker{in: in, items: items}
	if err := p.inspect(ctx); err != nil {
		return "", err
	}
	checks, err := p.plan(ctx)
	if err != nil {
		return "", err
	}
	results := runPrechecks(ctx, checks)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("precheck interrupted: %w", err)
	}
	return renderPrecheck(results)
}

// precheckItems returns the items to run: every item except the ignored ones, or nil when
// "all" is ignored. Unknown names are ignored, as in DM.
func precheckItems(ignore []string) map[string]bool {
	items := map[string]bool{}
	for _, it := range []string{
		precheckDumpPrivilege, precheckReplicationPrivilege, precheckVersion, precheckServerID,
		precheckBinlogEnable, precheckBinlogFormat, precheckBinlogRowImage, precheckBinlogDB,
		precheckTableSchema, precheckShardTableSchema, precheckShardAutoIncrement,
		precheckMetaPosition, precheckConnNumber, precheckTargetPrivilege,
	} {
		items[it] = true
	}
	for _, it := range ignore {
		if it == precheckAll {
			return nil
		}
		delete(items, it)
	}
	return items
}

// pcModeDumps, pcModeLoads and pcModeSyncs tell which units a task mode runs.
func pcModeDumps(mode string) bool { return mode == ModeAll || mode == ModeFull || mode == ModeDump }
func pcModeLoads(mode string) bool { return mode == ModeAll || mode == ModeFull || mode == ModeLoad }
func pcModeSyncs(mode string) bool { return mode == ModeAll || mode == ModeIncremental }

// pcTable names one table.
type pcTable struct{ Schema, Name string }

// String quotes the table as `schema`.`name`, the way DM prints tables.
func (t pcTable) String() string { return sqlq.QuoteTable(t.Schema, t.Name) }

// pcColumn is one column as information_schema describes it.
type pcColumn struct {
	Name      string // as defined
	Type      string // COLUMN_TYPE, e.g. int(11) unsigned
	DataType  string // DATA_TYPE, e.g. int
	Ignorable bool   // an INSERT may omit it: nullable, defaulted, auto-increment or generated
	AutoInc   bool
}

// pcTableMeta is what the table checks need to know about one table.
type pcTableMeta struct {
	Columns   []pcColumn
	Keys      map[string][]string // unique index name ("PRIMARY" for the PK) -> lower-cased columns
	Collation string
}

// pcSource is one source with the tables the task migrates from it.
type pcSource struct {
	*precheckSource
	tables  []pcTable                // migrated tables, sorted
	targets map[pcTable]pcTable      // migrated table -> routed target table
	meta    map[pcTable]*pcTableMeta // filled when a table check runs
}

// prechecker holds one precheck run.
type prechecker struct {
	in      precheckInput
	items   map[string]bool
	sources []*pcSource
}

// needTableMeta reports whether any planned check reads table definitions.
func (p *prechecker) needTableMeta() bool {
	return p.items[precheckTableSchema] || p.wantShardChecks()
}

// wantShardChecks mirrors DM: shard consistency is checked only for shard tasks that dump.
func (p *prechecker) wantShardChecks() bool {
	return p.items[precheckShardTableSchema] && p.in.ShardMode != "" && pcModeDumps(p.in.Mode)
}

// inspect lists, filters and routes every source's tables (and reads their definitions when
// a table check needs them), one source at a time per worker.
func (p *prechecker) inspect(ctx context.Context) error {
	p.sources = make([]*pcSource, len(p.in.Sources))
	errs := make([]error, len(p.in.Sources))
	withMeta := p.needTableMeta()
	pcParallel(len(p.in.Sources), func(i int) {
		s := &pcSource{precheckSource: &p.in.Sources[i]}
		p.sources[i] = s
		if err := s.listTables(ctx); err != nil {
			errs[i] = err
			return
		}
		if withMeta {
			meta, err := pcFetchTableMeta(ctx, s.DB, s.tables)
			if err != nil {
				errs[i] = err
				return
			}
			s.meta = meta
		}
	})
	for i, err := range errs {
		if err != nil {
			return NewError(CodePrecheckFailed, "fail to initialize checker: inspect the tables of source %s", p.in.Sources[i].Name).withCause(err)
		}
	}
	return nil
}

// listTables finds the base tables of the source that the rules migrate and routes them.
func (s *pcSource) listTables(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	s.targets = map[pcTable]pcTable{}
	for rows.Next() {
		var t pcTable
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		if !s.migrates(t) {
			continue
		}
		target, err := s.route(t)
		if err != nil {
			return err
		}
		s.tables = append(s.tables, t)
		s.targets[t] = target
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	slices.SortFunc(s.tables, comparePCTable)
	return nil
}

// migrates applies the block-allow list (system schemas are never migrated).
func (s *pcSource) migrates(t pcTable) bool {
	if s.Rules == nil {
		return !isPrecheckSystemSchema(t.Schema)
	}
	return s.Rules.BA.Match(t.Schema, t.Name)
}

// route applies the table routes.
func (s *pcSource) route(t pcTable) (pcTable, error) {
	if s.Rules == nil {
		return t, nil
	}
	ts, tt, err := s.Rules.Router.Route(t.Schema, t.Name)
	if err != nil {
		return pcTable{}, fmt.Errorf("route %s: %w", t, err)
	}
	return pcTable{Schema: ts, Name: tt}, nil
}

// isPrecheckSystemSchema is the fallback when a source has no rules.
func isPrecheckSystemSchema(schema string) bool {
	switch strings.ToLower(schema) {
	case "mysql", "sys", "information_schema", "performance_schema", "metrics_schema", "inspection_schema", "dm_heartbeat":
		return true
	}
	return false
}

func comparePCTable(a, b pcTable) int {
	return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
}

// pcSchemasOf returns the distinct schemas of tables, sorted.
func pcSchemasOf(tables []pcTable) []string {
	var out []string
	for _, t := range tables {
		out = append(out, t.Schema)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pcInList returns "?, ?, ..." for n placeholders and the values as arguments.
func pcInList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", "), args
}

// pcFetchTableMeta reads the columns, unique keys and collation of tables from
// information_schema, with one query of each kind per call.
func pcFetchTableMeta(ctx context.Context, db *sql.DB, tables []pcTable) (map[pcTable]*pcTableMeta, error) {
	meta := make(map[pcTable]*pcTableMeta, len(tables))
	for _, t := range tables {
		meta[t] = &pcTableMeta{Keys: map[string][]string{}}
	}
	schemas := pcSchemasOf(tables)
	if len(schemas) == 0 {
		return meta, nil
	}
	in, args := pcInList(schemas)
	query := func(what, q string, scan func(rows *sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		return nil
	}
	err := query("columns", `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE,
		IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA IN (`+in+`) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
		func(rows *sql.Rows) error {
			var (
				t               pcTable
				c               pcColumn
				nullable, extra string
				def             sql.NullString
			)
			if err := rows.Scan(&t.Schema, &t.Name, &c.Name, &c.Type, &c.DataType, &nullable, &def, &extra); err != nil {
				return err
			}
			m, ok := meta[t]
			if !ok {
				return nil
			}
			extra = strings.ToLower(extra)
			c.Type = strings.ToLower(c.Type)
			c.DataType = strings.ToLower(c.DataType)
			c.AutoInc = strings.Contains(extra, "auto_increment")
			generated := strings.Contains(extra, "generated") || strings.Contains(extra, "virtual") ||
				strings.Contains(extra, "persistent") || strings.Contains(extra, "stored")
			c.Ignorable = nullable == "YES" || def.Valid || c.AutoInc || generated
			m.Columns = append(m.Columns, c)
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = query("unique keys", `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME
		FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA IN (`+in+`)
		ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
		func(rows *sql.Rows) error {
			var (
				t     pcTable
				index string
				col   sql.NullString // NULL for functional key parts
			)
			if err := rows.Scan(&t.Schema, &t.Name, &index, &col); err != nil {
				return err
			}
			if m, ok := meta[t]; ok {
				m.Keys[index] = append(m.Keys[index], strings.ToLower(col.String))
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = query("table collations", `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION
		FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (`+in+`)`,
		func(rows *sql.Rows) error {
			var (
				t         pcTable
				collation sql.NullString
			)
			if err := rows.Scan(&t.Schema, &t.Name, &collation); err != nil {
				return err
			}
			if m, ok := meta[t]; ok {
				m.Collation = strings.ToLower(collation.String)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return meta, nil
}

// plan lists the checks in DM's order (tiflow dm/checker/checker.go Init).
func (p *prechecker) plan(ctx context.Context) ([]precheckFunc, error) {
	var checks []precheckFunc
	in, items := p.in, p.items
	target := in.Target != nil
	if items[precheckConnNumber] {
		if pcModeDumps(in.Mode) {
			threads := cmp.Or(in.ExportThreads, defaultExportThreads)
			for _, s := range p.sources {
				checks = append(checks, pcConnNumberCheck(s.DB, "dumper_conn_number_checker", "dumper", pcPrivProcess, threads+2))
			}
		}
		if pcModeLoads(in.Mode) && target {
			need := len(p.sources) * (cmp.Or(in.ImportThreads, defaultImportThreads) + 1)
			checks = append(checks, pcLoaderConnNumberCheck(in.Target, need))
		}
	}
	if items[precheckTargetPrivilege] && target {
		checks = append(checks, p.targetPrivilegeCheck)
	}
	for _, s := range p.sources {
		if items[precheckVersion] {
			checks = append(checks, s.versionCheck)
		}
		if pcModeDumps(in.Mode) {
			if items[precheckDumpPrivilege] {
				checks = append(checks, s.dumpPrivilegeCheck(cmp.Or(in.Consistency, "auto")))
			}
		} else if meta, ok := in.Meta[s.Name]; ok && items[precheckMetaPosition] && meta.BinlogName != nil && *meta.BinlogName != "" {
			checks = append(checks, s.metaPositionCheck(meta))
		}
		if pcModeSyncs(in.Mode) {
			if items[precheckServerID] {
				checks = append(checks, s.serverIDCheck)
			}
			if items[precheckBinlogEnable] {
				checks = append(checks, s.variableCheck("mysql_binlog_enable", "check whether mysql binlog is enabled",
					"log_bin", "ON", "ref document: https://dev.mysql.com/doc/refman/5.7/en/replication-howto-masterbaseconfig.html"))
			}
			if items[precheckBinlogFormat] {
				checks = append(checks, s.variableCheck("mysql_binlog_format", "check whether mysql binlog_format is ROW",
					"binlog_format", "ROW", "please execute 'set global binlog_format=ROW;'"))
			}
			if items[precheckBinlogRowImage] {
				checks = append(checks, s.variableCheck("mysql_binlog_row_image", "check whether mysql binlog_row_image is FULL",
					"binlog_row_image", "FULL", "please execute 'set global binlog_row_image = FULL;'"))
			}
			if items[precheckReplicationPrivilege] {
				checks = append(checks, s.replicationPrivilegeCheck)
			}
			if items[precheckBinlogDB] {
				checks = append(checks, s.binlogDBCheck)
			}
		}
	}
	if items[precheckTableSchema] {
		checks = append(checks, p.tableSchemaCheck)
	}
	if p.wantShardChecks() {
		fresh, err := p.freshTask(ctx)
		if err != nil {
			return nil, NewError(CodePrecheckFailed, "fail to initialize checker: read the task's checkpoints in the target").withCause(err)
		}
		if fresh {
			checks = append(checks, p.shardChecks()...)
		}
	}
	return checks, nil
}

// pcParallel calls fn(0..n-1) on at most precheckParallel goroutines and waits for them.
func pcParallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, precheckParallel) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// runPrechecks runs the checks concurrently and returns their results in plan order.
func runPrechecks(ctx context.Context, checks []precheckFunc) []*precheckItemResult {
	results := make([]*precheckItemResult, len(checks))
	pcParallel(len(checks), func(i int) {
		r := checks[i](ctx)
		r.ID = uint64(i)
		results[i] = r
	})
	return results
}

// renderPrecheck turns results into DM's check_result: the pass text, the warning text,
// or a 26005 error. The detail lists only failing and warning results, capped like DM.
func renderPrecheck(results []*precheckItemResult) (string, error) {
	sum := &precheckSummary{Total: int64(len(results))}
	var first string
	for _, r := range results {
		switch r.State {
		case precheckSuccess:
			sum.Successful++
		case precheckFailure:
			sum.Failed++
			if first == "" {
				first = precheckHeadline(r)
			}
		case precheckWarning:
			sum.Warning++
		}
	}
	sum.Passed = sum.Failed == 0
	if sum.Successful == sum.Total {
		return precheckPassed, nil
	}
	report := &precheckReport{Results: limitFindings(results), Summary: sum}
	detail, err := json.MarshalIndent(report, "\t", "\t")
	if err != nil {
		return "", fmt.Errorf("encode precheck detail: %w", err)
	}
	if !sum.Passed {
		return "", NewError(CodePrecheckFailed, "%s: %s\n detail: %s", precheckMsgHeader, first, detail)
	}
	return fmt.Sprintf("%s: no errors but some warnings\n detail: %s", precheckMsgHeader, detail), nil
}

// precheckHeadline is the one-line summary of a failed result used in the error message: its first
// error, where it was found and what to do.
func precheckHeadline(r *precheckItemResult) string {
	msg := r.Name + " failed"
	instruction := r.Instruction
	for _, e := range r.Errors {
		if e.Severity == precheckFailure {
			msg = e.ShortErr
			instruction = cmp.Or(e.Instruction, instruction)
			break
		}
	}
	msg = strings.TrimSpace(msg)
	if r.Extra != "" {
		msg += " (" + r.Extra + ")"
	}
	if instruction != "" {
		msg += ". " + instruction
	}
	return msg
}

// limitFindings keeps the failing and warning results, showing at most precheckErrLimit
// failures and precheckWarnLimit warnings overall (tiflow dm/checker Process).
func limitFindings(results []*precheckItemResult) []*precheckItemResult {
	errLeft, warnLeft := precheckErrLimit, precheckWarnLimit
	take := func(s precheckState) bool {
		switch s {
		case precheckFailure:
			if errLeft > 0 {
				errLeft--
				return true
			}
		case precheckWarning:
			if warnLeft > 0 {
				warnLeft--
				return true
			}
		}
		return false
	}
	out := []*precheckItemResult{}
	for _, r := range results {
		if r.State == precheckSuccess {
			continue
		}
		if len(r.Errors) == 0 {
			if take(r.State) {
				out = append(out, r)
			}
			continue
		}
		var kept []*precheckFinding
		for _, e := range r.Errors {
			if take(e.Severity) {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 {
			c := *r
			c.Errors = kept
			out = append(out, &c)
		}
	}
	return out
}

// pcInstanceExtra is the Extra of a per-server result.
func pcInstanceExtra(addr, fallback string) string {
	if addr != "" {
		return "address of db instance - " + addr
	}
	return fallback
}

func (s *pcSource) extra() string { return pcInstanceExtra(s.Addr, "source "+s.Name) }

// pcMarkError records a failure to run a check (a query error).
func pcMarkError(r *precheckItemResult, err error) *precheckItemResult {
	if errors.Is(err, context.Canceled) {
		r.warn("%v", err)
		return r
	}
	r.fail("%v", err)
	return r
}

// pcGlobalVariable reads one global variable; ok is false when the server has no such variable.
func pcGlobalVariable(ctx context.Context, db *sql.DB, name string) (value string, ok bool, err error) {
	// name is always one of our constants; SHOW ... LIKE cannot take a placeholder everywhere.
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'")
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return "", false, fmt.Errorf("read %s: %w", name, err)
		}
		if strings.EqualFold(n, name) {
			value, ok = v, true
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	return value, ok, nil
}

// pcVersion is a parsed x.y.z server version.
type pcVersion [3]uint

func (v pcVersion) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

func (v pcVersion) less(o pcVersion) bool { return slices.Compare(v[:], o[:]) < 0 }

// parsePCVersion reads the x.y.z prefix of a version string such as 10.11.6-MariaDB-log.
func parsePCVersion(s string) (pcVersion, error) {
	var v pcVersion
	num, _, _ := strings.Cut(s, "-")
	parts := strings.Split(num, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("MySQL version %s not valid", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return v, fmt.Errorf("MySQL version %s not valid", s)
		}
		v[i] = uint(n)
	}
	return v, nil
}

// Supported source versions: MySQL [5.6.0, 8.5.0) as DM, MariaDB from 10.1.2 (dmkit
// supports MariaDB sources fully; DM warns on every MariaDB).
var (
	pcMinMySQL      = pcVersion{5, 6, 0}
	pcMaxMySQL      = pcVersion{8, 5, 0}
	pcMinMariaDB    = pcVersion{10, 1, 2}
	pcRowImageSince = pcVersion{5, 6, 2}
)

// versionCheck warns on a source version dmkit does not support.
func (s *pcSource) versionCheck(ctx context.Context) *precheckItemResult {
	r := &precheckItemResult{Name: "mysql_version", Desc: "check whether mysql version is satisfied",
		State: precheckSuccess, Extra: s.extra()}
	raw, _, err := pcGlobalVariable(ctx, s.DB, "version")
	if err != nil {
		return pcMarkError(r, err)
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "tidb") {
		r.warn("Not support migrate from TiDB")
		return r
	}
	v, err := parsePCVersion(raw)
	if err != nil {
		return pcMarkError(r, err)
	}
	lo, hi := pcMinMySQL, pcMaxMySQL
	if strings.Contains(lower, "mariadb") || s.Flavor == "mariadb" {
		lo, hi = pcMinMariaDB, pcVersion{}
	}
	switch {
	case v.less(lo):
		r.warn("version suggested at least %v but got %v", lo, v)
	case hi != pcVersion{} && !v.less(hi):
		r.warn("version suggested less than %v but got %v", hi, v)
	}
	if r.State == precheckWarning {
		r.Instruction = "Please use a supported MySQL (5.6 to 8.4) or MariaDB (10.1.2 or later) version."
	}
	return r
}

// serverIDCheck fails when the source's server_id is unset or 0.
func (s *pcSource) serverIDCheck(ctx context.Context) *precheckItemResult {
	r := &precheckItemResult{Name: "mysql_server_id", Desc: "check whether mysql server_id has been greater than 0",
		State: precheckSuccess, Extra: s.extra()}
	v, ok, err := pcGlobalVariable(ctx, s.DB, "server_id")
	switch {
	case err != nil:
		return pcMarkError(r, err)
	case !ok:
		r.fail("server_id not set")
		r.Instruction = "please set server_id in your database"
	case v == "0":
		r.fail("server_id is 0")
		r.Instruction = "please set server_id greater than 0"
	}
	return r
}

// variableCheck fails unless a global variable has the wanted value (case-insensitive).
func (s *pcSource) variableCheck(name, desc, variable, want, instruction string) precheckFunc {
	return func(ctx context.Context) *precheckItemResult {
		r := &precheckItemResult{Name: name, Desc: desc, State: precheckSuccess, Extra: s.extra()}
		if variable == "binlog_row_image" {
			// binlog_row_image exists since MySQL 5.6.2; older servers always log full rows.
			raw, _, err := pcGlobalVariable(ctx, s.DB, "version")
			if err != nil {
				return pcMarkError(r, err)
			}
			v, err := parsePCVersion(raw)
			if err != nil {
				return pcMarkError(r, err)
			}
			if v.less(pcRowImageSince) {
				return r
			}
		}
		v, _, err := pcGlobalVariable(ctx, s.DB, variable)
		if err != nil {
			return pcMarkError(r, err)
		}
		if !strings.EqualFold(v, want) {
			r.fail("%s is %s, and should be %s", variable, v, want)
			r.Instruction = instruction
		}
		return r
	}
}

// binlogDBCheck warns when binlog_do_db / binlog_ignore_db keep a migrated schema out of
// the binlog.
func (s *pcSource) binlogDBCheck(ctx context.Context) *precheckItemResult {
	r := &precheckItemResult{Name: "binlog_do_db/binlog_ignore_db check",
		Desc: "check whether migrated dbs are in binlog_do_db/binlog_ignore_db", State: precheckSuccess, Extra: s.extra()}
	doDB, ignoreDB, err := pcBinlogFilters(ctx, s.DB)
	if err != nil {
		return pcMarkError(r, err)
	}
	schemas := pcSchemasOf(s.tables)
	split := func(list string) []string {
		var out []string
		for _, x := range strings.Split(list, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	listed := func(list []string, schema string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, schema) })
	}
	// The server applies binlog_do_db when set and binlog_ignore_db only otherwise.
	if do := split(doDB); len(do) > 0 {
		var missing []string
		for _, sc := range schemas {
			if !listed(do, sc) {
				missing = append(missing, sc)
			}
		}
		if len(missing) > 0 {
			r.warn("these dbs [%s] are not in binlog_do_db[%s]", strings.Join(missing, ","), doDB)
			r.Instruction = "Ensure that the do_dbs contains the dbs you want to migrate"
		}
		return r
	}
	ignore := split(ignoreDB)
	var ignored []string
	for _, sc := range schemas {
		if listed(ignore, sc) {
			ignored = append(ignored, sc)
		}
	}
	if len(ignored) > 0 {
		r.warn("these dbs [%s] are in binlog_ignore_db[%s]", strings.Join(ignored, ","), ignoreDB)
		r.Instruction = "Ensure that the ignore_dbs does not contain the dbs you want to migrate"
	}
	return r
}

// pcBinlogStatus runs SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+) and returns
// its first row by column name; the map is empty when binary logging is off.
func pcBinlogStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		var err2 error
		if rows, err2 = db.QueryContext(ctx, "SHOW BINARY LOG STATUS"); err2 != nil {
			return nil, fmt.Errorf("read binlog status: %w", err)
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("read binlog status: %w", err)
	}
	out := map[string]string{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read binlog status: %w", err)
		}
		for i, c := range cols {
			out[strings.ToLower(c)] = vals[i].String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read binlog status: %w", err)
	}
	return out, nil
}

// pcBinlogFilters returns the server's binlog_do_db and binlog_ignore_db lists.
func pcBinlogFilters(ctx context.Context, db *sql.DB) (doDB, ignoreDB string, err error) {
	st, err := pcBinlogStatus(ctx, db)
	if err != nil {
		return "", "", err
	}
	return st["binlog_do_db"], st["binlog_ignore_db"], nil
}

// metaPositionCheck verifies that the binlog file an incremental task starts from still
// exists on the source and that the position lies within it.
func (s *pcSource) metaPositionCheck(meta TaskSourceConf) precheckFunc {
	return func(ctx context.Context) *precheckItemResult {
		r := &precheckItemResult{Name: "meta position check", Desc: "check whether meta position is valid for db",
			State: precheckSuccess, Extra: s.extra()}
		rows, err := s.DB.QueryContext(ctx, "SHOW BINARY LOGS")
		if err != nil {
			return pcMarkError(r, fmt.Errorf("list binary logs: %w", err))
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return pcMarkError(r, fmt.Errorf("list binary logs: %w", err))
		}
		sizes := map[string]int64{}
		var names []string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return pcMarkError(r, fmt.Errorf("list binary logs: %w", err))
			}
			size, _ := strconv.ParseInt(vals[min(1, len(vals)-1)].String, 10, 64)
			sizes[vals[0].String] = size
			names = append(names, vals[0].String)
		}
		if err := rows.Err(); err != nil {
			return pcMarkError(r, fmt.Errorf("list binary logs: %w", err))
		}
		name := *meta.BinlogName
		size, ok := sizes[name]
		switch {
		case !ok:
			available := "none"
			if len(names) > 0 {
				available = names[0] + " to " + names[len(names)-1]
			}
			r.fail("binlog file %s does not exist on the source (available: %s)", name, available)
			r.Instruction = "Please set binlog_name and binlog_pos in source_conf to a position that still exists on the source."
		case meta.BinlogPos != nil && *meta.BinlogPos > size:
			r.fail("binlog position (%s, %d) is beyond the end of the file (size %d)", name, *meta.BinlogPos, size)
			r.Instruction = "Please set binlog_pos in source_conf to a position inside the binlog file."
		}
		return r
	}
}

// pcConnNumberCheck compares the connections a unit needs with max_connections and, when the
// account may list them (priv), with the connections still free (tiflow conn_checker.go).
func pcConnNumberCheck(db *sql.DB, name, unit string, priv pcPriv, need int) precheckFunc {
	return func(ctx context.Context) *precheckItemResult {
		r := &precheckItemResult{Name: name, Desc: "check if connetion concurrency exceeds database's maximum connection limit",
			State: precheckSuccess}
		raw, _, err := pcGlobalVariable(ctx, db, "max_connections")
		if err != nil {
			return pcMarkError(r, err)
		}
		maxConn, _ := strconv.Atoi(raw)
		if maxConn == 0 {
			return r // unlimited
		}
		used := 0
		lack, err := pcLackingPrivileges(ctx, db, []*pcPrivNeed{{priv: priv, global: true}})
		switch {
		case err != nil:
			return pcMarkError(r, err)
		case lack != "":
			// Without the privilege the process list shows only our own connections.
			r.warn("%s", lack)
			r.Instruction = "You need grant related privileges."
		default:
			if used, err = pcCountProcesses(ctx, db); err != nil {
				return pcMarkError(r, err)
			}
		}
		const instruction = "You need to set a larger max_connection, or adjust the configuration of DM such as reducing the worker count of sycner and reducing the pool size of the dumper and loader."
		if need > maxConn {
			r.fail("checked database's max_connections: %d is less than the number %s needs: %d", maxConn, unit, need)
			r.Instruction = instruction
		} else if maxConn-used < need {
			r.warn("database's max_connections: %d, used_connections: %d, available_connections: %d is less than %s needs: %d",
				maxConn, used, maxConn-used, unit, need)
			r.Instruction = instruction
		}
		return r
	}
}

// pcLoaderConnNumberCheck checks the target's connections for the load unit; like DM it only
// warns, since the need is an upper bound.
func pcLoaderConnNumberCheck(db *sql.DB, need int) precheckFunc {
	check := pcConnNumberCheck(db, "loader_conn_number_checker", "loader", pcPrivSuper, need)
	return func(ctx context.Context) *precheckItemResult {
		r := check(ctx)
		if r.State == precheckFailure {
			r.State = precheckWarning
			for _, e := range r.Errors {
				e.Severity = precheckWarning
			}
			r.Instruction = "You need to set a larger max_connections on the target, or lower import_threads."
		}
		return r
	}
}

// pcCountProcesses counts the server's connections other than ours.
func pcCountProcesses(ctx context.Context, db *sql.DB) (int, error) {
	rows, err := db.QueryContext(ctx, "SHOW PROCESSLIST")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	return max(n-1, 0), nil
}

// freshTask reports whether the task has no checkpoint table in the target yet.
func (p *prechecker) freshTask(ctx context.Context) (bool, error) {
	if p.in.TaskName == "" || p.in.MetaSchema == "" || p.in.Target == nil {
		return true, nil
	}
	var n int
	err := p.in.Target.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?, ?)`, p.in.MetaSchema,
		p.in.TaskName+"_loader_checkpoint", p.in.TaskName+"_lightning_checkpoint_list",
		p.in.TaskName+"_syncer_checkpoint").Scan(&n)
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// pcPriv is one privilege a check needs.
type pcPriv struct {
	name  string // as GRANT spells it, upper case
	label string // as DM prints it in "lack of ... privilege"
	order int    // DM's print order (the privilege's bit in TiDB's parser)
}

// The privileges the checks need.
var (
	pcPrivCreate     = pcPriv{"CREATE", "Create", 1}
	pcPrivSelect     = pcPriv{"SELECT", "Select", 2}
	pcPrivInsert     = pcPriv{"INSERT", "Insert", 3}
	pcPrivUpdate     = pcPriv{"UPDATE", "Update", 4}
	pcPrivDelete     = pcPriv{"DELETE", "Delete", 5}
	pcPrivSuper      = pcPriv{"SUPER", "Super", 7}
	pcPrivDrop       = pcPriv{"DROP", "Drop", 10}
	pcPrivProcess    = pcPriv{"PROCESS", "Process", 11}
	pcPrivAlter      = pcPriv{"ALTER", "Alter", 14}
	pcPrivIndex      = pcPriv{"INDEX", "Index", 16}
	pcPrivLockTables = pcPriv{"LOCK TABLES", "LOCK TABLES", 22}
	pcPrivReload     = pcPriv{"RELOAD", "RELOAD", 27}
	pcPrivReplClient = pcPriv{"REPLICATION CLIENT", "REPLICATION CLIENT", 31}
	pcPrivReplSlave  = pcPriv{"REPLICATION SLAVE", "REPLICATION SLAVE", 32}
)

// pcPrivNeed is a privilege needed either globally (ON *.*) or on some tables.
type pcPrivNeed struct {
	priv   pcPriv
	global bool
	// tables still lacking the privilege: schema -> table; only for non-global needs.
	tables map[string]map[string]bool
}

// met reports whether nothing is lacking any more.
func (n *pcPrivNeed) met() bool { return !n.global && len(n.tables) == 0 }

// pcGrantCovers reports whether a granted privilege (upper case) provides the needed one.
// MariaDB shows REPLICATION CLIENT as BINLOG MONITOR (10.5+) and accepts REPLICATION REPLICA
// for REPLICATION SLAVE; SUPER lets one read the binlog status; MySQL 8's FLUSH_TABLES is
// enough for the FLUSH TABLES WITH READ LOCK that RELOAD is needed for.
func pcGrantCovers(granted, need string) bool {
	if granted == need {
		return true
	}
	switch need {
	case pcPrivReplClient.name:
		return granted == "BINLOG MONITOR" || granted == "SUPER"
	case pcPrivReplSlave.name:
		return granted == "REPLICATION REPLICA"
	case pcPrivReload.name:
		return granted == "FLUSH_TABLES"
	}
	return false
}

// pcTablePrivNeed needs priv on each of tables.
func pcTablePrivNeed(priv pcPriv, tables []pcTable) *pcPrivNeed {
	n := &pcPrivNeed{priv: priv, tables: map[string]map[string]bool{}}
	for _, t := range tables {
		if n.tables[t.Schema] == nil {
			n.tables[t.Schema] = map[string]bool{}
		}
		n.tables[t.Schema][t.Name] = true
	}
	return n
}

// pcShowGrants returns the grants of the connected account (and of its active roles).
func pcShowGrants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("read grants: %w", err)
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return grants, nil
}

// pcLackingPrivileges returns DM's "lack of ... privilege; " text for the needs the account's
// grants do not meet, or "" when all are met.
func pcLackingPrivileges(ctx context.Context, db *sql.DB, needs []*pcPrivNeed) (string, error) {
	grants, err := pcShowGrants(ctx, db)
	if err != nil {
		return "", err
	}
	return pcLackingPrivilegesIn(grants, needs), nil
}

// pcLackingPrivilegesIn is pcLackingPrivileges on SHOW GRANTS lines. It updates needs.
func pcLackingPrivilegesIn(grants []string, needs []*pcPrivNeed) string {
	if len(grants) == 0 {
		return "there is no such grant defined for current user on host '%'"
	}
	for _, line := range grants {
		g, ok := parsePCGrant(line)
		if !ok {
			continue
		}
		for _, p := range g.privs {
			for _, n := range needs {
				if !p.all && !pcGrantCovers(p.name, n.priv.name) {
					continue
				}
				switch g.level {
				case pcGrantGlobal:
					n.global, n.tables = false, nil
				case pcGrantDB:
					if n.global {
						continue
					}
					for schema := range n.tables {
						if grantLikeMatch(g.db, schema) {
							delete(n.tables, schema)
						}
					}
				case pcGrantTable:
					// A column-level grant does not let the dumper read the whole table.
					if n.global || p.columns || n.tables[g.db] == nil {
						continue
					}
					delete(n.tables[g.db], g.table)
					if len(n.tables[g.db]) == 0 {
						delete(n.tables, g.db)
					}
				}
			}
		}
	}
	var lacking []*pcPrivNeed
	for _, n := range needs {
		if !n.met() {
			lacking = append(lacking, n)
		}
	}
	slices.SortFunc(lacking, func(a, b *pcPrivNeed) int { return cmp.Compare(a.priv.order, b.priv.order) })
	var b strings.Builder
	for _, n := range lacking {
		b.WriteString("lack of " + n.priv.label)
		if n.global {
			b.WriteString(" global (*.*) privilege; ")
			continue
		}
		b.WriteString(" privilege: {")
		schemas := make([]string, 0, len(n.tables))
		for s := range n.tables {
			schemas = append(schemas, s)
		}
		slices.Sort(schemas)
		for i, s := range schemas {
			names := make([]string, 0, len(n.tables[s]))
			for t := range n.tables[s] {
				names = append(names, sqlq.QuoteTable(s, t))
			}
			slices.Sort(names)
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.Join(names, ", "))
		}
		b.WriteString("}; ")
	}
	return b.String()
}

// pcPrivilegeCheck builds a check of the account's privileges on db. A lack is reported with
// severity state.
func pcPrivilegeCheck(db *sql.DB, name, desc, extra string, state precheckState, instruction string, needs func() []*pcPrivNeed) precheckFunc {
	return func(ctx context.Context) *precheckItemResult {
		r := &precheckItemResult{Name: name, Desc: desc, State: precheckSuccess, Extra: extra}
		lack, err := pcLackingPrivileges(ctx, db, needs())
		switch {
		case err != nil:
			return pcMarkError(r, err)
		case lack == "":
		case state == precheckWarning:
			r.warn("%s", lack)
			r.Instruction = instruction
		default:
			r.fail("%s", lack)
			r.Instruction = instruction
		}
		return r
	}
}

// targetPrivilegeCheck warns (as DM: which tables the binlog will touch is not known) when
// the target account lacks a privilege the load and sync units use.
func (p *prechecker) targetPrivilegeCheck(ctx context.Context) *precheckItemResult {
	return pcPrivilegeCheck(p.in.Target, "target db privilege checker", "check privileges of target DB",
		pcInstanceExtra(p.in.TargetAddr, "target"), precheckWarning, "You need grant related privileges.",
		func() []*pcPrivNeed {
			var needs []*pcPrivNeed
			for _, pr := range []pcPriv{pcPrivCreate, pcPrivSelect, pcPrivInsert, pcPrivUpdate, pcPrivDelete, pcPrivAlter, pcPrivDrop, pcPrivIndex} {
				needs = append(needs, &pcPrivNeed{priv: pr, global: true})
			}
			return needs
		})(ctx)
}

// dumpPrivilegeCheck fails when the source account cannot dump the migrated tables: SELECT
// on each, plus RELOAD (consistency auto/flush) or LOCK TABLES (consistency lock).
func (s *pcSource) dumpPrivilegeCheck(consistency string) precheckFunc {
	return pcPrivilegeCheck(s.DB, "source db dump privilege checker", "check dump privileges of source DB",
		s.extra(), precheckFailure, "Please grant the required privileges to the account.",
		func() []*pcPrivNeed {
			needs := []*pcPrivNeed{pcTablePrivNeed(pcPrivSelect, s.tables)}
			switch consistency {
			case "auto", "flush":
				needs = append(needs, &pcPrivNeed{priv: pcPrivReload, global: true})
			case "lock":
				needs = append(needs, &pcPrivNeed{priv: pcPrivLockTables, global: true})
			}
			return needs
		})
}

// replicationPrivilegeCheck fails when the source account cannot read the binlog.
func (s *pcSource) replicationPrivilegeCheck(ctx context.Context) *precheckItemResult {
	return pcPrivilegeCheck(s.DB, "source db replication privilege checker", "check replication privileges of source DB",
		s.extra(), precheckFailure, "Grant the required privileges to the account.",
		func() []*pcPrivNeed {
			return []*pcPrivNeed{{priv: pcPrivReplSlave, global: true}, {priv: pcPrivReplClient, global: true}}
		})(ctx)
}

// pcGrantLevel is what a GRANT applies to.
type pcGrantLevel int

const (
	pcGrantGlobal pcGrantLevel = iota // ON *.*
	pcGrantDB                         // ON `db`.*  (db may hold LIKE wildcards)
	pcGrantTable                      // ON `db`.`table`
)

// pcGrant is one parsed SHOW GRANTS line.
type pcGrant struct {
	privs     []pcGrantPriv
	level     pcGrantLevel
	db, table string
}

// pcGrantPriv is one privilege of a GRANT.
type pcGrantPriv struct {
	name    string // upper case, single-spaced
	all     bool   // ALL [PRIVILEGES]
	columns bool   // granted on a column list only
}

// parsePCGrant parses a "GRANT privs ON object TO account ..." line of SHOW GRANTS, as MySQL
// and MariaDB print them. ok is false for lines that grant no object privileges (roles,
// PROXY, routines, SET DEFAULT ROLE, ...).
func parsePCGrant(line string) (g pcGrant, ok bool) {
	s := strings.TrimSpace(line)
	if len(s) < 6 || !strings.EqualFold(s[:6], "GRANT ") {
		return g, false
	}
	body := s[6:]
	on := pcTopLevelIndex(body, " ON ")
	if on < 0 {
		return g, false // a role grant
	}
	to := pcTopLevelIndex(body[on+4:], " TO ")
	if to < 0 {
		return g, false
	}
	for _, part := range pcSplitTopLevel(body[:on], ',') {
		var p pcGrantPriv
		if i := strings.IndexByte(part, '('); i >= 0 {
			p.columns = true
			part = part[:i]
		}
		p.name = strings.ToUpper(strings.Join(strings.Fields(part), " "))
		p.all = p.name == "ALL" || p.name == "ALL PRIVILEGES"
		if p.name == "PROXY" {
			return g, false
		}
		g.privs = append(g.privs, p)
	}
	obj := strings.TrimSpace(body[on+4 : on+4+to])
	hasPrefix := func(p string) bool { return len(obj) >= len(p) && strings.EqualFold(obj[:len(p)], p) }
	if hasPrefix("FUNCTION ") || hasPrefix("PROCEDURE ") || hasPrefix("PACKAGE ") {
		return g, false
	}
	if hasPrefix("TABLE ") {
		obj = obj[len("TABLE "):]
	}
	db, dbWild, rest := parsePCGrantIdent(obj)
	if !strings.HasPrefix(rest, ".") {
		return g, false
	}
	table, tableWild, rest := parsePCGrantIdent(rest[1:])
	if strings.TrimSpace(rest) != "" {
		return g, false
	}
	switch {
	case dbWild && tableWild:
		g.level = pcGrantGlobal
	case dbWild:
		return g, false
	case tableWild:
		g.level, g.db = pcGrantDB, db
	default:
		g.level, g.db, g.table = pcGrantTable, db, table
	}
	return g, true
}

// parsePCGrantIdent reads a `quoted` or bare identifier, or *, from the start of s.
func parsePCGrantIdent(s string) (name string, wildcard bool, rest string) {
	switch {
	case strings.HasPrefix(s, "*"):
		return "", true, s[1:]
	case strings.HasPrefix(s, "`"):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '`' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), false, s[i+1:]
		}
		return b.String(), false, ""
	default:
		i := strings.IndexAny(s, ". ")
		if i < 0 {
			return s, false, ""
		}
		return s[:i], false, s[i:]
	}
}

// pcTopLevelIndex finds the first case-insensitive occurrence of kw in s outside quotes and
// parentheses, or -1.
func pcTopLevelIndex(s, kw string) int {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && i+len(kw) <= len(s) && strings.EqualFold(s[i:i+len(kw)], kw):
			return i
		}
	}
	return -1
}

// pcSplitTopLevel splits s on sep outside quotes and parentheses.
func pcSplitTopLevel(s string, sep byte) []string {
	var out []string
	for {
		i := pcTopLevelIndex(s, string(sep))
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// grantLikeMatch matches s against a grant's database name, a LIKE pattern where % and _ are
// wildcards and \ escapes the next character.
func grantLikeMatch(pattern, s string) bool {
	return grantLikeMatchRunes([]rune(pattern), []rune(s))
}

func grantLikeMatchRunes(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if grantLikeMatchRunes(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '_':
		return len(s) > 0 && grantLikeMatchRunes(p[1:], s[1:])
	case '\\':
		if len(p) > 1 {
			p = p[1:]
		}
	}
	return len(s) > 0 && s[0] == p[0] && grantLikeMatchRunes(p[1:], s[1:])
}

// Instructions of the table structure check (tiflow table_structure.go).
const (
	pcInstrNoKey       = "You need to set primary/unique keys for the table. Otherwise replication efficiency might become very low and exactly-once replication cannot be guaranteed."
	pcInstrCharset     = "Ensure that you use the same charsets for both upstream and downstream databases. Different charsets might cause data inconsistency."
	pcInstrCollation   = "Ensure that you use the same collations for both upstream and downstream databases. Otherwise the query results from the two databases might be inconsistent."
	pcInstrKeys        = "Ensure that you use the same index columns for both upstream and downstream databases. Otherwise the migration job might fail or data inconsistency might occur."
	pcInstrColumns     = "Ensure that the column numbers are the same between upstream and downstream databases. Otherwise the migration job may fail."
	pcInstrShardSchema = "please set same table structure for sharding tables"
	pcInstrShardJoin   = "Please make the column types of the sharding tables compatible, or rename the conflicting columns."
	pcInstrAutoInc     = "If happen conflict, please handle it by yourself. You can refer to https://docs.pingcap.com/tidb-data-migration/stable/shard-merge-best-practices/#handle-conflicts-between-primary-keys-or-unique-indexes-across-multiple-sharded-tables"
)

// tableSchemaCheck warns about migrated tables without a primary or unique key and, where
// the target table already exists, about differences that may break the migration.
func (p *prechecker) tableSchemaCheck(ctx context.Context) *precheckItemResult {
	r := &precheckItemResult{Name: "table structure compatibility check", Desc: "check compatibility of table structure",
		State: precheckSuccess}
	var targets []pcTable
	for _, s := range p.sources {
		for _, t := range s.tables {
			targets = append(targets, s.targets[t])
		}
	}
	slices.SortFunc(targets, comparePCTable)
	targets = slices.Compact(targets)
	var down map[pcTable]*pcTableMeta
	if p.in.Target != nil {
		var err error
		if down, err = pcFetchTableMeta(ctx, p.in.Target, targets); err != nil {
			return pcMarkError(r, fmt.Errorf("target: %w", err))
		}
	}
	// Each finding's instruction is listed once on the result, as DM does.
	var instructions []string
	warn := func(instruction, format string, args ...any) {
		r.warn(format, args...)
		if !slices.Contains(instructions, instruction) {
			instructions = append(instructions, instruction)
		}
	}
	for _, s := range p.sources {
		for _, t := range s.tables {
			up := s.meta[t]
			if up == nil || len(up.Columns) == 0 {
				continue // dropped meanwhile
			}
			if len(up.Keys) == 0 {
				warn(pcInstrNoKey, "table %s primary/unique key does not exist", t)
			}
			target := s.targets[t]
			if dm := down[target]; dm != nil && len(dm.Columns) > 0 {
				pcCompareWithTarget(t, target, up, dm, warn)
			}
		}
	}
	r.Instruction = strings.Join(instructions, "; ")
	return r
}

// pcCompareWithTarget adds the warnings of one source table against its existing target table.
func pcCompareWithTarget(t, target pcTable, up, down *pcTableMeta, warn func(instruction, format string, args ...any)) {
	prefix := "table " + t.String() + " "
	charset := func(collation string) string { c, _, _ := strings.Cut(collation, "_"); return c }
	upCS, downCS := charset(up.Collation), charset(down.Collation)
	if upCS != "" && downCS != "" && upCS != downCS && downCS != "utf8mb4" {
		warn(pcInstrCharset, prefix+"charset is not same, upstream: (%s %s), downstream: (%s %s)", t.Name, upCS, target.Name, downCS)
	}
	if up.Collation != "" && down.Collation != "" && up.Collation != down.Collation {
		warn(pcInstrCollation, prefix+"collation is not same, upstream: (%s %s), downstream: (%s %s)", t.Name, up.Collation, target.Name, down.Collation)
	}

	upKeys, downKeys := pcKeySets(up), pcKeySets(down)
	for upName, upCols := range upKeys {
		for downName, downCols := range downKeys {
			if slices.Equal(upCols, downCols) {
				delete(upKeys, upName)
				delete(downKeys, downName)
				break
			}
		}
	}
	for _, name := range pcSortedKeys(upKeys) {
		warn(pcInstrKeys, prefix+"upstream has more PK or NOT NULL UK than downstream, index name: %s, columns: %v", name, upKeys[name])
	}
	for _, name := range pcSortedKeys(downKeys) {
		warn(pcInstrKeys, prefix+"downstream has more PK or NOT NULL UK than upstream, table name: %s, index name: %s, columns: %v", target.Name, name, downKeys[name])
	}

	upCols := map[string]bool{}
	for _, c := range up.Columns {
		upCols[strings.ToLower(c.Name)] = true
	}
	downCols := map[string]bool{}
	for _, c := range down.Columns {
		downCols[strings.ToLower(c.Name)] = true
	}
	var upOnly, downOnly []string
	for _, c := range up.Columns {
		if !downCols[strings.ToLower(c.Name)] {
			upOnly = append(upOnly, strings.ToLower(c.Name))
		}
	}
	for _, c := range down.Columns {
		if !upCols[strings.ToLower(c.Name)] && !c.Ignorable {
			downOnly = append(downOnly, strings.ToLower(c.Name))
		}
	}
	if len(upOnly) > 0 {
		warn(pcInstrColumns, prefix+"upstream has more columns than downstream, columns: %v", upOnly)
	}
	if len(downOnly) > 0 {
		warn(pcInstrColumns, prefix+"downstream has more columns than upstream that require values to insert records, table name: %s, columns: %v", target.Name, downOnly)
	}
}

// pcKeySets returns each unique key's columns, sorted, by index name.
func pcKeySets(m *pcTableMeta) map[string][]string {
	out := make(map[string][]string, len(m.Keys))
	for name, cols := range m.Keys {
		out[name] = slices.Sorted(slices.Values(cols))
	}
	return out
}

func pcSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pcShardMember is one source table of a sharding group.
type pcShardMember struct {
	src   *pcSource
	table pcTable
}

func (m pcShardMember) meta() *pcTableMeta {
	if md := m.src.meta[m.table]; md != nil && len(md.Columns) > 0 {
		return md
	}
	return nil
}

// shardChecks returns one check per target table that two or more source tables (on any
// sources) are merged into.
func (p *prechecker) shardChecks() []precheckFunc {
	groups := map[pcTable][]pcShardMember{}
	for _, s := range p.sources {
		for _, t := range s.tables {
			target := s.targets[t]
			groups[target] = append(groups[target], pcShardMember{src: s, table: t})
		}
	}
	autoInc := p.items[precheckShardAutoIncrement]
	var checks []precheckFunc
	for _, target := range pcSortedGroupTargets(groups) {
		members := groups[target]
		if len(members) < 2 {
			continue
		}
		if p.in.ShardMode == "optimistic" {
			checks = append(checks, pcOptimisticShardCheck(target, members, autoInc))
		} else {
			checks = append(checks, pcPessimisticShardCheck(target, members, autoInc))
		}
	}
	return checks
}

func pcSortedGroupTargets(groups map[pcTable][]pcShardMember) []pcTable {
	out := make([]pcTable, 0, len(groups))
	for t := range groups {
		out = append(out, t)
	}
	slices.SortFunc(out, comparePCTable)
	return out
}

// pcWarnAutoIncrement warns when a sharding table has an auto-increment column, whose values
// may collide in the merged table.
func pcWarnAutoIncrement(r *precheckItemResult, m pcShardMember, meta *pcTableMeta, target pcTable) {
	if !slices.ContainsFunc(meta.Columns, func(c pcColumn) bool { return c.AutoInc }) {
		return
	}
	if r.State == precheckSuccess {
		r.Instruction = pcInstrAutoInc
		r.Extra = pcAutoIncrementExtra
	}
	r.warn("sourceID %s table %s of sharding %s have auto-increment key, please make sure them don't conflict in target table!",
		m.src.Name, m.table, target)
}

// pcPessimisticShardCheck fails unless every table of the group has the first table's columns
// (names and types, in order): pessimistic shard DDL needs identical schemas.
func pcPessimisticShardCheck(target pcTable, members []pcShardMember, autoInc bool) precheckFunc {
	return func(context.Context) *precheckItemResult {
		first := members[0]
		r := &precheckItemResult{Name: fmt.Sprintf("sharding table %s consistency checking", target),
			Desc: "check consistency of sharding table structures", State: precheckSuccess,
			Extra: fmt.Sprintf("sourceID %s on sharding %s", first.src.Name, target)}
		firstMeta := first.meta()
		if firstMeta == nil {
			return r
		}
		for _, m := range members {
			meta := m.meta()
			if meta == nil {
				continue
			}
			if autoInc {
				pcWarnAutoIncrement(r, m, meta, target)
			}
			if f := pcShardColumnMismatch(first, firstMeta, m, meta); f != nil {
				r.State = precheckFailure
				r.Errors = append(r.Errors, f)
				r.Extra = "error on sharding " + target.String()
				r.Instruction = pcInstrShardSchema
			}
		}
		return r
	}
}

// pcShardColumnMismatch compares a sharding table's columns with the first table's.
func pcShardColumnMismatch(first pcShardMember, firstMeta *pcTableMeta, other pcShardMember, otherMeta *pcTableMeta) *precheckFinding {
	names := func(m *pcTableMeta) []string {
		out := make([]string, len(m.Columns))
		for i, c := range m.Columns {
			out[i] = strings.ToLower(c.Name)
		}
		return out
	}
	self, oth := firstMeta.Columns, otherMeta.Columns
	if len(self) != len(oth) {
		return &precheckFinding{Severity: precheckFailure,
			ShortErr: fmt.Sprintf("column length mismatch (self: %d vs other: %d)", len(self), len(oth)),
			Self:     fmt.Sprintf("sourceID %s table %s columns %v", first.src.Name, first.table, names(firstMeta)),
			Other:    fmt.Sprintf("sourceID %s table %s columns %v", other.src.Name, other.table, names(otherMeta))}
	}
	for i := range self {
		a, b := self[i], oth[i]
		if strings.EqualFold(a.Name, b.Name) && a.Type == b.Type {
			continue
		}
		return &precheckFinding{Severity: precheckFailure,
			ShortErr: "different column definition",
			Self:     fmt.Sprintf("sourceID %s table %s column %s %s", first.src.Name, first.table, strings.ToLower(a.Name), a.Type),
			Other:    fmt.Sprintf("sourceID %s table %s column %s %s", other.src.Name, other.table, strings.ToLower(b.Name), b.Type)}
	}
	return nil
}

// pcOptimisticShardCheck fails when the sharding tables cannot be joined into one schema:
// optimistic shard DDL tolerates different column sets but not a column whose types belong
// to incompatible families (a simplification of DM's schemacmp join).
func pcOptimisticShardCheck(target pcTable, members []pcShardMember, autoInc bool) precheckFunc {
	return func(context.Context) *precheckItemResult {
		r := &precheckItemResult{Name: fmt.Sprintf("optimistic sharding table %s consistency checking", target),
			Desc:  "check consistency of sharding table structures for Optimistic Sharding Merge",
			State: precheckSuccess, Extra: fmt.Sprintf("sharding %s", target)}
		type joinedColumn struct {
			col pcColumn
			at  pcShardMember
		}
		joined := map[string]joinedColumn{}
		for _, m := range members {
			meta := m.meta()
			if meta == nil {
				continue
			}
			if autoInc {
				pcWarnAutoIncrement(r, m, meta, target)
			}
			for _, c := range meta.Columns {
				name := strings.ToLower(c.Name)
				j, ok := joined[name]
				if !ok {
					joined[name] = joinedColumn{col: c, at: m}
					continue
				}
				if pcTypeFamily(j.col.DataType) != pcTypeFamily(c.DataType) {
					f := r.fail("column %s has incompatible types %s and %s", name, j.col.Type, c.Type)
					f.Self = fmt.Sprintf("sourceID %s table %s column %s %s", j.at.src.Name, j.at.table, name, j.col.Type)
					f.Other = fmt.Sprintf("sourceID %s table %s column %s %s", m.src.Name, m.table, name, c.Type)
					r.Extra = "fail to join table info on sharding " + target.String()
					r.Instruction = pcInstrShardJoin
				}
			}
		}
		return r
	}
}

// pcTypeFamily groups the data types whose columns optimistic sharding can join (a wider type
// of the same family absorbs a narrower one).
func pcTypeFamily(dataType string) string {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return "integer"
	case "float", "double", "real":
		return "float"
	case "decimal", "numeric":
		return "decimal"
	case "char", "varchar":
		return "char"
	case "binary", "varbinary":
		return "binary"
	case "tinytext", "text", "mediumtext", "longtext":
		return "text"
	case "tinyblob", "blob", "mediumblob", "longblob":
		return "blob"
	}
	return dataType
}
