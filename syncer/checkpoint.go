package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// globalWorker is the worker column value of the global checkpoint row.
const globalWorker = -1

// checkpointTable returns the quoted name of a task's checkpoint table.
// CheckpointTableName is the syncer checkpoint table of a task in the meta schema.
func CheckpointTableName(task string) string { return task + "_syncer_checkpoint" }

func checkpointTable(metaSchema, task string) string {
	return sqlq.QuoteTable(metaSchema, CheckpointTableName(task))
}

// createCheckpointSQL is the checkpoint table. One row per (source, worker): a worker row
// is written in the same target transaction as every batch that worker applies; the
// global row (worker -1) holds the point every worker has passed, the safe-mode exit
// point and the schema tracker snapshot at the global point.
const createCheckpointSQL = `CREATE TABLE IF NOT EXISTS %s (
  id VARCHAR(32) NOT NULL COMMENT 'source name',
  worker INT NOT NULL COMMENT '-1 for the global row, else the applier index',
  binlog_name VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'end of the last source transaction fully applied',
  binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
  binlog_gtid TEXT,
  applied_name VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'worker rows: last row change applied',
  applied_pos INT UNSIGNED NOT NULL DEFAULT 0,
  applied_row INT UNSIGNED NOT NULL DEFAULT 0,
  batch_id BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'worker rows: random id of the last batch, to resolve lost commits',
  exit_safe_binlog_name VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'global row: stay in safe mode until here',
  exit_safe_binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
  exit_safe_binlog_gtid TEXT,
  workers INT NOT NULL DEFAULT 0 COMMENT 'global row: number of workers that wrote the worker rows',
  table_info LONGBLOB COMMENT 'global row: schema tracker snapshot at the global point',
  is_global BOOLEAN NOT NULL DEFAULT FALSE,
  create_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id, worker)
) DEFAULT CHARSET=utf8mb4`

// ensureCheckpointTable creates the meta schema and the checkpoint table if missing.
func ensureCheckpointTable(ctx context.Context, db *sql.DB, metaSchema, task string) error {
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+sqlq.QuoteName(metaSchema)); err != nil {
		return fmt.Errorf("create meta schema %s on the target: %w", sqlq.QuoteName(metaSchema), err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(createCheckpointSQL, checkpointTable(metaSchema, task))); err != nil {
		return fmt.Errorf("create checkpoint table %s on the target: %w", checkpointTable(metaSchema, task), err)
	}
	return nil
}

// DropCheckpoints removes a task's syncer checkpoints (all sources) and its online DDL
// records from the target, so the next run starts fresh.
func DropCheckpoints(ctx context.Context, db *sql.DB, metaSchema, task string) error {
	if metaSchema == "" {
		metaSchema = DefaultMetaSchema
	}
	for _, tbl := range []string{checkpointTable(metaSchema, task), onlineDDLTable(metaSchema, task)} {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl); err != nil {
			return fmt.Errorf("drop syncer checkpoints of task %s: %w", task, err)
		}
	}
	return nil
}

// workerRow is one worker's persisted progress.
type workerRow struct {
	txn     Location  // end of the last transaction all of whose changes for it are applied
	applied changePos // last row change applied
}

// savedState is everything a source's checkpoint rows hold.
type savedState struct {
	global   Location
	exitSafe Location
	workers  int
	snapshot []byte
	rows     map[int]workerRow
}

// maxApplied is the last row change any worker applied: changes after it were never
// written to the target.
func (st *savedState) maxApplied() changePos {
	var m changePos
	for _, r := range st.rows {
		if m.File == "" || r.applied.compare(m) > 0 {
			m = r.applied
		}
	}
	return m
}

