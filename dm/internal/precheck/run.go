package precheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// parallelism bounds the concurrent checks and source inspections.
const parallelism = 8

// Run runs the checks of in and returns their results in DM's order. It returns a nil
// report when ignore_checking_items holds "all" (nothing is checked), an *InitError when the
// checks cannot be set up, and the context's error when it is cancelled meanwhile.
func Run(ctx context.Context, in Input) (*Report, error) {
	items := itemsToRun(in.Ignore)
	if items == nil {
		return nil, nil
	}
	r := &runner{in: in, items: items}
	if err := r.inspect(ctx); err != nil {
		return nil, err
	}
	checks, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	results := runChecks(ctx, checks)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("precheck interrupted: %w", err)
	}
	return NewReport(results), nil
}

// itemsToRun returns the items to run: every item except the ignored ones, or nil when
// "all" is ignored. Unknown names are ignored, as in DM.
func itemsToRun(ignore []string) map[string]bool {
	items := map[string]bool{}
	for _, it := range []string{
		itemDumpPrivilege, itemReplicationPrivilege, itemVersion, itemServerID,
		itemBinlogEnable, itemBinlogFormat, itemBinlogRowImage, itemBinlogDB,
		itemTableSchema, itemShardTableSchema, itemShardAutoIncrement,
		itemMetaPosition, itemConnNumber, itemTargetPrivilege, itemOnlineDDL,
	} {
		items[it] = true
	}
	for _, it := range ignore {
		if it == itemAll {
			return nil
		}
		delete(items, it)
	}
	return items
}

// runner holds one precheck run.
type runner struct {
	in      Input
	items   map[string]bool
	sources []*source
}

// source is one source with the tables the task migrates from it.
type source struct {
	*Source
	tables  []table              // migrated tables, sorted
	ghosts  []table              // online DDL ghost tables of migrated tables, sorted
	targets map[table]table      // migrated table -> routed target table
	meta    map[table]*tableMeta // filled when a table check runs
}

func (s *source) extra() string { return instanceExtra(s.Addr, "source "+s.Name) }

// needTableMeta reports whether any planned check reads table definitions.
func (r *runner) needTableMeta() bool {
	return r.items[itemTableSchema] || r.wantShardChecks()
}

// wantShardChecks mirrors DM: shard consistency is checked only for shard tasks that dump.
func (r *runner) wantShardChecks() bool {
	return r.items[itemShardTableSchema] && r.in.ShardMode != "" && r.in.Dump
}

// inspect lists, filters and routes every source's tables (and reads their definitions when
// a table check needs them), one source at a time per worker.
func (r *runner) inspect(ctx context.Context) error {
	r.sources = make([]*source, len(r.in.Sources))
	errs := make([]error, len(r.in.Sources))
	withMeta := r.needTableMeta()
	parallel(len(r.in.Sources), func(i int) {
		s := &source{Source: &r.in.Sources[i]}
		r.sources[i] = s
		if err := s.listTables(ctx); err != nil {
			errs[i] = err
			return
		}
		if withMeta {
			meta, err := fetchTableMeta(ctx, s.DB, s.tables)
			if err != nil {
				errs[i] = err
				return
			}
			s.meta = meta
		}
	})
	for i, err := range errs {
		if err != nil {
			return &InitError{Msg: "fail to initialize checker: inspect the tables of source " + r.in.Sources[i].Name, Err: err}
		}
	}
	return nil
}

// plan lists the checks in DM's order (tiflow dm/checker/checker.go Init).
func (r *runner) plan(ctx context.Context) ([]check, error) {
	in, items := r.in, r.items
	checks := r.connChecks()
	if items[itemTargetPrivilege] && in.Target != nil {
		checks = append(checks, r.targetPrivilegeCheck)
	}
	for _, s := range r.sources {
		checks = append(checks, r.sourceChecks(s)...)
	}
	if items[itemTableSchema] {
		checks = append(checks, r.tableSchemaCheck)
	}
	if r.wantShardChecks() {
		fresh, err := r.freshTask(ctx)
		if err != nil {
			return nil, &InitError{Msg: "fail to initialize checker: read the task's checkpoints in the target", Err: err}
		}
		if fresh {
			checks = append(checks, r.shardChecks()...)
		}
	}
	return checks, nil
}

