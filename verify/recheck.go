package verify

import (
	"context"
	"fmt"
	"math/big"
)

// RecheckAt compares again, at pt, only the rows prev reported — by key, one single-key
// range each — when prev comes from a table compared in chunks with its complete list of
// differences; otherwise (a table compared whole, a truncated list) the whole table, as
// TableAt does. It is what a repair uses while replication is held: the hold lasts as
// long as a few row reads, not a full table scan. The result counts the rechecked ranges
// as Chunks and their rows as SourceRows/TargetRows.
func (v *Verifier) RecheckAt(ctx context.Context, pt Point, prev *TableResult) (*TableResult, error) {
	n := prev.names
	if n.srcTable == "" {
		return nil, fmt.Errorf("verify: recheck of %s: the result does not come from TableAt", prev.Target)
	}
	if !prev.Chunked || prev.Truncated {
		return v.TableAt(ctx, pt, n.srcSchema, n.srcTable, n.dstSchema, n.dstTable)
	}
	c, err := v.prepare(ctx, pt, n)
	if err != nil {
		return nil, err
	}
	if !c.key.integer { // the key changed since prev (DDL): compare it all
		return v.TableAt(ctx, pt, n.srcSchema, n.srcTable, n.dstSchema, n.dstTable)
	}
	seen := map[string]bool{}
	for _, d := range prev.Diffs {
		if len(d.Key) != 1 || seen[d.Key[0]] {
			continue
		}
		seen[d.Key[0]] = true
		k, ok := new(big.Int).SetString(d.Key[0], 10)
		if !ok {
			return nil, fmt.Errorf("verify: recheck of %s: key %q is not an integer", c.dst.table, d.Key[0])
		}
		r := keyRange{lo: k, hi: new(big.Int).Add(k, big.NewInt(1))}
		if err := c.throttle(ctx); err != nil {
			return nil, err
		}
		s, t, err := c.checksums(ctx, r.where(c.keyCol))
		if err != nil {
			return nil, fmt.Errorf("verify %s against %s: %w", c.src.table, c.dst.table, err)
		}
		c.res.Chunks++
		c.res.SourceRows += s.count
		c.res.TargetRows += t.count
		if s == t {
			continue
		}
		c.res.MismatchedChunks++
		if err := c.diffRange(ctx, r); err != nil {
			return nil, fmt.Errorf("verify %s against %s: %w", c.src.table, c.dst.table, err)
		}
	}
	return c.finish(), nil
}
