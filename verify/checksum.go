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
	case isText(c):
		e = "CONVERT(" + e + " USING utf8mb4)"
	}
	return "CAST(" + e + " AS BINARY)"
}

// rowExpr is one row's image as one byte string:
//
//	CONCAT_WS('#', ISNULL(c1), …, ISNULL(cn), len1, …, lenn, v1, …, vn)
//
// CONCAT_WS skips NULLs, so the ISNULL flags tell NULL from the empty string and say which
// lengths and values follow; the lengths make the split between values unambiguous ('a#','b'
// vs 'a','#b'). The encoding is therefore injective: equal images mean equal rows. Flags
// and lengths are taken from the column itself where that is the same on both sides, so
// each vi is computed once per row: a text column's length is CHAR_LENGTH (characters do
// not depend on the charset, and utf8mb4 bytes split unambiguously by a character count), a
// FLOAT's the length of its widened value, anything else's LENGTH of the column (its
// string form is what CAST(… AS BINARY) gives).
func rowExpr(cols []column) string {
	parts := make([]string, 0, 3*len(cols))
	for _, c := range cols {
		parts = append(parts, "ISNULL("+sqlq.QuoteName(c.name)+")")
	}
	for _, c := range cols {
		parts = append(parts, lengthExpr(c))
	}
	for _, c := range cols {
		parts = append(parts, valueExpr(c))
	}
	return "CONCAT_WS('#', " + strings.Join(parts, ", ") + ")"
}

func lengthExpr(c column) string {
	switch {
	case c.dataType == "float":
		return "LENGTH(" + valueExpr(c) + ")"
	case isText(c):
		return "CHAR_LENGTH(" + sqlq.QuoteName(c.name) + ")"
	}
	return "LENGTH(" + sqlq.QuoteName(c.name) + ")"
}

func isText(c column) bool { return c.charset != "" && c.charset != "binary" }

// checksumQuery is the order-independent checksum of the rows of table matching where
// (which may be empty): the row count and the exact (DECIMAL) sum of the rows' 64-bit MD5
// prefixes. A sum, not an XOR: a pair of duplicate rows (possible in a keyless table)
// would cancel out of an XOR. One hash per row, so the row image is built once.
func checksumQuery(table string, cols []column, where string) string {
	q := "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(" + rowExpr(cols) + "), 16), 16, 10) AS UNSIGNED)), 0) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	return q
}

// checksum is one side's checksum of a set of rows.
type checksum struct {
	count int64
	sum   string
}

func (s *side) checksum(ctx context.Context, where string) (checksum, error) {
	var c checksum
	if err := s.queryRow(ctx, checksumQuery(s.table, s.cols, where), &c.count, &c.sum); err != nil {
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
