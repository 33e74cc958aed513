package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// compareWhole checksums the whole table as one chunk (no integer handle to split on)
// and, when it differs and is small enough, diffs it row by row as multisets.
func (c *comparison) compareWhole(ctx context.Context) error {
	if err := c.throttle(ctx); err != nil {
		return err
	}
	s, d, err := c.checksums(ctx, "")
	if err != nil {
		return err
	}
	c.res.Chunks = 1
	c.res.SourceRows, c.res.TargetRows = s.count, d.count
	if s == d {
		return nil
	}
	c.res.MismatchedChunks = 1
	if limit := int64(c.v.cfg.WholeDiffRows); max(s.count, d.count) > limit {
		c.res.Truncated = true
		c.res.Note = fmt.Sprintf("table differs; it has no integer handle to narrow the difference down and "+
			"%d source / %d target rows is more than WholeDiffRows (%d) for a row-level diff; "+
			"add an integer primary key, or raise WholeDiffRows", s.count, d.count, limit)
		return nil
	}
	if err := c.throttle(ctx); err != nil {
		return err
	}
	diffs, err := c.multisetDiff(ctx)
	if err != nil {
		return err
	}
	c.addDiffs(diffs)
	return nil
}

// multisetDiff loads the source's row images (at most WholeDiffRows, checked by the
// caller) into a counted set, streams the target's against it, and reports what is left
// on either side. With a key, a missing and an extra row of the same key become one
// Changed row.
func (c *comparison) multisetDiff(ctx context.Context) ([]RowDiff, error) {
	type entry struct {
		row Row
		n   int
	}
	source := map[string]*entry{}
	var order []string // first-seen order, for a deterministic result before sorting
	err := c.src.fetch(ctx, "", "", func(r Row) error {
		k := encodeRow(r)
		if e := source[k]; e != nil {
			e.n++
			return nil
		}
		source[k] = &entry{row: r, n: 1}
		order = append(order, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var extra []Row
	err = c.dst.fetch(ctx, "", "", func(r Row) error {
		if e := source[encodeRow(r)]; e != nil && e.n > 0 {
			e.n--
			return nil
		}
		if len(extra) > c.v.cfg.WholeDiffRows {
			return fmt.Errorf("target %s grew past WholeDiffRows (%d) while being compared; pause writes to it and verify again", c.dst.table, c.v.cfg.WholeDiffRows)
		}
		extra = append(extra, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var diffs []RowDiff
	missingByKey := map[string]int{} // key -> index into diffs of a Missing row
	for _, k := range order {
		e := source[k]
		for range e.n {
			d := RowDiff{Kind: Missing, Key: c.keyOf(e.row), Source: e.row}
			if d.Key != nil {
				missingByKey[encodeKey(d.Key)] = len(diffs)
			}
			diffs = append(diffs, d)
		}
	}
	for _, r := range extra {
		key := c.keyOf(r)
		if key != nil {
			if i, ok := missingByKey[encodeKey(key)]; ok {
				delete(missingByKey, encodeKey(key))
				diffs[i].Kind, diffs[i].Target = Changed, r
				continue
			}
		}
		diffs = append(diffs, RowDiff{Kind: Extra, Key: key, Target: r})
	}
	return diffs, nil
}

// keyOf returns the key values of r; nil for a table without a key.
func (c *comparison) keyOf(r Row) []string {
	if len(c.key.cols) == 0 {
		return nil
	}
	key := make([]string, len(c.key.cols))
	for i, at := range c.key.cols {
		if r[at] != nil {
			key[i] = *r[at]
		}
	}
	return key
}

// encodeRow is an injective string encoding of a row image: per value "N" for NULL,
// else "V<len>:<bytes>".
func encodeRow(r Row) string {
	var b strings.Builder
	for _, v := range r {
		if v == nil {
			b.WriteByte('N')
			continue
		}
		b.WriteByte('V')
		b.WriteString(strconv.Itoa(len(*v)))
		b.WriteByte(':')
		b.WriteString(*v)
	}
	return b.String()
}

func encodeKey(key []string) string {
	r := make(Row, len(key))
	for i := range key {
		r[i] = &key[i]
	}
	return encodeRow(r)
}
