package precheck

// The binlog queries of the checks, kept together so that a shared implementation can
// replace them.

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// binlogStatus runs SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+) and returns
// its first row by column name; the map is empty when binary logging is off.
func binlogStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		var err2 error
		if rows, err2 = db.QueryContext(ctx, "SHOW BINARY LOG STATUS"); err2 != nil {
			return nil, fmt.Errorf("read binlog status: %w", err)
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("read binlog status: %w", err)
	}
	out := map[string]string{}
	if rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil {
			return nil, fmt.Errorf("read binlog status: %w", err)
		}
		for i, c := range cols {
			out[strings.ToLower(c)] = vals[i].String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read binlog status: %w", err)
	}
	return out, nil
}

// binlogFilters returns the server's binlog_do_db and binlog_ignore_db lists.
func binlogFilters(ctx context.Context, db *sql.DB) (doDB, ignoreDB string, err error) {
	st, err := binlogStatus(ctx, db)
	if err != nil {
		return "", "", err
	}
	return st["binlog_do_db"], st["binlog_ignore_db"], nil
}

// binaryLogs runs SHOW BINARY LOGS: the files in order and each one's size.
func binaryLogs(ctx context.Context, db *sql.DB) (names []string, sizes map[string]int64, err error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, nil, fmt.Errorf("list binary logs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, fmt.Errorf("list binary logs: %w", err)
	}
	sizes = map[string]int64{}
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil {
			return nil, nil, fmt.Errorf("list binary logs: %w", err)
		}
		size, _ := strconv.ParseInt(vals[min(1, len(vals)-1)].String, 10, 64)
		sizes[vals[0].String] = size
		names = append(names, vals[0].String)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list binary logs: %w", err)
	}
	return names, sizes, nil
}

// scanStrings scans the current row's n columns as nullable strings.
func scanStrings(rows *sql.Rows, n int) ([]sql.NullString, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}
