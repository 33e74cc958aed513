package syncer

import (
	"errors"
	"slices"
)

// Fewer statements for the target to parse (issue 13): an UPDATE that keeps its handle on
// a table whose handle is its only unique key is written as one row of a multi-row
// INSERT … ON DUPLICATE KEY UPDATE (rows are full images), and the ops of a batch are
// grouped per (table, kind) when they all touch distinct rows of such tables. See the
// README ("Upserts") for why each is exactly what the per-row statements do.

// errUpsertNotUpdate says an upsert statement met a row it did not update (missing on the
// target, or already equal to the new image): the batch is rolled back and written again
// with plain UPDATEs, which leave a missing row missing, as DM does.
var errUpsertNotUpdate = errors.New("an upsert met a missing or unchanged row")

// upsertable reports whether the table's handle-keeping UPDATEs may be written as
// upserts: the handle is the only unique key (so the upsert can only meet the row the
// UPDATE's WHERE names), every handle column is written, and some other column is.
func (t *tableInfo) upsertable() bool {
	if !t.compactable || len(t.writable) <= len(t.handle) {
		return false
	}
	for _, h := range t.handle {
		found := false
		for _, w := range t.writable {
			if w == h {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// renderUpserts writes multi-row INSERT … ON DUPLICATE KEY UPDATE statements of up to
// maxStmtBytes each, assigning every written column but the handle from the new row.
func (b *sqlBuilder) renderUpserts(ops []op, stmts []stmt) ([]stmt, error) {
	t := ops[0].c.table
	for start := 0; start < len(ops); {
		i, err := b.appendValues("INSERT INTO ", ops, start)
		if err != nil {
			return stmts, err
		}
		b.buf = append(b.buf, " ON DUPLICATE KEY UPDATE "...)
		first := true
		for _, ci := range t.writable {
			if slices.Contains(t.handle, ci) {
				continue
			}
			if !first {
				b.buf = append(b.buf, ',')
			}
			first = false
			q := t.cols[ci].quoted
			b.buf = append(b.buf, q...)
			b.buf = append(b.buf, "=VALUES("...)
			b.buf = append(b.buf, q...)
			b.buf = append(b.buf, ')')
		}
		stmts = append(stmts, stmt{sql: string(b.buf), op: opUpsert, c: ops[start].c, upserts: i - start})
		start = i
	}
	return stmts, nil
}

// groupKey is one multi-row statement's worth of ops: a table and a statement kind.
type groupKey struct {
	t    *tableInfo
	kind opKind
}

// groupPerTable reorders b.ops so that the ops of one (table, kind) are adjacent, in the
// order of their first appearance, and merge into one statement — only when every op is
// on a compactable table (handle = only unique key) and no two ops touch the same handle
// value of one target table: then every op changes a different row and no unique key can
// tie two of them, so any order gives the same rows. Foreign keys are the caller's
// concern (regroup is off when the target checks them). Otherwise b.ops stays in order.
func (b *sqlBuilder) groupPerTable() {
	if len(b.ops) < 3 {
		return
	}
	if b.seen == nil {
		b.seen, b.group = map[string]struct{}{}, map[groupKey]int{}
	}
	clear(b.seen)
	clear(b.group)
	var ok bool
	for _, o := range b.ops {
		t := o.c.table
		if !t.compactable {
			return
		}
		for _, img := range opImages(o) {
			if img == nil {
				continue
			}
			if b.buf, ok = t.handleValue(img, b.buf[:0]); !ok {
				return
			}
			k := t.target + "\x00" + string(b.buf)
			if _, dup := b.seen[k]; dup {
				return
			}
			b.seen[k] = struct{}{}
		}
		gk := groupKey{t, o.kind}
		if _, ok := b.group[gk]; !ok {
			b.group[gk] = len(b.group)
		}
	}
	if len(b.group) == len(b.ops) {
		return // nothing to merge
	}
	// Stable counting sort by group number.
	starts := make([]int, len(b.group)+1)
	for _, o := range b.ops {
		starts[b.group[groupKey{o.c.table, o.kind}]+1]++
	}
	for g := 1; g < len(starts); g++ {
		starts[g] += starts[g-1]
	}
	sorted := make([]op, len(b.ops))
	for _, o := range b.ops {
		g := b.group[groupKey{o.c.table, o.kind}]
		sorted[starts[g]] = o
		starts[g]++
	}
	copy(b.ops, sorted)
}

// opImages are the row images whose handle an op touches: the row it writes and, for an
// UPDATE that moves its handle, the row it leaves.
func opImages(o op) [2][]any {
	switch o.kind {
	case opDelete:
		return [2][]any{o.c.old, nil}
	case opUpdate:
		if o.c.table.handleChanged(o.c.old, o.c.new) {
			return [2][]any{o.c.old, o.c.new}
		}
		return [2][]any{o.c.new, nil}
	}
	return [2][]any{o.c.new, nil}
}
