package dumper

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/explain"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// schemaInfo is one database to dump and its selected base tables.
type schemaInfo struct {
	name   string
	tables []*tableInfo
}

// tableInfo is one base table to dump. The planner fills cols, key and insertHeader.
type tableInfo struct {
	schema, name string
	listedRows   int64 // information_schema.TABLES.TABLE_ROWS at listing time

	cols         []column
	insertHeader []byte // "INSERT INTO `t` (`a`,`b`) VALUES\n"
	selectList   string
	remaining    atomic.Int64 // chunks not yet exported
}

// chunk is one unit of work: a key range of a table (or the whole table).
type chunk struct {
	table *tableInfo
	index int
	query string
}

// listTables returns the databases and base tables selected by match, sorted by name.
// A database is included when at least one of its tables is, or when it has no base
// table at all and match(db, "") holds (an empty database the task still wants).
func listTables(ctx context.Context, q queryer, match func(schema, table string) bool) ([]*schemaInfo, error) {
	rows, err := q.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	var schemas []*schemaInfo
	byName := map[string]*schemaInfo{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list databases: %w", err)
		}
		if filter.IsSystemSchema(name) {
			continue
		}
		s := &schemaInfo{name: name}
		schemas = append(schemas, s)
		byName[name] = s
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}

	rows, err = q.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0) "+
		"FROM information_schema.TABLES ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	hasTables := map[string]bool{}
	for rows.Next() {
		var schema, name, typ string
		var n int64
		if err := rows.Scan(&schema, &name, &typ, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		s := byName[schema]
		if s == nil || typ != "BASE TABLE" {
			continue // system schema, view, sequence, system-versioned table
		}
		hasTables[schema] = true
		if match(schema, name) {
			s.tables = append(s.tables, &tableInfo{schema: schema, name: name, listedRows: n})
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return slices.DeleteFunc(schemas, func(s *schemaInfo) bool {
		if len(s.tables) > 0 {
			return false
		}
		return hasTables[s.name] || !match(s.name, "")
	}), nil
}

var charsetName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// generatedExtra matches information_schema.COLUMNS.EXTRA of a generated column
// ("VIRTUAL GENERATED", "STORED GENERATED", MariaDB's older "PERSISTENT") but not
// MySQL's "DEFAULT_GENERATED" (an expression default, which is a stored column).
var generatedExtra = regexp.MustCompile(`(?i)\b(VIRTUAL|STORED|PERSISTENT)\b`)

// loadColumns fills t.cols, t.selectList and t.insertHeader from information_schema.
func loadColumns(ctx context.Context, q queryer, t *tableInfo) error {
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), EXTRA "+
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
		t.schema, t.name)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
	}
	t.cols = t.cols[:0]
	for rows.Next() {
		var name, dataType, charset, extra string
		if err := rows.Scan(&name, &dataType, &charset, &extra); err != nil {
			rows.Close()
			return fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
		}
		if generatedExtra.MatchString(extra) {
			continue
		}
		c := column{name: name, kind: classify(dataType, charset), charset: charset, selectExpr: sqlq.QuoteName(name)}
		if c.kind == kindCharsetHex && !charsetName.MatchString(charset) {
			c.kind = kindHex
		}
		if strings.EqualFold(dataType, "float") {
			// Times 1E0 makes it a DOUBLE holding the exact float value, which the server
			// prints in full (CAST AS DOUBLE is missing before MySQL 8.0.17).
			c.selectExpr += "*1E0"
		}
		t.cols = append(t.cols, c)
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("columns of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
	}
	if len(t.cols) == 0 {
		return fmt.Errorf("table %s has no columns to dump (dropped while dumping?)", sqlq.QuoteTable(t.schema, t.name))
	}
	var sel, hdr strings.Builder
	hdr.WriteString("INSERT INTO ")
	hdr.WriteString(sqlq.QuoteName(t.name))
	hdr.WriteString(" (")
	for i, c := range t.cols {
		if i > 0 {
			sel.WriteByte(',')
			hdr.WriteByte(',')
		}
		sel.WriteString(c.selectExpr)
		hdr.WriteString(sqlq.QuoteName(c.name))
	}
	hdr.WriteString(") VALUES\n")
	t.selectList = sel.String()
	t.insertHeader = []byte(hdr.String())
	return nil
}

// splitKey is the integer column a table is split on, and its index.
type splitKey struct {
	column string
	index  string
}

