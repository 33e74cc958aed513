package dumper

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Defaults (DM's).
const (
	DefaultThreads       = 4
	DefaultChunkRows     = 200_000
	DefaultFileSize      = 64 << 20
	DefaultStatementSize = 1 << 20
)

// readTimeout replaces dbconn's 30 s driver read timeout: a chunk SELECT, MIN/MAX or
// FLUSH TABLES WITH READ LOCK may legitimately take longer to send its first byte.
const readTimeout = "15m"

// Config says what to dump from where and how.
type Config struct {
	// Source is the server to dump.
	Source dbconn.Config
	// Flavor is "mysql" or "mariadb"; empty detects it from VERSION().
	Flavor string
	// Tables selects the base tables to dump; it is also asked (schema, "") whether a
	// database without base tables is wanted. nil means every non-system table. System
	// schemas are never dumped.
	Tables func(schema, table string) bool
	// Dir is the output directory. It is created when missing; it must be empty or hold
	// an earlier dump of the same Owner (whose files are removed first). Every file the
	// dump writes is listed in the directory's manifest (dumpfile.Claim), so clean-up
	// removes exactly those and nothing else.
	Dir string
	// Owner identifies whoever the dump belongs to (e.g. task, task id and source) in the
	// directory's manifest; empty means "dumper". A directory claimed by another owner is
	// refused.
	Owner string
	// Threads is the number of export goroutines, each with its own snapshot
	// connection (DM's export_threads); default 4.
	Threads int
	// Consistency is auto|flush|snapshot|lock|none (see README.md); default auto.
	Consistency string
	// ChunkRows is the target number of rows per chunk; default 200 000.
	ChunkRows int
	// FileSize is the maximum size of one data file in bytes; default 64 MiB. A file
	// is exceeded only by a single row bigger than it.
	FileSize int64
	// StatementSize is the maximum size of one INSERT statement in bytes; default
	// 1 MiB. A statement always holds at least one row.
	StatementSize int
	// TimeZone is the session time zone TIMESTAMP values are exported in, a fixed offset
	// such as +08:00 (DM's task timezone); default +00:00. A data file dumped in another
	// zone than +00:00 says so in a SET TIME_ZONE line, which the loader executes.
	TimeZone string
	// OnFile, if set, is called with the path of each file once it is complete and in
	// place, possibly from several goroutines at once. A database's -schema-create.sql
	// comes before its tables' files, and a table's -schema.sql before its data files.
	// The metadata file (with Snapshot) is written before the first call.
	OnFile func(path string)
	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
}

// Progress is a point-in-time view of a running or finished dump, in DM's dump_status
// terms.
type Progress struct {
	TotalTables     int64
	CompletedTables float64
	// FinishedBytes is the size of the data files written (schema files and the
	// metadata are not counted: DM's finished_bytes is the data dumped).
	FinishedBytes     float64
	FinishedRows      float64
	EstimateTotalRows float64
	// Bps is bytes written per second over the run so far.
	Bps int64
}

// Dumper exports the selected tables of one source to dump files. A Dumper runs once.
type Dumper struct {
	cfg      Config
	manifest *dumpfile.Manifest // the claim on cfg.Dir while Run runs
	log      *slog.Logger
	flavor   string

	ran      atomic.Bool
	started  atomic.Int64 // unix nanoseconds; 0 before Run
	finished atomic.Int64 // unix nanoseconds; 0 while running

	totalTables     atomic.Int64
	completedTables atomic.Int64
	finishedBytes   atomic.Int64
	finishedRows    atomic.Int64
	estimateRows    atomic.Int64
}

// New validates cfg and fills in defaults.
func New(cfg Config) (*Dumper, error) {
	if cfg.Dir == "" {
		return nil, errors.New("dumper: Dir is empty; set the output directory")
	}
	if cfg.Owner == "" {
		cfg.Owner = "dumper"
	}
	switch cfg.Flavor = strings.ToLower(cfg.Flavor); cfg.Flavor {
	case "", FlavorMySQL, FlavorMariaDB:
	default:
		return nil, fmt.Errorf("dumper: flavor %q is not supported; use mysql or mariadb", cfg.Flavor)
	}
	switch cfg.Consistency = strings.ToLower(cfg.Consistency); cfg.Consistency {
	case "":
		cfg.Consistency = ConsistencyAuto
	case ConsistencyAuto, ConsistencyFlush, ConsistencyLock, ConsistencyNone:
	case ConsistencySnapshot:
		return nil, errors.New("dumper: consistency snapshot works only on TiDB sources; use flush, lock or none for MySQL/MariaDB (auto picks flush)")
	default:
		return nil, fmt.Errorf("dumper: consistency %q is unknown; use auto, flush, lock or none", cfg.Consistency)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = DefaultThreads
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = DefaultChunkRows
	}
	if cfg.FileSize <= 0 {
		cfg.FileSize = DefaultFileSize
	}
	if cfg.StatementSize <= 0 {
		cfg.StatementSize = DefaultStatementSize
	}
	if cfg.Tables == nil {
		cfg.Tables = func(string, string) bool { return true }
	}
	tz, _, err := dbconn.TimeZone(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("dumper: TimeZone: %w", err)
	}
	cfg.TimeZone = tz
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Our own copy of Params: a longer driver read timeout unless the caller set one.
	params := maps.Clone(cfg.Source.Params)
	if params == nil {
		params = map[string]string{}
	}
	if _, ok := params["readTimeout"]; !ok {
		params["readTimeout"] = readTimeout
	}
	cfg.Source.Params = params
	return &Dumper{cfg: cfg, log: log.With("unit", "dump"), flavor: cfg.Flavor}, nil
}

// Progress returns the dump's counters; it is safe to call concurrently with Run.
func (d *Dumper) Progress() Progress {
	p := Progress{
		TotalTables:       d.totalTables.Load(),
		CompletedTables:   float64(d.completedTables.Load()),
		FinishedBytes:     float64(d.finishedBytes.Load()),
		FinishedRows:      float64(d.finishedRows.Load()),
		EstimateTotalRows: float64(d.estimateRows.Load()),
	}
	if start := d.started.Load(); start != 0 {
		end := d.finished.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		if secs := float64(end-start) / 1e9; secs > 0 {
			p.Bps = int64(p.FinishedBytes / secs)
		}
	}
	return p
}

// Run dumps the selected tables into Dir and returns the metadata it wrote: Snapshot is
// the binlog location of the snapshot (zero with binary logging off); After is set for
// consistency none. The metadata file is written once the snapshot is taken and again,
// with Finished set, when every file is complete: a metadata file with Finished means a
// complete dump. On error or cancellation no lock is left, every connection is closed,
// temporary files are removed, and ctx.Err() is returned if ctx ended.
func (d *Dumper) Run(ctx context.Context) (*dumpfile.Metadata, error) {
	if !d.ran.CompareAndSwap(false, true) {
		return nil, errors.New("dumper: Run called twice; create a new Dumper for each dump")
	}
	started := time.Now()
	d.started.Store(started.UnixNano())
	defer func() { d.finished.Store(time.Now().UnixNano()) }()

	md, err := d.run(ctx, started)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return md, err
}

func (d *Dumper) run(ctx context.Context, started time.Time) (*dumpfile.Metadata, error) {
	db, err := dbconn.Open(ctx, d.cfg.Source, "")
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // connections are pinned; none is reused after Run

	ctl, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("dump: open control connection: %w", err)
	}
	defer ctl.Close()
	if err := d.detectFlavor(ctx, ctl); err != nil {
		return nil, err
	}
	if err := d.setupSession(ctx, ctl, false); err != nil {
		return nil, err
	}

	schemas, tables, err := d.selectTables(ctx, ctl)
	if err != nil {
		return nil, err
	}

	manifest, err := dumpfile.Claim(d.cfg.Dir, d.cfg.Owner)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	defer manifest.Close()
	d.manifest = manifest

	workers := make([]*sql.Conn, d.cfg.Threads)
	defer closeConns(workers)
	if err := d.openWorkers(ctx, db, workers); err != nil {
		return nil, err
	}
	snap, err := d.establish(ctx, ctl, workers, tables)
	if err != nil {
		return nil, fmt.Errorf("dump: consistency %s: %w", d.cfg.Consistency, err)
	}
	d.log.Info("snapshot taken", "consistency", snap.mode, "location", snap.snapshot.String(),
		"gtid", snap.snapshot.GTID, "tables", len(tables), "threads", len(workers))

	md := &dumpfile.Metadata{Started: started, Snapshot: snap.snapshot, After: snap.after}
	if err := manifest.Add(dumpfile.MetadataName); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	if err := md.WriteFile(d.cfg.Dir); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}

	if err := d.export(ctx, ctl, workers, schemas); err != nil {
		return nil, err
	}
	if err := d.finish(md); err != nil {
		return nil, err
	}
	return md, nil
}

