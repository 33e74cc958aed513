package tracker

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Column is one column of a tracked table.
type Column struct {
	Name string
	// Type is the parser's field type: GetType() (mysql.TypeXxx), GetFlen(),
	// GetDecimal(), GetFlag() (unsigned, zerofill, not null, auto increment,
	// primary key), GetCharset(), GetCollate() and GetElems() (enum/set). The
	// charset and collation of string, enum and set columns are resolved
	// from the column, table and schema defaults; empty means the server
	// default, which the tracker cannot know. A string column is binary iff
	// its charset is "binary" (see IsBinary). DECIMAL without precision is
	// normalised to DECIMAL(10,0).
	Type     *types.FieldType
	Nullable bool
	// Generated marks a virtual or stored generated column: its value is
	// computed by the server, so DML never writes it.
	Generated bool
	// Default is the DEFAULT clause as SQL text, exactly as it follows the
	// DEFAULT keyword ('abc', -1, CURRENT_TIMESTAMP(3), (RAND())); nil when
	// the column has no default or DEFAULT NULL.
	Default       *string
	AutoIncrement bool

	// GeneratedExpr is the generation expression (SQL text, without the
	// enclosing parentheses) of a generated column.
	GeneratedExpr string `json:",omitempty"`
	// Stored distinguishes STORED from VIRTUAL generated columns.
	Stored bool `json:",omitempty"`
	// OnUpdate is the ON UPDATE clause as SQL text (CURRENT_TIMESTAMP()),
	// empty when absent.
	OnUpdate string `json:",omitempty"`
	// Comment is the column comment.
	Comment string `json:",omitempty"`
}

// IsBinary reports whether a string, enum or set column holds binary
// strings (BINARY, VARBINARY, BLOB or the binary charset), so its values
// must be written as bytes rather than text.
func (c *Column) IsBinary() bool {
	return c.Type.GetCharset() == charset.CharsetBin
}

// IndexKind distinguishes the index types that change how an index can be
// used; ordinary B-tree/hash keys (including PRIMARY and UNIQUE) are
// IndexKey.
type IndexKind uint8

// Index kinds.
const (
	IndexKey IndexKind = iota
	IndexFulltext
	IndexSpatial
)

// Index is a key of a tracked table.
type Index struct {
	Name string
	// Columns are offsets into Table.Columns, in key-part order.
	Columns []int
	Primary bool
	Unique  bool

	// Kind is IndexFulltext or IndexSpatial for those index types.
	Kind IndexKind `json:",omitempty"`
	// Lengths holds the prefix length of each column part (0 = whole
	// column); nil when no part has a prefix.
	Lengths []int `json:",omitempty"`
	// Exprs are the expression key parts (MySQL 8 functional indexes) as
	// SQL text. They are rendered after the column parts, and an index with
	// expression parts is never used to identify rows.
	Exprs []string `json:",omitempty"`
}

// partial reports whether some column part is a prefix.
func (ix *Index) partial() bool {
	return slices.ContainsFunc(ix.Lengths, func(n int) bool { return n > 0 })
}

// Table is a tracked table's current shape.
//
// A *Table handed out by a Tracker is an immutable snapshot: the tracker
// never changes it after publishing it (every DDL builds a new value), so
// readers may keep and share it without locks. Clone it to modify it.
type Table struct {
	Schema, Name string
	Columns      []Column
	// Indexes are kept in the server's key order: primary key, unique keys
	// with all columns NOT NULL, other unique keys, plain keys, full-text
	// keys (stable within each group), the order SHOW CREATE TABLE prints
	// and InnoDB uses to pick the clustered key.
	Indexes []Index

	// Charset and Collate are the table defaults (empty when not known).
	Charset string `json:",omitempty"`
	Collate string `json:",omitempty"`
}

// PrimaryKey returns the primary key, or nil when the table has none.
func (t *Table) PrimaryKey() *Index {
	for i := range t.Indexes {
		if t.Indexes[i].Primary {
			return &t.Indexes[i]
		}
	}
	return nil
}

// UniqueKeys returns the keys that identify a row: the primary key first,
// then the unique keys whose columns are all NOT NULL, then the unique keys
// with nullable columns (which identify a row only when none of its values
// is NULL). Keys with expression parts are left out since their values
// cannot be computed from a row image.
//
// DM uses the primary key and every unique key for causality (conflict
// detection between concurrent row changes); for the WHERE clause of
// UPDATE/DELETE it uses the primary key, else the first unique key with all
// columns NOT NULL, else all columns (see HandleKey).
func (t *Table) UniqueKeys() []Index {
	var notNull, nullable []Index
	var pk []Index
	for _, ix := range t.Indexes {
		if (!ix.Primary && !ix.Unique) || len(ix.Exprs) > 0 || len(ix.Columns) == 0 {
			continue
		}
		switch {
		case ix.Primary:
			pk = append(pk, ix)
		case t.allNotNull(ix.Columns):
			notNull = append(notNull, ix)
		default:
			nullable = append(nullable, ix)
		}
	}
	return slices.Concat(pk, notNull, nullable)
}

