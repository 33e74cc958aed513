package dm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dmkit/dmkit/dumper"
	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/loader"
)

// builtinUnits builds the data-path units of a subtask for its task mode.
//
// Full migration is pipelined: while the dump unit exports, a loader imports every file
// the moment the dumper completes it, so dump and load overlap; the load unit then waits
// for that loader and sweeps up anything left (after a restart it resumes from the
// loader's per-file checkpoints). A dump is never resumed: a dump cut short by a stop or
// a crash is redone, and the rows loaded from it are reset first (see resetLoad).
func builtinUnits(ctx context.Context, cfg *SubtaskConfig) ([]Unit, error) {
	rules, err := buildSubtaskRules(cfg.Source.SourceName, cfg.Task.TableMigrateRule, cfg.Task.BinlogFilterRule, cfg.CaseSensitive)
	if err != nil {
		return nil, fmt.Errorf("build rules of task %s on source %s: %w", cfg.Task.Name, cfg.Source.SourceName, err)
	}
	scope, err := newOwnScope(&cfg.Task, cfg.Source.SourceName, rules, cfg.CaseSensitive)
	if err != nil {
		return nil, fmt.Errorf("build rules of task %s on source %s: %w", cfg.Task.Name, cfg.Source.SourceName, err)
	}
	p := &fullPipeline{cfg: cfg, rules: rules, scope: scope, log: slog.Default().With("task", cfg.Task.Name, "source", cfg.Source.SourceName)}
	if cfg.Logger != nil {
		p.log = cfg.Logger
	}
	if cfg.Fence != nil {
		if err := p.takeFence(ctx); err != nil {
			return nil, err
		}
	}
	var units []Unit
	for _, u := range modeUnits(cfg.Task.TaskMode) {
		switch u {
		case UnitDump:
			units = append(units, &dumpUnit{p: p})
		case UnitLoad:
			units = append(units, &loadUnit{p: p})
		case UnitSync:
			su, err := newSyncUnit(cfg, rules, p)
			if err != nil {
				return nil, err
			}
			units = append(units, su)
		}
	}
	return units, nil
}

// fullPipeline is the state the dump and load units of one subtask share.
type fullPipeline struct {
	cfg   *SubtaskConfig
	rules *subtaskRules
	scope *ownScope
	log   *slog.Logger

	mu     sync.Mutex
	dumper *dumper.Dumper
	loader *loader.Loader
	bgLoad chan error // the loader running alongside the dump; nil when none

	vs verifyState // the subtask's verification (verifyrun.go)

	// fence is the units' Fence hook, nil when the worker does not fence (fence.go).
	fence func(ctx context.Context, q queryer) error
}

// takeFence raises the subtask's fence to this run's binding before any unit writes.
func (p *fullPipeline) takeFence(ctx context.Context) error {
	t := &p.cfg.Task
	db, err := openTarget(ctx, t)
	if err != nil {
		return err
	}
	defer db.Close()
	meta := t.MetaSchema
	if err := takeFence(ctx, db, meta, t.Name, p.cfg.Source.SourceName, p.cfg.Fence); err != nil {
		return fmt.Errorf("task %s on source %s: %w", t.Name, p.cfg.Source.SourceName, err)
	}
	p.fence = fenceHook(meta, t.Name, p.cfg.Source.SourceName, p.cfg.Fence)
	return nil
}

// Sizes tuned for the pipelined full migration (see BENCHMARKS.md).
const (
	// pipelinedFileSize keeps dump files small when a loader consumes them as they are
	// written, so loading starts early in the dump instead of after a table's first
	// 64 MiB; a dump kept on disk (mode dump) uses the dumper's default.
	pipelinedFileSize = 4 << 20
	loadBatchBytes    = 16 << 20
)

func (p *fullPipeline) dumpFileSize() int64 {
	if p.withLoad() {
		return pipelinedFileSize
	}
	return 0
}

func (p *fullPipeline) withLoad() bool {
	return p.cfg.Task.TaskMode == ModeFull || p.cfg.Task.TaskMode == ModeAll || p.cfg.Task.TaskMode == ModeLoad
}

