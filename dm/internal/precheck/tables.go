package precheck

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// table names one table.
type table struct{ Schema, Name string }

// String quotes the table as `schema`.`name`, the way DM prints tables.
func (t table) String() string { return sqlq.QuoteTable(t.Schema, t.Name) }

func compareTables(a, b table) int {
	return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
}

// column is one column as information_schema describes it.
type column struct {
	Name      string // as defined
	Type      string // COLUMN_TYPE, e.g. int(11) unsigned
	DataType  string // DATA_TYPE, e.g. int
	Ignorable bool   // an INSERT may omit it: nullable, defaulted, auto-increment or generated
	AutoInc   bool
}

// tableMeta is what the table checks need to know about one table.
type tableMeta struct {
	Columns   []column
	Keys      map[string][]string // unique index name ("PRIMARY" for the PK) -> lower-cased columns
	Collation string
}

// listTables finds the base tables of the source that the rules migrate and routes them.
func (s *source) listTables(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	s.targets = map[table]table{}
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		if kind, real := s.OnlineDDL.Classify(t.Name); kind != filter.RealTable {
			if kind == filter.GhostTable && s.migrates(table{t.Schema, real}) {
				s.ghosts = append(s.ghosts, t)
			}
			continue
		}
		if !s.migrates(t) {
			continue
		}
		target, err := s.route(t)
		if err != nil {
			return err
		}
		s.tables = append(s.tables, t)
		s.targets[t] = target
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	slices.SortFunc(s.tables, compareTables)
	slices.SortFunc(s.ghosts, compareTables)
	return nil
}

// migrates applies the block-allow list (system schemas are never migrated).
func (s *source) migrates(t table) bool {
	if s.Match == nil {
		return !filter.IsSystemSchema(t.Schema)
	}
	return s.Match(t.Schema, t.Name)
}

// route applies the table routes.
func (s *source) route(t table) (table, error) {
	if s.Route == nil {
		return t, nil
	}
	ts, tt, err := s.Route(t.Schema, t.Name)
	if err != nil {
		return table{}, fmt.Errorf("route %s: %w", t, err)
	}
	return table{Schema: ts, Name: tt}, nil
}

// schemasOf returns the distinct schemas of tables, sorted.
func schemasOf(tables []table) []string {
	var out []string
	for _, t := range tables {
		out = append(out, t.Schema)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// inList returns "?, ?, ..." for n placeholders and the values as arguments.
func inList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", "), args
}

// metaQuery runs one information_schema query over a set of schemas and scans every row.
type metaQuery struct {
	ctx  context.Context
	db   *sql.DB
	in   string // the IN list of placeholders
	args []any
}

func (q metaQuery) each(what, query string, scan func(rows *sql.Rows) error) error {
	rows, err := q.db.QueryContext(q.ctx, query, q.args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

// fetchTableMeta reads the columns, unique keys and collation of tables from
// information_schema, with one query of each kind per call.
func fetchTableMeta(ctx context.Context, db *sql.DB, tables []table) (map[table]*tableMeta, error) {
	meta := make(map[table]*tableMeta, len(tables))
	for _, t := range tables {
		meta[t] = &tableMeta{Keys: map[string][]string{}}
	}
	schemas := schemasOf(tables)
	if len(schemas) == 0 {
		return meta, nil
	}
	in, args := inList(schemas)
	q := metaQuery{ctx: ctx, db: db, in: in, args: args}
	for _, read := range []func(metaQuery, map[table]*tableMeta) error{readColumns, readUniqueKeys, readCollations} {
		if err := read(q, meta); err != nil {
			return nil, err
		}
	}
	return meta, nil
}

func readColumns(q metaQuery, meta map[table]*tableMeta) error {
	return q.each("columns", `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE,
		IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA IN (`+q.in+`) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
		func(rows *sql.Rows) error {
			var (
				t               table
				c               column
				nullable, extra string
				def             sql.NullString
			)
			if err := rows.Scan(&t.Schema, &t.Name, &c.Name, &c.Type, &c.DataType, &nullable, &def, &extra); err != nil {
				return err
			}
			m, ok := meta[t]
			if !ok {
				return nil
			}
			extra = strings.ToLower(extra)
			c.Type = strings.ToLower(c.Type)
			c.DataType = strings.ToLower(c.DataType)
			c.AutoInc = strings.Contains(extra, "auto_increment")
			generated := strings.Contains(extra, "generated") || strings.Contains(extra, "virtual") ||
				strings.Contains(extra, "persistent") || strings.Contains(extra, "stored")
			c.Ignorable = nullable == "YES" || def.Valid || c.AutoInc || generated
			m.Columns = append(m.Columns, c)
			return nil
		})
}

func readUniqueKeys(q metaQuery, meta map[table]*tableMeta) error {
	return q.each("unique keys", `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME
		FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA IN (`+q.in+`)
		ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
		func(rows *sql.Rows) error {
			var (
				t     table
				index string
				col   sql.NullString // NULL for functional key parts
			)
			if err := rows.Scan(&t.Schema, &t.Name, &index, &col); err != nil {
				return err
			}
			if m, ok := meta[t]; ok {
				m.Keys[index] = append(m.Keys[index], strings.ToLower(col.String))
			}
			return nil
		})
}

func readCollations(q metaQuery, meta map[table]*tableMeta) error {
	return q.each("table collations", `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION
		FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (`+q.in+`)`,
		func(rows *sql.Rows) error {
			var (
				t         table
				collation sql.NullString
			)
			if err := rows.Scan(&t.Schema, &t.Name, &collation); err != nil {
				return err
			}
			if m, ok := meta[t]; ok {
				m.Collation = strings.ToLower(collation.String)
			}
			return nil
		})
}
