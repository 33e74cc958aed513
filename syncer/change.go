package syncer

import (
	"fmt"
	"slices"
	"strings"
)

// changeKind is the kind of a row change.
type changeKind uint8

const (
	kindInsert changeKind = iota + 1
	kindUpdate
	kindDelete
)

func (k changeKind) String() string {
	switch k {
	case kindInsert:
		return "INSERT"
	case kindUpdate:
		return "UPDATE"
	case kindDelete:
		return "DELETE"
	}
	return "?"
}

// change is one row change on its way to a worker.
type change struct {
	kind  changeKind
	table *tableInfo
	old   []any // before image (update, delete)
	new   []any // after image (insert, update)
	safe  bool  // write idempotently (safe mode)
	// replace forces REPLACE for an insert (a DELETE+INSERT pair merged by compaction).
	replace bool
	seq     uint64    // dispatch order
	pos     changePos // binlog position of the row
	// txnPrev is the end of the last source transaction completely dispatched before this
	// change's transaction began: once this change is applied, so is everything the worker
	// received up to txnPrev.
	txnPrev *pubLoc
	ts      uint32 // binlog event timestamp
}

// compact merges repeated changes of one row inside a batch (only for tables whose handle
// is their single unique key, so no other row can be affected by the new order). Merged
// changes keep the later position; merged-away entries become nil.
func compact(batch []*change, idx map[string]int, buf []byte) {
	clear(idx)
	for i, c := range batch {
		t := c.table
		if !t.compactable {
			continue
		}
		img := c.old
		if c.kind == kindInsert {
			img = c.new
		}
		if c.kind == kindUpdate && t.handleChanged(c.old, c.new) {
			// The row moves: forget both handles so nothing merges across the move.
			for _, im := range [][]any{c.old, c.new} {
				var ok bool
				if buf, ok = t.handleValue(im, buf); ok {
					delete(idx, t.target+string(buf))
				}
			}
			continue
		}
		var ok bool
		if buf, ok = t.handleValue(img, buf); !ok {
			continue
		}
		k := t.target + string(buf)
		j, seen := idx[k]
		idx[k] = i
		if !seen || batch[j] == nil || batch[j].table != t {
			continue
		}
		if m := merge(batch[j], c); m != nil {
			batch[j], batch[i] = nil, m
		}
	}
}

// merge combines p and a later change c of the same row, or returns nil when they must
// both be applied.
func merge(p, c *change) *change {
	m := *c
	m.safe = p.safe || c.safe
	switch {
	case p.kind == kindInsert && c.kind == kindUpdate:
		m.kind, m.old, m.new, m.replace = kindInsert, nil, c.new, p.replace
	case p.kind == kindInsert && c.kind == kindDelete:
		// The row may have existed before the insert (REPLACE, INSERT IGNORE): delete it.
		m.kind, m.old, m.new = kindDelete, c.old, nil
	case p.kind == kindUpdate && c.kind == kindUpdate:
		m.old = p.old
	case p.kind == kindUpdate && c.kind == kindDelete:
		m.kind, m.old, m.new = kindDelete, c.old, nil
	case p.kind == kindDelete && c.kind == kindInsert:
		m.replace = true
	default:
		return nil
	}
	return &m
}

// opKind is the kind of a target statement.
type opKind uint8

const (
	opInsert opKind = iota + 1
	opReplace
	opInsertIgnore
	opDelete
	opUpdate
	// opUpsert is an UPDATE that keeps its handle, written as a row of a multi-row
	// INSERT … ON DUPLICATE KEY UPDATE (upsert.go).
	opUpsert
)

// op is one row's statement-to-be; consecutive ops of one kind on one table are merged
// into a multi-row statement.
type op struct {
	kind opKind
	c    *change
}

// maxStmtBytes bounds one multi-row statement, well below max_allowed_packet.
const maxStmtBytes = 1 << 20

