package syncer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/syncer/tracker"
)

// Syncer replicates one source's binlog into the target. Create it with New, run it with
// Run; Status may be called concurrently.
type Syncer struct {
	cfg Config
	tr  atomic.Pointer[tracker.Tracker]

	runMu sync.Mutex // one Run at a time
	cur   atomic.Pointer[run]
	// startTimeUsed is set once a Run has started from Config.StartTime: later runs of
	// this Syncer resume from the checkpoint instead of searching again.
	startTimeUsed atomic.Bool
	// overridesSaved is set once a checkpoint holds Config.SchemaOverrides: later runs of
	// this Syncer (auto-resume) restore them from the checkpoint instead of re-applying.
	overridesSaved atomic.Bool
	// stop is the stop-at-transaction-end request of the current Run (StopAtTransactionEnd).
	stop gracefulStop
	// throttle is Config.Throttle's last verdict.
	throttle *throttleState

	// switchCh asks the event loop to reopen its stream; binlogType is the current one.
	switchCh   chan struct{}
	binlogType atomic.Value

	// Counters for Status, kept across runs.
	totalEvents atomic.Int64
	ioBytes     atomic.Uint64
	// dupConflicts counts rows that met an existing key and were settled by OnDuplicate.
	dupConflicts atomic.Int64
	dumpBytes    atomic.Uint64
	started      time.Time

	statusMu    sync.Mutex
	lastStatus  time.Time
	lastEvents  int64
	recentTPS   int64
	lastMaster  Location
	masterKnown bool
}

// New validates cfg and prepares a syncer; it does no I/O.
func New(cfg Config) (*Syncer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Syncer{cfg: cfg, started: time.Now(), throttle: newThrottleState(), switchCh: make(chan struct{}, 1)}
	s.binlogType.Store(BinlogRemote)
	s.tr.Store(tracker.New(cfg.CaseSensitive))
	return s, nil
}

// Tracker returns the live schema tracker (for the table-schema API). Its tables are the
// source schemas as of the replicated position; each Run replaces it with one restored
// from the checkpoint (or seeded from Config.InitialSchemas).
func (s *Syncer) Tracker() *tracker.Tracker { return s.tr.Load() }

// Fresh reports whether the target holds no checkpoint for this task and source, i.e.
// Run would start from Config.Start.
func (s *Syncer) Fresh(ctx context.Context) (bool, error) {
	db, err := dbconn.Open(ctx, s.cfg.Target, "")
	if err != nil {
		return false, fmt.Errorf("check syncer checkpoint: %w", err)
	}
	defer db.Close()
	st, err := loadCheckpoint(ctx, db, s.cfg.MetaSchema, s.cfg.Task, s.cfg.Source)
	if err != nil {
		return false, err
	}
	return st == nil, nil
}

// Status is a snapshot of the syncer's progress, with DM's sync_status meanings.
type Status struct {
	// TotalEvents counts row changes and DDL statements applied.
	TotalEvents int64
	// TotalTPS is TotalEvents per second since the syncer was created; RecentTPS is the
	// rate since the previous Status call.
	TotalTPS, RecentTPS int64
	// MasterBinlog is the source's binlog end as "(file, pos)", polled every few seconds;
	// MasterBinlogGTID its GTID set.
	MasterBinlog, MasterBinlogGTID string
	// SyncerBinlog is the last location whose changes are all applied.
	SyncerBinlog, SyncerBinlogGTID string
	// BlockingDDLs lists the DDL being executed, if any.
	BlockingDDLs []string
	// Synced is true when everything up to the source's binlog end is applied.
	Synced bool
	// BinlogType is "local" while the syncer reads the relay log, "remote" while it
	// reads the source directly.
	BinlogType string
	// SecondsBehindMaster is the age of the oldest unapplied change (0 when caught up).
	SecondsBehindMaster int64
	// IOTotalBytes counts SQL bytes sent to the target; DumpIOTotalBytes binlog bytes read.
	IOTotalBytes, DumpIOTotalBytes uint64
	// Throttled is true while Config.Throttle holds the apply; ThrottleReason says why
	// (the last check's result).
	Throttled      bool
	ThrottleReason string
	// DuplicateConflicts counts rows that met an existing key on the target outside safe
	// mode and were replaced or ignored as OnDuplicate says (with "error" they stop the
	// run instead).
	DuplicateConflicts int64
}

// Status returns the current progress. It is safe to call concurrently with Run.
func (s *Syncer) Status() Status {
	now := time.Now()
	st := Status{
		TotalEvents:        s.totalEvents.Load(),
		BinlogType:         s.binlogType.Load().(string),
		IOTotalBytes:       s.ioBytes.Load(),
		DuplicateConflicts: s.dupConflicts.Load(),
		DumpIOTotalBytes:   s.dumpBytes.Load(),
		Throttled:          s.throttle.on.Load(),
		ThrottleReason:     s.throttle.Reason(),
	}
	if secs := int64(now.Sub(s.started).Seconds()); secs > 0 {
		st.TotalTPS = st.TotalEvents / secs
	} else {
		st.TotalTPS = st.TotalEvents
	}
	s.statusMu.Lock()
	if !s.lastStatus.IsZero() {
		if d := now.Sub(s.lastStatus).Seconds(); d >= 1 {
			s.recentTPS = int64(float64(st.TotalEvents-s.lastEvents) / d)
			s.lastStatus, s.lastEvents = now, st.TotalEvents
		}
	} else {
		s.lastStatus, s.lastEvents = now, st.TotalEvents
	}
	st.RecentTPS = s.recentTPS
	master, known := s.lastMaster, s.masterKnown
	s.statusMu.Unlock()
	if known {
		st.MasterBinlog, st.MasterBinlogGTID = posOf(master).String(), master.GTID
	}
	r := s.cur.Load()
	if r == nil {
		return st
	}
	applied, idle := r.appliedPoint()
	st.SyncerBinlog, st.SyncerBinlogGTID = posOf(applied.loc).String(), applied.loc.GTID
	if known && posOf(applied.loc).compare(posOf(master)) > 0 {
		// The master position is polled; what was applied proves the master got that far.
		st.MasterBinlog, st.MasterBinlogGTID = st.SyncerBinlog, st.SyncerBinlogGTID
		master = applied.loc
	}
	st.Synced = idle && known && posOf(applied.loc) == posOf(master)
	if !idle && applied.ts > 0 {
		st.SecondsBehindMaster = max(0, now.Unix()-int64(applied.ts))
	}
	if ddl := r.blockingDDL.Load(); ddl != nil {
		st.BlockingDDLs = []string{*ddl}
	}
	return st
}

func (s *Syncer) setMaster(loc Location) {
	s.statusMu.Lock()
	s.lastMaster, s.masterKnown = loc, true
	s.statusMu.Unlock()
}
