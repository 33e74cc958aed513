package verify

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/dmkit/dmkit/internal/explain"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// comparison is the state of one Table call.
type comparison struct {
	v        *Verifier
	src, dst side
	key      tableKey
	keyCol   string // quoted handle column when key.integer

	mu  sync.Mutex
	res *TableResult
}

// Table compares srcSchema.srcTable on the source with dstSchema.dstTable on the target,
// as they are now (callers pause writes or replication first, or use TableAt). An error
// means the comparison could not be made; differences are reported in the result.
func (v *Verifier) Table(ctx context.Context, srcSchema, srcTable, dstSchema, dstTable string) (*TableResult, error) {
	return v.TableAt(ctx, Point{}, srcSchema, srcTable, dstSchema, dstTable)
}

// TableAt is Table reading each side's rows through its snapshot in pt (live where nil),
// so writes after the snapshots do not disturb the comparison.
func (v *Verifier) TableAt(ctx context.Context, pt Point, srcSchema, srcTable, dstSchema, dstTable string) (*TableResult, error) {
	c, err := v.prepare(ctx, pt, tableNames{srcSchema, srcTable, dstSchema, dstTable})
	if err != nil {
		return nil, err
	}
	if c.key.integer {
		err = c.compareChunked(ctx)
	} else {
		err = c.compareWhole(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s against %s: %w", c.src.table, c.dst.table, err)
	}
	return c.finish(), nil
}

// tableNames are the source and target table a comparison is about.
type tableNames struct{ srcSchema, srcTable, dstSchema, dstTable string }

// prepare reads both tables' columns and the source's key and sets up a comparison.
func (v *Verifier) prepare(ctx context.Context, pt Point, n tableNames) (*comparison, error) {
	c := &comparison{
		v:   v,
		src: side{db: v.src, snap: pt.Source, table: sqlq.QuoteTable(n.srcSchema, n.srcTable)},
		dst: side{db: v.dst, snap: pt.Target, table: sqlq.QuoteTable(n.dstSchema, n.dstTable)},
	}
	c.res = &TableResult{Source: c.src.table, Target: c.dst.table, names: n}
	var err error
	if c.src.cols, err = loadColumns(ctx, v.src, n.srcSchema, n.srcTable); err != nil {
		return nil, fmt.Errorf("verify: source: %w", err)
	}
	dstCols, err := loadColumns(ctx, v.dst, n.dstSchema, n.dstTable)
	if err != nil {
		return nil, fmt.Errorf("verify: target: %w", err)
	}
	if c.dst.cols, err = matchColumns(c.src.cols, dstCols, c.dst.table); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if c.key, err = findKey(ctx, v.src, n.srcSchema, n.srcTable, c.src.cols); err != nil {
		return nil, fmt.Errorf("verify: source: %w", err)
	}
	for _, col := range c.src.cols {
		c.res.Columns = append(c.res.Columns, col.name)
	}
	for _, i := range c.key.cols {
		c.res.Key = append(c.res.Key, c.src.cols[i].name)
	}
	if c.key.integer {
		c.res.Chunked = true
		c.keyCol = sqlq.QuoteName(c.src.cols[c.key.cols[0]].name)
	}
	return c, nil
}

// finish completes the result: equality, what Repair needs, diffs in order.
func (c *comparison) finish() *TableResult {
	c.res.Equal = c.res.MismatchedChunks == 0
	c.res.dst, c.res.key = &side{db: c.v.dst, table: c.dst.table, cols: c.dst.cols}, c.key
	c.sortDiffs()
	return c.res
}

// throttle calls Config.Throttle, if any, and checks ctx.
func (c *comparison) throttle(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.v.cfg.Throttle != nil {
		return c.v.cfg.Throttle(ctx)
	}
	return nil
}

// both runs f on the source and the target at once and returns the first error.
func both[T any](ctx context.Context, c *comparison, f func(context.Context, *side) (T, error)) (s, d T, err error) {
	var serr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s, serr = f(ctx, &c.src)
	}()
	d, derr := f(ctx, &c.dst)
	wg.Wait()
	if serr != nil {
		return s, d, serr
	}
	return s, d, derr
}

