package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// CompareTables checks that two tables hold the same rows: the same column
// names (in any order), equal row counts, then equal CHECKSUM TABLE values.
// CHECKSUM TABLE also depends on the table definition (row format, column
// types), so when it differs the tables are compared again by an
// order-independent checksum of their content. The error describes the
// mismatch.
func CompareTables(ctx context.Context, src *sql.DB, srcSchema, srcTable string, dst *sql.DB, dstSchema, dstTable string) error {
	srcName, dstName := sqlq.QuoteTable(srcSchema, srcTable), sqlq.QuoteTable(dstSchema, dstTable)
	srcCols, err := columns(ctx, src, srcSchema, srcTable)
	if err != nil {
		return fmt.Errorf("source %s: %w", srcName, err)
	}
	dstCols, err := columns(ctx, dst, dstSchema, dstTable)
	if err != nil {
		return fmt.Errorf("target %s: %w", dstName, err)
	}
	if !slices.Equal(normalized(srcCols), normalized(dstCols)) {
		return fmt.Errorf("source %s has columns %q, target %s has %q", srcName, srcCols, dstName, dstCols)
	}
	srcCount, err := rowCount(ctx, src, srcName)
	if err != nil {
		return fmt.Errorf("source %s: %w", srcName, err)
	}
	dstCount, err := rowCount(ctx, dst, dstName)
	if err != nil {
		return fmt.Errorf("target %s: %w", dstName, err)
	}
	if srcCount != dstCount {
		return fmt.Errorf("source %s has %d rows, target %s has %d", srcName, srcCount, dstName, dstCount)
	}
	srcSum, err := checksumTable(ctx, src, srcName)
	if err != nil {
		return fmt.Errorf("source %s: %w", srcName, err)
	}
	dstSum, err := checksumTable(ctx, dst, dstName)
	if err != nil {
		return fmt.Errorf("target %s: %w", dstName, err)
	}
	if srcSum.Valid && dstSum.Valid && srcSum.Int64 == dstSum.Int64 {
		return nil
	}

	srcContent, err := contentChecksum(ctx, src, srcName, srcCols)
	if err != nil {
		return fmt.Errorf("source %s: %w", srcName, err)
	}
	dstContent, err := contentChecksum(ctx, dst, dstName, srcCols)
	if err != nil {
		return fmt.Errorf("target %s: %w", dstName, err)
	}
	if srcContent != dstContent {
		return fmt.Errorf("source %s and target %s both have %d rows but different content (content checksum %s vs %s, CHECKSUM TABLE %v vs %v)",
			srcName, dstName, srcCount, srcContent, dstContent, nullString(srcSum), nullString(dstSum))
	}
	return nil
}

// CompareSchemas checks that two schemas have the same base tables (by
// name) and that each pair holds the same rows, reporting every mismatch.
func CompareSchemas(ctx context.Context, src *sql.DB, srcSchema string, dst *sql.DB, dstSchema string) error {
	srcTables, err := baseTables(ctx, src, srcSchema)
	if err != nil {
		return fmt.Errorf("source schema %s: %w", sqlq.QuoteName(srcSchema), err)
	}
	dstTables, err := baseTables(ctx, dst, dstSchema)
	if err != nil {
		return fmt.Errorf("target schema %s: %w", sqlq.QuoteName(dstSchema), err)
	}
	var errs []error
	for _, t := range srcTables {
		if !slices.Contains(dstTables, t) {
			errs = append(errs, fmt.Errorf("table %s is missing from target schema %s", sqlq.QuoteName(t), sqlq.QuoteName(dstSchema)))
			continue
		}
		if err := CompareTables(ctx, src, srcSchema, t, dst, dstSchema, t); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range dstTables {
		if !slices.Contains(srcTables, t) {
			errs = append(errs, fmt.Errorf("target schema %s has table %s that the source lacks", sqlq.QuoteName(dstSchema), sqlq.QuoteName(t)))
		}
	}
	return errors.Join(errs...)
}

func rowCount(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return n, nil
}

// checksumTable returns CHECKSUM TABLE's value, NULL if the table is gone.
func checksumTable(ctx context.Context, db *sql.DB, table string) (sql.NullInt64, error) {
	var name string
	var sum sql.NullInt64
	if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		return sum, fmt.Errorf("CHECKSUM TABLE: %w", err)
	}
	return sum, nil
}

// columns lists a table's columns in ordinal order.
func columns(ctx context.Context, db *sql.DB, schema, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx,
		"SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
		schema, table)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	cols, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	if len(cols) == 0 {
		return nil, errors.New("table has no columns or does not exist")
	}
	return cols, nil
}

// contentChecksum hashes every row (its columns as bytes plus a NULL mask,
// so NULL and the empty string differ) and combines the hashes order-independently: the
// XOR of 64-bit MD5 prefixes and the sum of CRC32s, which also catches
// duplicated rows that XOR alone would cancel.
func contentChecksum(ctx context.Context, db *sql.DB, table string, cols []string) (string, error) {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, "CAST("+sqlq.QuoteName(c)+" AS BINARY)")
	}
	for _, c := range cols {
		parts = append(parts, "ISNULL("+sqlq.QuoteName(c)+")")
	}
	row := "CONCAT_WS('#', " + strings.Join(parts, ", ") + ")"
	q := "SELECT COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(" + row + "), 16), 16, 10) AS UNSIGNED)), 0), " +
		"COALESCE(SUM(CRC32(" + row + ")), 0) FROM " + table
	var xor, sum string
	if err := db.QueryRowContext(ctx, q).Scan(&xor, &sum); err != nil {
		return "", fmt.Errorf("content checksum: %w", err)
	}
	return xor + "/" + sum, nil
}

// baseTables lists the base tables (no views) of schema, sorted.
func baseTables(ctx context.Context, db *sql.DB, schema string) ([]string, error) {
	rows, err := db.QueryContext(ctx,
		"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
		schema)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// normalized lower-cases and sorts column names, which MySQL compares
// case-insensitively.
func normalized(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = strings.ToLower(c)
	}
	slices.Sort(out)
	return out
}

func nullString(n sql.NullInt64) string {
	if !n.Valid {
		return "NULL"
	}
	return fmt.Sprint(n.Int64)
}

// WaitEqual polls CompareTables until the tables are equal, and returns the last
// difference if they are not within timeout: replication tests wait for the target to
// catch up this way.
func WaitEqual(ctx context.Context, src *sql.DB, srcSchema, srcTable string, dst *sql.DB, dstSchema, dstTable string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := CompareTables(ctx, src, srcSchema, srcTable, dst, dstSchema, dstTable)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// QueryStrings runs a query of one string column on db and returns its values sorted,
// failing t on error.
func QueryStrings(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out, err := scanStrings(rows)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	slices.Sort(out)
	return out
}