// selectTables lists the selected schemas and tables and counts them for Progress.
func (d *Dumper) selectTables(ctx context.Context, ctl *sql.Conn) ([]*schemaInfo, []*tableInfo, error) {
	schemas, err := listTables(ctx, ctl, d.cfg.Tables)
	if err != nil {
		return nil, nil, fmt.Errorf("dump: %w", err)
	}
	var tables []*tableInfo
	for _, s := range schemas {
		for _, t := range s.tables {
			tables = append(tables, t)
			d.estimateRows.Add(t.listedRows)
		}
	}
	d.totalTables.Store(int64(len(tables)))
	return schemas, tables, nil
}

// openWorkers fills workers with pinned connections set up for exporting; the caller
// closes them (closeConns), also after an error.
func (d *Dumper) openWorkers(ctx context.Context, db *sql.DB, workers []*sql.Conn) (err error) {
	for i := range workers {
		if workers[i], err = db.Conn(ctx); err != nil {
			return fmt.Errorf("dump: open worker connection: %w", err)
		}
		if err := d.setupSession(ctx, workers[i], true); err != nil {
			return err
		}
	}
	return nil
}

// closeConns closes the connections opened so far.
func closeConns(conns []*sql.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// finish makes the exported files durable, then records the dump as finished in the
// metadata file.
func (d *Dumper) finish(md *dumpfile.Metadata) error {
	if err := syncDir(d.cfg.Dir); err != nil {
		return err
	}
	if err := d.manifest.Sync(); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	md.Finished = time.Now()
	if err := md.WriteFile(d.cfg.Dir); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	p := d.Progress()
	d.log.Info("dump finished", "tables", p.TotalTables, "rows", int64(p.FinishedRows),
		"bytes", int64(p.FinishedBytes), "duration", md.Finished.Sub(md.Started).Round(time.Millisecond))
	return nil
}

// export runs the planner (schema files, chunking) and the workers that export chunks,
// until all is written or the first error, which cancels the rest.
func (d *Dumper) export(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn, schemas []*schemaInfo) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := make(chan *chunk, len(workers))
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(chunks)
		if err := d.plan(ctx, ctl, schemas, chunks); err != nil {
			cancel(err)
		}
	})
	for _, w := range workers {
		wg.Go(func() {
			ex := &exporter{d: d, conn: w}
			for ch := range chunks {
				if err := ex.export(ctx, ch); err != nil {
					cancel(err)
					for range chunks { // let the planner finish
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// plan writes each database's and table's schema file, splits the table into chunks
// and queues them, in that order, so OnFile sees a schema before its data.
func (d *Dumper) plan(ctx context.Context, ctl *sql.Conn, schemas []*schemaInfo, out chan<- *chunk) error {
	for _, s := range schemas {
		var create string
		if err := ctl.QueryRowContext(ctx, "SHOW CREATE DATABASE IF NOT EXISTS "+sqlq.QuoteName(s.name)).Scan(new(string), &create); err != nil {
			return fmt.Errorf("dump: SHOW CREATE DATABASE %s: %w", sqlq.QuoteName(s.name), err)
		}
		if err := d.writeSQLFile(dumpfile.SchemaCreateName(s.name), create); err != nil {
			return err
		}
		for _, t := range s.tables {
			queries, err := d.planTable(ctx, ctl, t)
			if err != nil {
				return fmt.Errorf("dump: %w", err)
			}
			t.remaining.Store(int64(len(queries)))
			for i, q := range queries {
				select {
				case out <- &chunk{table: t, index: i, query: q}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
	}
	return nil
}

// planTable writes t's schema file and returns the SELECT of each of its chunks.
func (d *Dumper) planTable(ctx context.Context, ctl *sql.Conn, t *tableInfo) ([]string, error) {
	var create string
	if err := ctl.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlq.QuoteTable(t.schema, t.name)).Scan(new(string), &create); err != nil {
		return nil, fmt.Errorf("SHOW CREATE TABLE %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
	}
	if err := d.writeSQLFile(dumpfile.TableSchemaName(t.schema, t.name), create); err != nil {
		return nil, err
	}
	if err := loadColumns(ctx, ctl, t); err != nil {
		return nil, err
	}
	key, ok, err := findSplitKey(ctx, ctl, t)
	if err != nil || !ok {
		return chunkQueries(t, key, nil), err
	}
	est, err := estimateRows(ctx, ctl, t)
	if err != nil {
		return nil, err
	}
	d.estimateRows.Add(est - t.listedRows)
	chunkRows := int64(d.cfg.ChunkRows)
	if est <= chunkRows {
		return chunkQueries(t, key, nil), nil
	}
	lo, hi, ok, err := minMax(ctx, ctl, t, key)
	if err != nil || !ok {
		return chunkQueries(t, key, nil), err
	}
	return chunkQueries(t, key, splitRange(lo, hi, (est+chunkRows-1)/chunkRows)), nil
}

// setupSession makes a connection's output independent of the server's and the
// user's settings. Worker connections read values as raw bytes (NAMES binary).
func (d *Dumper) setupSession(ctx context.Context, c *sql.Conn, worker bool) error {
	stmts := []string{
		// Timestamps are exported in TimeZone (UTC by default); data files dumped in
		// another zone carry a SET TIME_ZONE line (dataHeader) for the loader.
		"SET SESSION time_zone = '" + d.cfg.TimeZone + "'",
		// No PAD_CHAR_TO_FULL_LENGTH, ANSI_QUOTES, ORACLE…: canonical SHOW CREATE and values.
		"SET SESSION sql_mode = ''",
		"SET SESSION net_write_timeout = 3600",
		"SET SESSION net_read_timeout = 3600",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	if worker {
		// Strings as stored, in their column's charset: no conversion, nothing lost.
		stmts = append(stmts, "SET NAMES binary")
	}
	for _, s := range stmts {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("dump: %s: %w", s, err)
		}
	}
	// Server-side statement timeouts would kill long chunk SELECTs. Best effort: the
	// variable is missing on old versions.
	timeout := "SET SESSION max_execution_time = 0"
	if d.flavor == FlavorMariaDB {
		timeout = "SET SESSION max_statement_time = 0"
	}
	if _, err := c.ExecContext(ctx, timeout); err != nil {
		d.log.Debug("cannot lift statement timeout", "err", err)
	}
	return nil
}

func (d *Dumper) detectFlavor(ctx context.Context, c *sql.Conn) error {
	var version string
	if err := c.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("dump: read server version: %w", err)
	}
	detected := FlavorMySQL
	switch lv := strings.ToLower(version); {
	case strings.Contains(lv, "mariadb"):
		detected = FlavorMariaDB
	case strings.Contains(lv, "tidb"):
		return fmt.Errorf("dump: source %s is TiDB (%s), which the dumper does not support; dump it with dumpling", d.cfg.Source.Addr(), version)
	}
	if d.flavor == "" {
		d.flavor = detected
	} else if d.flavor != detected {
		d.log.Warn("configured flavor differs from the server's; using the server's", "flavor", d.flavor, "version", version)
		d.flavor = detected
	}
	return nil
}

// syncDir makes the dump files and their renames durable before the final metadata.
func syncDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dump: sync output directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if err := syncFile(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if err := dumpfile.SyncDir(dir); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

// syncFile flushes one file to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dump: sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dump: sync %s: %w", path, err)
	}
	return nil
}