// sqlBuilder turns a batch of changes into statements.
type sqlBuilder struct {
	onDuplicate string
	// upsert writes handle-keeping UPDATEs of compactable tables as multi-row
	// INSERT … ON DUPLICATE KEY UPDATE and groups a batch's ops per table when they
	// commute (upsert.go); the worker turns it off for a batch whose upsert met a missing
	// or unchanged row, which then runs as plain UPDATEs.
	upsert bool
	// regroup allows regrouping ops per table (off with foreign key checks).
	regroup bool
	ops     []op
	buf     []byte
	seen    map[string]struct{}
	group   map[groupKey]int
}

// build renders the non-nil changes of batch as statements, appended to stmts.
func (b *sqlBuilder) build(batch []*change, stmts []stmt) ([]stmt, error) {
	b.ops = b.ops[:0]
	for _, c := range batch {
		if c == nil {
			continue
		}
		b.ops = b.appendOps(b.ops, c)
	}
	if b.upsert && b.regroup {
		b.groupPerTable()
	}
	for i := 0; i < len(b.ops); {
		j := i + 1
		for j < len(b.ops) && b.ops[j].kind == b.ops[i].kind && b.ops[j].c.table == b.ops[i].c.table &&
			groupable(b.ops[i]) {
			j++
		}
		var err error
		if stmts, err = b.render(b.ops[i:j], stmts); err != nil {
			return stmts, err
		}
		i = j
	}
	return stmts, nil
}

// groupable reports whether ops of this kind merge into one statement.
func groupable(o op) bool {
	switch o.kind {
	case opInsert, opReplace, opInsertIgnore, opUpsert:
		return true
	case opDelete:
		return o.c.table.uniqueHandle
	}
	return false
}

// appendOps expands one change into its statements.
func (b *sqlBuilder) appendOps(ops []op, c *change) []op {
	switch c.kind {
	case kindInsert:
		k := opInsert
		switch {
		case c.safe || c.replace:
			k = opReplace
		case b.onDuplicate == OnDuplicateReplace:
			k = opReplace
		case b.onDuplicate == OnDuplicateIgnore:
			k = opInsertIgnore
		}
		return append(ops, op{k, c})
	case kindDelete:
		return append(ops, op{opDelete, c})
	case kindUpdate:
		if c.safe && c.table.uniqueHandle {
			if c.table.handleChanged(c.old, c.new) {
				ops = append(ops, op{opDelete, c})
			}
			return append(ops, op{opReplace, c})
		}
		if b.upsert && c.table.upsertable() && !c.table.handleChanged(c.old, c.new) {
			return append(ops, op{opUpsert, c})
		}
		return append(ops, op{opUpdate, c})
	}
	return ops
}

// stmt is one target statement with the change it starts with, for error reports.
type stmt struct {
	sql string
	op  opKind
	c   *change
	// onDup is the row count of a REPLACE / INSERT IGNORE written because of OnDuplicate
	// (not safe mode): its affected rows tell how many rows hit an existing key.
	onDup int
	// upserts is the row count of an opUpsert statement: it must report 2 affected rows
	// per row (each an existing row changed), else the batch runs again as UPDATEs.
	upserts int
}

func (k opKind) String() string {
	switch k {
	case opInsert:
		return "INSERT"
	case opReplace:
		return "REPLACE"
	case opInsertIgnore:
		return "INSERT IGNORE"
	case opDelete:
		return "DELETE"
	case opUpdate:
		return "UPDATE"
	case opUpsert:
		return "INSERT ON DUPLICATE KEY UPDATE"
	}
	return "?"
}

