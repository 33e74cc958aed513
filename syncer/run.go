package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/pingcap/tidb/pkg/parser"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions for the parser

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/syncer/tracker"
)

// targetSQLMode is the target sessions' sql_mode: non-strict so values the source
// accepted (zero dates, invalid dates in ALLOW_INVALID_DATES mode) are written as they are,
// NO_AUTO_VALUE_ON_ZERO so a replicated 0 in an AUTO_INCREMENT column stays 0, and never
// NO_BACKSLASH_ESCAPES, which the literal encoding relies on.
const targetSQLMode = "'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES'"

// pubLoc is a transaction boundary with the binlog timestamp of its last event.
type pubLoc struct {
	loc Location
	ts  uint32
}

// run is the state of one Run call.
type run struct {
	s   *Syncer
	cfg Config
	log *slog.Logger

	target, source *sql.DB
	cpTable        string
	queueSize      int
	streamCfg      replication.BinlogSyncerConfig

	tr      *tracker.Tracker
	workers []*worker
	// overridesUnsaved: the schema overrides were applied but no checkpoint holds them yet.
	overridesUnsaved atomic.Bool
	caus             *causality
	// published is the end of the last source transaction completely dispatched.
	published atomic.Pointer[pubLoc]

	// Event loop state (owned by the event loop goroutine).
	tables        map[[2]string]*tableInfo
	gtid          gtidState
	curFile       string
	inTxn         bool
	explicitBegin bool
	seq           uint64
	lastRowsPos   position // last rows event processed in the open transaction
	resumeSkip    *position
	firstTS       uint32
	keys          []string
	keyBuf        []byte
	waitBuf       []binding
	parser        *parser.Parser
	ddlTZ         string // source time zone for DDL sessions

	// Safe mode and exactly-once replay after a restart.
	safeUntil   *changePos // changes at or before it are written idempotently
	safeUntilTS uint32     // SafeModeDuration: changes with an earlier timestamp are safe
	skipWorkers int        // worker count of the previous run
	skipApplied map[int]changePos
	floor       map[int]changePos // never persist a worker's applied position below this

	// Checkpoint writing.
	cpMu       sync.Mutex
	lastGlobal position
	exitSafe   Location
	snapshot   []byte
	snapDirty  bool

	blockingDDL atomic.Pointer[string]

	// Online schema changes (nil when Config.OnlineDDL is): the captured records, and the
	// ghost tables whose cut-over the DDL being handled runs (event loop only).
	online     *onlineStore
	onlineDone [][2]string
	// Shard DDL coordination (shard.go); freeze is guarded by cpMu.
	sh     shardState
	freeze *freezePoint

	failOnce sync.Once
	werr     error
	errc     chan struct{} // closed when a worker fails
	cancel   context.CancelFunc
	// stopReq is closed when StopAtTransactionEnd asks this run to stop at a transaction end.
	stopReq <-chan struct{}
}

// Run replicates until ctx is cancelled (returning ctx.Err()) or a permanent error. An
// error implementing Temporary() bool (returning true) means the failure should clear by
// itself and the caller may run again.
func (s *Syncer) Run(ctx context.Context) error {
	if !s.runMu.TryLock() {
		return errors.New("syncer: Run is already running for this syncer")
	}
	defer s.runMu.Unlock()
	s.stop.begin()
	defer s.stop.end()
	r, err := s.prepare(ctx)
	if err != nil {
		// Preparing is connecting, reading and writing checkpoints, locating the start:
		// a server that goes away meanwhile (a restart) is a pause to resume from.
		return maybeTemporary(err)
	}
	r.stopReq = s.stop.requested()
	defer r.close()
	s.cur.Store(r)
	s.hold.beginRun()
	defer s.hold.endRun()
	err = r.loop(ctx)
	if err != nil && ctx.Err() == nil {
		r.log.Error("syncer stopped", "error", err)
	}
	return err
}

// prepare connects, loads or initialises the checkpoint and decides where to start.
func (s *Syncer) prepare(ctx context.Context) (r *run, err error) {
	r = &run{
		s:      s,
		cfg:    s.cfg,
		log:    s.cfg.Logger,
		tables: map[[2]string]*tableInfo{},
		parser: parser.New(),
		errc:   make(chan struct{}),
	}
	built := r // the named result is nil on error returns
	defer func() {
		if err != nil {
			built.close()
		}
	}()
	if err = r.connect(ctx); err != nil {
		return nil, err
	}
	st, err := r.openCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if err = r.openOnline(ctx, st); err != nil {
		return nil, err
	}
	facts, err := r.startFacts(ctx, st)
	if err != nil {
		return nil, err
	}
	plan := planStart(facts)
	if err = r.applyStart(ctx, plan); err != nil {
		return nil, err
	}
	start, err := r.startLocation(ctx, plan.start)
	if err != nil {
		return nil, err
	}
	if err = r.startWorkers(ctx, start, plan); err != nil {
		return nil, err
	}
	return r, nil
}