// loadCheckpoint reads the checkpoint rows of source; nil when there is no global row.
func loadCheckpoint(ctx context.Context, db *sql.DB, metaSchema, task, source string) (*savedState, error) {
	rows, err := db.QueryContext(ctx, `SELECT worker, binlog_name, binlog_pos, COALESCE(binlog_gtid, ''),
  applied_name, applied_pos, applied_row, exit_safe_binlog_name, exit_safe_binlog_pos,
  COALESCE(exit_safe_binlog_gtid, ''), workers, table_info FROM `+checkpointTable(metaSchema, task)+` WHERE id = ?`, source)
	if err != nil {
		if errNumber(err) == erNoSuchTable || errNumber(err) == erBadDB {
			return nil, nil
		}
		return nil, fmt.Errorf("read syncer checkpoint: %w", err)
	}
	defer rows.Close()
	st := &savedState{rows: map[int]workerRow{}}
	found := false
	for rows.Next() {
		var (
			worker, workers int
			loc, exit       Location
			ap              changePos
			snap            []byte
		)
		if err := rows.Scan(&worker, &loc.File, &loc.Pos, &loc.GTID, &ap.File, &ap.Pos, &ap.Row,
			&exit.File, &exit.Pos, &exit.GTID, &workers, &snap); err != nil {
			return nil, fmt.Errorf("read syncer checkpoint: %w", err)
		}
		if worker == globalWorker {
			found = true
			st.global, st.exitSafe, st.workers, st.snapshot = loc, exit, workers, snap
			continue
		}
		st.rows[worker] = workerRow{txn: loc, applied: ap}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read syncer checkpoint: %w", err)
	}
	if !found {
		return nil, nil
	}
	// Rows of workers beyond the count that wrote them are left from an older run.
	for w := range st.rows {
		if w >= st.workers {
			delete(st.rows, w)
		}
	}
	return st, nil
}

// workerCheckpointSQL renders the upsert of a worker row, executed inside the worker's
// data transaction.
func workerCheckpointSQL(table, source string, worker int, txn Location, applied changePos, batchID uint64) string {
	var b []byte
	b = append(b, "INSERT INTO "...)
	b = append(b, table...)
	b = append(b, " (id,worker,binlog_name,binlog_pos,binlog_gtid,applied_name,applied_pos,applied_row,batch_id) VALUES ("...)
	b = appendQuoted(b, source)
	b = fmt.Appendf(b, ",%d,", worker)
	b = appendQuoted(b, txn.File)
	b = fmt.Appendf(b, ",%d,", txn.Pos)
	b = appendQuoted(b, txn.GTID)
	b = append(b, ',')
	b = appendQuoted(b, applied.File)
	b = fmt.Appendf(b, ",%d,%d,%d)", applied.Pos, applied.Row, batchID)
	b = append(b, " ON DUPLICATE KEY UPDATE binlog_name=VALUES(binlog_name),binlog_pos=VALUES(binlog_pos),"+
		"binlog_gtid=VALUES(binlog_gtid),applied_name=VALUES(applied_name),applied_pos=VALUES(applied_pos),"+
		"applied_row=VALUES(applied_row),batch_id=VALUES(batch_id)"...)
	return string(b)
}

// readBatchID returns the batch id stored in a worker row, to learn whether a commit
// whose acknowledgement was lost went through.
func readBatchID(ctx context.Context, db *sql.DB, table, source string, worker int) (uint64, error) {
	var id uint64
	err := db.QueryRowContext(ctx, "SELECT batch_id FROM "+table+
		" WHERE id = ? AND worker = ?", source, worker).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// globalCheckpoint is one write of the global row.
type globalCheckpoint struct {
	loc      Location
	exitSafe Location
	workers  int
	snapshot []byte // nil keeps the stored snapshot
}

// writeGlobal upserts the global row in its own transaction.
func writeGlobal(ctx context.Context, db *sql.DB, table, source string, g globalCheckpoint) error {
	cols := []string{"id", "worker", "binlog_name", "binlog_pos", "binlog_gtid",
		"exit_safe_binlog_name", "exit_safe_binlog_pos", "exit_safe_binlog_gtid", "workers", "is_global"}
	args := []any{source, globalWorker, g.loc.File, g.loc.Pos, g.loc.GTID,
		g.exitSafe.File, g.exitSafe.Pos, g.exitSafe.GTID, g.workers, true}
	if g.snapshot != nil {
		cols = append(cols, "table_info")
		args = append(args, g.snapshot)
	}
	updates := make([]string, 0, len(cols))
	for _, c := range cols[2:] {
		updates = append(updates, c+"=VALUES("+c+")")
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ",") + ") VALUES (?" +
		strings.Repeat(",?", len(cols)-1) + ") ON DUPLICATE KEY UPDATE " + strings.Join(updates, ",")
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("write global checkpoint %s: %w", g.loc, err)
	}
	return nil
}

// deleteCheckpoint removes a source's rows (used when StartTime resets the position).
func deleteCheckpoint(ctx context.Context, db *sql.DB, table, source string) error {
	if _, err := db.ExecContext(ctx, "DELETE FROM "+table+" WHERE id = ?", source); err != nil {
		return fmt.Errorf("reset syncer checkpoint: %w", err)
	}
	return nil
}
