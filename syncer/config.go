package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
)

// Defaults applied by New.
const (
	DefaultWorkers    = 16
	DefaultBatch      = 100
	DefaultMetaSchema = "dm_meta"
)

// On-duplicate modes for row INSERTs outside safe mode.
const (
	OnDuplicateReplace = "replace" // REPLACE INTO
	OnDuplicateIgnore  = "ignore"  // INSERT IGNORE
	OnDuplicateError   = "error"   // plain INSERT: a duplicate key stops the task
)

// Config configures one syncer: one source replicated into one target for one task.
type Config struct {
	// Task and Source name the replication; Source is the id column of the checkpoint rows.
	Task, Source string
	// MetaSchema holds the checkpoint table `<MetaSchema>`.`<Task>_syncer_checkpoint`
	// (default dm_meta).
	MetaSchema string

	// SourceDB is the source server; Flavor is "mysql" or "mariadb" (default mysql).
	SourceDB dbconn.Config
	Flavor   string
	// ServerID is the replica server id used for the binlog dump; it must be unique among
	// the source's replicas (default: derived from the task and source names).
	ServerID uint32
	// EnableGTID makes the stream start (and resume) by GTID set instead of file/position.
	EnableGTID bool

	// Relay, when set, is asked for a stream over the source's relay log each time the
	// binlog stream (re)opens; it may decline (nil Stream), and the source is read.
	Relay RelayOpener

	// Target is the MySQL-compatible server written to.
	Target dbconn.Config

	// Start is where to start when there is no checkpoint (dump snapshot, or task meta).
	// When zero too, the syncer starts at the source's current binlog end.
	Start Location
	// SafeModeUntil keeps a fresh start in safe mode until this location (the dump's
	// "after connection pool" point).
	SafeModeUntil *Location
	// StartTime, if set, starts at the first transaction at or after this time
	// ('YYYY-MM-DD HH:MM:SS' in the source's time zone, or RFC 3339 with an offset),
	// overriding both the checkpoint and Start: existing checkpoints are replaced. Only
	// the first Run of a Syncer honours it; later runs resume from the checkpoint.
	StartTime string
	// SafeModeDuration forces safe mode for this long, in binlog time, from the first event.
	SafeModeDuration time.Duration
	// SafeMode forces safe mode for the whole run.
	SafeMode bool

	// Workers is the number of parallel appliers (repl_threads, default 16).
	Workers int
	// Batch is the maximum number of row changes per target transaction (repl_batch,
	// default 100).
	Batch int
	// OnDuplicate selects how row INSERTs are written outside safe mode: "replace"
	// (REPLACE INTO), "ignore" (INSERT IGNORE) or "error" (INSERT). Empty means "error",
	// DM's sync behaviour.
	OnDuplicate string

	// Tables selects what is replicated: (schema, table) for a table, (schema, "") for a
	// schema. System schemas and MetaSchema are never replicated (nil: everything else).
	Tables func(schema, table string) bool
	// Route maps a source table (table "" for a schema) to its target (nil: names kept).
	Route func(schema, table string) (targetSchema, targetTable string, err error)
	// Events filters binlog events by type and SQL text (nil: none filtered).
	Events        *filter.EventFilter
	CaseSensitive bool
	// WholeSchema reports whether the task migrates every table of a source schema, so
	// that the schema itself is the task's: CREATE/ALTER/DROP DATABASE reach the target
	// only for such schemas (nil: every schema Tables(schema, "") selects is whole).
	WholeSchema func(schema string) bool
	// Shared reports whether the target of a source table (table "" for a schema) also
	// receives rows from other upstream tables or sources; DROP DATABASE, DROP TABLE and
	// TRUNCATE TABLE never run on a shared target (nil: nothing is shared).
	Shared func(schema, table string) bool

	// Shard coordinates the DDL of tables whose target is Shared (shard mode, pessimistic
	// or optimistic; see shard.go): nil applies every shard's DDL directly.
	Shard ShardCoordinator

	// InitialSchemas seeds the schema tracker on a fresh start: (schema, table) → CREATE
	// TABLE, usually from the dump's -schema.sql files.
	InitialSchemas map[[2]string]string
	// SchemaOverrides replace the tracked schema of tables on the first start of this
	// Syncer, until a checkpoint holds them (see OverridesSaved): (schema, table)
	// → CREATE TABLE, as set through the table-schema API.
	SchemaOverrides map[[2]string]string
	// OverridesSaved, when set, is called once the SchemaOverrides are durable in a
	// checkpoint (the tracker snapshot holds them): the caller may then forget them, so
	// they apply once, as in DM, and later upstream DDL is not reverted by a restart.
	OverridesSaved func()

	// OnlineDDL, when set, handles online schema change tools (gh-ost, pt-osc; DM's
	// online-ddl / enhance_online_schema_change): their ghost and trash tables follow the
	// real table's rule, their rows are never replicated, and the ALTERs run on the ghost
	// table reach the real target table at the cut-over RENAME (see onlineddl.go). Nil:
	// those tables are ordinary tables.
	OnlineDDL *filter.OnlineDDL

	// Observer, when set, receives apply and checkpoint measurements (observer.go).
	Observer Observer

	// BinlogOps skip or replace single statement events (DM's binlog skip/replace), by the
	// position a DDLError reported.
	BinlogOps []BinlogOp

	// Throttle, when set, pauses applying while its query on the target is above its
	// threshold (see throttle.go).
	Throttle *Throttle

	// ForeignKeyChecks sets the target sessions' foreign_key_checks (default off).
	ForeignKeyChecks bool
	// TimeZone is the target sessions' time zone, a fixed offset such as +08:00 (DM's
	// task timezone): binlog TIMESTAMP values (UTC instants) are rendered in it, so the
	// target stores the same instants whatever the zone. Default +00:00.
	TimeZone string

	// Fence, when set, is asked right before every COMMIT, with the transaction, and
	// before every DDL and checkpoint write outside one, with the target pool: an error
	// rolls the transaction back and stops the sync for good. dm uses it so that a worker
	// whose binding moved to another worker writes nothing more (HA on etcd).
	Fence func(ctx context.Context, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) error

	// Logger receives progress and warnings (default slog.Default()).
	Logger *slog.Logger

	// checkpointInterval is how often the global checkpoint row is written (tests shorten
	// it); retryBudget bounds the retries of one transient failure.
	checkpointInterval time.Duration
	retryBudget        time.Duration
	// crashHook, when set, is called at named points (tests crash the process there).
	crashHook func(point string)
	// tzLoc is TimeZone as a location (set by withDefaults).
	tzLoc *time.Location
	// validateInterval is the validator's check interval and settle time (default 1 s).
	validateInterval time.Duration
}

