package precheck

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dmkit/dmkit/filter"
)

// Item names, as listed in ignore_checking_items (tiflow dm/config/checking_item.go).
const (
	itemAll                  = "all"
	itemDumpPrivilege        = "dump_privilege"
	itemReplicationPrivilege = "replication_privilege"
	itemVersion              = "version"
	itemServerID             = "server_id"
	itemBinlogEnable         = "binlog_enable"
	itemBinlogFormat         = "binlog_format"
	itemBinlogRowImage       = "binlog_row_image"
	itemBinlogDB             = "binlog_db"
	itemTableSchema          = "table_schema"
	itemShardTableSchema     = "schema_of_shard_tables"
	itemShardAutoIncrement   = "auto_increment_ID"
	itemMetaPosition         = "meta_position"
	itemConnNumber           = "conn_number"
	itemTargetPrivilege      = "target_privilege"
	itemOnlineDDL            = "online_ddl"
)

// Input is one task's precheck input: what the task runs, its sources with their rules, the
// target and the ignored items. It is plain data so that the caller (package dm) owns the
// task model; the zero values of the optional fields behave like DM's defaults.
type Input struct {
	// Dump, Load and Sync tell which units the task mode runs (all: the three; full: dump
	// and load; incremental: sync; dump; load).
	Dump, Load, Sync bool
	ShardMode        string // "", "pessimistic", "optimistic"
	Sources          []Source
	Target           *sql.DB  // may be nil: the target checks are skipped
	Ignore           []string // ignore_checking_items

	// ExportThreads and ImportThreads are the dump and load concurrency, the caller's
	// defaults applied.
	ExportThreads, ImportThreads int

	// TargetAddr is host:port of the target, shown in the detail.
	TargetAddr string
	// Consistency is full_migrate_conf.consistency; "" means "auto" (needs RELOAD).
	Consistency string
	// TaskName and MetaSchema, when both set, let the shard checks skip a task that already
	// has checkpoints in the target (DM checks only fresh tasks).
	TaskName, MetaSchema string
}

// Source is one source of the task: an open connection and the subtask's rules.
type Source struct {
	Name   string
	DB     *sql.DB // connection to the source
	Flavor string  // "mysql" | "mariadb"
	// Addr is host:port of the source, shown in the detail as DM does; optional.
	Addr string
	// Match is the block-allow list; nil migrates every non-system table.
	Match func(schema, table string) bool
	// Route maps a source table to its target table; nil keeps the names.
	Route func(schema, table string) (targetSchema, targetTable string, err error)
	// OnlineDDL classifies gh-ost / pt-osc tables when enhance_online_schema_change is on
	// (nil: off). Their ghost and trash tables are never migrated themselves; a ghost
	// table of a migrated table fails online_ddl.
	OnlineDDL *filter.OnlineDDL
	// BinlogName, when set on a task that does not dump, is the binlog file the task starts
	// from: meta_position verifies that it still exists on the source and, with BinlogPos,
	// that the position lies within it.
	BinlogName string
	BinlogPos  *int64
}

// State is the outcome of one check or one finding.
type State string

// The states of DM's checker.
const (
	Success State = "success"
	Failure State = "fail"
	Warning State = "warn"
)

// Finding is one problem found by a check (DM's checker.Error).
type Finding struct {
	Severity    State  `json:"severity"`
	ShortErr    string `json:"short_error"`
	Self        string `json:"self,omitempty"`
	Other       string `json:"other,omitempty"`
	Instruction string `json:"instruction,omitempty"`
}

// Result is the result of one check (DM's checker.Result).
type Result struct {
	ID          uint64     `json:"id"`
	Name        string     `json:"name"`
	Desc        string     `json:"desc"`
	State       State      `json:"state"`
	Errors      []*Finding `json:"errors,omitempty"`
	Instruction string     `json:"instruction,omitempty"`
	Extra       string     `json:"extra,omitempty"`
}

// fail records a failure finding and turns the result into a failure.
func (r *Result) fail(format string, args ...any) *Finding {
	r.State = Failure
	f := &Finding{Severity: Failure, ShortErr: fmt.Sprintf(format, args...)}
	r.Errors = append(r.Errors, f)
	return f
}

// warn records a warning finding; it does not hide an earlier failure.
func (r *Result) warn(format string, args ...any) *Finding {
	if r.State != Failure {
		r.State = Warning
	}
	f := &Finding{Severity: Warning, ShortErr: fmt.Sprintf(format, args...)}
	r.Errors = append(r.Errors, f)
	return f
}

// Summary counts the results (DM's checker.ResultSummary).
type Summary struct {
	Passed     bool  `json:"passed"`
	Total      int64 `json:"total"`
	Successful int64 `json:"successful"`
	Failed     int64 `json:"failed"`
	Warning    int64 `json:"warning"`
}

// Report is every result of a run with their summary (DM's checker.Results); it encodes to
// the detail JSON of DM's check_result.
type Report struct {
	Results []*Result `json:"results"`
	Summary *Summary  `json:"summary"`
}

// NewReport summarises results.
func NewReport(results []*Result) *Report {
	sum := &Summary{Total: int64(len(results))}
	for _, r := range results {
		switch r.State {
		case Success:
			sum.Successful++
		case Failure:
			sum.Failed++
		case Warning:
			sum.Warning++
		}
	}
	sum.Passed = sum.Failed == 0
	return &Report{Results: results, Summary: sum}
}

// InitError is a failure to set the checks up (reading the sources' tables or the task's
// checkpoints); no check ran. Msg is DM's "fail to initialize checker: ..." text.
type InitError struct {
	Msg string
	Err error
}

func (e *InitError) Error() string { return e.Msg + ": " + e.Err.Error() }
func (e *InitError) Unwrap() error { return e.Err }

// check is one check; it never returns nil.
type check func(ctx context.Context) *Result