// connect opens the target (with the replication session settings) and the source.
func (r *run) connect(ctx context.Context) (err error) {
	tcfg := r.cfg.Target
	tcfg.Params = maps.Clone(tcfg.Params)
	if tcfg.Params == nil {
		tcfg.Params = map[string]string{}
	}
	tcfg.Params["time_zone"] = "'" + r.cfg.TimeZone + "'"
	tcfg.Params["sql_mode"] = targetSQLMode
	tcfg.Params["foreign_key_checks"] = "0"
	if r.cfg.ForeignKeyChecks {
		tcfg.Params["foreign_key_checks"] = "1"
	}
	if r.target, err = dbconn.Open(ctx, tcfg, ""); err != nil {
		return maybeTemporary(fmt.Errorf("syncer target: %w", err))
	}
	if r.source, err = dbconn.Open(ctx, r.cfg.SourceDB, ""); err != nil {
		return maybeTemporary(fmt.Errorf("syncer source: %w", err))
	}
	r.source.SetMaxOpenConns(2)
	return nil
}

// openCheckpoint creates the checkpoint table if needed and reads the source's rows (nil
// when there are none); it also sets up the stream config and the DDL time zone.
func (r *run) openCheckpoint(ctx context.Context) (st *savedState, err error) {
	cfg := r.cfg
	r.cpTable = checkpointTable(cfg.MetaSchema, cfg.Task)
	if err = ensureCheckpointTable(ctx, r.target, cfg.MetaSchema, cfg.Task); err != nil {
		return nil, err
	}
	if st, err = loadCheckpoint(ctx, r.target, cfg.MetaSchema, cfg.Task, cfg.Source); err != nil {
		return nil, err
	}
	if r.streamCfg, err = streamConfig(cfg, cfg.ServerID, r.decodeRows, quiet(r.log)); err != nil {
		return nil, err
	}
	r.ddlTZ = sourceTimeZone(ctx, r.source)
	return st, nil
}

// startFacts gathers what the start decision needs, querying the source only for what
// the chosen kind of start uses.
func (r *run) startFacts(ctx context.Context, st *savedState) (f startFacts, err error) {
	cfg := r.cfg
	f = startFacts{
		byTime:    cfg.StartTime != "" && !r.s.startTimeUsed.Load(),
		saved:     st,
		start:     cfg.Start,
		safeUntil: cfg.SafeModeUntil,
		workers:   cfg.Workers,
	}
	switch chooseStart(f.byTime, st != nil, cfg.Start) {
	case startByTime:
		unix, err := parseStartTime(ctx, r.source, cfg.StartTime)
		if err != nil {
			return f, err
		}
		if f.timeStart, err = findStartByTime(ctx, r.source, r.streamCfg, unix); err != nil {
			return f, err
		}
		if f.master, err = masterStatus(ctx, r.source, cfg.Flavor); err != nil {
			return f, err
		}
	case startAtSourceEnd:
		if f.master, err = masterStatus(ctx, r.source, cfg.Flavor); err != nil {
			return f, err
		}
		r.log.Warn("no checkpoint and no start location: starting at the source's current binlog end", "location", f.master.String())
	}
	return f, nil
}

// applyStart carries out the start plan: the schema tracker, the replaced checkpoint and
// the safe-mode window.
func (r *run) applyStart(ctx context.Context, p startPlan) error {
	var err error
	if p.seed {
		err = r.seedTracker()
	} else {
		err = r.restoreTracker(p.snapshot)
	}
	if err != nil {
		return err
	}
	if p.dropCheckpoint {
		if err := r.fence(ctx, r.target); err != nil {
			return err
		}
		if err := deleteCheckpoint(ctx, r.target, r.cpTable, r.cfg.Source); err != nil {
			return err
		}
	}
	r.safeUntil, r.exitSafe = p.safeUntil, p.exitSafe
	r.skipWorkers, r.skipApplied, r.floor = p.skipWorkers, p.skipApplied, p.floor
	switch p.kind {
	case startByTime:
		r.s.startTimeUsed.Store(true)
		r.log.Info("starting from start time", "start_time", r.cfg.StartTime, "location", p.start.String())
	case startFromCheckpoint:
		if p.workers != r.cfg.Workers {
			r.log.Warn("worker count differs from the checkpoint's and the last run did not stop cleanly; "+
				"keeping the checkpoint's count for this run so the replay stays exact",
				"configured", r.cfg.Workers, "checkpoint", p.workers)
		}
		r.log.Info("resuming from checkpoint", "location", p.start.String(), "gtid", p.start.GTID,
			"safe_mode_until", fmt.Sprint(r.safeUntil))
	}
	return nil
}

