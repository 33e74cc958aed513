package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// shardReplayColumns leaves out of a merged table's row statements the columns its target
// no longer has, while the run replays in safe mode (a restart window or a shard re-sync).
// A restart after a shard lock resolved replays from before the lock's first DDL, so rows
// of shards written before a DROP COLUMN come again after the target dropped the column;
// written without it they land as they did the first time. Outside the replay, or for
// tables that merge nothing, a missing column stays an error.
func (r *run) shardReplayColumns(ctx context.Context, ti *tableInfo) error {
	if r.cfg.Shard == nil || r.safeUntil == nil || !r.cfg.Shared(ti.srcSchema, ti.srcTable) {
		return nil
	}
	rows, err := r.target.QueryContext(ctx, "SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		ti.tgtSchema, ti.tgtTable)
	if err != nil {
		return fmt.Errorf("read the columns of %s on the target: %w", ti.target, err)
	}
	have, err := scanColumnNames(rows)
	if err != nil {
		return fmt.Errorf("read the columns of %s on the target: %w", ti.target, err)
	}
	if len(have) == 0 {
		return nil // no such table: the statement's own error says so
	}
	for _, i := range ti.handle {
		if !have[strings.ToLower(ti.cols[i].name)] {
			return nil // the rows cannot be matched without their key: leave the error
		}
	}
	var keep []int
	var ins, gone []string
	for _, i := range ti.writable {
		if have[strings.ToLower(ti.cols[i].name)] {
			keep = append(keep, i)
			ins = append(ins, ti.cols[i].quoted)
		} else {
			gone = append(gone, ti.cols[i].name)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	ti.writable = keep
	ti.insertCols = "(" + strings.Join(ins, ",") + ")"
	r.log.Warn("replaying rows of a merged table from before a column left its target: writing them without it",
		"table", sqlq.QuoteTable(ti.srcSchema, ti.srcTable), "target", ti.target, "columns", gone)
	return nil
}

func scanColumnNames(rows *sql.Rows) (map[string]bool, error) {
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	return have, rows.Err()
}
