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

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
)

// maskedPassword replaces every password in responses.
const maskedPassword = "******"

// Limits on names. Source names follow DM (1..32 characters); every name is restricted to
// characters that are safe in SQL identifiers, file paths and URLs.
const maxSourceNameLen = 32

// maxTaskNameLen keeps the units' checkpoint table names within MySQL's 64-character
// limit (the longest is "<task>_syncer_checkpoint").
var maxTaskNameLen = 64 - max(len(loaderCheckpointSuffix), len(syncerCheckpointSuffix))

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
	if rc := s.RelayConfig; rc != nil {
		if err := c.checkRelaySettings(s.SourceName, probe.Flavor, rc.RelayDir, rc.RelayBinlogGTID); err != nil {
			return nil, err
		}
	}
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
			if wr.Source != "" || c.workers.get(wr.Name) == nil || (wr.RelaySource != "" && wr.RelaySource != s.SourceName) {
				return NewError(CodeWorkerNotFree, "dm-worker with name %s not free", req.WorkerName)
			}
			target = wr
		} else if rec.enabled() {
			target = c.freeWorker(w.txn, s.SourceName)
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
			out = append(out, c.workerSourceStatus(txn, wr, source))
		}
	}
	if bound != nil {
		out = append(out, c.workerSourceStatus(txn, bound, source))
	}
	if len(out) == 0 {
		out = append(out, SourceStatus{SourceName: source,
			ErrorMsg: fmt.Sprintf("[code=38029:class=dm-master:scope=internal:level=high], Message: %s relevant worker-client not found, Workaround: Please add a free worker or transfer the source to one.", source)})
	}
	return out
}

func (c *Cluster) workerSourceStatus(txn txnReader, wr *workerRecord, source string) SourceStatus {
	st := SourceStatus{SourceName: source, WorkerName: wr.Name}
	w := c.workers.get(wr.Name)
	if w == nil {
		st.ErrorMsg = fmt.Sprintf("dm-worker %s is offline", wr.Name)
		return st
	}
	if relaySourceOf(txn, wr) == source {
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
	if rc := s.RelayConfig; rc != nil {
		if err := c.checkRelaySettings(s.SourceName, probe.Flavor, rc.RelayDir, rc.RelayBinlogGTID); err != nil {
			return nil, err
		}
	}
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
// removed) and stops relay for it. Without force it is refused while relay runs for
// the source.
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
			if !force {
				var names []string
				for _, x := range rw {
					names = append(names, x.Name)
				}
				return NewError(CodeSourceHasRelayWorkers, "source with name %s need to operate has existing relay workers %v", name, names)
			}
			// force stops relay too (the relay files stay on disk).
			for _, x := range rw {
				nw := *x
				nw.RelaySource = ""
				w.put(kindWorker, &nw)
			}
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

// openSource connects to a stored source.
func (c *Cluster) openSource(ctx context.Context, r *sourceRecord) (*sql.DB, error) {
	db, err := dbconn.Open(ctx, sourceDBConfig(&r.Source), "")
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: connect to source %s", r.Source.SourceName).withCause(err)
	}
	return db, nil
}

// SourceSchemas lists the schemas of a source's server that can be migrated: system
// schemas (mysql, information_schema, …) are left out (DM lists them).
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
	all, err := listSchemas(ctx, db)
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: list schemas of source %s", name).withCause(err)
	}
	// System schemas are never migrated: listing them only invites rules that do nothing.
	var out []string
	for _, s := range all {
		if !filter.IsSystemSchema(s) {
			out = append(out, s)
		}
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
