package verify

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// valueExpr is the SQL expression whose bytes stand for one column's value, on the side
// that defines the column as c. Both the checksum and the row fetch use it, so a chunk
// whose checksums differ always shows a differing row image.
//   - text (any charset): CONVERT(c USING utf8mb4), so the same text stored in latin1 on
//     one side and utf8mb4 on the other compares equal;
//   - FLOAT: c*1E0, a DOUBLE holding the exact float value (a FLOAT prints with 6 digits,
//     which would hide a change in its low bits);
//   - everything else (integers, DECIMAL, DOUBLE, dates, JSON, BIT, blobs): as is.
//
// All wrapped in CAST(… AS BINARY): bytes, never a collation, so 'a' <> 'A' and 'a ' <> 'a'
// and the concatenation below never meets an "illegal mix of collations".
func valueExpr(c column) string {
	e := sqlq.QuoteName(c.name)
	switch {
	case c.dataType == "float":
		e += "*1E0"
	case c.charset != "" && c.charset != "binary":
		e = "CONVERT(" + e + " USING utf8mb4)"
	}
	return "CAST(" + e + " AS BINARY)"
}

// rowExpr is one row's image as one byte string:
//
//	CONCAT_WS('#', ISNULL(v1), …, ISNULL(vn), LENGTH(v1), …, LENGTH(vn), v1, …, vn)
//
// CONCAT_WS skips NULLs, so the ISNULL flags tell NULL from the empty string and say which lengths and
// values follow; the lengths make the split between values unambiguous ('a#','b' vs
// 'a','#b'). The encoding is therefore injective: equal images mean equal rows.
func rowExpr(cols []column) string {
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = valueExpr(c)
	}
	parts := make([]string, 0, 3*len(cols))
	for _, v := range vals {
		parts = append(parts, "ISNULL("+v+")")
	}
	for _, v := range vals {
		parts = append(parts, "LENGTH("+v+")")
	}
	parts = append(parts, vals...)
	return "CONCAT_WS('#', " + strings.Join(parts, ", ") + ")"
}

// checksumQuery is the order-independent checksum of the rows of table matching where
// (which may be empty): the row count, the XOR of the rows' 64-bit MD5 prefixes and the
// sum of their CRC32s. XOR alone cancels a pair of duplicate rows (possible in a keyless
// table); the sum does not.
func checksumQuery(table string, cols []column, where string) string {
	r := rowExpr(cols)
	q := "SELECT COUNT(*), COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(" + r + "), 16), 16, 10) AS UNSIGNED)), 0), " +
		"COALESCE(SUM(CRC32(" + r + ")), 0) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	return q
}

// checksum is one side's checksum of a set of rows.
type checksum struct {
	count    int64
	xor, sum string
}

func (s *side) checksum(ctx context.Context, where string) (checksum, error) {
	var c checksum
	if err := s.queryRow(ctx, checksumQuery(s.table, s.cols, where), &c.count, &c.xor, &c.sum); err != nil {
		return c, fmt.Errorf("checksum of %s: %w", s.table, err)
	}
	return c, nil
}

// keyRange is lo <= key < hi on the integer handle; a nil bound is open.
type keyRange struct {
	lo, hi *big.Int
}

// where renders r as a condition on col (quoted); empty when r is unbounded.
func (r keyRange) where(col string) string {
	var parts []string
	if r.lo != nil {
		parts = append(parts, col+" >= "+r.lo.String())
	}
	if r.hi != nil {
		parts = append(parts, col+" < "+r.hi.String())
	}
	return strings.Join(parts, " AND ")
}

// splitRange cuts [lo, hi] into up to n ranges of equal width and returns them; the
// first is open below and the last open above, so together they cover every key even
// where the bounds are stale or the other side has keys outside them. (The dumper
// splits the same way; see dumper/plan.go.)
func splitRange(lo, hi *big.Int, n int64) []keyRange {
	span := new(big.Int).Sub(hi, lo)
	span.Add(span, big.NewInt(1))
	if span.Cmp(big.NewInt(n)) < 0 {
		n = span.Int64()
	}
	if n <= 1 {
		return []keyRange{{}}
	}
	width := new(big.Int).Div(span, big.NewInt(n))
	out := make([]keyRange, 0, n)
	var prev *big.Int
	for i := int64(1); i < n; i++ {
		b := new(big.Int).Mul(width, big.NewInt(i))
		b.Add(b, lo)
		out = append(out, keyRange{lo: prev, hi: b})
		prev = b
	}
	return append(out, keyRange{lo: prev})
}
