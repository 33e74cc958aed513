package dm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/relay"
	"github.com/dmkit/dmkit/syncer"
)

// relayRun is a worker's relay unit: one relay.Relay pulled by a goroutine that pauses on
// errors and retries with backoff, like a subtask, plus its automatic purge.
type relayRun struct {
	spec   *relaySpec
	rel    *relay.Relay
	cancel context.CancelFunc
	done   chan struct{}

	stage  string // guarded by worker.mu
	errMsg string
}

// reconcileRelay starts, restarts or stops the relay toward the host's spec. w.mu held.
func (w *worker) reconcileRelay(ctx context.Context) {
	if w.relayStopping != nil {
		if !closed(w.relayStopping) {
			return // the previous relay still owns its directory
		}
		w.relayStopping = nil
	}
	spec := w.host.relaySpec(w.name)
	cur := w.relay
	if cur != nil && (spec == nil || spec.key() != cur.spec.key()) {
		w.relay = nil
		cur.cancel()
		stopping := make(chan struct{})
		w.relayStopping = stopping
		source := cur.spec.Source
		go func() {
			<-cur.done
			if cur.rel != nil {
				cur.rel.Close()
			}
			w.switchStreams(source) // readers of the relay move to the source
			close(stopping)
			w.poke()
		}()
		return
	}
	if spec == nil || cur != nil {
		return
	}
	rr := &relayRun{spec: spec, done: make(chan struct{}), stage: StagePaused}
	w.relay = rr
	switch {
	case spec.Err != "":
		rr.errMsg = spec.Err + "\n"
		close(rr.done)
		rr.cancel = func() {}
		return
	case spec.Disabled:
		rr.errMsg = fmt.Sprintf("source %s is disabled; relay resumes when it is enabled\n", spec.Source)
		close(rr.done)
		rr.cancel = func() {}
		return
	}
	cfg := spec.Config
	source := spec.Source
	cfg.Logger = w.log.With("source", source)
	cfg.Needed = func() (dumpfile.Location, bool) { return w.earliestNeeded(source) }
	rel, err := relay.New(cfg)
	if err != nil {
		rr.errMsg = err.Error() + "\n"
		close(rr.done)
		rr.cancel = func() {}
		return
	}
	rr.rel = rel
	rctx, cancel := context.WithCancel(ctx)
	rr.cancel = cancel
	go w.runRelay(rctx, rr)
}

// runRelay pulls until ctx ends: an error pauses the relay (readers move to the source)
// and it retries with backoff.
func (w *worker) runRelay(ctx context.Context, rr *relayRun) {
	defer close(rr.done)
	source := rr.spec.Source
	purgeDone := make(chan struct{})
	go func() { defer close(purgeDone); w.autoPurge(ctx, rr) }()
	defer func() { <-purgeDone }()
	retries := 0
	for ctx.Err() == nil {
		w.setRelayStage(rr, StageRunning, "")
		started := time.Now()
		caught := make(chan struct{})
		go func() { defer close(caught); w.switchWhenCaughtUp(ctx, rr) }()
		err := rr.rel.Run(ctx)
		<-caught
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			retries = 0
		}
		retries++
		w.setRelayStage(rr, StagePaused, err.Error()+"\n")
		w.log.Warn("relay paused by error; retrying", "source", source, "err", err, "retry_in", backoff(retries))
		w.switchStreams(source)
		select {
		case <-time.After(backoff(retries)):
		case <-ctx.Done():
			return
		}
	}
}

// switchWhenCaughtUp moves the source's syncers onto the relay once it holds what the
// source has, then keeps moving syncers that still read the source (they started before
// the relay had their position) once the relay holds their checkpoint. It runs while
// the relay session does.
func (w *worker) switchWhenCaughtUp(ctx context.Context, rr *relayRun) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	caught := false
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := rr.rel.Status()
		if !st.Running {
			return
		}
		if !caught && st.CatchUp {
			caught = true
			w.switchStreams(rr.spec.Source)
			continue
		}
		if caught && n%5 == 0 {
			for _, u := range w.sourceUnits(rr.spec.Source) {
				if su, ok := u.(*syncUnit); ok {
					if loc, ok := su.remoteCheckpoint(); ok && rr.rel.Holds(loc) {
						su.switchStream()
					}
				}
			}
		}
	}
}

func (w *worker) setRelayStage(rr *relayRun, stage, errMsg string) {
	w.mu.Lock()
	rr.stage, rr.errMsg = stage, errMsg
	w.mu.Unlock()
}

