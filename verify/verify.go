package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultThreads       = 4
	DefaultChunkRows     = 10000
	DefaultDiffRows      = 64
	DefaultWholeDiffRows = 10000
	DefaultMaxDiffs      = 1000
)

// Config says which servers to compare and how hard to work.
type Config struct {
	Source, Target dbconn.Config
	// Threads is how many chunks are checksummed at once (each uses one source and one
	// target connection). Default 4.
	Threads int
	// ChunkRows is the approximate number of rows per chunk of a keyed table. Default 10000.
	ChunkRows int
	// DiffRows: a mismatching range is bisected until neither side has more rows than
	// this, then its rows are fetched and diffed. Default 64.
	DiffRows int
	// WholeDiffRows: a table compared whole (no integer handle) that differs gets a
	// row-level diff only if neither side has more rows than this. Default 10000.
	WholeDiffRows int
	// MaxDiffs caps the RowDiffs reported per table; past it TableResult.Truncated is
	// set and further mismatching chunks are counted but not narrowed. Default 1000.
	MaxDiffs int
	// Throttle, when set, is called before every pair of queries (a chunk's checksums,
	// a bisection step, a row fetch); it may sleep to limit the load, and an error
	// from it ends the comparison. It is called from Threads goroutines at once.
	Throttle func(ctx context.Context) error
	// Fence, when set, is asked inside every repair transaction right before its COMMIT:
	// an error rolls the repair back (dm uses it so that a worker whose binding moved to
	// another worker repairs nothing; HA on etcd).
	Fence func(ctx context.Context, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) error
}

// Verifier compares tables of one source server with tables of one target server.
// It is safe for concurrent use; Close it when done.
type Verifier struct {
	cfg      Config
	src, dst *sql.DB
}

// New opens and pings a connection pool on each server.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Threads < 0 || cfg.ChunkRows < 0 || cfg.DiffRows < 0 || cfg.WholeDiffRows < 0 || cfg.MaxDiffs < 0 {
		return nil, errors.New("verify: Threads, ChunkRows, DiffRows, WholeDiffRows and MaxDiffs must not be negative; use 0 for the default")
	}
	cfg.Threads = orDefault(cfg.Threads, DefaultThreads)
	cfg.ChunkRows = orDefault(cfg.ChunkRows, DefaultChunkRows)
	cfg.DiffRows = orDefault(cfg.DiffRows, DefaultDiffRows)
	cfg.WholeDiffRows = orDefault(cfg.WholeDiffRows, DefaultWholeDiffRows)
	cfg.MaxDiffs = orDefault(cfg.MaxDiffs, DefaultMaxDiffs)
	src, err := open(ctx, cfg.Source, cfg.Threads)
	if err != nil {
		return nil, fmt.Errorf("verify: source: %w", err)
	}
	dst, err := open(ctx, cfg.Target, cfg.Threads)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("verify: target: %w", err)
	}
	return &Verifier{cfg: cfg, src: src, dst: dst}, nil
}

// Close closes both pools.
func (v *Verifier) Close() error {
	return errors.Join(v.src.Close(), v.dst.Close())
}

// sessionParams are set on every connection unless the caller's Params set them:
// TIMESTAMPs read in UTC on both sides, no sql_mode that changes how values read
// (PAD_CHAR_TO_FULL_LENGTH), and a read timeout long enough for a whole-table checksum.
var sessionParams = map[string]string{
	"time_zone":   "'+00:00'",
	"sql_mode":    "''",
	"readTimeout": "15m",
}

func open(ctx context.Context, c dbconn.Config, threads int) (*sql.DB, error) {
	params := maps.Clone(sessionParams)
	maps.Copy(params, c.Params)
	c.Params = params
	db, err := dbconn.Open(ctx, c, "")
	if err != nil {
		return nil, err
	}
	// Each worker holds one connection per side at a time, plus the planner's.
	db.SetMaxOpenConns(threads + 1)
	db.SetMaxIdleConns(threads + 1)
	return db, nil
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// TableResult is the outcome of comparing one table pair.
type TableResult struct {
	Source, Target string // quoted `schema`.`table` names
	// Columns are the compared columns, in source order (generated columns are not compared).
	Columns []string
	// Key is the unique key the rows are identified by (a subset of Columns), nil when
	// the table has none.
	Key []string
	// Chunked is true when the table was split by its integer handle (Key[0]); otherwise
	// it was compared whole, as one chunk.
	Chunked bool
	// Chunks is the number of chunks checksummed (not counting bisection steps);
	// MismatchedChunks of them differed.
	Chunks, MismatchedChunks int
	// SourceRows and TargetRows are the rows counted on each side.
	SourceRows, TargetRows int64
	// Equal is true when every chunk's checksums agreed.
	Equal bool
	// Diffs are the differing rows, sorted by key (by row image for keyless tables).
	Diffs []RowDiff
	// Truncated is true when Diffs is not the full list: more than MaxDiffs rows differ,
	// or a table compared whole was too big for a row-level diff (see Note).
	Truncated bool
	// Note explains a Truncated result.
	Note string

	// What Repair and RecheckAt need: the target side (columns as the target defines
	// them), the key, the tables compared.
	dst   *side
	key   tableKey
	names tableNames
}

// DiffKind says how a row differs.
type DiffKind int

const (
	// Missing: the row is on the source, not on the target.
	Missing DiffKind = iota + 1
	// Extra: the row is on the target, not on the source.
	Extra
	// Changed: a row with this key is on both sides with different values.
	Changed
)

func (k DiffKind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Extra:
		return "extra"
	case Changed:
		return "changed"
	}
	return fmt.Sprintf("DiffKind(%d)", int(k))
}

// MarshalText makes a DiffKind read as its name in JSON.
func (k DiffKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Row is one row image, values in TableResult.Columns order; a nil entry is SQL NULL.
// Text is in utf8mb4, FLOAT widened to DOUBLE, TIMESTAMP in UTC; binary values are
// their raw bytes.
type Row []*string

// RowDiff is one differing row.
type RowDiff struct {
	Kind DiffKind
	// Key holds the values of TableResult.Key; nil for a table without a key.
	Key []string
	// Source and Target are the row images; nil on the side the row is absent from.
	Source, Target Row
}