// startLocation applies the schema overrides and completes and checks the start
// location: a MariaDB file/position start gets its GTID position.
func (r *run) startLocation(ctx context.Context, start Location) (Location, error) {
	cfg := r.cfg
	overrides := cfg.SchemaOverrides
	if r.s.overridesSaved.Load() {
		overrides = nil
	}
	for k, sqlText := range overrides {
		if err := r.tr.SetTable(k[0], k[1], sqlText); err != nil {
			return start, fmt.Errorf("apply schema override for %s.%s: %w", k[0], k[1], err)
		}
	}
	if len(overrides) > 0 {
		if err := r.takeSnapshot(); err != nil {
			return start, err
		}
		r.overridesUnsaved.Store(true)
	}
	if start.File == "" && start.GTID == "" {
		return start, errors.New("syncer: no binlog start location; set Start or StartTime")
	}
	if start.GTID == "" && cfg.Flavor == mysql.MariaDBFlavor && start.File != "" {
		var g sql.NullString
		if err := r.source.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", start.File, start.Pos).Scan(&g); err == nil {
			start.GTID = g.String
		}
	}
	if start.File == "" {
		// A GTID-only start: the stream's first rotate event names the file.
		if !cfg.EnableGTID && cfg.Flavor != mysql.MariaDBFlavor {
			return start, errors.New("syncer: the start location has only a GTID set; enable GTID or give a binlog file and position")
		}
	}
	return start, nil
}

// startWorkers sets up the stream state and the workers at start, and persists the start
// (and the replay window) when the run is fresh or replays.
func (r *run) startWorkers(ctx context.Context, start Location, p startPlan) (err error) {
	if r.gtid, err = newGTIDState(r.cfg.Flavor, start.GTID); err != nil {
		return err
	}
	r.curFile = start.File
	r.published.Store(&pubLoc{loc: start})
	if err := r.takeSnapshot(); err != nil {
		return err
	}
	r.queueSize = max(2*r.cfg.Batch, 256)
	r.target.SetMaxOpenConns(p.workers + 4)
	r.target.SetMaxIdleConns(p.workers + 4)
	r.workers = make([]*worker, p.workers)
	for i := range r.workers {
		r.workers[i] = newWorker(r, i, &pubLoc{loc: start})
	}
	r.caus = newCausality(r.workers)
	if p.fresh || r.safeUntil != nil {
		// Persist the start (and the replay window) before anything is applied, so a
		// crash never forgets that part of the window was already written.
		if err := r.flushGlobal(ctx, true); err != nil {
			return err
		}
	}
	return nil
}

// seedTracker starts a new tracker with the initial schemas of a fresh start.
func (r *run) seedTracker() error {
	r.tr = tracker.New(r.cfg.CaseSensitive)
	r.s.tr.Store(r.tr)
	for k, sqlText := range r.cfg.InitialSchemas {
		if err := r.tr.SetTable(k[0], k[1], sqlText); err != nil {
			return fmt.Errorf("seed schema tracker with %s.%s: %w", k[0], k[1], err)
		}
	}
	return nil
}

// restoreTracker starts a new tracker from a checkpoint snapshot.
func (r *run) restoreTracker(snap []byte) error {
	t := tracker.New(r.cfg.CaseSensitive)
	if len(snap) > 0 {
		if err := t.Restore(snap); err != nil {
			return fmt.Errorf("restore schema tracker from checkpoint: %w", err)
		}
	}
	r.tr = t
	r.s.tr.Store(t)
	return nil
}

// takeSnapshot records the tracker state to be written with the next global checkpoint.
func (r *run) takeSnapshot() error {
	snap, err := r.tr.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot schema tracker: %w", err)
	}
	r.cpMu.Lock()
	r.snapshot, r.snapDirty = snap, true
	r.cpMu.Unlock()
	return nil
}

func (r *run) close() {
	if r.target != nil {
		r.target.Close()
	}
	if r.source != nil {
		r.source.Close()
	}
}

// fail records the first worker error and stops the pipeline.
func (r *run) fail(err error) {
	r.failOnce.Do(func() {
		r.werr = err
		close(r.errc)
		if r.cancel != nil {
			r.cancel()
		}
	})
}

