package dm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/syncer"
)

// syncUnit replicates the source's binlog into the target. In mode all it starts where
// the dump's snapshot was taken and seeds its schema tracker from the dump's schema files;
// in mode incremental it starts at the task's source_conf position (or start_time). Once
// it has a checkpoint it always resumes from there.
type syncUnit struct {
	cfg   *SubtaskConfig
	rules *subtaskRules
	p     *fullPipeline

	mu      sync.Mutex
	s       *syncer.Syncer
	noStart bool // the syncer has no start location of its own (only a checkpoint can give one)

	runCtx  context.Context // the current Run's context, nil between runs (verifyhooks.go)
	valMode string          // the validator's mode, "" when off (validation.go)
	vwg     sync.WaitGroup  // verifications running alongside Run
}

func newSyncUnit(cfg *SubtaskConfig, rules *subtaskRules, p *fullPipeline) (Unit, error) {
	return &syncUnit{cfg: cfg, rules: rules, p: p}, nil
}

func (u *syncUnit) Type() string { return UnitSync }
func (u *syncUnit) Close() error { return nil }

// syncer returns the unit's syncer, building it on first use. It must not be built
// before the units ahead of it have run: in mode all its start location comes from the
// dump's metadata, which only a finished dump has written.
func (u *syncUnit) syncer() (*syncer.Syncer, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.s != nil {
		return u.s, nil
	}
	s, err := u.newSyncer()
	if err != nil {
		return nil, err
	}
	u.s = s
	return s, nil
}

// newSyncer builds a syncer from the subtask's current state.
func (u *syncUnit) newSyncer() (*syncer.Syncer, error) {
	sc, err := u.syncerConfig()
	if err != nil {
		return nil, err
	}
	s, err := syncer.New(sc)
	if err != nil {
		return nil, fmt.Errorf("set up the sync of task %s: %w", u.cfg.Task.Name, err)
	}
	u.noStart = sc.Start.IsZero() && sc.StartTime == ""
	return s, nil
}

// syncerConfig is the syncer's configuration, from the task and the subtask's state
// (every task field the sync acts on reaches it here; see TestUnitConfigsCarryTaskFields).
func (u *syncUnit) syncerConfig() (syncer.Config, error) {
	cfg := u.cfg
	t := &cfg.Task
	incr := t.SourceConfig.IncrMigrateConf
	sc := syncer.Config{
		Task:             t.Name,
		Source:           cfg.Source.SourceName,
		MetaSchema:       t.MetaSchema,
		SourceDB:         sourceDBConfig(&cfg.Source),
		Flavor:           cfg.Flavor,
		EnableGTID:       cfg.Source.EnableGTID,
		Target:           targetDBConfig(&t.TargetConfig),
		StartTime:        cfg.StartTime,
		SafeMode:         incr.SafeMode != nil && *incr.SafeMode,
		Workers:          *incr.ReplThreads,
		Batch:            *incr.ReplBatch,
		OnDuplicate:      onDuplicateAction(t),
		Tables:           u.rules.BA.Match,
		Route:            u.rules.Router.Route,
		WholeSchema:      u.p.scope.wholeSchema,
		Shared:           u.p.scope.shared,
		Events:           u.rules.Events,
		OnlineDDL:        onlineDDL(t),
		CaseSensitive:    cfg.CaseSensitive,
		SchemaOverrides:  cfg.SchemaOverrides,
		OverridesSaved:   cfg.ForgetSchemaOverrides,
		ForeignKeyChecks: t.TargetConfig.Session != nil && t.TargetConfig.Session.ForeignKeyChecks == "1",
		TimeZone:         sessionTimeZone(t),
		Throttle:         syncerThrottle(incr.Throttle),
		BinlogOps:        cfg.BinlogOps,
		Observer:         cfg.Observer,
		Relay:            cfg.Relay,
		Logger:           cfg.Logger,
		Shard:            cfg.Shard,
		Fence:            u.p.fence,
	}
	if cfg.SafeModeDuration != "" {
		d, err := time.ParseDuration(cfg.SafeModeDuration)
		if err != nil {
			return sc, fmt.Errorf("safe_mode_time_duration %q: %w", cfg.SafeModeDuration, err)
		}
		sc.SafeModeDuration = d
	}
	switch t.TaskMode {
	case ModeAll:
		// The hand-off from the dump: only needed (and only present) before the first
		// checkpoint; later starts resume from the checkpoint.
		if m, err := u.p.ownDump(); err == nil {
			sc.Start = m.Snapshot
			sc.SafeModeUntil = m.After
			schemas, err := dumpSchemas(cfg.DataDir)
			if err != nil {
				return sc, err
			}
			sc.InitialSchemas = schemas
		}
	case ModeIncremental:
		if src := sourceConfOf(t, cfg.Source.SourceName); src != nil {
			sc.Start = dumpfile.Location{File: derefStr(src.BinlogName), GTID: derefStr(src.BinlogGTID)}
			if src.BinlogPos != nil {
				sc.Start.Pos = uint32(*src.BinlogPos)
			}
		}
	}
	return sc, nil
}

