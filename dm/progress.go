package dm

import (
	"strconv"
	"strings"
	"time"
)

// UnitProgress is dmkit's progress of a subtask's current unit, beside DM's unit status
// (an addition; DM's fields are unchanged): what is done of what, at what rate, and when
// it will be done. Dump counts rows (the total estimated from table statistics, refined
// as tables finish), load counts bytes of dump files, sync counts the binlog bytes it is
// behind the source.
type UnitProgress struct {
	Unit    string  `json:"unit"`
	Measure string  `json:"measure"` // rows, bytes or bytes_behind (sync: Done = Total = bytes behind)
	Done    int64   `json:"done"`
	Total   int64   `json:"total"`
	Percent float64 `json:"percent"`
	// RatePerSecond is the recent rate (over the last minute), in Measure per second.
	RatePerSecond float64 `json:"rate_per_second"`
	// ETASeconds is the time left at that rate; absent while the rate is unknown.
	ETASeconds *int64 `json:"eta_seconds,omitempty"`
	// Synced and LagSeconds are the sync unit's: caught up, and seconds behind the source.
	Synced     *bool  `json:"synced,omitempty"`
	LagSeconds *int64 `json:"lag_seconds,omitempty"`
}

// rateWindow is how far back the rate looks.
const rateWindow = time.Minute

type progressSample struct {
	at   time.Time
	done int64 // for sync: bytes read (io_total_bytes), so the rate is the read rate
}

// progressMeter turns successive unit statuses into rates and ETAs. It lives with a
// subtask run and samples whenever the status is read; the unit's first sample anchors
// the rate when no recent one exists. A dump's or load's percent never goes back.
type progressMeter struct {
	unit    string
	samples []progressSample // oldest first, within rateWindow (plus the anchor)
	percent float64
}

func (m *progressMeter) sample(now time.Time, st SubTaskStatus) *UnitProgress {
	p := unitProgress(st)
	if p == nil {
		return nil
	}
	if m.unit != p.Unit {
		*m = progressMeter{unit: p.Unit}
	}
	counter := p.Done
	if st.SyncStatus != nil {
		counter = int64(st.SyncStatus.DumpIOTotalBytes) // binlog bytes read
	}
	m.samples = append(m.samples, progressSample{at: now, done: counter})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) > rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	if dt := now.Sub(first.at).Seconds(); dt > 0.5 && counter >= first.done {
		p.RatePerSecond = float64(counter-first.done) / dt
	}
	left := p.Total - p.Done
	if p.Measure == "bytes_behind" {
		// Replication falls behind and catches up again: no clamp, and the ETA is for
		// the bytes behind when they are known.
		left = p.Done
		if p.Percent < 100 && left == 0 {
			return p // behind by an unknown number of bytes (another binlog file)
		}
	} else {
		p.Percent = max(p.Percent, m.percent)
		m.percent = p.Percent
	}
	switch {
	case left <= 0 || p.Percent >= 100:
		p.ETASeconds = int64Ptr(0)
	case p.RatePerSecond > 0:
		p.ETASeconds = int64Ptr(int64(float64(left)/p.RatePerSecond + 0.5))
	}
	return p
}

// unitProgress reads done and total from the unit's DM status.
func unitProgress(st SubTaskStatus) *UnitProgress {
	switch {
	case st.DumpStatus != nil:
		d := st.DumpStatus
		p := &UnitProgress{Unit: UnitDump, Measure: "rows", Done: int64(d.FinishedRows), Total: int64(d.EstimateTotalRows)}
		p.Percent = percentOf(p.Done, p.Total, st.Stage == StageFinished)
		return p
	case st.LoadStatus != nil:
		l := st.LoadStatus
		p := &UnitProgress{Unit: UnitLoad, Measure: "bytes", Done: l.FinishedBytes, Total: l.TotalBytes}
		p.Percent = percentOf(p.Done, p.Total, st.Stage == StageFinished)
		return p
	case st.SyncStatus != nil:
		s := st.SyncStatus
		lag := s.SecondsBehindMaster
		p := &UnitProgress{Unit: UnitSync, Measure: "bytes_behind", Synced: &s.Synced, LagSeconds: &lag}
		behind, known := bytesBehind(s.MasterBinlog, s.SyncerBinlog)
		if known {
			p.Done, p.Total = behind, behind
		}
		if s.Synced || known && behind == 0 {
			p.Percent = 100
		}
		return p
	}
	return nil
}

// percentOf is done/total in percent; an estimate that falls short shows 99.99 until the
// unit finishes, so 100 means finished.
func percentOf(done, total int64, finished bool) float64 {
	switch {
	case finished:
		return 100
	case total <= 0:
		return 0
	}
	return min(float64(done)/float64(total)*100, 99.99)
}

// bytesBehind is how many binlog bytes the syncer is behind the source when both are in
// the same file; across files it is unknown (the sizes of the files between are not in
// the status).
func bytesBehind(master, syncer string) (int64, bool) {
	mf, mp, ok1 := parseLocation(master)
	sf, sp, ok2 := parseLocation(syncer)
	if !ok1 || !ok2 || mf != sf {
		return 0, false
	}
	return max(mp-sp, 0), true
}

// parseLocation reads DM's "(mysql-bin.000001, 1234)".
func parseLocation(loc string) (string, int64, bool) {
	loc = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(loc), "("), ")")
	file, pos, ok := strings.Cut(loc, ",")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(pos), 10, 64)
	return strings.TrimSpace(file), n, err == nil
}