// withDefaults fills defaults and validates c.
func (c Config) withDefaults() (Config, error) {
	if c.Throttle != nil && c.Throttle.Query == "" {
		return c, errors.New("syncer: Throttle needs a Query")
	}
	if c.Task == "" {
		return c, errors.New("syncer: Task is required; set it to the task name")
	}
	if c.Source == "" {
		return c, errors.New("syncer: Source is required; set it to the source name")
	}
	if len(c.Source) > 32 {
		return c, fmt.Errorf("syncer: source name %q is longer than 32 bytes, the checkpoint id column", c.Source)
	}
	if c.MetaSchema == "" {
		c.MetaSchema = DefaultMetaSchema
	}
	tz, loc, err := dbconn.TimeZone(c.TimeZone)
	if err != nil {
		return c, fmt.Errorf("syncer: TimeZone: %w", err)
	}
	c.TimeZone, c.tzLoc = tz, loc
	switch c.Flavor {
	case "":
		c.Flavor = mysql.MySQLFlavor
	case mysql.MySQLFlavor, mysql.MariaDBFlavor:
	default:
		return c, fmt.Errorf("syncer: flavor %q is not supported; use mysql or mariadb", c.Flavor)
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	switch c.OnDuplicate {
	case "":
		c.OnDuplicate = OnDuplicateError
	case OnDuplicateReplace, OnDuplicateIgnore, OnDuplicateError:
	default:
		return c, fmt.Errorf("syncer: on_duplicate %q is not one of replace, ignore, error", c.OnDuplicate)
	}
	if c.ServerID == 0 {
		c.ServerID = defaultServerID(c.Task, c.Source)
	}
	c.withSelectionDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Logger = c.Logger.With("task", c.Task, "source", c.Source, "unit", "sync")
	if c.checkpointInterval <= 0 {
		c.checkpointInterval = time.Second
	}
	if c.retryBudget <= 0 {
		c.retryBudget = time.Minute
	}
	return c, nil
}

// withSelectionDefaults fills the nil selection funcs: every non-system table replicated,
// names kept, a selected schema whole, nothing shared.
func (c *Config) withSelectionDefaults() {
	if c.Tables == nil {
		c.Tables = func(schema, _ string) bool { return !filter.IsSystemSchema(schema) }
	}
	if c.Route == nil {
		c.Route = func(schema, table string) (string, string, error) { return schema, table, nil }
	}
	if c.WholeSchema == nil {
		tables := c.Tables
		c.WholeSchema = func(schema string) bool { return tables(schema, "") }
	}
	if c.Shared == nil {
		c.Shared = func(string, string) bool { return false }
	}
}

// defaultServerID derives a stable replica id in [1<<30, 1<<31) from the task and source,
// away from the small ids servers usually have.
func defaultServerID(task, source string) uint32 {
	return 1<<30 | hashString(task+"\x00"+source)&(1<<30-1)
}

// querier is what a Fence reads through: a transaction or the target pool.
type querier = interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// fence asks Config.Fence, when set, whether this run may still write to the target.
func (r *run) fence(ctx context.Context, q querier) error {
	if r.cfg.Fence == nil {
		return nil
	}
	if err := r.cfg.Fence(ctx, q); err != nil {
		return fmt.Errorf("syncer: refusing to write to the target: %w", err)
	}
	return nil
}
