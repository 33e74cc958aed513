package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Defaults applied by New.
const (
	DefaultThreads      = 16
	DefaultMetaSchema   = "dm_meta"
	DefaultBatchBytes   = 1 << 20
	DefaultMaxRetries   = 8
	DefaultRetryBackoff = 500 * time.Millisecond
	// DefaultSQLMode is strict, so a value the target cannot store fails the load instead
	// of being silently truncated or nulled; it keeps an explicit 0 in an AUTO_INCREMENT
	// column (as mysqldump does); and it accepts zero dates, zero parts and invalid days,
	// so every date a source could have stored loads as dumped.
	DefaultSQLMode = "STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES"
)

// On-duplicate modes (Config.OnDuplicate).
const (
	OnDuplicateReplace = "replace" // REPLACE INTO: the dumped row wins
	OnDuplicateIgnore  = "ignore"  // INSERT IGNORE INTO: the existing row wins
	OnDuplicateError   = "error"   // INSERT INTO: a conflicting row fails the load
)

// Config configures a Loader.
type Config struct {
	// Target is the server the dump is loaded into.
	Target dbconn.Config
	// Dir is the dump directory. Run resolves bare file names against it.
	Dir string
	// Threads is the number of data files loaded at once (DM's import_threads / pool-size);
	// 0 means DefaultThreads.
	Threads int
	// OnDuplicate is "replace" (default; "overwrite" is accepted as an alias), "ignore" or
	// "error".
	OnDuplicate string
	// MetaSchema holds the checkpoint table; empty means DefaultMetaSchema.
	MetaSchema string
	// Task and Source key the checkpoints: table `<MetaSchema>`.`<Task>_loader_checkpoint`,
	// one row per (Source, file name). Both are required; Source is at most 32 bytes.
	Task, Source string
	// Route maps a source table to its target; table == "" routes a schema (for CREATE
	// DATABASE). Nil keeps names as they are.
	Route func(schema, table string) (targetSchema, targetTable string, err error)
	// WholeSchema reports whether the task migrates a source schema as a whole (a
	// schema-level rule). Only then does a schema-create file create the routed
	// database by itself, empty or not; otherwise a target database is created only when
	// a table routed into it is, so no schema the rules do not route to appears on the
	// target. Nil treats every schema as whole.
	WholeSchema func(schema string) bool
	// Logger receives progress and retry messages; nil discards them.
	Logger *slog.Logger

	// BatchBytes: consecutive statements of a file share one transaction (and one
	// checkpoint update) until their size reaches this; 0 means DefaultBatchBytes, a
	// negative value one statement per transaction.
	BatchBytes int
	// MaxStatementBytes caps the size of one statement sent to the target; larger
	// statements in DM's layout are cut at tuple lines into several INSERTs executed in
	// the same transaction. 0 means the target's max_allowed_packet less 1 KiB.
	MaxStatementBytes int
	// MaxRetries is how many consecutive transient failures (lost connection, deadlock,
	// lock wait timeout) a file may see before the load gives up with a Temporary error;
	// 0 means DefaultMaxRetries. RetryBackoff is the first wait, doubled each time up to
	// 10 s; 0 means DefaultRetryBackoff.
	MaxRetries   int
	RetryBackoff time.Duration
	// SQLMode is the session sql_mode for loading; empty means DefaultSQLMode. Add
	// NO_BACKSLASH_ESCAPES when the dump was written without backslash escapes.
	SQLMode string
	// TimeZone is the session time zone of the load, a fixed offset such as +08:00 (DM's
	// task timezone): TIMESTAMP values of files without a SET TIME_ZONE of their own are
	// read in it. Default +00:00.
	TimeZone string
	// DisableBinlog runs every load session with sql_log_bin = 0 (dmkit's task setting
	// full_migrate_conf.disable_target_binlog, myloader's default): the rows and the
	// checkpoint rows do not reach the target's binlog, so its replicas do not see the
	// copy. The target user needs SUPER / BINLOG ADMIN; without it every connection fails.
	DisableBinlog bool
	// DeferIndexes creates each table the load creates without its plain (non-unique)
	// secondary indexes and adds them with one ALTER TABLE when every file of the Run is
	// loaded (deferindex.go): the target sorts them once instead of updating them for every
	// row. Unique and primary keys stay in the CREATE, so duplicate handling is unchanged;
	// tables that existed before the load are never altered.
	DeferIndexes bool
	// Fence, when set, is asked right before every COMMIT with the transaction, and
	// before every CREATE with the connection: an error rolls back and stops the load for
	// good. dm uses it so that a worker whose binding moved to another worker writes
	// nothing more (HA on etcd).
	Fence func(ctx context.Context, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) error
}

