package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// CheckpointTableName is the loader checkpoint table of a task in the meta schema (DM's
// legacy name).
func CheckpointTableName(task string) string { return task + "_loader_checkpoint" }

// createCheckpointTable creates the meta schema and DM's legacy loader checkpoint table:
// one row per (source, dump file) with the committed byte offset and the file's size.
// The names are compared byte for byte (utf8mb4_bin): file names of tables that differ
// only in case must not collide.
func createCheckpointTable(ctx context.Context, db *sql.DB, metaSchema, table string) error {
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+sqlq.QuoteName(metaSchema)); err != nil {
		return fmt.Errorf("create meta schema %s: %w", sqlq.QuoteName(metaSchema), err)
	}
	q := "CREATE TABLE IF NOT EXISTS " + table + ` (
	id VARCHAR(32) NOT NULL,
	filename VARCHAR(255) NOT NULL,
	cp_schema VARCHAR(128) NOT NULL,
	cp_table VARCHAR(128) NOT NULL,
	` + "`offset`" + ` BIGINT NOT NULL,
	end_pos BIGINT NOT NULL,
	create_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	UNIQUE KEY uk_id_f (id, filename)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create checkpoint table %s: %w", table, err)
	}
	return nil
}

// querier is what checkpoint reads need: a *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// getCheckpoint reads one file's checkpoint; ok is false when there is none.
func (l *Loader) getCheckpoint(ctx context.Context, q querier, name string) (offset, endPos int64, ok bool, err error) {
	err = q.QueryRowContext(ctx, "SELECT `offset`, end_pos FROM "+l.cpTable+" WHERE id = ? AND filename = ?",
		l.cfg.Source, name).Scan(&offset, &endPos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	return offset, endPos, true, nil
}

// initCheckpoint records a file about to be loaded at offset 0.
func (l *Loader) initCheckpoint(ctx context.Context, q querier, j *job) error {
	_, err := q.ExecContext(ctx, "INSERT IGNORE INTO "+l.cpTable+
		" (id, filename, cp_schema, cp_table, `offset`, end_pos) VALUES (?, ?, ?, ?, 0, ?)",
		l.cfg.Source, j.name, j.info.Schema, j.info.Table, j.size)
	if err != nil {
		return fmt.Errorf("create checkpoint of %s: %w", j.name, err)
	}
	return nil
}

// advanceCheckpoint moves a file's checkpoint from one offset to the next, inside the
// transaction that applied the statements in between. The compare-and-set on the old
// offset fences off a second loader working on the same task and source.
func (l *Loader) advanceCheckpoint(ctx context.Context, tx *sql.Tx, name string, from, to int64) error {
	res, err := tx.ExecContext(ctx, "UPDATE "+l.cpTable+" SET `offset` = ? WHERE id = ? AND filename = ? AND `offset` = ?",
		to, l.cfg.Source, name, from)
	if err != nil {
		return fmt.Errorf("update checkpoint: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update checkpoint: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("checkpoint of %s is no longer at byte %d: another loader is loading task %q source %q into this target; stop it", name, from, l.cfg.Task, l.cfg.Source)
	}
	return nil
}

// completeCheckpoint records a schema file as applied.
func (l *Loader) completeCheckpoint(ctx context.Context, q querier, name string, info dumpfile.Name, size int64) error {
	_, err := q.ExecContext(ctx, "INSERT INTO "+l.cpTable+
		" (id, filename, cp_schema, cp_table, `offset`, end_pos) VALUES (?, ?, ?, ?, ?, ?)"+
		" ON DUPLICATE KEY UPDATE `offset` = ?, end_pos = ?",
		l.cfg.Source, name, info.Schema, info.Table, size, size, size, size)
	if err != nil {
		return fmt.Errorf("record checkpoint of %s: %w", name, err)
	}
	return nil
}

// createdPrefix marks checkpoint rows that record a target table this load created (as
// opposed to one that existed before the task): only those may be truncated on a redo.
const createdPrefix = "created-table:"

// markCreated records, before the CREATE TABLE runs, that the load is about to create
// schema.table — unless the table exists already, which makes it not this load's. It
// reports whether the table is about to be created.
func (l *Loader) markCreated(ctx context.Context, q querier, schema, table string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		schema, table).Scan(&n); err != nil {
		return false, fmt.Errorf("check whether %s exists: %w", sqlq.QuoteTable(schema, table), err)
	}
	if n > 0 {
		return false, nil
	}
	if err := l.mark(ctx, q, createdPrefix, schema, table); err != nil {
		return false, fmt.Errorf("record the creation of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	return true, nil
}

// mark writes the checkpoint row prefix+schema.table (a mark about a target table, not a
// file: offset and end 0).
func (l *Loader) mark(ctx context.Context, q querier, prefix, schema, table string) error {
	_, err := q.ExecContext(ctx, "INSERT IGNORE INTO "+l.cpTable+
		" (id, filename, cp_schema, cp_table, `offset`, end_pos) VALUES (?, ?, ?, ?, 0, 0)",
		l.cfg.Source, prefix+schema+"."+table, schema, table)
	return err
}

// fileRows restricts a checkpoint query to the rows of files, leaving out the marks about
// tables (createdPrefix, deferredPrefix; neither holds a LIKE wildcard or a quote).
const fileRows = " AND filename NOT LIKE '" + createdPrefix + "%' AND filename NOT LIKE '" + deferredPrefix + "%'"

// createdByLoad returns the target tables this source's load created.
func (l *Loader) createdByLoad(ctx context.Context) (map[[2]string]bool, error) {
	rows, err := l.db.QueryContext(ctx, "SELECT cp_schema, cp_table FROM "+l.cpTable+" WHERE id = ? AND filename LIKE ?",
		l.cfg.Source, createdPrefix+"%")
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loader: read checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]bool{}
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, fmt.Errorf("loader: read checkpoints: %w", err)
		}
		out[[2]string{s, t}] = true
	}
	return out, rows.Err()
}

// missingTable reports whether err says the checkpoint table (or its schema) is absent.
func missingTable(err error) bool {
	return isMySQLError(err, errNoSuchTable) || isMySQLError(err, errBadDB)
}

// Fresh reports whether nothing has been loaded yet for this task and source: no
// checkpoint row exists (a missing checkpoint table counts as none).
func (l *Loader) Fresh(ctx context.Context) (bool, error) {
	var one int
	err := l.db.QueryRowContext(ctx, "SELECT 1 FROM "+l.cpTable+" WHERE id = ?"+fileRows+" LIMIT 1", l.cfg.Source).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows), missingTable(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("loader: read checkpoints: %w", err)
	}
	return false, nil
}

// Done reports whether every schema and data file of Dir has been fully loaded: each has
// a checkpoint at its end, and the file still has the size recorded there, and no table
// still waits for its deferred indexes. An empty dump is done.
func (l *Loader) Done(ctx context.Context) (bool, error) {
	entries, err := scanDir(l.cfg.Dir)
	if err != nil {
		return false, fmt.Errorf("loader: %w", err)
	}
	rows, err := l.db.QueryContext(ctx, "SELECT filename, `offset`, end_pos FROM "+l.cpTable+" WHERE id = ?", l.cfg.Source)
	if missingTable(err) {
		return len(entries) == 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("loader: read checkpoints: %w", err)
	}
	defer rows.Close()
	complete := map[string]int64{} // file name → size, for fully loaded files
	for rows.Next() {
		var name string
		var offset, endPos int64
		if err := rows.Scan(&name, &offset, &endPos); err != nil {
			return false, fmt.Errorf("loader: read checkpoints: %w", err)
		}
		if strings.HasPrefix(name, deferredPrefix) {
			return false, nil // a table still lacks indexes the load deferred
		}
		if offset == endPos {
			complete[name] = endPos
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("loader: read checkpoints: %w", err)
	}
	for _, e := range entries {
		size, ok := complete[e.name]
		if !ok {
			return false, nil
		}
		fi, err := os.Stat(filepath.Join(l.cfg.Dir, e.name))
		if err != nil {
			return false, fmt.Errorf("loader: %w", err)
		}
		if fi.Size() != size {
			return false, nil
		}
	}
	return true, nil
}

// ResetForRedo forgets this source's load so that the next load starts over: it deletes
// its file checkpoints and truncates those of the given target tables ([schema, table]
// pairs; missing ones are skipped) that this load created. A table that existed before
// the load is never truncated — its rows are not the task's to remove; the redone load
// replaces the rows it wrote there by key (on_duplicate). Used when a dump is redone
// after a crash. Not to be called while Run is running.
func (l *Loader) ResetForRedo(ctx context.Context, truncate [][2]string) error {
	created, err := l.createdByLoad(ctx)
	if err != nil {
		return err
	}
	if err := l.fence(ctx, l.db); err != nil {
		return err
	}
	// The marks of tables created without their plain indexes stay: the redone load adds
	// them when it is done (deferindex.go).
	if _, err := l.db.ExecContext(ctx, "DELETE FROM "+l.cpTable+" WHERE id = ?"+fileRows, l.cfg.Source); err != nil && !missingTable(err) {
		return fmt.Errorf("loader: delete checkpoints: %w", err)
	}
	for _, t := range truncate {
		if !created[t] {
			l.log.Warn("redoing the load over a table that existed before the task: not truncating it; "+
				"rows the interrupted load wrote are replaced by key", "schema", t[0], "table", t[1])
			continue
		}
		name := sqlq.QuoteTable(t[0], t[1])
		if err := l.fence(ctx, l.db); err != nil {
			return err
		}
		if _, err := l.db.ExecContext(ctx, "TRUNCATE TABLE "+name); err != nil && !missingTable(err) {
			return fmt.Errorf("loader: truncate %s: %w", name, err)
		}
	}
	l.ddlMu.Lock()
	clear(l.createdDBs)
	clear(l.createdTables)
	clear(l.deferred)
	l.ddlMu.Unlock()
	l.progMu.Lock()
	clear(l.files)
	l.total.Store(0)
	l.finished.Store(0)
	l.progMu.Unlock()
	l.log.Info("load reset", "truncated_tables", len(truncate))
	return nil
}

// DropCheckpoints drops the task's loader checkpoint table (all sources), as DM does on
// remove-meta and task deletion. A missing table is not an error.
func DropCheckpoints(ctx context.Context, db *sql.DB, metaSchema, task string) error {
	if metaSchema == "" {
		metaSchema = DefaultMetaSchema
	}
	name := sqlq.QuoteTable(metaSchema, CheckpointTableName(task))
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
		return fmt.Errorf("drop loader checkpoints %s: %w", name, err)
	}
	return nil
}
