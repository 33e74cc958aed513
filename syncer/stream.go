package syncer

import (
	"context"
	"errors"

	"github.com/go-mysql-org/go-mysql/replication"
)

// Stream is a binlog event stream: the source's own (go-mysql) or a relay log read back.
type Stream interface {
	GetEvent(ctx context.Context) (*replication.BinlogEvent, error)
	Close()
}

// RelayOpener opens the source's relay log at loc (by GTID set when useGTID and loc has
// one), decoding as cfg says. It returns a nil Stream and nil error when no relay can
// serve loc right now (relay not running for the source, or loc older than the relay):
// the syncer then reads the source.
type RelayOpener func(loc Location, useGTID bool, cfg replication.BinlogSyncerConfig) (Stream, error)

// Binlog types reported in Status.
const (
	BinlogRemote = "remote"
	BinlogLocal  = "local"
)

// remoteStream is the source's binlog over a go-mysql replica connection.
type remoteStream struct {
	bs *replication.BinlogSyncer
	st *replication.BinlogStreamer
}

func (s remoteStream) GetEvent(ctx context.Context) (*replication.BinlogEvent, error) {
	return s.st.GetEvent(ctx)
}
func (s remoteStream) Close() { s.bs.Close() }

// errStreamSwitch ends a stream on purpose so that the next one is opened through the
// relay opener again (relay started or stopped for the source).
var errStreamSwitch = errors.New("binlog stream switched between relay and source")

// openEventStream opens the relay when it can serve loc, else the source.
func (r *run) openEventStream(loc Location) (Stream, string, error) {
	if r.cfg.Relay != nil {
		st, err := r.cfg.Relay(loc, r.cfg.EnableGTID, r.streamCfg)
		if err != nil {
			return nil, "", err
		}
		if st != nil {
			return st, BinlogLocal, nil
		}
	}
	bs, st, err := openStream(r.streamCfg, r.cfg.Flavor, loc, r.cfg.EnableGTID)
	if err != nil {
		return nil, "", err
	}
	return remoteStream{bs, st}, BinlogRemote, nil
}

// SwitchStream makes a running syncer reopen its binlog stream at the last complete
// transaction, asking the relay opener again: call it when relay starts or stops for
// the source. Nothing is lost or repeated (rows of a transaction already dispatched are
// skipped when they come again).
func (s *Syncer) SwitchStream() {
	select {
	case s.switchCh <- struct{}{}:
	default:
	}
}

// Checkpoint is the location a restart of the running syncer resumes from (its last
// flushed global checkpoint); ok is false while it is not running or has none yet.
func (s *Syncer) Checkpoint() (Location, bool) {
	r := s.cur.Load()
	if r == nil {
		return Location{}, false
	}
	r.cpMu.Lock()
	p := r.lastGlobal
	r.cpMu.Unlock()
	return Location{File: p.File, Pos: p.Pos}, p.File != ""
}

// BinlogType is where the syncer reads the binlog now: BinlogLocal or BinlogRemote.
func (s *Syncer) BinlogType() string { return s.binlogType.Load().(string) }