// Progress reports how far a load is, in bytes of data files.
type Progress struct {
	// FinishedBytes is the sum of the committed checkpoint offsets of the data files seen.
	FinishedBytes int64
	// TotalBytes is the size of all data files seen so far (it grows while a pipelined
	// dump is still writing).
	TotalBytes int64
	// Bps is the recent import rate in bytes per second.
	Bps int64
}

// Loader imports dump files into the target. Create it with New; Run or LoadDir do the
// work (one at a time); Close releases its connections.
type Loader struct {
	cfg     Config
	db      *sql.DB
	log     *slog.Logger
	cpTable string // quoted `meta`.`task_loader_checkpoint`
	verb    string // "REPLACE INTO " / "INSERT IGNORE INTO " / "INSERT INTO "

	running atomic.Bool
	// noLocal: the target refuses LOAD DATA LOCAL (local_infile off); INSERTs only.
	noLocal atomic.Bool

	prepMu     sync.Mutex
	prepared   bool
	pieceLimit int

	ddlMu         sync.Mutex // guards the maps below; serialises database creation
	createdDBs    map[string]bool
	schemaStmts   map[string][]byte // source schema → its CREATE DATABASE, for createTable
	createdTables map[[2]string]bool
	tableLocks    map[[2]string]*sync.Mutex   // per target table: createTable
	deferred      map[[2]string][]deferredKey // target table → indexes still to add (deferindex.go)

	progMu   sync.Mutex
	files    map[string]*fileProgress // data files seen, by base name
	total    atomic.Int64
	finished atomic.Int64
	loaded   atomic.Int64 // bytes committed by this process, for the rate
	rate     rateMeter

	closeOnce sync.Once
	closeErr  error
}

// fileProgress is one data file's share of Progress.
type fileProgress struct {
	size     int64
	reported int64 // committed offset already counted in Loader.finished
}

// New validates cfg, applies defaults and opens a connection pool to the target
// (connections are made lazily). The caller must Close the Loader.
func New(cfg Config) (*Loader, error) {
	cfg, verb, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	db, err := openTarget(cfg)
	if err != nil {
		return nil, err
	}
	return &Loader{
		cfg:           cfg,
		db:            db,
		log:           cfg.Logger.With("unit", "load", "task", cfg.Task, "source", cfg.Source),
		cpTable:       sqlq.QuoteTable(cfg.MetaSchema, CheckpointTableName(cfg.Task)),
		verb:          verb,
		createdDBs:    map[string]bool{},
		schemaStmts:   map[string][]byte{},
		createdTables: map[[2]string]bool{},
		tableLocks:    map[[2]string]*sync.Mutex{},
		deferred:      map[[2]string][]deferredKey{},
		files:         map[string]*fileProgress{},
	}, nil
}

