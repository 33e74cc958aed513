package syncer

import (
	"fmt"
	"strings"

	tmysql "github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/dmkit/dmkit/internal/sqlq"
	"github.com/dmkit/dmkit/syncer/tracker"
)

// tableInfo is an immutable view of one source table and its target, built from the
// schema tracker. Row changes point at it, so workers never read the tracker.
type tableInfo struct {
	srcSchema, srcTable string
	tgtSchema, tgtTable string
	target              string // quoted `schema`.`table` of the target
	cols                []colInfo
	writable            []int // columns written by INSERT/UPDATE (not generated)
	handle              []int // columns of the WHERE clause
	// uniqueHandle is true when handle is a PK or a NOT NULL unique key, so it identifies
	// one row; otherwise the handle is every column and statements use LIMIT 1.
	uniqueHandle bool
	// keys are the PK and unique keys (column indexes), PK first.
	keys [][]int
	// compactable: the handle is the table's only unique key, so merging changes of one
	// handle value cannot reorder them against changes of other rows.
	compactable bool
	insertCols  string // "(`a`,`b`)"
}

func (t *tableInfo) srcName() string { return sqlq.QuoteTable(t.srcSchema, t.srcTable) }

// newTableInfo captures tbl (tracked under the source name) routed to tgtSchema.tgtTable.
func newTableInfo(tbl *tracker.Table, srcSchema, srcTable, tgtSchema, tgtTable string) *tableInfo {
	ti := &tableInfo{
		srcSchema: srcSchema, srcTable: srcTable,
		tgtSchema: tgtSchema, tgtTable: tgtTable,
		target: sqlq.QuoteTable(tgtSchema, tgtTable),
	}
	ti.cols = make([]colInfo, len(tbl.Columns))
	var ins []string
	for i, c := range tbl.Columns {
		ci := colInfo{name: c.Name, quoted: sqlq.QuoteName(c.Name), generated: c.Generated}
		if ft := c.Type; ft != nil {
			ci.tp = ft.GetType()
			ci.unsigned = tmysql.HasUnsignedFlag(ft.GetFlag())
			ci.flen = ft.GetFlen()
			ci.charset = strings.ToLower(ft.GetCharset())
			ci.elems = ft.GetElems()
			coll := strings.ToLower(ft.GetCollate())
			ci.binary = ci.charset == "binary" || (isStringType(ci.tp) && tmysql.HasBinaryFlag(ft.GetFlag()) && ci.charset == "")
			if ci.tp == tmysql.TypeTinyBlob || ci.tp == tmysql.TypeBlob || ci.tp == tmysql.TypeMediumBlob || ci.tp == tmysql.TypeLongBlob {
				// BLOB and TEXT share a type; TEXT has a character set.
				ci.binary = ci.charset == "" || ci.charset == "binary"
			}
			ci.ci = !ci.binary && !strings.HasSuffix(coll, "_bin") && coll != "binary"
		}
		ti.cols[i] = ci
		if !c.Generated {
			ti.writable = append(ti.writable, i)
			ins = append(ins, ci.quoted)
		}
	}
	ti.insertCols = "(" + strings.Join(ins, ",") + ")"
	for _, idx := range tbl.UniqueKeys() {
		ti.keys = append(ti.keys, idx.Columns)
	}
	ti.handle = tbl.HandleKey()
	if pk := tbl.PrimaryKey(); pk != nil {
		ti.uniqueHandle = true
	} else {
		for _, idx := range tbl.UniqueKeys() {
			if sameInts(idx.Columns, ti.handle) {
				ti.uniqueHandle = true
				break
			}
		}
	}
	if !ti.uniqueHandle {
		// Compare on every stored column but JSON/geometry, which do not compare as text.
		var h []int
		for _, i := range ti.writable {
			switch ti.cols[i].tp {
			case tmysql.TypeJSON, tmysql.TypeGeometry:
				continue
			}
			h = append(h, i)
		}
		if len(h) > 0 {
			ti.handle = h
		}
	}
	ti.compactable = ti.uniqueHandle && len(ti.keys) == 1
	return ti
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tableKey is the causality key that serialises every change of a table without a
// unique handle on one worker.
func (t *tableInfo) tableKey() string { return "T" + t.target }

// rowKeys appends the causality keys of one row image: one per unique key whose values
// are all non-NULL, qualified by the target table and the key's position.
func (t *tableInfo) rowKeys(keys []string, row []any, buf []byte) ([]string, []byte) {
	for ki, cols := range t.keys {
		buf = buf[:0]
		buf = append(buf, 'K')
		buf = append(buf, t.target...)
		buf = fmt.Appendf(buf, "\x00%d", ki)
		null := false
		for _, ci := range cols {
			if ci >= len(row) || row[ci] == nil {
				null = true
				break
			}
			buf = append(buf, 0)
			buf = keyValue(buf, row[ci], &t.cols[ci])
		}
		if !null {
			keys = append(keys, string(buf))
		}
	}
	return keys, buf
}

// handleValue renders the handle of row, used to find repeated changes of one row.
func (t *tableInfo) handleValue(row []any, buf []byte) ([]byte, bool) {
	buf = buf[:0]
	for _, ci := range t.handle {
		if ci >= len(row) || row[ci] == nil {
			return buf, false
		}
		buf = append(buf, 0)
		buf = keyValue(buf, row[ci], &t.cols[ci])
	}
	return buf, true
}

// handleChanged reports whether an update moves the row to another handle value.
func (t *tableInfo) handleChanged(old, new []any) bool {
	for _, ci := range t.handle {
		if !valuesEqual(old[ci], new[ci]) {
			return true
		}
	}
	return false
}

func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case nil:
		return b == nil
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
}