// getLoader returns the subtask's loader, creating it on first use.
func (p *fullPipeline) getLoader() (*loader.Loader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loader != nil {
		return p.loader, nil
	}
	t := &p.cfg.Task
	l, err := loader.New(p.loaderConfig())
	if err != nil {
		return nil, fmt.Errorf("set up the load of task %s: %w", t.Name, err)
	}
	p.loader = l
	return l, nil
}

// loaderConfig is the loader's configuration, from the task (every task field the load
// acts on reaches it here; see TestUnitConfigsCarryTaskFields).
func (p *fullPipeline) loaderConfig() loader.Config {
	t := &p.cfg.Task
	return loader.Config{
		Target:      targetDBConfig(&t.TargetConfig),
		Dir:         p.cfg.DataDir,
		Threads:     *t.SourceConfig.FullMigrateConf.ImportThreads,
		OnDuplicate: loadOnDuplicate(t),
		MetaSchema:  t.MetaSchema,
		Task:        t.Name,
		Source:      p.cfg.Source.SourceName,
		Route:       p.route,
		WholeSchema: p.scope.wholeSchema,
		TimeZone:    sessionTimeZone(t),
		Logger:      p.log,
		// Larger transactions cut the target's commit work (measured: ~25% faster
		// than 1 MiB); memory stays bounded by the statement size.
		BatchBytes:    loadBatchBytes,
		DisableBinlog: t.SourceConfig.FullMigrateConf.DisableTargetBinlog,
		Fence:         p.fence,
		// Tables the load creates get their plain secondary indexes after their rows
		// (one sorted build instead of an index update per row; loader/README.md).
		DeferIndexes: true,
	}
}

// route maps a source table to its target; a schema alone (table "") routes the schema.
func (p *fullPipeline) route(schema, table string) (string, string, error) {
	if p.rules == nil || p.rules.Router == nil {
		return schema, table, nil
	}
	return p.rules.Router.Route(schema, table)
}

// dumpComplete reports whether the subtask's dump directory holds a finished dump of
// its own: a dump another task (or a deleted task of the same name) left there is not
// progress of this one.
func (p *fullPipeline) dumpComplete() bool {
	m, err := p.ownDump()
	return err == nil && !m.Finished.IsZero()
}

