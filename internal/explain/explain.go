// Package explain reads the optimizer's row estimate for a table scan, which the dumper
// and the verifier both use to size their chunks.
package explain

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Rows asks EXPLAIN how many rows a full scan of table (already quoted, `schema`.`table`)
// reads: the largest "rows" value of the plan, 0 when the server gives none.
func Rows(ctx context.Context, q Querier, table string) (int64, error) {
	rows, err := q.QueryContext(ctx, "EXPLAIN SELECT * FROM "+table)
	if err != nil {
		return 0, fmt.Errorf("estimate rows of %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, fmt.Errorf("estimate rows of %s: %w", table, err)
	}
	at := slices.IndexFunc(cols, func(c string) bool { return strings.EqualFold(c, "rows") })
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, fmt.Errorf("estimate rows of %s: %w", table, err)
		}
		if at >= 0 && vals[at].Valid {
			if v, err := strconv.ParseInt(vals[at].String, 10, 64); err == nil && v > n {
				n = v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("estimate rows of %s: %w", table, err)
	}
	return n, nil
}