// render writes statements for a run of ops of one kind on one table.
func (b *sqlBuilder) render(ops []op, stmts []stmt) ([]stmt, error) {
	switch ops[0].kind {
	case opInsert, opReplace, opInsertIgnore:
		return b.renderInserts(ops, stmts)
	case opDelete:
		if !ops[0].c.table.uniqueHandle {
			return b.renderRowDeletes(ops, stmts)
		}
		return b.renderDeletes(ops, stmts)
	case opUpdate:
		return b.renderUpdates(ops, stmts)
	case opUpsert:
		return b.renderUpserts(ops, stmts)
	}
	return stmts, nil
}

// renderInserts writes multi-row INSERT/REPLACE/INSERT IGNORE statements of up to
// maxStmtBytes each.
func (b *sqlBuilder) renderInserts(ops []op, stmts []stmt) ([]stmt, error) {
	verb := map[opKind]string{opInsert: "INSERT INTO ", opReplace: "REPLACE INTO ", opInsertIgnore: "INSERT IGNORE INTO "}[ops[0].kind]
	for start := 0; start < len(ops); {
		i, err := b.appendValues(verb, ops, start)
		if err != nil {
			return stmts, err
		}
		s := stmt{sql: string(b.buf), op: ops[0].kind, c: ops[start].c}
		if s.op != opInsert && !slices.ContainsFunc(ops[start:i], func(o op) bool { return o.c.safe || o.c.replace }) {
			s.onDup = i - start
		}
		stmts = append(stmts, s)
		start = i
	}
	return stmts, nil
}

// appendValues writes `<verb><table> (<cols>) VALUES` and the new rows of ops from start
// into b.buf until the statement reaches maxStmtBytes (at least one row); it returns the
// index after the last row written.
func (b *sqlBuilder) appendValues(verb string, ops []op, start int) (int, error) {
	t := ops[0].c.table
	b.buf = append(b.buf[:0], verb...)
	b.buf = append(b.buf, t.target...)
	b.buf = append(b.buf, ' ')
	b.buf = append(b.buf, t.insertCols...)
	b.buf = append(b.buf, " VALUES "...)
	i := start
	for ; i < len(ops) && (i == start || len(b.buf) < maxStmtBytes); i++ {
		if i > start {
			b.buf = append(b.buf, ',')
		}
		var err error
		if b.buf, err = appendRow(b.buf, t, ops[i].c.new); err != nil {
			return i, fmt.Errorf("%s: %w", t.target, err)
		}
	}
	return i, nil
}

// renderRowDeletes writes one DELETE ... LIMIT 1 per row, for tables without a unique
// handle.
func (b *sqlBuilder) renderRowDeletes(ops []op, stmts []stmt) ([]stmt, error) {
	t := ops[0].c.table
	var err error
	for _, o := range ops {
		b.buf = append(b.buf[:0], "DELETE FROM "...)
		b.buf = append(b.buf, t.target...)
		b.buf = append(b.buf, " WHERE "...)
		if b.buf, err = appendWhere(b.buf, t, o.c.old); err != nil {
			return stmts, err
		}
		b.buf = append(b.buf, " LIMIT 1"...)
		stmts = append(stmts, stmt{sql: string(b.buf), op: opDelete, c: o.c})
	}
	return stmts, nil
}

// renderDeletes writes multi-row DELETEs of up to maxStmtBytes each: k IN (...) for a
// single-column handle, OR-ed conditions for a composite one.
func (b *sqlBuilder) renderDeletes(ops []op, stmts []stmt) ([]stmt, error) {
	t := ops[0].c.table
	var err error
	for start := 0; start < len(ops); {
		b.buf = append(b.buf[:0], "DELETE FROM "...)
		b.buf = append(b.buf, t.target...)
		b.buf = append(b.buf, " WHERE "...)
		var i int
		if len(t.handle) == 1 {
			i, err = b.appendHandleIn(t, ops, start)
		} else {
			i, err = b.appendOrConditions(t, ops, start)
		}
		if err != nil {
			return stmts, err
		}
		stmts = append(stmts, stmt{sql: string(b.buf), op: opDelete, c: ops[start].c})
		start = i
	}
	return stmts, nil
}

