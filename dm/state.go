package dm

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Store kinds and the go-memdb tables that mirror them. Every persisted record type is
// stored as JSON under its kind and key; memdb holds the decoded pointers for lock-free
// reads and watch channels (the workers' reconcile loops wake on them).
const (
	kindSource   = "source"
	kindTask     = "task"
	kindSubtask  = "subtask"
	kindWorker   = "worker"
	kindTemplate = "template"
	kindMeta     = "meta"
	kindSchema   = "tableschema"
)

// txnReader is a read (or write) transaction over the cluster state.
type txnReader = *memdb.Txn

// record is what every memdb table holds.
type record interface{ key() string }

// sourceRecord is a source as stored: the configuration with its clear-text password and
// what was detected on the server.
type sourceRecord struct {
	Source Source `json:"source"`
	// Flavor is "mysql" or "mariadb", detected at create/update.
	Flavor string `json:"flavor"`
	// CaseSensitive is derived from lower_case_table_names.
	CaseSensitive bool `json:"case_sensitive"`
	// ServerID is the server id dmkit uses when it reads this source's binlog.
	ServerID uint32 `json:"server_id"`
}

func (r *sourceRecord) key() string { return r.Source.SourceName }
func (r *sourceRecord) enabled() bool {
	return r.Source.Enable == nil || *r.Source.Enable
}

// taskRecord is a task as created or last updated (normalised, defaults applied).
type taskRecord struct {
	Task Task `json:"task"`
	// ID is the task's identity, generated at create: a task created later under the
	// same name is another task and never sees this one's dump or worker state.
	ID string `json:"id,omitempty"`
}

func (r *taskRecord) key() string { return r.Task.Name }

// subtaskRecord is one task on one source, with the stage the user asked for.
type subtaskRecord struct {
	Task   string `json:"task"`
	TaskID string `json:"task_id,omitempty"` // taskRecord.ID
	Source string `json:"source"`
	// Expected is the desired stage: StageRunning or StageStopped.
	Expected string `json:"expected"`
	// ResumeSeq grows on every start request, so that a start also resumes a subtask that
	// an error paused while its expected stage stayed Running.
	ResumeSeq int64 `json:"resume_seq"`
	// FinishedSeq is the ResumeSeq of the run that finished all units; while it equals
	// ResumeSeq the subtask stays Finished across restarts instead of running again.
	FinishedSeq int64 `json:"finished_seq,omitempty"`
	// StartTime, SafeModeDuration and StopTimeout are the stored command-line args of the
	// last start/stop (API.md §1.4.6).
	StartTime        string `json:"start_time,omitempty"`
	SafeModeDuration string `json:"safe_mode_duration,omitempty"`
	StopTimeout      string `json:"stop_timeout,omitempty"`
	// BinlogOps are the binlog skip/replace operations (OperateBinlog), carried to the
	// sync unit at every start.
	BinlogOps []binlogOpRecord `json:"binlog_ops,omitempty"`
}

func subtaskKey(task, source string) string { return task + "\x00" + source }
func (r *subtaskRecord) key() string        { return subtaskKey(r.Task, r.Source) }

// workerRecord is a registered worker with its binding.
type workerRecord struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Source is the bound source, "" when free.
	Source string `json:"source,omitempty"`
	// RelaySource is the source this worker runs relay for, "" when none.
	RelaySource string `json:"relay_source,omitempty"`
	// LastSource is the source this worker served when it went offline: when that
	// source needs a worker again, this one is preferred (DM's previous binding).
	LastSource string `json:"last_source,omitempty"`
}

func (r *workerRecord) key() string { return r.Name }

// templateRecord is a stored task template.
type templateRecord struct {
	Task Task `json:"task"`
}

func (r *templateRecord) key() string { return r.Task.Name }

// metaRecord is a cluster-wide value (cluster id, topology).
type metaRecord struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

func (r *metaRecord) key() string { return r.Name }