// withDefaults validates cfg and fills its defaults; verb is the statement prefix of
// the row inserts for OnDuplicate.
func (cfg Config) withDefaults() (_ Config, verb string, _ error) {
	if cfg.Dir == "" {
		return cfg, "", errors.New("loader: Dir is empty; set it to the dump directory")
	}
	if cfg.Task == "" || cfg.Source == "" {
		return cfg, "", errors.New("loader: Task and Source are required; they key the checkpoints")
	}
	if len(cfg.Source) > 32 {
		return cfg, "", fmt.Errorf("loader: source name %q is longer than 32 bytes, the width of the checkpoint id column; use a shorter source name", cfg.Source)
	}
	if cfg.MetaSchema == "" {
		cfg.MetaSchema = DefaultMetaSchema
	}
	tz, _, err := dbconn.TimeZone(cfg.TimeZone)
	if err != nil {
		return cfg, "", fmt.Errorf("loader: TimeZone: %w", err)
	}
	cfg.TimeZone = tz
	if t := CheckpointTableName(cfg.Task); len(t) > 64 {
		return cfg, "", fmt.Errorf("loader: checkpoint table name %q is longer than 64 characters; use a shorter task name", t)
	}
	switch {
	case cfg.Threads < 0:
		return cfg, "", fmt.Errorf("loader: Threads is %d; use a positive number (or 0 for %d)", cfg.Threads, DefaultThreads)
	case cfg.Threads == 0:
		cfg.Threads = DefaultThreads
	}
	switch strings.ToLower(cfg.OnDuplicate) {
	case "", OnDuplicateReplace, "overwrite":
		cfg.OnDuplicate, verb = OnDuplicateReplace, "REPLACE INTO "
	case OnDuplicateIgnore:
		cfg.OnDuplicate, verb = OnDuplicateIgnore, "INSERT IGNORE INTO "
	case OnDuplicateError:
		cfg.OnDuplicate, verb = OnDuplicateError, "INSERT INTO "
	default:
		return cfg, "", fmt.Errorf("loader: on_duplicate %q is not one of replace, ignore, error", cfg.OnDuplicate)
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.SQLMode == "" {
		cfg.SQLMode = DefaultSQLMode
	}
	if cfg.Route == nil {
		cfg.Route = func(schema, table string) (string, string, error) { return schema, table, nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, verb, nil
}

// openTarget opens the target pool. Session settings go into the DSN so every physical
// connection — including the ones made after a lost connection — has them (see README:
// session settings).
func openTarget(cfg Config) (*sql.DB, error) {
	target := cfg.Target
	target.Params = maps.Clone(target.Params)
	if target.Params == nil {
		target.Params = map[string]string{}
	}
	target.Params["character_set_client"] = "binary" // SET NAMES binary, as the files say
	target.Params["character_set_connection"] = "binary"
	target.Params["character_set_results"] = "binary"
	target.Params["time_zone"] = quoteString(cfg.TimeZone)
	target.Params["foreign_key_checks"] = "0"
	target.Params["sql_mode"] = quoteString(cfg.SQLMode)
	if cfg.DisableBinlog {
		target.Params["sql_log_bin"] = "0"
	}
	dsn, err := target.DSN("")
	if err != nil {
		return nil, fmt.Errorf("loader: target: %w", err)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("loader: target %s: %w", cfg.Target.Addr(), err)
	}
	db.SetMaxOpenConns(cfg.Threads + 2)
	db.SetMaxIdleConns(cfg.Threads + 2)
	return db, nil
}

// quoteString renders s as a single-quoted SQL string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Close closes the connection pool. It is safe to call more than once.
func (l *Loader) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.db.Close() })
	return l.closeErr
}

// Progress returns the current progress; it is safe to call at any time.
func (l *Loader) Progress() Progress {
	return Progress{
		FinishedBytes: l.finished.Load(),
		TotalBytes:    l.total.Load(),
		Bps:           l.rate.sample(time.Now(), l.loaded.Load()),
	}
}

// rateMeter turns a byte counter into a rate over the interval between samples (at
// least a second apart).
type rateMeter struct {
	mu    sync.Mutex
	at    time.Time
	bytes int64
	bps   int64
}

func (m *rateMeter) sample(now time.Time, bytes int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at.IsZero() {
		m.at, m.bytes = now, bytes
		return 0
	}
	if dt := now.Sub(m.at); dt >= time.Second {
		m.bps = int64(float64(bytes-m.bytes) / dt.Seconds())
		m.at, m.bytes = now, bytes
	}
	return m.bps
}

// LoadDir loads every dump file in Dir: schemas first, then data files in name order.
// Files already loaded according to their checkpoints are skipped, and a partly loaded
// file resumes at its checkpoint.
func (l *Loader) LoadDir(ctx context.Context) error {
	names, err := listDumpFiles(l.cfg.Dir)
	if err != nil {
		return err
	}
	ch := make(chan string, len(names))
	for _, n := range names {
		ch <- n
	}
	close(ch)
	return l.Run(ctx, ch)
}

// dumpEntry is a dump file found in a directory.
type dumpEntry struct {
	name string
	info dumpfile.Name
}

// listDumpFiles returns the schema and data files of dir, ordered for loading: CREATE
// DATABASE files, then CREATE TABLE files, then data files, each group by name.
func listDumpFiles(dir string) ([]string, error) {
	entries, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	rank := map[dumpfile.Kind]int{dumpfile.KindSchemaCreate: 0, dumpfile.KindTableSchema: 1, dumpfile.KindData: 2}
	slices.SortFunc(entries, func(a, b dumpEntry) int {
		if d := rank[a.info.Kind] - rank[b.info.Kind]; d != 0 {
			return d
		}
		return strings.Compare(a.name, b.name)
	})
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names, nil
}

