package syncer

// startKind is where a run starts from.
type startKind int

const (
	// startByTime: the first transaction at or after StartTime; replaces the checkpoint
	// and runs in safe mode up to the source's binlog end at start.
	startByTime startKind = iota + 1
	// startFromCheckpoint: the checkpoint's global point, in safe mode over the restart
	// window.
	startFromCheckpoint
	// startFromConfig: Config.Start, in safe mode up to Config.SafeModeUntil.
	startFromConfig
	// startAtSourceEnd: no checkpoint and no Start: the source's current binlog end.
	startAtSourceEnd
)

// chooseStart applies the start precedence: an unused StartTime > checkpoint > Start >
// the source's current binlog end.
func chooseStart(byTime, haveCheckpoint bool, start Location) startKind {
	switch {
	case byTime:
		return startByTime
	case haveCheckpoint:
		return startFromCheckpoint
	case !start.IsZero():
		return startFromConfig
	}
	return startAtSourceEnd
}

// startFacts are the inputs of the start decision, gathered by prepare.
type startFacts struct {
	byTime    bool        // StartTime is set and this Syncer has not honoured it yet
	timeStart Location    // with byTime: the first transaction at or after StartTime
	master    Location    // with byTime, or without checkpoint and Start: the source's binlog end
	saved     *savedState // the checkpoint; nil when there is none
	start     Location    // Config.Start
	safeUntil *Location   // Config.SafeModeUntil
	workers   int         // Config.Workers
}

// startPlan is the start decision.
type startPlan struct {
	kind  startKind
	start Location
	// fresh: the run has no checkpoint of its own yet; the start is persisted before
	// anything is applied.
	fresh bool
	// seed: the schema tracker starts from InitialSchemas; otherwise it is restored from
	// snapshot (empty: an empty tracker).
	seed     bool
	snapshot []byte
	// dropCheckpoint: the existing checkpoint rows are deleted first.
	dropCheckpoint bool
	// safeUntil: changes at or before it are written idempotently; exitSafe is saved with
	// the global checkpoint.
	safeUntil *changePos
	exitSafe  Location
	// skipWorkers and skipApplied replay the restart window exactly; floor keeps each
	// worker's applied position from going below the previous run's.
	skipWorkers        int
	skipApplied, floor map[int]changePos
	// workers is the worker count of this run.
	workers int
}

// planStart decides where and how a run starts. It does no I/O.
func planStart(f startFacts) startPlan {
	p := startPlan{kind: chooseStart(f.byTime, f.saved != nil, f.start), workers: f.workers}
	switch p.kind {
	case startByTime:
		p.planByTime(f)
	case startFromCheckpoint:
		p.planResume(f.saved)
	default:
		p.fresh, p.seed, p.start = true, true, f.start
		if p.kind == startAtSourceEnd {
			p.start = f.master
		}
		if u := f.safeUntil; u != nil && u.File != "" {
			until := changePos{u.File, u.Pos, ^uint32(0)}
			p.safeUntil, p.exitSafe = &until, *u
		}
	}
	return p
}

// planByTime starts at the StartTime search result, replacing the checkpoint. The target
// may hold anything up to the source's end now: replay idempotently until there.
func (p *startPlan) planByTime(f startFacts) {
	p.start, p.fresh, p.dropCheckpoint = f.timeStart, true, true
	if f.saved != nil && len(f.saved.snapshot) > 0 {
		p.snapshot = f.saved.snapshot
	} else {
		p.seed = true
	}
	until := changePos{f.master.File, f.master.Pos, ^uint32(0)}
	p.safeUntil, p.exitSafe = &until, f.master
}

// planResume resumes from the checkpoint st. Changes up to the highest applied position
// (or the saved exit point) are replayed in safe mode, with the previous run's worker
// rows and worker count.
func (p *startPlan) planResume(st *savedState) {
	p.start, p.snapshot = st.global, st.snapshot
	until := st.maxApplied()
	if st.exitSafe.File != "" {
		if e := (changePos{st.exitSafe.File, st.exitSafe.Pos, ^uint32(0)}); until.File == "" || e.compare(until) > 0 {
			until = e
		}
	}
	if until.File == "" || !until.after(posOf(p.start)) {
		return
	}
	p.safeUntil = &until
	p.exitSafe = Location{File: until.File, Pos: until.Pos}
	p.skipWorkers, p.skipApplied, p.floor = st.workers, map[int]changePos{}, map[int]changePos{}
	for w, row := range st.rows {
		p.skipApplied[w] = row.applied
		p.floor[w] = row.applied
	}
	if st.workers > 0 && st.workers != p.workers {
		p.workers = st.workers
	}
}
