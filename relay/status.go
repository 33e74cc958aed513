package relay

import "fmt"

// Status is the relay's progress, as DM's relay_status reports it.
type Status struct {
	// MasterBinlog is the source's binlog end "(file, pos)", MasterBinlogGTID its GTID
	// set; empty while the relay is not connected.
	MasterBinlog, MasterBinlogGTID string
	// Subdir is the sub-directory written to (`<uuid>.<nnnnnn>`); RelayBinlog the end of
	// the relay "(file, pos)" and RelayBinlogGTID the GTID set of its durable end.
	Subdir, RelayBinlog, RelayBinlogGTID string
	// CatchUp is true when the relay holds everything the source has written.
	CatchUp bool
	// Running is true while Run pulls.
	Running bool
}

// Status reports the relay; it asks the source for its binlog end while connected.
func (r *Relay) Status() Status {
	r.mu.Lock()
	a, gtid, running, master := r.active, r.gtid, r.running, r.master
	r.mu.Unlock()
	st := Status{Subdir: a.subdir, RelayBinlogGTID: gtid, Running: running}
	if a.file != "" {
		st.RelayBinlog = fmt.Sprintf("(%s, %d)", a.file, a.size)
	}
	if master == nil {
		return st
	}
	m, err := master()
	if err != nil {
		return st
	}
	st.MasterBinlog, st.MasterBinlogGTID = fmt.Sprintf("(%s, %d)", m.File, m.Pos), m.GTID
	// Re-read the writer's end: the source was asked after it, so equality means caught up.
	r.mu.Lock()
	a = r.active
	r.mu.Unlock()
	st.CatchUp = a.file == m.File && a.size >= int64(m.Pos)
	return st
}

// Holds reports whether the relay has the upstream file of loc (a reader can start
// there).
func (r *Relay) Holds(loc Location) bool {
	subs, err := readIndex(r.cfg.Dir)
	if err != nil || loc.File == "" {
		return false
	}
	_, ok := r.locate(subs, loc.File)
	return ok
}