// scanDir lists the schema and data files of dir (other files are ignored).
func scanDir(dir string) ([]dumpEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read dump directory: %w", err)
	}
	var out []dumpEntry
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		n, err := dumpfile.Parse(de.Name())
		if err != nil {
			continue
		}
		switch n.Kind {
		case dumpfile.KindSchemaCreate, dumpfile.KindTableSchema, dumpfile.KindData:
			out = append(out, dumpEntry{name: de.Name(), info: n})
		}
	}
	return out, nil
}

// job is one data file to load.
type job struct {
	path   string
	name   string // base name: the checkpoint key
	info   dumpfile.Name
	size   int64
	prefix []byte // "REPLACE INTO `db`.`t`"
	// plain: this file is loaded with INSERT statements only (a LOAD DATA of it failed
	// or warned); ldBuf is the LOAD DATA path's reused data buffer (loaddata.go).
	plain bool
	ldBuf []byte
	// ready, when not nil, is closed once the table's schema file of this Run is applied.
	ready <-chan struct{}
}

// Run loads the files whose paths arrive on files, until files is closed and everything
// received is loaded, or the first error. A path without a directory is taken relative
// to Dir. Schema files are applied as they arrive (a table's -schema.sql must arrive
// before its data files); data files are loaded by Threads workers, so Run pipelines
// with a dump that is still writing. The metadata file and unknown files are ignored.
// Run returns when ctx is cancelled; a producer should therefore also watch ctx.
func (l *Loader) Run(ctx context.Context, files <-chan string) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("loader: Run or LoadDir is already running on this Loader")
	}
	defer l.running.Store(false)
	if err := l.prepare(ctx); err != nil {
		return err
	}
	l.rate.reset(time.Now(), l.loaded.Load())

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel(err)
		})
	}

	work := make(chan *job)
	var wg sync.WaitGroup
	for range l.cfg.Threads {
		wg.Go(func() {
			for j := range work {
				if j.ready != nil {
					select {
					case <-j.ready:
					case <-ctx.Done():
					}
				}
				if ctx.Err() != nil {
					continue // drain: the dispatcher is stopping
				}
				if err := l.loadFile(ctx, j); err != nil {
					fail(err)
				}
			}
		})
	}

	l.dispatch(ctx, files, work, fail)
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if err := l.addDeferredIndexes(ctx); err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	l.log.Info("load finished", "finished_bytes", l.finished.Load(), "total_bytes", l.total.Load())
	return nil
}

// track adds a data file to TotalBytes once.
func (l *Loader) track(name string, size int64) {
	l.progMu.Lock()
	defer l.progMu.Unlock()
	if _, ok := l.files[name]; ok {
		return
	}
	l.files[name] = &fileProgress{size: size}
	l.total.Add(size)
}

// committed records that a data file's checkpoint is now at offset.
func (l *Loader) committed(name string, offset int64, loaded bool) {
	l.progMu.Lock()
	defer l.progMu.Unlock()
	fp := l.files[name]
	if fp == nil {
		return
	}
	d := offset - fp.reported
	fp.reported = offset
	l.finished.Add(d)
	if loaded {
		l.loaded.Add(d)
	}
}

func (m *rateMeter) reset(now time.Time, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at, m.bytes, m.bps = now, bytes, 0
}

// prepare creates the checkpoint table and reads max_allowed_packet, once.
func (l *Loader) prepare(ctx context.Context) error {
	l.prepMu.Lock()
	defer l.prepMu.Unlock()
	if l.prepared {
		return nil
	}
	err := l.retry(ctx, "prepare checkpoint table", func() (bool, error) {
		if err := createCheckpointTable(ctx, l.db, l.cfg.MetaSchema, l.cpTable); err != nil {
			return false, err
		}
		var packet int
		if err := l.db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
			return false, fmt.Errorf("read the target's max_allowed_packet: %w", err)
		}
		l.pieceLimit = packet - 1024
		if m := l.cfg.MaxStatementBytes; m > 0 && m < l.pieceLimit {
			l.pieceLimit = m
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("loader: prepare target %s: %w", l.cfg.Target.Addr(), err)
	}
	l.prepared = true
	return nil
}

// fence asks Config.Fence, when set, whether this load may still write to the target.
func (l *Loader) fence(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) error {
	if l.cfg.Fence == nil {
		return nil
	}
	if err := l.cfg.Fence(ctx, q); err != nil {
		return fmt.Errorf("loader: refusing to write to the target: %w", err)
	}
	return nil
}