// HandleKey returns the columns that identify a row in the WHERE clause of
// an UPDATE or DELETE: the primary key, else the first unique key whose
// columns are all NOT NULL, else every non-generated column.
func (t *Table) HandleKey() []int {
	for _, ix := range t.UniqueKeys() {
		if ix.Primary || t.allNotNull(ix.Columns) {
			return slices.Clone(ix.Columns)
		}
	}
	var cols []int
	for i, c := range t.Columns {
		if !c.Generated {
			cols = append(cols, i)
		}
	}
	return cols
}

func (t *Table) allNotNull(cols []int) bool {
	for _, c := range cols {
		if t.Columns[c].Nullable {
			return false
		}
	}
	return true
}

// FindColumn returns the offset of the column named name (compared case
// insensitively, as MySQL does), or -1.
func (t *Table) FindColumn(name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}

// FindIndex returns the position in Indexes of the index named name
// (case insensitive; "PRIMARY" finds the primary key), or -1.
func (t *Table) FindIndex(name string) int {
	for i := range t.Indexes {
		if strings.EqualFold(t.Indexes[i].Name, name) {
			return i
		}
	}
	return -1
}

// Clone returns a deep copy of t.
func (t *Table) Clone() *Table {
	if t == nil {
		return nil
	}
	c := *t
	c.Columns = make([]Column, len(t.Columns))
	for i, col := range t.Columns {
		col.Type = col.Type.DeepCopy()
		if col.Default != nil {
			d := *col.Default
			col.Default = &d
		}
		c.Columns[i] = col
	}
	c.Indexes = make([]Index, len(t.Indexes))
	for i, ix := range t.Indexes {
		ix.Columns = slices.Clone(ix.Columns)
		ix.Lengths = slices.Clone(ix.Lengths)
		ix.Exprs = slices.Clone(ix.Exprs)
		c.Indexes[i] = ix
	}
	return &c
}

// restoreFlags renders SQL text the parser reads back unchanged.
const restoreFlags = format.RestoreStringSingleQuotes | format.RestoreStringEscapeBackslash |
	format.RestoreKeyWordUppercase | format.RestoreNameBackQuotes | format.RestoreStringWithoutDefaultCharset

// CreateSQL returns a CREATE TABLE statement for `schema`.`name` that
// recreates this shape; SetTable and ParseTable read it back to an equal
// Table. It is the form stored in checkpoints and served by the
// table-schema API.
func (t *Table) CreateSQL() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(sqlq.QuoteTable(t.Schema, t.Name))
	b.WriteString(" (\n")
	for i := range t.Columns {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  ")
		writeColumn(&b, &t.Columns[i])
	}
	for i := range t.Indexes {
		b.WriteString(",\n  ")
		t.writeIndex(&b, &t.Indexes[i])
	}
	b.WriteString("\n)")
	if t.Charset != "" {
		b.WriteString(" DEFAULT CHARSET=")
		b.WriteString(t.Charset)
	}
	if t.Collate != "" {
		b.WriteString(" COLLATE=")
		b.WriteString(t.Collate)
	}
	return b.String()
}

func writeColumn(b *strings.Builder, c *Column) {
	b.WriteString(sqlq.QuoteName(c.Name))
	b.WriteByte(' ')
	b.WriteString(typeSQL(c.Type))
	if c.Generated {
		b.WriteString(" GENERATED ALWAYS AS (")
		b.WriteString(c.GeneratedExpr)
		b.WriteString(")")
		if c.Stored {
			b.WriteString(" STORED")
		} else {
			b.WriteString(" VIRTUAL")
		}
	}
	switch {
	case !c.Nullable:
		b.WriteString(" NOT NULL")
	case c.Type.GetType() == mysql.TypeTimestamp:
		// Without explicit NULL an old-style server makes it NOT NULL.
		b.WriteString(" NULL")
	}
	if c.Default != nil {
		b.WriteString(" DEFAULT ")
		b.WriteString(*c.Default)
	}
	if c.OnUpdate != "" {
		b.WriteString(" ON UPDATE ")
		b.WriteString(c.OnUpdate)
	}
	if c.AutoIncrement {
		b.WriteString(" AUTO_INCREMENT")
	}
	if c.Comment != "" {
		b.WriteString(" COMMENT ")
		b.WriteString(quoteString(c.Comment))
	}
}

// typeSQL renders a column type with its charset and collation.
func typeSQL(ft *types.FieldType) string {
	base := ft.Clone()
	cs, co := ft.GetCharset(), ft.GetCollate()
	if cs != charset.CharsetBin {
		// Written below so enum and set columns keep theirs too.
		base.SetCharset("")
		base.SetCollate("")
	}
	// Key flags are derived from the indexes, not column options.
	base.DelFlag(mysql.NotNullFlag | mysql.AutoIncrementFlag | mysql.PriKeyFlag)
	var b strings.Builder
	// Restore never fails for a field type.
	_ = base.Restore(format.NewRestoreCtx(restoreFlags, &b))
	if hasCharset(ft.GetType()) && cs != charset.CharsetBin {
		if cs != "" {
			b.WriteString(" CHARACTER SET ")
			b.WriteString(cs)
		}
		if co != "" {
			b.WriteString(" COLLATE ")
			b.WriteString(co)
		}
	}
	return b.String()
}