// loop runs the workers, the checkpoint writer, the master status poller and the event
// loop, and shuts them down in order.
func (r *run) loop(ctx context.Context) error {
	evCtx, cancelEv := context.WithCancel(ctx)
	defer cancelEv()
	r.cancel = cancelEv
	wctx, cancelWorkers := context.WithCancel(context.Background())
	defer cancelWorkers()

	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.loop(wctx); err != nil && !errors.Is(err, context.Canceled) {
				r.fail(err)
			}
		}()
	}
	bgCtx, stopBG := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); r.checkpointLoop(bgCtx) }()
	go func() { defer bg.Done(); r.pollMaster(bgCtx) }()
	if r.cfg.Throttle != nil {
		bg.Add(1)
		go func() { defer bg.Done(); r.throttleLoop(bgCtx) }()
	}

	readErr := r.readLoop(evCtx)

	// Let the workers finish what they hold, then write the final checkpoint.
	for _, w := range r.workers {
		close(w.ch)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.retryBudget + 10*time.Second):
		cancelWorkers()
		<-done
	}
	stopBG()
	bg.Wait()
	if r.werr == nil {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.flushGlobal(fctx, false); err != nil {
			r.log.Warn("final checkpoint write failed; the next run replays a little more", "error", err)
		}
		cancel()
	}
	switch {
	case r.werr != nil:
		return r.werr
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(readErr, errQuiesced):
		return r.waitAfterQuiesce(ctx)
	case readErr != nil:
		return readErr
	}
	return nil
}

// appliedPoint is the last location whose changes are all committed, and whether every
// worker is idle.
func (r *run) appliedPoint() (pubLoc, bool) {
	pub := r.published.Load()
	point := *pub
	idle := true
	for _, w := range r.workers {
		if w.pending.Load() == 0 {
			continue
		}
		idle = false
		if p := w.point.Load(); posOf(p.loc).compare(posOf(point.loc)) < 0 {
			point = *p
		}
	}
	return point, idle
}

// flushGlobal writes the global row if the applied point moved (or force).
func (r *run) flushGlobal(ctx context.Context, force bool) error {
	point, _ := r.appliedPoint()
	return r.writeGlobalAt(ctx, point.loc, force)
}

func (r *run) writeGlobalAt(ctx context.Context, loc Location, force bool) error {
	saved, err := r.writeGlobalLocked(ctx, loc, force)
	if saved && r.overridesUnsaved.CompareAndSwap(true, false) {
		r.s.overridesSaved.Store(true)
		if r.cfg.OverridesSaved != nil {
			r.cfg.OverridesSaved()
		}
	}
	return err
}

// writeGlobalLocked writes the global checkpoint row; snapshot reports whether it carried
// the tracker snapshot.
func (r *run) writeGlobalLocked(ctx context.Context, loc Location, force bool) (snapshot bool, err error) {
	r.cpMu.Lock()
	defer r.cpMu.Unlock()
	loc, frozen := r.capGlobal(loc)
	if !force && !r.snapDirty && posOf(loc).compare(r.lastGlobal) <= 0 {
		return false, nil
	}
	g := globalCheckpoint{loc: loc, exitSafe: r.exitSafe, workers: len(r.workers)}
	if frozen != nil {
		// Tables wait at a shard DDL: a restart re-reads from before it.
		g.snapshot = frozen
	} else if r.snapDirty || force {
		g.snapshot = r.snapshot
		if g.snapshot == nil {
			g.snapshot = []byte{}
		}
	}
	started := time.Now()
	err = r.fence(ctx, r.target)
	if err == nil {
		err = writeGlobal(ctx, r.target, r.cpTable, r.cfg.Source, g)
	}
	if o := r.cfg.Observer; o != nil && err == nil {
		o.Checkpoint(time.Since(started))
	}
	if err != nil {
		// A target that went away (restarting) is a pause to resume from, not a failure.
		return false, maybeTemporary(err)
	}
	r.lastGlobal = posOf(loc)
	if frozen == nil {
		r.snapDirty = false
	}
	return g.snapshot != nil && frozen == nil, nil
}

// checkpointLoop writes the global row periodically.
func (r *run) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.checkpointInterval)
	defer t.Stop()
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := r.flushGlobal(ctx, false)
			if err == nil {
				err = r.finishOnlineCutovers(ctx, nil) // the checkpoint may have passed a cut-over
			}
			if err != nil && ctx.Err() == nil && time.Since(lastWarn) > 10*time.Second {
				lastWarn = time.Now()
				r.log.Warn("global checkpoint write failed; will retry", "error", err)
			}
		}
	}
}

// pollMaster refreshes the source's binlog end for Status.
func (r *run) pollMaster(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if loc, err := masterStatus(qctx, r.source, r.cfg.Flavor); err == nil {
			r.s.setMaster(loc)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sourceTimeZone returns the source's time zone as an offset usable on the target,
// for DDL sessions whose binlog event carries none.
func sourceTimeZone(ctx context.Context, db *sql.DB) string {
	var tz string
	if err := db.QueryRowContext(ctx, "SELECT TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i')").Scan(&tz); err != nil {
		return "+00:00"
	}
	if tz != "" && tz[0] != '-' {
		tz = "+" + tz
	}
	return tz
}
