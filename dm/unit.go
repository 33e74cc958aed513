package dm

import (
	"context"
	"log/slog"

	"github.com/dmkit/dmkit/syncer"
)

// Unit is one stage of a subtask's pipeline: dump, load or sync. The worker runs a
// subtask's units one after another; each must be resumable from its own checkpoint, so
// that a Run cut short by a stop, an error or a crash continues where it left off.
type Unit interface {
	// Type is UnitDump, UnitLoad or UnitSync.
	Type() string
	// IsFresh reports whether the unit has made no durable progress yet. On start the worker
	// skips the units before the last one that is not fresh.
	IsFresh(ctx context.Context) (bool, error)
	// Run does the unit's work. It returns nil when the work is complete, ctx.Err() when
	// ctx was cancelled (a pause), or the error that stopped it.
	Run(ctx context.Context) error
	// Status returns a progress snapshot: *DumpStatus, *LoadStatus or *SyncStatus.
	Status() any
	// Close releases the unit's resources.
	Close() error
}

// SubtaskConfig is everything a unit needs to know about its subtask.
type SubtaskConfig struct {
	// Task is the task's full definition, with the target password in clear text.
	Task Task
	// Source is the upstream, with its password in clear text.
	Source Source
	// Flavor is "mysql" or "mariadb"; CaseSensitive follows the source's
	// lower_case_table_names; ServerID is the id to use when reading its binlog.
	Flavor        string
	CaseSensitive bool
	ServerID      uint32
	// TaskID is the task's identity (see taskRecord.ID); the dump directory's manifest
	// is stamped with it.
	TaskID string
	// DataDir is the effective dump directory of this subtask.
	DataDir string
	// StartTime and SafeModeDuration are the arguments of the last start, if any.
	StartTime        string
	SafeModeDuration string
	// Worker is the name of the worker running the subtask.
	Worker string
	// SchemaOverrides are the table schemas set through the table-structure API,
	// (schema, table) → CREATE TABLE; the sync unit uses them instead of its own.
	SchemaOverrides map[[2]string]string
	// ClearStartArgs forgets StartTime and SafeModeDuration once they took effect.
	ClearStartArgs func()
	// ForgetSchemaOverrides forgets SchemaOverrides once a checkpoint holds them.
	ForgetSchemaOverrides func()
	// Observer receives the sync unit's apply measurements (nil: no metrics).
	Observer syncer.Observer
	// BinlogOps skip or replace single statements (binlog skip/replace).
	BinlogOps []syncer.BinlogOp
	// Shard coordinates the DDL of merged tables (shard_mode set); nil otherwise.
	Shard syncer.ShardCoordinator
	// Relay opens the source's relay log on this worker for the sync unit (it declines
	// when no relay runs).
	Relay syncer.RelayOpener
	// Fence, when set, keeps the units from writing once this worker's binding is stale
	// (worker processes only; fence.go).
	Fence *Fence
	// Logger is the subtask's logger.
	Logger *slog.Logger
}

// UnitFactory builds the units of a subtask for its task mode, in order.
type UnitFactory func(ctx context.Context, cfg *SubtaskConfig) ([]Unit, error)