// compareChunked plans the key ranges and checksums them on Threads workers.
func (c *comparison) compareChunked(ctx context.Context) error {
	ranges, err := c.plan(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan keyRange)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(c.v.cfg.Threads, len(ranges)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				if err := c.compareRange(ctx, r); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, r := range ranges {
		select {
		case work <- r:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// plan splits the handle's span into ranges of about ChunkRows rows, using the larger
// side's row estimate and the union of both sides' key bounds.
func (c *comparison) plan(ctx context.Context) ([]keyRange, error) {
	srcEst, dstEst, err := both(ctx, c, func(ctx context.Context, s *side) (int64, error) { return estimateRows(ctx, s) })
	if err != nil {
		return nil, err
	}
	lo, hi, err := c.bounds(ctx, keyRange{})
	if err != nil || lo == nil {
		return []keyRange{{}}, err
	}
	n := (max(srcEst, dstEst) + int64(c.v.cfg.ChunkRows) - 1) / int64(c.v.cfg.ChunkRows)
	return splitRange(lo, hi, max(n, 1)), nil
}

// bounds returns the smallest and largest handle in r over both sides; nil when neither
// side has a row in r.
func (c *comparison) bounds(ctx context.Context, r keyRange) (lo, hi *big.Int, err error) {
	type mm struct{ lo, hi *big.Int }
	s, d, err := both(ctx, c, func(ctx context.Context, s *side) (mm, error) {
		q := "SELECT MIN(" + c.keyCol + "), MAX(" + c.keyCol + ") FROM " + s.table
		if w := r.where(c.keyCol); w != "" {
			q += " WHERE " + w
		}
		var a, b sql.NullString
		if err := s.queryRow(ctx, q, &a, &b); err != nil {
			return mm{}, fmt.Errorf("key range of %s: %w", s.table, err)
		}
		if !a.Valid || !b.Valid {
			return mm{}, nil
		}
		lo, ok1 := new(big.Int).SetString(a.String, 10)
		hi, ok2 := new(big.Int).SetString(b.String, 10)
		if !ok1 || !ok2 {
			return mm{}, fmt.Errorf("key range of %s: non-integer bounds %q, %q", s.table, a.String, b.String)
		}
		return mm{lo, hi}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range []mm{s, d} {
		if m.lo == nil {
			continue
		}
		if lo == nil || m.lo.Cmp(lo) < 0 {
			lo = m.lo
		}
		if hi == nil || m.hi.Cmp(hi) > 0 {
			hi = m.hi
		}
	}
	return lo, hi, nil
}

// estimateRows asks EXPLAIN how many rows a full scan of s reads.
func estimateRows(ctx context.Context, s *side) (int64, error) {
	return explain.Rows(ctx, s.db, s.table)
}

// compareRange checksums one planned chunk and narrows it down if it differs.
func (c *comparison) compareRange(ctx context.Context, r keyRange) error {
	if err := c.throttle(ctx); err != nil {
		return err
	}
	s, d, err := c.checksums(ctx, r.where(c.keyCol))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.res.Chunks++
	c.res.SourceRows += s.count
	c.res.TargetRows += d.count
	if s == d {
		c.mu.Unlock()
		return nil
	}
	c.res.MismatchedChunks++
	full := len(c.res.Diffs) >= c.v.cfg.MaxDiffs
	if full {
		c.markTruncated()
	}
	c.mu.Unlock()
	if full {
		return nil
	}
	return c.narrow(ctx, r, s, d)
}

func (c *comparison) checksums(ctx context.Context, where string) (s, d checksum, err error) {
	return both(ctx, c, func(ctx context.Context, sd *side) (checksum, error) { return sd.checksum(ctx, where) })
}

// markTruncated records that Diffs is cut at MaxDiffs; c.mu is held.
func (c *comparison) markTruncated() {
	c.res.Truncated = true
	c.res.Note = fmt.Sprintf("more than %d rows differ; only the first %d found are listed", c.v.cfg.MaxDiffs, c.v.cfg.MaxDiffs)
}

// narrow bisects r, whose checksums s and d differ, until neither side has more than
// DiffRows rows in it, then diffs its rows.
func (c *comparison) narrow(ctx context.Context, r keyRange, s, d checksum) error {
	if max(s.count, d.count) <= int64(c.v.cfg.DiffRows) {
		return c.diffRange(ctx, r)
	}
	if err := c.throttle(ctx); err != nil {
		return err
	}
	lo, hi, err := c.bounds(ctx, r)
	if err != nil {
		return err
	}
	if lo == nil || lo.Cmp(hi) == 0 {
		// No rows after all (changed under us) or a single key: diff what is there.
		return c.diffRange(ctx, r)
	}
	// [lo, mid) and [mid, hi+1): both non-empty key spans, together all of r's rows.
	mid := new(big.Int).Sub(hi, lo)
	mid.Add(mid, big.NewInt(1)).Rsh(mid, 1).Add(mid, lo)
	end := new(big.Int).Add(hi, big.NewInt(1))
	for _, half := range []keyRange{{lo: lo, hi: mid}, {lo: mid, hi: end}} {
		if err := c.throttle(ctx); err != nil {
			return err
		}
		hs, hd, err := c.checksums(ctx, half.where(c.keyCol))
		if err != nil {
			return err
		}
		if hs == hd {
			continue
		}
		if err := c.narrow(ctx, half, hs, hd); err != nil {
			return err
		}
	}
	return nil
}

// diffRange fetches r's rows from both sides, ordered by the handle, and merges them.
func (c *comparison) diffRange(ctx context.Context, r keyRange) error {
	if err := c.throttle(ctx); err != nil {
		return err
	}
	where := r.where(c.keyCol)
	s, d, err := both(ctx, c, func(ctx context.Context, sd *side) ([]Row, error) {
		var rows []Row
		err := sd.fetch(ctx, where, c.keyCol, func(r Row) error { rows = append(rows, r); return nil })
		return rows, err
	})
	if err != nil {
		return err
	}
	k := c.key.cols[0]
	var diffs []RowDiff
	i, j := 0, 0
	for i < len(s) || j < len(d) {
		var cmp int
		switch {
		case i == len(s):
			cmp = 1
		case j == len(d):
			cmp = -1
		default:
			cmp = compareInts(*s[i][k], *d[j][k])
		}
		switch {
		case cmp < 0:
			diffs = append(diffs, RowDiff{Kind: Missing, Key: []string{*s[i][k]}, Source: s[i]})
			i++
		case cmp > 0:
			diffs = append(diffs, RowDiff{Kind: Extra, Key: []string{*d[j][k]}, Target: d[j]})
			j++
		default:
			if !slices.EqualFunc(s[i], d[j], equalValue) {
				diffs = append(diffs, RowDiff{Kind: Changed, Key: []string{*s[i][k]}, Source: s[i], Target: d[j]})
			}
			i++
			j++
		}
	}
	c.addDiffs(diffs)
	return nil
}

// addDiffs appends up to MaxDiffs in total.
func (c *comparison) addDiffs(diffs []RowDiff) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.v.cfg.MaxDiffs - len(c.res.Diffs)
	if len(diffs) > room {
		diffs = diffs[:max(room, 0)]
		c.markTruncated()
	}
	c.res.Diffs = append(c.res.Diffs, diffs...)
}

// fetch streams the row images of s matching where (may be empty), ordered by orderBy
// (may be empty), to f.
func (s *side) fetch(ctx context.Context, where, orderBy string, f func(Row) error) error {
	exprs := make([]string, len(s.cols))
	for i, c := range s.cols {
		exprs[i] = valueExpr(c)
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + s.table
	if where != "" {
		q += " WHERE " + where
	}
	if orderBy != "" {
		q += " ORDER BY " + orderBy
	}
	rows, release, err := s.query(ctx, q)
	if err != nil {
		return fmt.Errorf("rows of %s: %w", s.table, err)
	}
	defer release()
	defer rows.Close()
	vals := make([]sql.NullString, len(s.cols))
	dest := make([]any, len(s.cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("rows of %s: %w", s.table, err)
		}
		row := make(Row, len(vals))
		for i, v := range vals {
			if v.Valid {
				row[i] = &v.String
			}
		}
		if err := f(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rows of %s: %w", s.table, err)
	}
	return nil
}

func equalValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// compareInts compares two decimal integers (a handle's values).
func compareInts(a, b string) int {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	if x == nil || y == nil {
		return strings.Compare(a, b)
	}
	return x.Cmp(y)
}

// sortDiffs orders Diffs by key (numerically for a handle), then by row image.
func (c *comparison) sortDiffs() {
	slices.SortStableFunc(c.res.Diffs, func(a, b RowDiff) int {
		if c.key.integer {
			if r := compareInts(a.Key[0], b.Key[0]); r != 0 {
				return r
			}
		} else if r := slices.Compare(a.Key, b.Key); r != 0 {
			return r
		}
		return strings.Compare(encodeRow(a.image()), encodeRow(b.image()))
	})
}

// image is the row the diff is about: the source's, else the target's.
func (d RowDiff) image() Row {
	if d.Source != nil {
		return d.Source
	}
	return d.Target
}
