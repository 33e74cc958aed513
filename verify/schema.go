package verify

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// column is one compared column as one side defines it.
type column struct {
	name     string
	dataType string // information_schema DATA_TYPE, lower case
	charset  string // CHARACTER_SET_NAME; empty for non-text types
}

// side is one table on one server, with its columns in source column order.
type side struct {
	db    *sql.DB   // metadata and estimates
	snap  *Snapshot // rows, when comparing at a point; nil reads db live
	table string    // quoted `schema`.`table`
	cols  []column
}

// generatedExtra matches information_schema.COLUMNS.EXTRA of a generated column (as the
// dumper does); generated values are derived, so they are not compared.
var generatedExtra = regexp.MustCompile(`(?i)\b(VIRTUAL|STORED|PERSISTENT)\b`)

var integerTypes = []string{"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}

// loadColumns lists the non-generated columns of schema.table in ordinal order.
func loadColumns(ctx context.Context, db *sql.DB, schema, table string) ([]column, error) {
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), EXTRA "+
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
		schema, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		var extra string
		if err := rows.Scan(&c.name, &c.dataType, &c.charset, &extra); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(schema, table), err)
		}
		if generatedExtra.MatchString(extra) {
			continue
		}
		c.dataType = strings.ToLower(c.dataType)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s does not exist or has no stored columns; check the schema and table names", sqlq.QuoteTable(schema, table))
	}
	return cols, nil
}

// matchColumns returns the target's columns in source order, matched by name
// case-insensitively, as MySQL compares column names. Target-only columns are ignored.
func matchColumns(srcCols, dstCols []column, dstName string) ([]column, error) {
	out := make([]column, 0, len(srcCols))
	var missing []string
	for _, sc := range srcCols {
		i := slices.IndexFunc(dstCols, func(dc column) bool { return strings.EqualFold(dc.name, sc.name) })
		if i < 0 {
			missing = append(missing, sc.name)
			continue
		}
		out = append(out, dstCols[i])
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("target %s lacks the source column(s) %q; add them to the target (or verify against the right table)", dstName, missing)
	}
	return out, nil
}

// tableKey is how a table's rows are identified.
type tableKey struct {
	cols    []int // indexes into the compared columns; nil when the table has no usable key
	integer bool  // a single integer column: the table can be split into key ranges
}

// findKey picks, from the source's primary and NOT NULL unique keys, the first
// single-column integer one (PRIMARY first), else the first usable one of any shape.
// A key on a column that is not compared (generated) is not usable.
func findKey(ctx context.Context, db *sql.DB, schema, table string, cols []column) (tableKey, error) {
	rows, err := db.QueryContext(ctx, "SELECT INDEX_NAME, COLUMN_NAME, NULLABLE FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 "+
		"ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX", schema, table)
	if err != nil {
		return tableKey{}, fmt.Errorf("keys of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	defer rows.Close()
	type index struct {
		name   string
		cols   []int
		usable bool
	}
	var indexes []*index
	for rows.Next() {
		var name, col, nullable string
		if err := rows.Scan(&name, &col, &nullable); err != nil {
			return tableKey{}, fmt.Errorf("keys of %s: %w", sqlq.QuoteTable(schema, table), err)
		}
		if len(indexes) == 0 || indexes[len(indexes)-1].name != name {
			indexes = append(indexes, &index{name: name, usable: true})
		}
		ix := indexes[len(indexes)-1]
		at := slices.IndexFunc(cols, func(c column) bool { return strings.EqualFold(c.name, col) })
		if at < 0 || nullable == "YES" {
			ix.usable = false
			continue
		}
		ix.cols = append(ix.cols, at)
	}
	if err := rows.Err(); err != nil {
		return tableKey{}, fmt.Errorf("keys of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	var first *index
	for _, ix := range indexes {
		if !ix.usable || len(ix.cols) == 0 {
			continue
		}
		if len(ix.cols) == 1 && slices.Contains(integerTypes, cols[ix.cols[0]].dataType) {
			return tableKey{cols: ix.cols, integer: true}, nil
		}
		if first == nil {
			first = ix
		}
	}
	if first == nil {
		return tableKey{}, nil
	}
	return tableKey{cols: first.cols}, nil
}

// queryRow runs a one-row query over the side's rows (its snapshot, if any) and scans it.
func (s *side) queryRow(ctx context.Context, q string, dest ...any) error {
	if s.snap == nil {
		return s.db.QueryRowContext(ctx, q).Scan(dest...)
	}
	c, err := s.snap.get(ctx)
	if err != nil {
		return err
	}
	defer s.snap.put(c)
	return c.QueryRowContext(ctx, q).Scan(dest...)
}

// query runs q over the side's rows (its snapshot, if any); release must be called
// after rows are closed.
func (s *side) query(ctx context.Context, q string) (rows *sql.Rows, release func(), err error) {
	if s.snap == nil {
		rows, err = s.db.QueryContext(ctx, q)
		return rows, func() {}, err
	}
	c, err := s.snap.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	if rows, err = c.QueryContext(ctx, q); err != nil {
		s.snap.put(c)
		return nil, nil, err
	}
	return rows, func() { s.snap.put(c) }, nil
}