// liveRelay is the relay of source on this worker while it runs, else nil.
func (w *worker) liveRelay(source string) *relay.Relay {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rr := w.relay; rr != nil && rr.spec.Source == source && rr.stage == StageRunning {
		return rr.rel
	}
	return nil
}

// relayOpener serves the syncers of source from this worker's relay while it runs; a
// location the relay does not have is read from the source, and so is everything for a
// minute after reading the relay failed (a damaged relay file must not stall the task).
func (w *worker) relayOpener(source string) syncer.RelayOpener {
	var failedAt atomic.Int64
	return func(loc syncer.Location, useGTID bool, cfg replication.BinlogSyncerConfig) (syncer.Stream, error) {
		rel := w.liveRelay(source)
		if rel == nil || time.Since(time.Unix(0, failedAt.Load())) < relayFailureHold {
			return nil, nil
		}
		rd, err := rel.NewReader(relay.Start{File: loc.File, Pos: loc.Pos, GTID: loc.GTID, UseGTID: useGTID}, cfg)
		var nir *relay.NotInRelayError
		if errors.As(err, &nir) {
			w.log.Warn("relay cannot serve the location; reading the source", "source", source, "location", loc.String(), "reason", err)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &watchedStream{Reader: rd, failed: func(err error) {
			failedAt.Store(time.Now().UnixNano())
			w.log.Warn("reading the relay failed; reading the source for a while", "source", source, "err", err)
		}}, nil
	}
}

// relayFailureHold is how long a syncer reads the source after the relay failed it.
const relayFailureHold = time.Minute

// watchedStream reports a relay read failure (not the end of a context or of the relay).
type watchedStream struct {
	*relay.Reader
	failed func(error)
}

func (s *watchedStream) GetEvent(ctx context.Context) (*replication.BinlogEvent, error) {
	ev, err := s.Reader.GetEvent(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, relay.ErrClosed) && !errors.Is(err, context.Canceled) {
		s.failed(err)
	}
	return ev, err
}

// streamSwitcher is a unit whose binlog stream can be reopened (the sync unit).
type streamSwitcher interface{ switchStream() }

// switchStreams makes the sync units of source reopen their streams (relay on or off).
func (w *worker) switchStreams(source string) {
	for _, u := range w.sourceUnits(source) {
		if s, ok := u.(streamSwitcher); ok {
			s.switchStream()
		}
	}
}

// sourceUnits lists the units of the runs of source on this worker.
func (w *worker) sourceUnits(source string) []Unit {
	w.mu.Lock()
	runs := make([]*subtaskRun, 0, len(w.runs))
	for _, r := range w.runs {
		if r.source == source {
			runs = append(runs, r)
		}
	}
	w.mu.Unlock()
	var out []Unit
	for _, r := range runs {
		r.mu.Lock()
		out = append(out, r.units...)
		r.mu.Unlock()
	}
	return out
}

// checkpointer is a unit that knows the binlog location its task needs (the sync unit).
type checkpointer interface {
	neededLocation() (dumpfile.Location, bool)
}

// neededLocations maps each task of source on this worker to the location it still
// needs; unknown lists the tasks whose need is not known here (not syncing now).
func (w *worker) neededLocations(source string) (needed map[string]dumpfile.Location, unknown []string) {
	w.mu.Lock()
	runs := make([]*subtaskRun, 0, len(w.runs))
	for _, r := range w.runs {
		if r.source == source {
			runs = append(runs, r)
		}
	}
	w.mu.Unlock()
	needed = map[string]dumpfile.Location{}
	for _, r := range runs {
		r.mu.Lock()
		units := r.units
		r.mu.Unlock()
		found := false
		for _, u := range units {
			if cp, ok := u.(checkpointer); ok {
				if loc, ok := cp.neededLocation(); ok {
					needed[r.task], found = loc, true
				}
			}
		}
		if !found {
			unknown = append(unknown, r.task)
		}
	}
	sort.Strings(unknown)
	return needed, unknown
}

// earliestNeeded is the oldest location a syncing task of source needs.
func (w *worker) earliestNeeded(source string) (dumpfile.Location, bool) {
	needed, _ := w.neededLocations(source)
	var best dumpfile.Location
	ok := false
	for _, loc := range needed {
		if !ok || compareLoc(loc, best) < 0 {
			best, ok = loc, true
		}
	}
	return best, ok
}

// compareLoc orders binlog positions by file sequence, then offset.
func compareLoc(a, b dumpfile.Location) int {
	if a.File != b.File {
		if len(a.File) != len(b.File) {
			return len(a.File) - len(b.File)
		}
		if a.File < b.File {
			return -1
		}
		return 1
	}
	return int(a.Pos) - int(b.Pos)
}
