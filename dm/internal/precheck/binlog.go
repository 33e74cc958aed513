package precheck

// The binlog queries of the checks, through the one shared implementation.

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dmkit/dmkit/internal/binlogpos"
)

// binlogFilters returns the server's binlog_do_db and binlog_ignore_db lists.
func binlogFilters(ctx context.Context, db *sql.DB) (doDB, ignoreDB string, err error) {
	st, err := binlogpos.ReadStatus(ctx, db)
	if err != nil {
		return "", "", fmt.Errorf("read binlog status: %w", err)
	}
	return st.DoDB, st.IgnoreDB, nil
}

// binaryLogs runs SHOW BINARY LOGS: the files in order and each one's size.
func binaryLogs(ctx context.Context, db *sql.DB) (names []string, sizes map[string]int64, err error) {
	files, err := binlogpos.BinaryLogs(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("list binary logs: %w", err)
	}
	sizes = make(map[string]int64, len(files))
	for _, f := range files {
		names = append(names, f.Name)
		sizes[f.Name] = f.Size
	}
	return names, sizes, nil
}