// dumpSchemas reads the CREATE TABLE of every table in a dump directory.
func dumpSchemas(dir string) (map[[2]string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the dump's schema files: %w", err)
	}
	out := map[[2]string]string{}
	for _, e := range entries {
		n, err := dumpfile.Parse(e.Name())
		if err != nil || n.Kind != dumpfile.KindTableSchema {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read the dump's schema files: %w", err)
		}
		out[[2]string{n.Schema, n.Table}] = createStatement(b)
	}
	return out, nil
}

// createStatement strips a dump schema file's session-setting header lines and the
// final semicolon, leaving the CREATE TABLE.
func createStatement(b []byte) string {
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "/*!") && strings.HasSuffix(t, "*/;") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.TrimSuffix(strings.TrimSpace(strings.Join(keep, "\n")), ";")
}

// IsFresh reports whether the syncer has no checkpoint yet. It asks a throwaway syncer:
// the real one is built when the unit runs (see syncer).
func (u *syncUnit) IsFresh(ctx context.Context) (bool, error) {
	s, err := u.newSyncer()
	if err != nil {
		return false, err
	}
	return s.Fresh(ctx)
}

func (u *syncUnit) Run(ctx context.Context) error {
	s, err := u.syncer()
	if err != nil {
		return err
	}
	if u.noStart {
		// Never fall back to "the source's binlog end": that would skip changes silently.
		fresh, err := s.Fresh(ctx)
		if err != nil {
			return err
		}
		if fresh {
			return fmt.Errorf("task %s has no binlog position to replicate from on source %s: the dump recorded none "+
				"(is binary logging on?); enable log_bin on the source, or give binlog_name/binlog_pos or start_time",
				u.cfg.Task.Name, u.cfg.Source.SourceName)
		}
	}
	if u.cfg.Task.TaskMode == ModeAll || u.cfg.StartTime != "" || u.cfg.SafeModeDuration != "" {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			u.afterFirstCheckpoint(cctx, s)
		}()
	}
	return u.runSync(ctx, s)
}

// afterFirstCheckpoint waits until the syncer has started from its own checkpoint, then
// lets go of what only the first start needed: the rest of the dump (metadata and schema
// files) and the start arguments (start_time, safe_mode_time_duration), which must not
// apply again when the subtask restarts.
func (u *syncUnit) afterFirstCheckpoint(ctx context.Context, s *syncer.Syncer) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if s.Status().SyncerBinlog != "" {
			if fresh, err := s.Fresh(ctx); err == nil && !fresh {
				if u.cfg.Task.TaskMode == ModeAll {
					if err := dumpfile.RemoveOwned(u.cfg.DataDir, u.p.owner(), nil); err != nil {
						u.cfg.Logger.Warn("remove the dump", "dir", u.cfg.DataDir, "err", err)
					}
				}
				if u.cfg.ClearStartArgs != nil {
					u.cfg.ClearStartArgs()
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// stopAtTransactionEnd asks the syncer to stop at the end of the source transaction in
// progress (see syncer.StopAtTransactionEnd); closed at once when no syncer runs.
func (u *syncUnit) stopAtTransactionEnd() <-chan struct{} {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return s.StopAtTransactionEnd()
}

// trackedTable is the schema the syncer tracks for a source table, if it has one.
func (u *syncUnit) trackedTable(schema, table string) (string, bool) {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s == nil {
		return "", false
	}
	tr := s.Tracker()
	if tr == nil {
		return "", false
	}
	t, ok := tr.Table(schema, table)
	if !ok {
		return "", false
	}
	return t.CreateSQL(), true
}

func (u *syncUnit) Status() any {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s == nil {
		return &SyncStatus{BinlogType: "unknown"}
	}
	st := s.Status()
	return &SyncStatus{
		TotalEvents: st.TotalEvents, TotalTps: st.TotalTPS, RecentTps: st.RecentTPS,
		TotalRows: st.TotalEvents, TotalRps: st.TotalTPS, RecentRps: st.RecentTPS,
		MasterBinlog: st.MasterBinlog, MasterBinlogGTID: st.MasterBinlogGTID,
		SyncerBinlog: st.SyncerBinlog, SyncerBinlogGTID: st.SyncerBinlogGTID,
		BlockingDDLs: st.BlockingDDLs, Synced: st.Synced, BinlogType: st.BinlogType,
		SecondsBehindMaster: st.SecondsBehindMaster, IOTotalBytes: st.IOTotalBytes, DumpIOTotalBytes: st.DumpIOTotalBytes,
		Throttled: st.Throttled, ThrottleReason: st.ThrottleReason, DuplicateKeyConflicts: st.DuplicateConflicts,
	}
}

// switchStream makes the running syncer reopen its stream through the relay opener.
func (u *syncUnit) switchStream() {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s != nil {
		s.SwitchStream()
	}
}

// neededLocation is the location the task resumes from (its flushed checkpoint) while
// the syncer runs.
func (u *syncUnit) neededLocation() (dumpfile.Location, bool) {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s == nil {
		return dumpfile.Location{}, false
	}
	return s.Checkpoint()
}

// remoteCheckpoint is the checkpoint of a syncer that reads the source directly.
func (u *syncUnit) remoteCheckpoint() (dumpfile.Location, bool) {
	u.mu.Lock()
	s := u.s
	u.mu.Unlock()
	if s == nil || s.BinlogType() != syncer.BinlogRemote {
		return dumpfile.Location{}, false
	}
	return s.Checkpoint()
}
