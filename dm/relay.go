package dm

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/dmkit/dmkit/relay"
)

// relayWorkers lists the workers running relay for source.
func relayWorkers(txn txnReader, source string) []*workerRecord {
	var out []*workerRecord
	for _, wr := range listRecords[*workerRecord](txn, kindWorker, "") {
		if wr.RelaySource == source {
			out = append(out, wr)
		}
	}
	return out
}

func (c *Cluster) hasRelayWorkers(txn txnReader, source string) bool {
	return len(relayWorkers(txn, source)) > 0
}

// EnableRelay starts relay for a source on the listed workers (default: the bound one).
func (c *Cluster) EnableRelay(ctx context.Context, name string, req EnableRelayRequest) error {
	if req.RelayBinlogName != nil && *req.RelayBinlogName != "" && !relayBinlogNameRE.MatchString(*req.RelayBinlogName) {
		return NewError(CodeBadRelayBinlogName, "relay-binlog-name %s not valid: expected a binlog file name such as mysql-bin.000001", *req.RelayBinlogName)
	}
	if sr := c.sourceRecord(name); sr != nil {
		if err := c.checkRelaySettings(name, sr.Flavor, req.RelayDir, req.RelayBinlogGTID); err != nil {
			return err
		}
	}
	return c.update(ctx, func(w *writeTxn) error {
		r, names, err := relayWorkerNames(w, name, req.WorkerNameList)
		if err != nil {
			return err
		}
		if r.Source.RelayConfig != nil && r.Source.RelayConfig.EnableRelay {
			return NewError(CodeRelayAutoStart, "the source %s has `start-relay` automatically for bound worker, so it can't start relay with worker name now", name)
		}
		// Changed relay settings are stored first (DM does the same), guarded like an update.
		n := *r
		rc := RelayConfig{}
		if r.Source.RelayConfig != nil {
			rc = *r.Source.RelayConfig
		}
		changed := false
		for _, f := range []struct{ dst, src **string }{{&rc.RelayBinlogName, &req.RelayBinlogName}, {&rc.RelayBinlogGTID, &req.RelayBinlogGTID}, {&rc.RelayDir, &req.RelayDir}} {
			if *f.src != nil && (*f.dst == nil || **f.dst != **f.src) {
				*f.dst = *f.src
				changed = true
			}
		}
		if changed {
			if err := sourceUpdateBlocked(w.txn, name); err != nil {
				return err
			}
			n.Source.RelayConfig = &rc
			w.put(kindSource, &n)
		}
		var missing []string
		var workers []*workerRecord
		for _, wn := range names {
			wr, _ := w.get(kindWorker, wn).(*workerRecord)
			if wr == nil {
				missing = append(missing, wn)
				continue
			}
			workers = append(workers, wr)
		}
		if len(missing) > 0 {
			return NewError(CodeWorkerNotFound, "dm-worker with name %v not exists", missing)
		}
		for _, wr := range workers {
			switch {
			case wr.Source != "" && wr.Source != name:
				return NewError(CodeRelayWorkerBoundOther, "dm-worker %s is bound to source %s, not %s", wr.Name, wr.Source, name)
			case wr.RelaySource != "" && wr.RelaySource != name:
				return NewError(CodeRelayWorkerBusy, "dm-worker %s is already running relay for source %s", wr.Name, wr.RelaySource)
			case wr.RelaySource == name:
				continue
			}
			nw := *wr
			nw.RelaySource = name
			w.put(kindWorker, &nw)
		}
		return nil
	})
}

// relayWorkerNames resolves the source of a relay request and the workers it names,
// defaulting to the source's bound worker.
func relayWorkerNames(w *writeTxn, name string, names []string) (*sourceRecord, []string, error) {
	r, _ := w.get(kindSource, name).(*sourceRecord)
	if r == nil {
		return nil, nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
	}
	if len(names) == 0 {
		bw := boundWorker(w.txn, name)
		if bw == nil {
			return nil, nil, NewError(CodeNoSourceInWorker, "no mysql source is being handled in the worker: source %s is not bound to a worker", name)
		}
		names = []string{bw.Name}
	}
	return r, names, nil
}

// DisableRelay stops relay for a source on the listed workers (default: the bound one).
func (c *Cluster) DisableRelay(ctx context.Context, name string, req DisableRelayRequest) error {
	return c.update(ctx, func(w *writeTxn) error {
		r, names, err := relayWorkerNames(w, name, req.WorkerNameList)
		if err != nil {
			return err
		}
		if r.Source.RelayConfig != nil && r.Source.RelayConfig.EnableRelay {
			return NewError(CodeRelayAutoStop, "the source %s has `start-relay` automatically for bound worker, so it can't stop relay with worker name now; update the source with relay_config.enable_relay=false instead", name)
		}
		for _, wn := range names {
			wr, _ := w.get(kindWorker, wn).(*workerRecord)
			if wr == nil {
				return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", wn)
			}
			if wr.RelaySource != "" && wr.RelaySource != name {
				return NewError(CodeRelayWorkerOther, "dm-worker %s is running relay for source %s, not %s", wn, wr.RelaySource, name)
			}
			if wr.RelaySource == name {
				nw := *wr
				nw.RelaySource = ""
				w.put(kindWorker, &nw)
			}
		}
		return nil
	})
}