// connChecks are the connection-count checks of the dump unit (per source) and of the load
// unit (on the target).
func (r *runner) connChecks() []check {
	in := r.in
	if !r.items[itemConnNumber] {
		return nil
	}
	var checks []check
	if in.Dump {
		for _, s := range r.sources {
			checks = append(checks, connNumberCheck(s.DB, "dumper_conn_number_checker", "dumper", privProcess, in.ExportThreads+2))
		}
	}
	if in.Load && in.Target != nil {
		need := len(r.sources) * (in.ImportThreads + 1)
		checks = append(checks, loaderConnNumberCheck(in.Target, need))
	}
	return checks
}

// sourceChecks are the checks of one source's version, privileges and binlog settings.
func (r *runner) sourceChecks(s *source) []check {
	in, items := r.in, r.items
	var checks []check
	if items[itemVersion] {
		checks = append(checks, s.versionCheck)
	}
	if in.Dump {
		if items[itemDumpPrivilege] {
			checks = append(checks, s.dumpPrivilegeCheck(cmp.Or(in.Consistency, "auto")))
		}
	} else if items[itemMetaPosition] && s.BinlogName != "" {
		checks = append(checks, s.metaPositionCheck)
	}
	if !in.Sync {
		return checks
	}
	if items[itemServerID] {
		checks = append(checks, s.serverIDCheck)
	}
	if items[itemBinlogEnable] {
		checks = append(checks, s.variableCheck("mysql_binlog_enable", "check whether mysql binlog is enabled",
			"log_bin", "ON", "ref document: https://dev.mysql.com/doc/refman/5.7/en/replication-howto-masterbaseconfig.html"))
	}
	if items[itemBinlogFormat] {
		checks = append(checks, s.variableCheck("mysql_binlog_format", "check whether mysql binlog_format is ROW",
			"binlog_format", "ROW", "please execute 'set global binlog_format=ROW;'"))
	}
	if items[itemBinlogRowImage] {
		checks = append(checks, s.variableCheck("mysql_binlog_row_image", "check whether mysql binlog_row_image is FULL",
			"binlog_row_image", "FULL", "please execute 'set global binlog_row_image = FULL;'"))
	}
	if items[itemReplicationPrivilege] {
		checks = append(checks, s.replicationPrivilegeCheck)
	}
	if items[itemOnlineDDL] && s.OnlineDDL != nil {
		checks = append(checks, s.onlineDDLCheck)
	}
	if items[itemBinlogDB] {
		checks = append(checks, s.binlogDBCheck)
	}
	return checks
}

// freshTask reports whether the task has no checkpoint table in the target yet.
func (r *runner) freshTask(ctx context.Context) (bool, error) {
	if r.in.TaskName == "" || r.in.MetaSchema == "" || r.in.Target == nil {
		return true, nil
	}
	var n int
	err := r.in.Target.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?, ?)`, r.in.MetaSchema,
		r.in.TaskName+"_loader_checkpoint", r.in.TaskName+"_lightning_checkpoint_list",
		r.in.TaskName+"_syncer_checkpoint").Scan(&n)
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// parallel calls fn(0..n-1) on at most parallelism goroutines and waits for them.
func parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, parallelism) {
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

// runChecks runs the checks concurrently and returns their results in plan order.
func runChecks(ctx context.Context, checks []check) []*Result {
	results := make([]*Result, len(checks))
	parallel(len(checks), func(i int) {
		r := checks[i](ctx)
		r.ID = uint64(i)
		results[i] = r
	})
	return results
}

// instanceExtra is the Extra of a per-server result.
func instanceExtra(addr, fallback string) string {
	if addr != "" {
		return "address of db instance - " + addr
	}
	return fallback
}

// markError records a failure to run a check (a query error).
func markError(r *Result, err error) *Result {
	if errors.Is(err, context.Canceled) {
		r.warn("%v", err)
		return r
	}
	r.fail("%v", err)
	return r
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