// schemaRecord is a table schema set through the table-structure API for one subtask; the
// sync unit uses it instead of what it would track itself.
type schemaRecord struct {
	Task      string `json:"task"`
	Source    string `json:"source"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	CreateSQL string `json:"create_sql"`
}

func schemaKey(task, source, schema, table string) string {
	return task + "\x00" + source + "\x00" + schema + "\x00" + table
}
func (r *schemaRecord) key() string { return schemaKey(r.Task, r.Source, r.Schema, r.Table) }

// kinds maps each store kind to a constructor of its record type.
var kinds = map[string]func() record{
	kindSource:    func() record { return &sourceRecord{} },
	kindTask:      func() record { return &taskRecord{} },
	kindSubtask:   func() record { return &subtaskRecord{} },
	kindWorker:    func() record { return &workerRecord{} },
	kindTemplate:  func() record { return &templateRecord{} },
	kindMeta:      func() record { return &metaRecord{} },
	kindSchema:    func() record { return &schemaRecord{} },
	kindShardLock: func() record { return &shardLockRecord{} },
}

type keyIndexer struct{}

func (keyIndexer) FromObject(obj any) (bool, []byte, error) {
	return true, []byte(obj.(record).key() + "\x00"), nil
}

func (keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one key argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("key must be a string, got %T", args[0])
	}
	return []byte(s + "\x00"), nil
}

func (keyIndexer) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one prefix argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("prefix must be a string, got %T", args[0])
	}
	return []byte(s), nil
}

func newMemDB() (*memdb.MemDB, error) {
	schema := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for kind := range kinds {
		ts := &memdb.TableSchema{
			Name: kind,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndexer{}},
			},
		}
		switch kind {
		case kindSubtask:
			ts.Indexes["source"] = &memdb.IndexSchema{Name: "source", Indexer: &memdb.StringFieldIndex{Field: "Source"}}
			ts.Indexes["task"] = &memdb.IndexSchema{Name: "task", Indexer: &memdb.StringFieldIndex{Field: "Task"}}
		case kindWorker:
			ts.Indexes["source"] = &memdb.IndexSchema{Name: "source", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Source"}}
		}
		schema.Tables[kind] = ts
	}
	return memdb.NewMemDB(schema)
}

// loadState reads every record from the store into a new memdb.
func loadState(ctx context.Context, store Store) (*memdb.MemDB, error) {
	db, err := newMemDB()
	if err != nil {
		return nil, fmt.Errorf("build state schema: %w", err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	for kind, mk := range kinds {
		recs, err := store.List(ctx, kind)
		if err != nil {
			return nil, fmt.Errorf("read %s records from the store: %w", kind, err)
		}
		for _, sr := range recs {
			obj := mk()
			if err := json.Unmarshal(sr.Value, obj); err != nil {
				return nil, fmt.Errorf("decode stored %s %q: %w", kind, sr.Key, err)
			}
			if err := txn.Insert(kind, obj); err != nil {
				return nil, fmt.Errorf("load %s %q: %w", kind, sr.Key, err)
			}
		}
	}
	txn.Commit()
	return db, nil
}

// writeTxn is a memdb write transaction whose changes are also queued as store ops, so that
// commit can persist first and publish second.
type writeTxn struct {
	txn *memdb.Txn
	ops []StoreOp
	err error
}

func (w *writeTxn) put(kind string, r record) {
	if w.err != nil {
		return
	}
	b, err := json.Marshal(r)
	if err != nil {
		w.err = fmt.Errorf("encode %s %q: %w", kind, r.key(), err)
		return
	}
	if err := w.txn.Insert(kind, r); err != nil {
		w.err = fmt.Errorf("stage %s %q: %w", kind, r.key(), err)
		return
	}
	w.ops = append(w.ops, PutOp(kind, r.key(), b))
}

func (w *writeTxn) del(kind string, r record) {
	if w.err != nil {
		return
	}
	if _, err := w.txn.DeleteAll(kind, "id", r.key()); err != nil {
		w.err = fmt.Errorf("stage delete of %s %q: %w", kind, r.key(), err)
		return
	}
	w.ops = append(w.ops, DeleteOp(kind, r.key()))
}

// get and list read through the write transaction, so a mutation sees its own changes.
func (w *writeTxn) get(kind, key string) record { return getRecord(w.txn, kind, key) }

// update runs fn in a write transaction under the cluster's write lock: fn validates and
// stages changes, then the store persists them and only then memdb publishes them. An error
// from fn or the store leaves both untouched.
func (c *Cluster) update(ctx context.Context, fn func(w *writeTxn) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &writeTxn{txn: c.db.Txn(true)}
	defer w.txn.Abort()
	if err := fn(w); err != nil {
		return err
	}
	if w.err != nil {
		return NewError(CodeInternal, "update cluster state: %v", w.err)
	}
	if len(w.ops) == 0 {
		return nil
	}
	if err := c.store.Apply(ctx, w.ops...); err != nil {
		return NewError(CodeInternal, "persist cluster state: %v", err).withCause(err)
	}
	w.txn.Commit()
	return nil
}

func getRecord(txn *memdb.Txn, kind, key string) record {
	obj, err := txn.First(kind, "id", key)
	if err != nil || obj == nil {
		return nil
	}
	return obj.(record)
}

// listRecords returns every record of kind, in key order, optionally by a secondary index.
func listRecords[T record](txn *memdb.Txn, kind string, index string, args ...any) []T {
	if index == "" {
		index = "id"
	}
	it, err := txn.Get(kind, index, args...)
	if err != nil {
		return nil
	}
	var out []T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(T))
	}
	return out
}

// read returns a read-only transaction over the current state.
func (c *Cluster) read() *memdb.Txn { return c.db.Txn(false) }