// PurgeRelay removes the relay files of a source older than req.RelayBinlogName on every
// worker that runs relay for it; files still needed by a subtask are kept.
func (c *Cluster) PurgeRelay(ctx context.Context, name string, req PurgeRelayRequest) error {
	if req.RelayBinlogName == "" {
		return invalidf("relay_binlog_name is required")
	}
	if !relayBinlogNameRE.MatchString(req.RelayBinlogName) {
		return NewError(CodeBadRelayBinlogName, "relay-binlog-name %s not valid: expected a binlog file name such as mysql-bin.000001", req.RelayBinlogName)
	}
	txn := c.read()
	rws := relayWorkers(txn, name)
	if len(rws) == 0 {
		return NewError(CodeOpenAPICommon, "relay worker for source %s not found, please `enable-relay` first", name)
	}
	for _, wr := range rws {
		w := c.workers.get(wr.Name)
		if w == nil {
			return NewError(CodeOpenAPICommon, "purge relay of source %s: dm-worker %s is offline", name, wr.Name)
		}
		dir := ""
		if req.RelayDir != nil {
			dir = *req.RelayDir
		}
		if err := w.purgeRelay(ctx, name, req.RelayBinlogName, dir); err != nil {
			return NewError(CodeOpenAPICommon, "purge relay of source %s on dm-worker %s: %v", name, wr.Name, err)
		}
	}
	return nil
}

// relaySpec is what a worker's relay unit runs: the source, the relay configuration and
// the auto-purge policy. A spec with Err set is a relay that cannot run (Paused with it).
type relaySpec struct {
	Source   string
	Disabled bool // the source is disabled: relay is held paused
	Config   relay.Config
	Purge    Purge
	Err      string
}

// key identifies a spec for change detection: a different key restarts the relay.
func (s *relaySpec) key() string {
	c := s.Config
	return fmt.Sprintf("%s|%v|%s|%s|%d|%s|%s|%s|%v|%s|%s", s.Source, s.Disabled, c.Dir, c.SourceDB.Host, c.SourceDB.Port, c.SourceDB.User,
		c.SourceDB.Password, c.Flavor, c.EnableGTID, c.StartFile, c.StartGTID) + fmt.Sprint(derefInt(s.Purge.Interval), derefInt(s.Purge.Expires), derefInt(s.Purge.RemainSpace)) + s.Err
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// relaySpec implements workerHost: the relay worker runs for the source it was given
// (relay enable), or for its bound source when that source's config has enable_relay.
// nil: no relay on this worker.
func (c *Cluster) relaySpec(worker string) *relaySpec {
	txn := c.read()
	wr, _ := getRecord(txn, kindWorker, worker).(*workerRecord)
	if wr == nil {
		return nil
	}
	source := relaySourceOf(txn, wr)
	if source == "" {
		return nil
	}
	sr, _ := getRecord(txn, kindSource, source).(*sourceRecord)
	if sr == nil {
		return nil
	}
	view := c.sourceView(txn, sr, false) // effective purge and relay settings
	spec := &relaySpec{Source: source, Disabled: !sr.enabled(), Purge: *view.Purge}
	rc := view.RelayConfig
	dir, err := c.relayDir(derefStr(rc.RelayDir), source, worker)
	if err != nil {
		spec.Err = err.Error()
	}
	spec.Config = relay.Config{Dir: dir, SourceDB: sourceDBConfig(&sr.Source), Flavor: sr.Flavor, EnableGTID: sr.Source.EnableGTID,
		StartFile: derefStr(rc.RelayBinlogName), StartGTID: derefStr(rc.RelayBinlogGTID)}
	return spec
}

// relayDir is the relay directory of (source, worker): relay_dir (relative paths inside
// the server's data directory, confined like a task's data_dir), then one directory per
// source and worker, since the in-process workers share the data directory.
func (c *Cluster) relayDir(dir, source, worker string) (string, error) {
	if dir == "" {
		dir = defaultRelayDir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(c.cfg.DataDir, dir)
	}
	dir = filepath.Join(dir, source, worker)
	if err := c.confined(dir); err != nil {
		return "", fmt.Errorf("relay_dir %q: %v", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("relay_dir %q: %v", dir, err)
	}
	return abs, nil
}

// checkRelaySettings refuses relay settings that could not be acted on: a relay_dir
// outside the server's data directory (and the allowed roots) and a relay_binlog_gtid
// that does not parse for the source's flavor.
func (c *Cluster) checkRelaySettings(source, flavor string, dir, gtid *string) error {
	if dir != nil {
		if _, err := c.relayDir(*dir, source, "worker"); err != nil {
			return invalidf("source %s: %v", source, err)
		}
	}
	if gtid != nil && *gtid != "" {
		if _, err := mysql.ParseGTIDSet(flavor, *gtid); err != nil {
			return invalidf("source %s: relay_binlog_gtid %q is not a %s GTID set: %v", source, *gtid, flavor, err)
		}
	}
	return nil
}

// relaySourceOf is the source a worker runs relay for: the one relay was enabled for on
// it, else its bound source when that source's config has enable_relay; "" for none.
func relaySourceOf(txn txnReader, wr *workerRecord) string {
	if wr.RelaySource != "" {
		return wr.RelaySource
	}
	if wr.Source != "" {
		if sr, _ := getRecord(txn, kindSource, wr.Source).(*sourceRecord); sr != nil && sr.Source.RelayConfig != nil && sr.Source.RelayConfig.EnableRelay {
			return wr.Source
		}
	}
	return ""
}
