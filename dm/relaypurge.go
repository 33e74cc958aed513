package dm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/relay"
)

// relayStatus reports relay for source on this worker: the relay's progress and stage,
// with the error that paused it.
func (w *worker) relayStatus(source string) (*RelayStatus, string) {
	w.mu.Lock()
	rr := w.relay
	var stage, errMsg string
	if rr != nil {
		stage, errMsg = rr.stage, rr.errMsg
	}
	w.mu.Unlock()
	if rr == nil || rr.spec.Source != source {
		return &RelayStatus{Stage: StagePaused}, fmt.Sprintf("relay of source %s is not started on dm-worker %s yet\n", source, w.name)
	}
	rs := &RelayStatus{Stage: stage}
	if rr.rel != nil {
		st := rr.rel.Status()
		rs.MasterBinlog, rs.MasterBinlogGTID = st.MasterBinlog, st.MasterBinlogGTID
		rs.RelayDir, rs.RelayBinlogGTID, rs.RelayCatchUpMaster = st.Subdir, st.RelayBinlogGTID, st.CatchUp
	}
	return rs, errMsg
}

// relayStartWait bounds how long a purge waits for a relay that was just enabled (the
// worker's reconcile starts it asynchronously).
const relayStartWait = 10 * time.Second

// startedRelay is the worker's running relay of source; a relay the control plane wants
// here but the worker has not started yet (relay enable answered a moment ago) is waited
// for, up to relayStartWait.
func (w *worker) startedRelay(ctx context.Context, source string) (*relayRun, error) {
	deadline := time.Now().Add(relayStartWait)
	for {
		w.mu.Lock()
		rr := w.relay
		w.mu.Unlock()
		if rr != nil && rr.spec.Source == source && rr.rel != nil {
			return rr, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("relay of source %s is not running on dm-worker %s", source, w.name)
		}
		w.poke()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// purgeRelay removes the relay files of source before name (in sub-directory dir, the
// current one when empty). It is refused while a task of the source is not syncing here
// (what it needs is unknown, as DM forbids purge while a subtask is paused) and when a
// task still needs a file before name.
func (w *worker) purgeRelay(ctx context.Context, source, name, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rr, err := w.startedRelay(ctx, source)
	if err != nil {
		return err
	}
	needed, unknown := w.neededLocations(source)
	if len(unknown) > 0 {
		return fmt.Errorf("task %s is not syncing on dm-worker %s, so the relay files it needs are unknown; resume it before purging the relay", strings.Join(unknown, ", "), w.name)
	}
	removed, err := rr.rel.Purge(dir, name, needed)
	var ne *relay.NeededError
	if errors.As(err, &ne) {
		return err
	}
	if err != nil {
		return fmt.Errorf("purge relay: %w", err)
	}
	w.log.Info("relay purged", "source", source, "before", name, "files", len(removed))
	return nil
}

// autoPurge applies the source's purge policy every interval seconds: below remain_space
// GB free on the relay's disk every inactive file goes, else files older than expires
// hours; never a file a task needs. A tick where a task's need is unknown is skipped.
func (w *worker) autoPurge(ctx context.Context, rr *relayRun) {
	p := rr.spec.Purge
	interval, expires, space := derefInt(p.Interval), derefInt(p.Expires), derefInt(p.RemainSpace)
	if interval <= 0 || (expires <= 0 && space <= 0) {
		return
	}
	source := rr.spec.Source
	tick := time.NewTicker(time.Duration(interval) * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		needed, unknown := w.neededLocations(source)
		if len(unknown) > 0 {
			continue
		}
		keep := make([]dumpfile.Location, 0, len(needed))
		for _, loc := range needed {
			keep = append(keep, loc)
		}
		var older time.Time
		if space > 0 {
			free, err := freeBytes(rr.rel.Dir())
			if err != nil {
				w.log.Warn("relay auto purge: free space unknown", "source", source, "err", err)
			} else if free < gib(space) {
				older = time.Time{}
				removed, err := rr.rel.PurgeInactive(keep, older)
				w.logPurge(source, "space", removed, err)
				continue
			}
		}
		if expires > 0 {
			older = time.Now().Add(-time.Duration(expires) * time.Hour)
			removed, err := rr.rel.PurgeInactive(keep, older)
			w.logPurge(source, "time", removed, err)
		}
	}
}

func (w *worker) logPurge(source, strategy string, removed []string, err error) {
	if err != nil {
		w.log.Warn("relay auto purge failed", "source", source, "strategy", strategy, "err", err)
	} else if len(removed) > 0 {
		w.log.Info("relay auto purge", "source", source, "strategy", strategy, "files", len(removed))
	}
}

// gib is n GiB in bytes, saturating.
func gib(n int64) uint64 {
	if uint64(n) > math.MaxUint64>>30 {
		return math.MaxUint64
	}
	return uint64(n) << 30
}
