package dm

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// maskedPassword replaces every password in responses.
const maskedPassword = "******"

// Limits on names. Source names follow DM (1..32 characters); every name is restricted to
// characters that are safe in SQL identifiers, file paths and URLs.
const (
	maxSourceNameLen = 32
	// maxTaskNameLen keeps "<task>_syncer_checkpoint" within MySQL's 64-character limit.
	maxTaskNameLen = 64 - len("_syncer_checkpoint")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)

// validName reports whether s is a safe name for a source, task or worker.
func validName(s string) bool { return nameRE.MatchString(s) }

var relayBinlogNameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]+\.[0-9]+$`)

// Default purge policy and relay directory, as DM stores them.
const (
	defaultPurgeInterval    = 3600
	defaultPurgeExpires     = 0
	defaultPurgeRemainSpace = 15
	defaultRelayDir         = "relay-dir"
)

// validateSource checks a source's fields that need no server.
func validateSource(s *Source) error {
	switch {
	case s.SourceName == "":
		return NewError(CodeEmptySourceID, "empty source id: source_name is required")
	case len(s.SourceName) > maxSourceNameLen:
		return NewError(CodeSourceIDTooLong, "source ID %s longer than %d", s.SourceName, maxSourceNameLen)
	case !validName(s.SourceName):
		return invalidf("source_name %q is invalid: use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'", s.SourceName)
	case strings.TrimSpace(s.Host) == "":
		return invalidf("source %s: host is required", s.SourceName)
	case s.Port <= 0 || s.Port > 65535:
		return invalidf("source %s: port %d is out of range 1..65535", s.SourceName, s.Port)
	case s.User == "":
		return invalidf("source %s: user is required", s.SourceName)
	case s.Flavor != "" && s.Flavor != "mysql" && s.Flavor != "mariadb":
		return NewError(CodeFlavorNotSupported, "flavor %s not supported: use mysql or mariadb, or omit it to detect it", s.Flavor)
	}
	if p := s.Purge; p != nil {
		for name, v := range map[string]*int64{"interval": p.Interval, "expires": p.Expires, "remain_space": p.RemainSpace} {
			if v != nil && *v < 0 {
				return invalidf("source %s: purge.%s must not be negative", s.SourceName, name)
			}
		}
	}
	if rc := s.RelayConfig; rc != nil {
		if rc.RelayBinlogName != nil && *rc.RelayBinlogName != "" && !relayBinlogNameRE.MatchString(*rc.RelayBinlogName) {
			return NewError(CodeBadRelayBinlogName, "relay-binlog-name %s not valid: expected a binlog file name such as mysql-bin.000001", *rc.RelayBinlogName)
		}
		if rc.RelayDir != nil && strings.Contains(filepath.ToSlash(*rc.RelayDir), "..") {
			return invalidf("source %s: relay_dir %q must not contain '..'", s.SourceName, *rc.RelayDir)
		}
	}
	if sec := s.Security; sec.Enabled() && (sec.SSLCAContent == "" && sec.SSLCertContent == "") {
		return invalidf("source %s: security needs ssl_ca_content, or ssl_cert_content with ssl_key_content", s.SourceName)
	}
	return nil
}

// sourceDBConfig is how dmkit connects to a source.
func sourceDBConfig(s *Source) dbconn.Config {
	cfg := dbconn.Config{Host: s.Host, Port: s.Port, User: s.User}
	if s.Password != nil {
		cfg.Password = *s.Password
	}
	cfg.TLS = tlsConfig(s.Security)
	return cfg
}

func tlsConfig(sec *Security) *dbconn.TLSConfig {
	if !sec.Enabled() {
		return nil
	}
	return &dbconn.TLSConfig{CA: sec.SSLCAContent, Cert: sec.SSLCertContent, Key: sec.SSLKeyContent, AllowedCN: sec.CertAllowedCN}
}

// dmServerID derives the server id dmkit uses to read a source's binlog: stable per
// source name, never 0, and far from the small ids people give their servers.
func dmServerID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()%(1<<30) + 1<<30
}

// CreateSource checks a new source against the live server (credentials, binlog settings,
// flavor, GTID), stores it and binds it to a free worker, or to req.WorkerName. An omitted
// enable means true. It answers with the source as stored, password masked.
func (c *Cluster) CreateSource(ctx context.Context, req CreateSourceRequest) (*Source, error) {
	if req.Source == nil {
		return nil, invalidf("request body must carry a source: either the source object itself or {\"source\": {...}}")
	}
	s := *req.Source
	if s.Enable == nil {
		s.Enable = boolPtr(true)
	}
	if s.Password == nil {
		s.Password = strPtr("")
	}
	if err := validateSource(&s); err != nil {
		return nil, err
	}
	if req.WorkerName != "" && !validName(req.WorkerName) {
		return nil, NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
	}
	if r := c.sourceRecord(s.SourceName); r != nil {
		return nil, NewError(CodeSourceExists, "source config with ID %s already exists", s.SourceName)
	}
	probe, err := checkSource(ctx, &s)
	if err != nil {
		return nil, err
	}
	s.Flavor = probe.Flavor
	rec := &sourceRecord{Source: s, Flavor: probe.Flavor, CaseSensitive: probe.LowerCaseTableNames == 0, ServerID: dmServerID(s.SourceName)}
	err = c.update(ctx, func(w *writeTxn) error {
		if w.get(kindSource, s.SourceName) != nil {
			return NewError(CodeSourceExists, "source config with ID %s already exists", s.SourceName)
		}
		var target *workerRecord
		if req.WorkerName != "" {
			wr, _ := w.get(kindWorker, req.WorkerName).(*workerRecord)
			if wr == nil {
				return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
			}
			if wr.Source != "" || c.workers[wr.Name] == nil || (wr.RelaySource != "" && wr.RelaySource != s.SourceName) {
				return NewError(CodeWorkerNotFree, "dm-worker with name %s not free", req.WorkerName)
			}
			target = wr
		} else if rec.enabled() {
			target = c.freeWorker(w.txn)
		}
		w.put(kindSource, rec)
		if target != nil {
			nw := *target
			nw.Source = s.SourceName
			if s.RelayConfig != nil && s.RelayConfig.EnableRelay {
				nw.RelaySource = s.SourceName
			}
			w.put(kindWorker, &nw)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("source created", "source", s.SourceName, "flavor", probe.Flavor)
	return c.sourceView(c.read(), rec, false), nil
}

// sourceRecord returns the stored source, or nil.
func (c *Cluster) sourceRecord(name string) *sourceRecord {
	r, _ := getRecord(c.read(), kindSource, name).(*sourceRecord)
	return r
}

// mustSource returns the stored source or the 46008 error.
func (c *Cluster) mustSource(name string) (*sourceRecord, error) {
	if r := c.sourceRecord(name); r != nil {
		return r, nil
	}
	return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
}

// sourceView is a source as the API shows it: password masked, effective defaults filled in.
func (c *Cluster) sourceView(txn txnReader, r *sourceRecord, withStatus bool) *Source {
	s := r.Source
	s.Password = strPtr(maskedPassword)
	s.Flavor = r.Flavor
	s.Enable = boolPtr(r.enabled())
	if s.Security != nil {
		s.Security = &Security{CertAllowedCN: s.Security.CertAllowedCN}
	}
	p := Purge{Interval: int64Ptr(defaultPurgeInterval), Expires: int64Ptr(defaultPurgeExpires), RemainSpace: int64Ptr(defaultPurgeRemainSpace)}
	if r.Source.Purge != nil {
		if v := r.Source.Purge.Interval; v != nil {
			p.Interval = v
		}
		if v := r.Source.Purge.Expires; v != nil {
			p.Expires = v
		}
		if v := r.Source.Purge.RemainSpace; v != nil {
			p.RemainSpace = v
		}
	}
	s.Purge = &p
	rc := RelayConfig{RelayDir: strPtr(defaultRelayDir), RelayBinlogName: strPtr(""), RelayBinlogGTID: strPtr("")}
	if o := r.Source.RelayConfig; o != nil {
		rc.EnableRelay = o.EnableRelay
		if o.RelayDir != nil && *o.RelayDir != "" {
			rc.RelayDir = o.RelayDir
		}
		if o.RelayBinlogName != nil {
			rc.RelayBinlogName = o.RelayBinlogName
		}
		if o.RelayBinlogGTID != nil {
			rc.RelayBinlogGTID = o.RelayBinlogGTID
		}
	}
	s.RelayConfig = &rc
	s.StatusList, s.TaskNameList = nil, nil
	if withStatus {
		st := c.sourceStatuses(txn, r.Source.SourceName)
		s.StatusList = &st
		names := c.sourceTaskNames(txn, r.Source.SourceName)
		s.TaskNameList = &names
	}
	return &s
}

// sourceTaskNames lists the tasks with a subtask on source, sorted; never nil.
func (c *Cluster) sourceTaskNames(txn txnReader, source string) []string {
	names := []string{}
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "source", source) {
		names = append(names, st.Task)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// sourceStatuses is the status of every worker serving source: relay workers first, then
// the bound worker.
func (c *Cluster) sourceStatuses(txn txnReader, source string) []SourceStatus {
	var out []SourceStatus
	bound := boundWorker(txn, source)
	for _, wr := range listRecords[*workerRecord](txn, kindWorker, "") {
		if wr.RelaySource == source && (bound == nil || wr.Name != bound.Name) {
			out = append(out, c.workerSourceStatus(wr, source))
		}
	}
	if bound != nil {
		out = append(out, c.workerSourceStatus(bound, source))
	}
	if len(out) == 0 {
		out = append(out, SourceStatus{SourceName: source,
			ErrorMsg: fmt.Sprintf("[code=38029:class=dm-master:scope=internal:level=high], Message: %s relevant worker-client not found, Workaround: Please add a free worker or transfer the source to one.", source)})
	}
	return out
}

func (c *Cluster) workerSourceStatus(wr *workerRecord, source string) SourceStatus {
	st := SourceStatus{SourceName: source, WorkerName: wr.Name}
	w := c.workers[wr.Name]
	if w == nil {
		st.ErrorMsg = fmt.Sprintf("dm-worker %s is offline", wr.Name)
		return st
	}
	if wr.RelaySource == source {
		rs, errMsg := w.relayStatus(source)
		st.RelayStatus = rs
		st.ErrorMsg = errMsg
	}
	return st
}

// GetSource returns a source (password masked); withStatus adds status_list and
// task_name_list. An unknown source is a 404.
func (c *Cluster) GetSource(ctx context.Context, name string, withStatus bool) (*Source, error) {
	txn := c.read()
	r, _ := getRecord(txn, kindSource, name).(*sourceRecord)
	if r == nil {
		return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", name).withStatus(http.StatusNotFound)
	}
	return c.sourceView(txn, r, withStatus), nil
}

// ListSources returns every source, sorted by name (passwords masked).
func (c *Cluster) ListSources(ctx context.Context, opts ListSourcesOptions) (List[Source], error) {
	txn := c.read()
	var out []Source
	for _, r := range listRecords[*sourceRecord](txn, kindSource, "") {
		if opts.EnableRelay != nil && c.hasRelayWorkers(txn, r.Source.SourceName) != *opts.EnableRelay {
			continue
		}
		out = append(out, *c.sourceView(txn, r, opts.WithStatus))
	}
	return newList(out), nil
}

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

// sourceUpdateBlocked returns the 46025 error if a subtask on source is expected to run or
// relay runs for it.
func sourceUpdateBlocked(txn txnReader, source string) error {
	blocked := len(relayWorkers(txn, source)) > 0
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "source", source) {
		if st.Expected == StageRunning {
			blocked = true
		}
	}
	if blocked {
		return NewError(CodeSourceUpdateBlocked, "source %s can only be updated when relay is disabled and no tasks are running for now", source)
	}
	return nil
}

// UpdateSource replaces a source's configuration after checking it against the live
// server. An omitted (or masked) password and an omitted enable keep the stored values. It
// is refused while a task runs on the source or relay is on.
func (c *Cluster) UpdateSource(ctx context.Context, name string, req UpdateSourceRequest) (*Source, error) {
	if req.Source == nil {
		return nil, invalidf("request body must be {\"source\": {...}}")
	}
	old, err := c.mustSource(name)
	if err != nil {
		return nil, err
	}
	s := *req.Source
	if s.SourceName == "" {
		s.SourceName = name
	}
	if s.SourceName != name {
		return nil, invalidf("source_name %q in the body differs from %q in the path; a source cannot be renamed", s.SourceName, name)
	}
	if s.Password == nil || *s.Password == maskedPassword {
		s.Password = old.Source.Password
	}
	if s.Enable == nil {
		s.Enable = boolPtr(old.enabled())
	}
	if err := validateSource(&s); err != nil {
		return nil, err
	}
	if err := sourceUpdateBlocked(c.read(), name); err != nil {
		return nil, err
	}
	probe, err := checkSource(ctx, &s)
	if err != nil {
		return nil, err
	}
	s.Flavor = probe.Flavor
	rec := &sourceRecord{Source: s, Flavor: probe.Flavor, CaseSensitive: probe.LowerCaseTableNames == 0, ServerID: old.ServerID}
	err = c.update(ctx, func(w *writeTxn) error {
		cur, _ := w.get(kindSource, name).(*sourceRecord)
		if cur == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
		}
		if err := sourceUpdateBlocked(w.txn, name); err != nil {
			return err
		}
		w.put(kindSource, rec)
		if cur.enabled() != rec.enabled() {
			return c.applyEnable(w, name, rec.enabled())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.sourceView(c.read(), rec, false), nil
}

func expectedFor(enabled bool) string {
	if enabled {
		return StageRunning
	}
	return StageStopped
}

// setSourceSubtasks sets the expected stage of every subtask on source.
func setSourceSubtasks(w *writeTxn, source, stage string) {
	for _, st := range listRecords[*subtaskRecord](w.txn, kindSubtask, "source", source) {
		if st.Expected == stage {
			continue
		}
		n := *st
		n.Expected = stage
		if stage == StageRunning {
			n.ResumeSeq++
		}
		w.put(kindSubtask, &n)
	}
}

// DeleteSource removes a source and its binding. Without force it is refused while tasks
// use the source; with force their subtasks on it are removed (a task left with none is
// removed). It is refused while relay runs for the source.
func (c *Cluster) DeleteSource(ctx context.Context, name string, force bool) error {
	return c.update(ctx, func(w *writeTxn) error {
		r, _ := w.get(kindSource, name).(*sourceRecord)
		if r == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
		}
		subs := listRecords[*subtaskRecord](w.txn, kindSubtask, "source", name)
		if len(subs) > 0 && !force {
			return NewError(CodeSourceHasTasks, "source with name %s need to operate has existing tasks %v", name, c.sourceTaskNames(w.txn, name))
		}
		if rw := relayWorkers(w.txn, name); len(rw) > 0 {
			var names []string
			for _, x := range rw {
				names = append(names, x.Name)
			}
			return NewError(CodeSourceHasRelayWorkers, "source with name %s need to operate has existing relay workers %v", name, names)
		}
		for _, st := range subs {
			deleteSubtask(w, st)
			if len(listRecords[*subtaskRecord](w.txn, kindSubtask, "task", st.Task)) == 0 {
				if t := w.get(kindTask, st.Task); t != nil {
					w.del(kindTask, t)
				}
			}
		}
		if bw := boundWorker(w.txn, name); bw != nil {
			nw := *bw
			nw.Source = ""
			w.put(kindWorker, &nw)
		}
		w.del(kindSource, r)
		c.bindUnbound(w)
		return nil
	})
}

// deleteSubtask removes a subtask and the table schemas set for it.
func deleteSubtask(w *writeTxn, st *subtaskRecord) {
	for _, sr := range listRecords[*schemaRecord](w.txn, kindSchema, "id_prefix", st.Task+"\x00"+st.Source+"\x00") {
		w.del(kindSchema, sr)
	}
	w.del(kindSubtask, st)
}

// SourceStatus reports the workers serving a source.
func (c *Cluster) SourceStatus(ctx context.Context, name string) (List[SourceStatus], error) {
	txn := c.read()
	if getRecord(txn, kindSource, name) == nil {
		return List[SourceStatus]{}, NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
	}
	if boundWorker(txn, name) == nil && !c.hasRelayWorkers(txn, name) {
		return newList([]SourceStatus{{SourceName: name}}), nil
	}
	return newList(c.sourceStatuses(txn, name)), nil
}

// EnableSource enables a source and sets every subtask on it to run.
func (c *Cluster) EnableSource(ctx context.Context, name string) error {
	return c.setSourceEnabled(ctx, name, true)
}

// DisableSource pauses every subtask on a source and disables it; a disabled source blocks
// task start.
func (c *Cluster) DisableSource(ctx context.Context, name string) error {
	return c.setSourceEnabled(ctx, name, false)
}

func (c *Cluster) setSourceEnabled(ctx context.Context, name string, enable bool) error {
	return c.update(ctx, func(w *writeTxn) error {
		r, _ := w.get(kindSource, name).(*sourceRecord)
		if r == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
		}
		if r.enabled() == enable && (!enable || boundWorker(w.txn, name) != nil) {
			return nil
		}
		if len(relayWorkers(w.txn, name)) > 0 {
			return NewError(CodeSourceUpdateBlocked, "source %s can only be updated when relay is disabled and no tasks are running for now", name)
		}
		n := *r
		n.Source.Enable = boolPtr(enable)
		w.put(kindSource, &n)
		return c.applyEnable(w, name, enable)
	})
}

// applyEnable follows a source's enable flag: an enabled source is bound to a free worker
// and its subtasks are set to run; a disabled one has its subtasks paused and its worker
// freed for other sources.
func (c *Cluster) applyEnable(w *writeTxn, name string, enable bool) error {
	bw := boundWorker(w.txn, name)
	if enable {
		if bw == nil {
			free := c.freeWorker(w.txn)
			if free == nil {
				return NewError(CodeNoSourceInWorker, "no mysql source is being handled in the worker: no free worker can serve source %s; add a worker or disable another source", name)
			}
			nw := *free
			nw.Source = name
			w.put(kindWorker, &nw)
		}
		setSourceSubtasks(w, name, StageRunning)
		return nil
	}
	setSourceSubtasks(w, name, StageStopped)
	if bw != nil {
		nw := *bw
		nw.Source = ""
		w.put(kindWorker, &nw)
		c.bindUnbound(w)
	}
	return nil
}

// TransferSource rebinds a source to another free worker. Running subtasks on the source
// must be in the sync unit; they are paused on the old worker before the new one resumes them.
func (c *Cluster) TransferSource(ctx context.Context, name string, req WorkerNameRequest) error {
	if req.WorkerName == "" {
		return invalidf("worker_name is required")
	}
	txn := c.read()
	sr, _ := getRecord(txn, kindSource, name).(*sourceRecord)
	if sr == nil {
		return NewError(CodeSourceNotFound, "source config with ID %s not exists", name)
	}
	if !sr.enabled() {
		return invalidf("source %s is disabled and so bound to no worker; enable it first", name)
	}
	target, _ := getRecord(txn, kindWorker, req.WorkerName).(*workerRecord)
	if target == nil {
		return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
	}
	old := boundWorker(txn, name)
	if old != nil && old.Name == target.Name {
		return nil
	}
	if err := c.transferAllowed(txn, name, target); err != nil {
		return err
	}
	var running []string
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "source", name) {
		if st.Expected == StageRunning {
			running = append(running, st.Task)
		}
	}
	var oldW *worker
	if old != nil {
		oldW = c.workers[old.Name]
	}
	if oldW != nil && len(running) > 0 {
		for _, task := range running {
			if u := oldW.subtaskUnit(task); u != "" && u != UnitSync {
				return NewError(CodeTransferNotInSync, "running tasks %v to be transferred on source %s should in sync unit", running, name)
			}
		}
	}
	if oldW != nil {
		// Pause the subtasks on the old worker and keep them paused until the binding moves.
		oldW.suspend(name)
		defer oldW.resume(name)
		if err := oldW.waitSourceStopped(ctx, name); err != nil {
			return NewError(CodeTransferPauseFailed, "failed to auto pause tasks %v when transfer-source: %v", running, err)
		}
	}
	return c.update(ctx, func(w *writeTxn) error {
		t, _ := w.get(kindWorker, req.WorkerName).(*workerRecord)
		if t == nil {
			return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", req.WorkerName)
		}
		if err := c.transferAllowed(w.txn, name, t); err != nil {
			return err
		}
		if ob := boundWorker(w.txn, name); ob != nil {
			nw := *ob
			nw.Source = ""
			w.put(kindWorker, &nw)
		}
		nt := *t
		nt.Source = name
		w.put(kindWorker, &nt)
		c.bindUnbound(w)
		return nil
	})
}

func (c *Cluster) transferAllowed(txn txnReader, source string, target *workerRecord) error {
	switch {
	case c.workers[target.Name] == nil:
		return NewError(CodeWorkerBadStage, "invalid stage transformation for dm-worker %s, from %s to %s", target.Name, WorkerOffline, WorkerBound)
	case target.Source != "":
		return NewError(CodeWorkerBadStage, "invalid stage transformation for dm-worker %s, from %s to %s", target.Name, WorkerBound, WorkerBound)
	case target.RelaySource != "" && target.RelaySource != source:
		return NewError(CodeTransferRelayOther, "require DM worker [%s] to be bound to source [%s], but it has been started relay for source [%s]", target.Name, source, target.RelaySource)
	}
	return nil
}

// EnableRelay starts relay for a source on the listed workers (default: the bound one).
func (c *Cluster) EnableRelay(ctx context.Context, name string, req EnableRelayRequest) error {
	if req.RelayBinlogName != nil && *req.RelayBinlogName != "" && !relayBinlogNameRE.MatchString(*req.RelayBinlogName) {
		return NewError(CodeBadRelayBinlogName, "relay-binlog-name %s not valid: expected a binlog file name such as mysql-bin.000001", *req.RelayBinlogName)
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
		w := c.workers[wr.Name]
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

// openSource connects to a stored source.
func (c *Cluster) openSource(ctx context.Context, r *sourceRecord) (*sql.DB, error) {
	db, err := dbconn.Open(ctx, sourceDBConfig(&r.Source), "")
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: connect to source %s", r.Source.SourceName).withCause(err)
	}
	return db, nil
}

// SourceSchemas lists every schema of a source's server (system schemas included, as DM).
func (c *Cluster) SourceSchemas(ctx context.Context, name string) ([]string, error) {
	r, err := c.mustSource(name)
	if err != nil {
		return nil, err
	}
	db, err := c.openSource(ctx, r)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out, err := listSchemas(ctx, db)
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: list schemas of source %s", name).withCause(err)
	}
	return nonNil(out), nil
}

// SourceTables lists the base tables (no views) of one schema of a source's server.
func (c *Cluster) SourceTables(ctx context.Context, name, schema string) ([]string, error) {
	r, err := c.mustSource(name)
	if err != nil {
		return nil, err
	}
	db, err := c.openSource(ctx, r)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out, err := listBaseTables(ctx, db, schema)
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: list tables of %s on source %s", schema, name).withCause(err)
	}
	return nonNil(out), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func boolPtr(b bool) *bool    { return &b }
func strPtr(s string) *string { return &s }
func int64Ptr(v int64) *int64 { return &v }
func intPtr(v int) *int       { return &v }
func derefStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