// appendHandleIn appends "k IN (v,...)" for the old rows of ops from start on until the
// statement is full, and returns the index of the first op left out.
func (b *sqlBuilder) appendHandleIn(t *tableInfo, ops []op, start int) (int, error) {
	c := &t.cols[t.handle[0]]
	b.buf = append(b.buf, c.quoted...)
	b.buf = append(b.buf, " IN ("...)
	i := start
	var err error
	for ; i < len(ops) && (i == start || len(b.buf) < maxStmtBytes); i++ {
		if i > start {
			b.buf = append(b.buf, ',')
		}
		if b.buf, err = appendLiteral(b.buf, ops[i].c.old[t.handle[0]], c); err != nil {
			return i, err
		}
	}
	b.buf = append(b.buf, ')')
	return i, nil
}

// appendOrConditions appends "(cond) OR (cond)..." for the old rows of ops from start on
// until the statement is full, and returns the index of the first op left out.
func (b *sqlBuilder) appendOrConditions(t *tableInfo, ops []op, start int) (int, error) {
	i := start
	var err error
	for ; i < len(ops) && (i == start || len(b.buf) < maxStmtBytes); i++ {
		if i > start {
			b.buf = append(b.buf, " OR "...)
		}
		b.buf = append(b.buf, '(')
		if b.buf, err = appendWhere(b.buf, t, ops[i].c.old); err != nil {
			return i, err
		}
		b.buf = append(b.buf, ')')
	}
	return i, nil
}

// renderUpdates writes one UPDATE per row.
func (b *sqlBuilder) renderUpdates(ops []op, stmts []stmt) ([]stmt, error) {
	t := ops[0].c.table
	var err error
	for _, o := range ops {
		b.buf = append(b.buf[:0], "UPDATE "...)
		b.buf = append(b.buf, t.target...)
		b.buf = append(b.buf, " SET "...)
		for n, ci := range t.writable {
			if n > 0 {
				b.buf = append(b.buf, ',')
			}
			b.buf = append(b.buf, t.cols[ci].quoted...)
			b.buf = append(b.buf, '=')
			if b.buf, err = appendLiteral(b.buf, o.c.new[ci], &t.cols[ci]); err != nil {
				return stmts, err
			}
		}
		b.buf = append(b.buf, " WHERE "...)
		if b.buf, err = appendWhere(b.buf, t, o.c.old); err != nil {
			return stmts, err
		}
		if !t.uniqueHandle {
			b.buf = append(b.buf, " LIMIT 1"...)
		}
		stmts = append(stmts, stmt{sql: string(b.buf), op: opUpdate, c: o.c})
	}
	return stmts, nil
}

// appendRow renders "(v1,v2,...)" of the writable columns.
func appendRow(b []byte, t *tableInfo, row []any) ([]byte, error) {
	b = append(b, '(')
	var err error
	for n, ci := range t.writable {
		if n > 0 {
			b = append(b, ',')
		}
		if b, err = appendLiteral(b, row[ci], &t.cols[ci]); err != nil {
			return b, err
		}
	}
	return append(b, ')'), nil
}

// appendWhere renders the handle condition of row.
func appendWhere(b []byte, t *tableInfo, row []any) ([]byte, error) {
	var err error
	for n, ci := range t.handle {
		if n > 0 {
			b = append(b, " AND "...)
		}
		b = append(b, t.cols[ci].quoted...)
		if row[ci] == nil {
			b = append(b, " IS NULL"...)
			continue
		}
		b = append(b, '=')
		if b, err = appendLiteral(b, row[ci], &t.cols[ci]); err != nil {
			return b, err
		}
	}
	return b, nil
}

// describe names a change for logs and errors.
func (c *change) describe() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s at (%s, %d) row %d", c.kind, c.table.srcName(), c.pos.File, c.pos.Pos, c.pos.Row)
	return sb.String()
}