var integerTypes = []string{"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}

// findSplitKey returns the table's single-column integer primary key, else a
// single-column integer unique key on a NOT NULL column; ok is false when it has neither.
func findSplitKey(ctx context.Context, q queryer, t *tableInfo) (key splitKey, ok bool, err error) {
	rows, err := q.QueryContext(ctx, "SELECT s.INDEX_NAME, s.COLUMN_NAME, c.DATA_TYPE, c.IS_NULLABLE, "+
		"(SELECT COUNT(*) FROM information_schema.STATISTICS s2 WHERE s2.TABLE_SCHEMA = s.TABLE_SCHEMA "+
		"AND s2.TABLE_NAME = s.TABLE_NAME AND s2.INDEX_NAME = s.INDEX_NAME) "+
		"FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c "+
		"ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "+
		"WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0 AND s.SEQ_IN_INDEX = 1 "+
		"ORDER BY s.INDEX_NAME <> 'PRIMARY', s.INDEX_NAME", t.schema, t.name)
	if err != nil {
		return key, false, fmt.Errorf("keys of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
	}
	defer rows.Close()
	for rows.Next() {
		var index, col, dataType, nullable string
		var parts int
		if err := rows.Scan(&index, &col, &dataType, &nullable, &parts); err != nil {
			return key, false, fmt.Errorf("keys of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
		}
		if parts != 1 || nullable == "YES" || !slices.Contains(integerTypes, strings.ToLower(dataType)) {
			continue
		}
		return splitKey{column: col, index: index}, true, nil
	}
	return key, false, closeRows(rows)
}

// estimateRows asks EXPLAIN how many rows a full scan reads.
func estimateRows(ctx context.Context, q queryer, t *tableInfo) (int64, error) {
	return explain.Rows(ctx, q, sqlq.QuoteTable(t.schema, t.name))
}

// minMax reads the key's bounds; ok is false for an empty table.
func minMax(ctx context.Context, q queryer, t *tableInfo, key splitKey) (lo, hi *big.Int, ok bool, err error) {
	col := sqlq.QuoteName(key.column)
	var minS, maxS sql.NullString
	err = q.QueryRowContext(ctx, "SELECT MIN("+col+"), MAX("+col+") FROM "+sqlq.QuoteTable(t.schema, t.name)).Scan(&minS, &maxS)
	if err != nil {
		return nil, nil, false, fmt.Errorf("key range of %s: %w", sqlq.QuoteTable(t.schema, t.name), err)
	}
	if !minS.Valid || !maxS.Valid {
		return nil, nil, false, nil
	}
	lo, ok1 := new(big.Int).SetString(minS.String, 10)
	hi, ok2 := new(big.Int).SetString(maxS.String, 10)
	if !ok1 || !ok2 {
		return nil, nil, false, fmt.Errorf("key range of %s: non-integer bounds %q, %q", sqlq.QuoteTable(t.schema, t.name), minS.String, maxS.String)
	}
	return lo, hi, true, nil
}

// splitRange cuts [lo, hi] into up to n ranges of equal width and returns the n-1 inner
// boundaries b1 < b2 < …: chunk 0 is key < b1, chunk i is bi <= key < bi+1 and the last
// is key >= b(n-1), so the chunks cover every value even if the bounds were stale.
func splitRange(lo, hi *big.Int, n int64) []*big.Int {
	span := new(big.Int).Sub(hi, lo)
	span.Add(span, big.NewInt(1))
	if span.Cmp(big.NewInt(n)) < 0 {
		n = span.Int64()
	}
	if n <= 1 {
		return nil
	}
	width := new(big.Int).Div(span, big.NewInt(n))
	bounds := make([]*big.Int, 0, n-1)
	for i := int64(1); i < n; i++ {
		b := new(big.Int).Mul(width, big.NewInt(i))
		bounds = append(bounds, b.Add(b, lo))
	}
	return bounds
}

// chunkQueries builds the SELECT of every chunk of t: one per range, or a single
// unfiltered one when bounds is empty.
func chunkQueries(t *tableInfo, key splitKey, bounds []*big.Int) []string {
	base := "SELECT " + t.selectList + " FROM " + sqlq.QuoteTable(t.schema, t.name)
	if len(bounds) == 0 {
		return []string{base}
	}
	base += " FORCE INDEX (" + sqlq.QuoteName(key.index) + ") WHERE "
	col := sqlq.QuoteName(key.column)
	out := make([]string, 0, len(bounds)+1)
	out = append(out, base+col+" < "+bounds[0].String())
	for i := 1; i < len(bounds); i++ {
		out = append(out, base+col+" >= "+bounds[i-1].String()+" AND "+col+" < "+bounds[i].String())
	}
	return append(out, base+col+" >= "+bounds[len(bounds)-1].String())
}

// queryer is what the planning queries need from a connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// closeRows closes rows and returns the iteration error, if any.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