func (t *Table) writeIndex(b *strings.Builder, ix *Index) {
	switch {
	case ix.Primary:
		b.WriteString("PRIMARY KEY")
	case ix.Unique:
		b.WriteString("UNIQUE KEY ")
	case ix.Kind == IndexFulltext:
		b.WriteString("FULLTEXT KEY ")
	case ix.Kind == IndexSpatial:
		b.WriteString("SPATIAL KEY ")
	default:
		b.WriteString("KEY ")
	}
	if !ix.Primary {
		b.WriteString(sqlq.QuoteName(ix.Name))
	}
	b.WriteString(" (")
	for i, c := range ix.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(sqlq.QuoteName(t.Columns[c].Name))
		if i < len(ix.Lengths) && ix.Lengths[i] > 0 {
			b.WriteString("(" + strconv.Itoa(ix.Lengths[i]) + ")")
		}
	}
	for i, e := range ix.Exprs {
		if i > 0 || len(ix.Columns) > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(" + e + ")")
	}
	b.WriteByte(')')
}

// quoteString renders s as a single-quoted SQL string literal.
func quoteString(s string) string {
	var b strings.Builder
	format.NewRestoreCtx(restoreFlags, &b).WriteString(s)
	return b.String()
}

// hasCharset reports whether columns of type tp carry a charset.
func hasCharset(tp byte) bool {
	return types.IsTypeChar(tp) || types.IsTypeBlob(tp) || tp == mysql.TypeEnum || tp == mysql.TypeSet
}

// finalize restores the invariants every published table keeps: primary
// key columns are NOT NULL, the type flags mirror the column attributes,
// and the indexes are in the server's key order.
func (t *Table) finalize() {
	for _, c := range t.Columns {
		c.Type.DelFlag(mysql.PriKeyFlag)
	}
	if pk := t.PrimaryKey(); pk != nil {
		for _, c := range pk.Columns {
			t.Columns[c].Nullable = false
			t.Columns[c].Type.AddFlag(mysql.PriKeyFlag)
		}
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		setFlag(c.Type, mysql.NotNullFlag, !c.Nullable)
		setFlag(c.Type, mysql.AutoIncrementFlag, c.AutoIncrement)
	}
	slices.SortStableFunc(t.Indexes, func(a, b Index) int { return t.keyRank(&a).compare(t.keyRank(&b)) })
}

func setFlag(ft *types.FieldType, flag uint, on bool) {
	if on {
		ft.AddFlag(flag)
	} else {
		ft.DelFlag(flag)
	}
}

// rank orders keys as MySQL's and MariaDB's sort_keys do.
type rank [4]int

func (r rank) compare(o rank) int {
	for i := range r {
		if c := cmp.Compare(r[i], o[i]); c != 0 {
			return c
		}
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *Table) keyRank(ix *Index) rank {
	if ix.Primary || ix.Unique {
		return rank{0, b2i(!t.allNotNull(ix.Columns)), b2i(!ix.Primary), b2i(ix.partial())}
	}
	return rank{1, b2i(ix.Kind == IndexFulltext)}
}

// insertColumn inserts c at position p, shifting index offsets.
func (t *Table) insertColumn(p int, c Column) {
	t.Columns = slices.Insert(t.Columns, p, c)
	for i := range t.Indexes {
		for j, off := range t.Indexes[i].Columns {
			if off >= p {
				t.Indexes[i].Columns[j] = off + 1
			}
		}
	}
}

// removeColumn removes column p and its key parts, dropping keys left
// without parts, as MySQL does.
func (t *Table) removeColumn(p int) {
	t.Columns = slices.Delete(t.Columns, p, p+1)
	kept := t.Indexes[:0]
	for _, ix := range t.Indexes {
		var cols, lens []int
		for j, off := range ix.Columns {
			switch {
			case off == p:
				continue
			case off > p:
				off--
			}
			cols = append(cols, off)
			if ix.Lengths != nil {
				lens = append(lens, ix.Lengths[j])
			}
		}
		if len(cols) == 0 && len(ix.Exprs) == 0 {
			continue
		}
		ix.Columns, ix.Lengths = cols, lens
		if !ix.partial() {
			ix.Lengths = nil
		}
		kept = append(kept, ix)
	}
	t.Indexes = kept
}

// moveColumn moves column from so that it ends up at position to.
func (t *Table) moveColumn(from, to int) {
	if from == to {
		return
	}
	c := t.Columns[from]
	t.Columns = slices.Delete(t.Columns, from, from+1)
	t.Columns = slices.Insert(t.Columns, to, c)
	for i := range t.Indexes {
		for j, off := range t.Indexes[i].Columns {
			switch {
			case off == from:
				off = to
			case from < to && off > from && off <= to:
				off--
			case to < from && off >= to && off < from:
				off++
			}
			t.Indexes[i].Columns[j] = off
		}
	}
}