// ownDump reads the metadata of the subtask's own dump; another owner's dump, or a
// directory without a manifest, is an error.
func (p *fullPipeline) ownDump() (*dumpfile.Metadata, error) {
	info, err := dumpfile.ReadManifest(p.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if info.Owner != p.owner() {
		return nil, fmt.Errorf("dump directory %s belongs to %s: %w", p.cfg.DataDir, info.Owner, dumpfile.ErrNotOwned)
	}
	return dumpfile.ReadMetadata(p.cfg.DataDir)
}

func (p *fullPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loader != nil {
		err := p.loader.Close()
		p.loader = nil
		return err
	}
	return nil
}

// resetLoad undoes a partial load before a dump is redone: it drops this source's loader
// checkpoints and truncates the target tables that only this source's tables feed and that
// the load itself created (loader.ResetForRedo). Target tables merged from several sources,
// or that existed before the task, are not truncated (their other rows are not the task's);
// the rows the load wrote there are replaced by key when the new dump is loaded.
func (p *fullPipeline) resetLoad(ctx context.Context, l *loader.Loader) error {
	fresh, err := l.Fresh(ctx)
	if err != nil || fresh {
		return err
	}
	tables, err := p.sourceTables(ctx)
	if err != nil {
		return err
	}
	targets, err := p.rules.migrateTargets(tables)
	if err != nil {
		return err
	}
	feeds := map[[2]string]int{}
	for _, t := range targets {
		feeds[[2]string{t.TargetSchema, t.TargetTable}]++
	}
	merged := len(p.cfg.Task.SourceConfig.SourceConf) > 1
	var truncate [][2]string
	for tbl, n := range feeds {
		if n == 1 && !(merged && p.mergeTarget(tbl)) {
			truncate = append(truncate, tbl)
		}
	}
	p.log.Info("redoing an interrupted dump: resetting the partial load", "truncate", len(truncate))
	return l.ResetForRedo(ctx, truncate)
}

// mergeTarget reports whether a task rule names tbl as an explicit target table, which
// several sources may feed.
func (p *fullPipeline) mergeTarget(tbl [2]string) bool {
	for _, r := range p.cfg.Task.TableMigrateRule {
		if r.Target != nil && r.Target.Table != "" && r.Target.Schema == tbl[0] && r.Target.Table == tbl[1] {
			return true
		}
	}
	return false
}

// sourceTables lists the base tables of the source.
func (p *fullPipeline) sourceTables(ctx context.Context) ([]filter.Table, error) {
	db, err := dbconn.Open(ctx, sourceDBConfig(&p.cfg.Source), "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", err)
	}
	defer rows.Close()
	var out []filter.Table
	for rows.Next() {
		var t filter.Table
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			return nil, fmt.Errorf("list source tables: %w", err)
		}
		if !filter.IsSystemSchema(t.Schema) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// dumpUnit exports the subtask's tables; in full and all modes it also feeds the loader.
type dumpUnit struct {
	p *fullPipeline
}

func (u *dumpUnit) Type() string                              { return UnitDump }
func (u *dumpUnit) IsFresh(ctx context.Context) (bool, error) { return true, nil }
func (u *dumpUnit) Close() error                              { return u.p.close() }

func (u *dumpUnit) Status() any {
	u.p.mu.Lock()
	d := u.p.dumper
	u.p.mu.Unlock()
	if d == nil {
		return &DumpStatus{Progress: "0.00 %"}
	}
	pr := d.Progress()
	st := &DumpStatus{TotalTables: pr.TotalTables, CompletedTables: pr.CompletedTables, FinishedBytes: pr.FinishedBytes,
		FinishedRows: pr.FinishedRows, EstimateTotalRows: pr.EstimateTotalRows, Bps: pr.Bps}
	st.Progress = dumpProgress(pr)
	return st
}

// dumpProgress renders a dump's progress: by tables done, and within them by rows against
// the estimate, so that one big table does not sit at 0.00 % until it completes. The row
// estimate (information_schema.TABLES.TABLE_ROWS) can be off, so rows alone never reach
// 100 %: only all tables done does.
func dumpProgress(pr dumper.Progress) string {
	if pr.TotalTables > 0 && pr.CompletedTables >= float64(pr.TotalTables) {
		return percent(1, 1, true)
	}
	done := 0.0
	if pr.TotalTables > 0 {
		done = pr.CompletedTables / float64(pr.TotalTables)
	}
	if pr.EstimateTotalRows > 0 {
		done = max(done, min(pr.FinishedRows/pr.EstimateTotalRows, 0.9999))
	}
	return percent(done, 1, false)
}

// percent renders DM's "12.34 %".
func percent(done, total float64, finished bool) string {
	switch {
	case finished:
		return "100.00 %"
	case total <= 0:
		return "0.00 %"
	}
	return fmt.Sprintf("%.2f %%", min(done/total, 1)*100)
}

// dumperConfig is the dumper's configuration, from the task (every task field the dump
// acts on reaches it here; see TestUnitConfigsCarryTaskFields).
func (p *fullPipeline) dumperConfig(onFile func(string)) dumper.Config {
	cfg := p.cfg
	full := cfg.Task.SourceConfig.FullMigrateConf
	return dumper.Config{
		Source: sourceDBConfig(&cfg.Source),
		Flavor: cfg.Flavor,
		// Ghost and trash tables of online schema changes are never dumped: the sync
		// replays the migration onto the real table.
		Tables:      onlineDDL(&cfg.Task).RealTables(p.rules.BA.Match),
		Dir:         cfg.DataDir,
		Owner:       p.owner(),
		Threads:     *full.ExportThreads,
		Consistency: full.Consistency,
		TimeZone:    sessionTimeZone(&cfg.Task),
		Logger:      p.log,
		FileSize:    p.dumpFileSize(),
		OnFile:      onFile,
	}
}

func (u *dumpUnit) Run(ctx context.Context) error {
	p := u.p
	var l *loader.Loader
	var files chan string
	loadDone := make(chan error, 1)
	if p.withLoad() {
		var err error
		if l, err = p.getLoader(); err != nil {
			return err
		}
		if err := p.resetLoad(ctx, l); err != nil {
			return fmt.Errorf("reset the interrupted load: %w", err)
		}
		files = make(chan string, 256)
		go func() { loadDone <- l.Run(ctx, files) }()
	}
	d, err := dumper.New(p.dumperConfig(func(path string) {
		if files == nil {
			return
		}
		select {
		case files <- path:
		case <-ctx.Done():
		}
	}))
	if err != nil {
		if files != nil {
			close(files)
			<-loadDone
		}
		return fmt.Errorf("set up the dump: %w", err)
	}
	p.mu.Lock()
	p.dumper = d
	p.mu.Unlock()
	_, derr := d.Run(ctx)
	if files == nil {
		return derr
	}
	close(files)
	if derr != nil {
		<-loadDone
		return derr
	}
	// The loader keeps going; the load unit waits for it.
	p.mu.Lock()
	p.bgLoad = loadDone
	p.mu.Unlock()
	return nil
}

// loadUnit imports the dump into the target, resuming from per-file checkpoints.
type loadUnit struct {
	p        *fullPipeline
	finished atomic.Bool
	snapshot atomic.Pointer[dumpfile.Location] // the dump's snapshot position, once read
}

func (u *loadUnit) Type() string { return UnitLoad }
func (u *loadUnit) Close() error { return u.p.close() }

// IsFresh: in full and all modes the load has work as soon as the dump is complete; in
// load mode it is the first unit anyway.
func (u *loadUnit) IsFresh(ctx context.Context) (bool, error) {
	if u.p.cfg.Task.TaskMode == ModeLoad {
		return true, nil
	}
	return !u.p.dumpComplete(), nil
}

func (u *loadUnit) Status() any {
	u.p.mu.Lock()
	l := u.p.loader
	u.p.mu.Unlock()
	st := &LoadStatus{Progress: "0.00 %"}
	if snap := u.snapshotPos(); snap != nil {
		st.MetaBinlog, st.MetaBinlogGTID = snap.String(), snap.GTID
	}
	if l != nil {
		pr := l.Progress()
		st.FinishedBytes, st.TotalBytes, st.Bps = pr.FinishedBytes, pr.TotalBytes, pr.Bps
		st.Progress = percent(float64(pr.FinishedBytes), float64(pr.TotalBytes), u.finished.Load())
	}
	return st
}

// snapshotPos is the dump's snapshot position, read once and kept: the dump's metadata
// is removed after the load, and the status must not go back to "" when the unit finished.
func (u *loadUnit) snapshotPos() *dumpfile.Location {
	if snap := u.snapshot.Load(); snap != nil {
		return snap
	}
	m, err := u.p.ownDump()
	if err != nil {
		return nil
	}
	u.snapshot.Store(&m.Snapshot)
	return &m.Snapshot
}

func (u *loadUnit) Run(ctx context.Context) error {
	p := u.p
	p.mu.Lock()
	bg := p.bgLoad
	p.bgLoad = nil
	p.mu.Unlock()
	if bg != nil {
		select {
		case err := <-bg:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			<-bg
			return ctx.Err()
		}
	}
	l, err := p.getLoader()
	if err != nil {
		return err
	}
	if err := l.LoadDir(ctx); err != nil {
		return err
	}
	if err := u.verifyLoad(ctx); err != nil {
		return err
	}
	u.snapshotPos() // before cleanDumpDir removes the metadata
	u.finished.Store(true)
	return p.cleanDumpDir()
}

// owner is the identity stamped on the subtask's dump directory.
func (p *fullPipeline) owner() string {
	return dumpOwner(p.cfg.Task.Name, p.cfg.TaskID, p.cfg.Source.SourceName)
}

// cleanDumpDir removes the dump after a successful load — only when this subtask made
// it (modes full and all) and only the files its manifest lists: everything in full mode;
// in all mode the data files, keeping metadata and schema files for the sync unit. A load
// task never removes anything: its dump is the user's (DM keeps it too).
func (p *fullPipeline) cleanDumpDir() error {
	var keep func(string) bool
	switch p.cfg.Task.TaskMode {
	case ModeFull:
	case ModeAll:
		keep = func(name string) bool {
			n, err := dumpfile.Parse(name)
			return err != nil || n.Kind != dumpfile.KindData
		}
	default:
		return nil
	}
	if err := dumpfile.RemoveOwned(p.cfg.DataDir, p.owner(), keep); err != nil {
		return fmt.Errorf("clean dump directory %s: %w", p.cfg.DataDir, err)
	}
	return nil
}
