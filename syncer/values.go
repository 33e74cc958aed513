package syncer

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tmysql "github.com/pingcap/tidb/pkg/parser/mysql"
)

// colInfo is what the applier needs to know about one column, captured from the schema
// tracker when a rows event is decoded so later DDL never changes it under a worker.
type colInfo struct {
	name      string
	quoted    string
	tp        byte // TiDB parser type (mysql.TypeXxx)
	unsigned  bool
	flen      int
	charset   string // effective character set, lower case ("" when unknown)
	binary    bool   // binary string: BINARY, VARBINARY, BLOB
	ci        bool   // compares case-insensitively (non-binary collation)
	elems     []string
	generated bool
}

// isStringType reports whether values of tp are character or byte strings.
func isStringType(tp byte) bool {
	switch tp {
	case tmysql.TypeString, tmysql.TypeVarchar, tmysql.TypeVarString,
		tmysql.TypeTinyBlob, tmysql.TypeBlob, tmysql.TypeMediumBlob, tmysql.TypeLongBlob:
		return true
	}
	return false
}

// appendLiteral appends v, a value decoded by go-mysql from a rows event, as a SQL literal
// for column c. Values are rendered exactly: integers with their signedness fixed from the
// schema, strings in their own character set (hex with an introducer when not UTF-8),
// TIMESTAMPs in Config.TimeZone (go-mysql renders them there; the target session runs in it).
func appendLiteral(b []byte, v any, c *colInfo) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "NULL"...), nil
	case int8:
		return appendInt(b, int64(v), c), nil
	case int16:
		return appendInt(b, int64(v), c), nil
	case int32:
		return appendInt(b, int64(v), c), nil
	case int64:
		return appendInt(b, v, c), nil
	case int:
		return appendInt(b, int64(v), c), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float32:
		return appendFloat(b, float64(v))
	case float64:
		return appendFloat(b, v)
	case string:
		return appendBytes(b, v, c), nil
	case []byte:
		return appendBytes(b, string(v), c), nil
	case time.Time:
		return appendQuoted(b, v.Format("2006-01-02 15:04:05.999999")), nil
	case fmt.Stringer: // decimal.Decimal when UseDecimal is on
		return appendQuoted(b, v.String()), nil
	}
	return b, fmt.Errorf("column %s: unsupported binlog value of type %T (partial JSON updates need binlog_row_value_options='')", c.name, v)
}

func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("float value %v cannot be written", f)
	}
	// Shortest representation that parses back to the same float64; a FLOAT column
	// rounds it back to the same float32, and equality comparisons match.
	return strconv.AppendFloat(b, f, 'g', -1, 64), nil
}

// appendInt renders an integer from the binlog, which go-mysql always decodes as signed.
func appendInt(b []byte, v int64, c *colInfo) []byte {
	if c == nil {
		return strconv.AppendInt(b, v, 10)
	}
	switch c.tp {
	case tmysql.TypeEnum:
		if v > 0 && int(v) <= len(c.elems) {
			return appendText(b, c.elems[v-1], c)
		}
		if v == 0 && len(c.elems) > 0 {
			return append(b, "''"...)
		}
		return strconv.AppendInt(b, v, 10)
	case tmysql.TypeSet:
		if len(c.elems) > 0 {
			var parts []string
			for i, e := range c.elems {
				if i < 64 && uint64(v)&(1<<uint(i)) != 0 {
					parts = append(parts, e)
				}
			}
			return appendText(b, strings.Join(parts, ","), c)
		}
		return strconv.AppendUint(b, uint64(v), 10)
	case tmysql.TypeBit:
		return strconv.AppendUint(b, uint64(v), 10)
	}
	if !c.unsigned {
		return strconv.AppendInt(b, v, 10)
	}
	u := uint64(v)
	switch c.tp {
	case tmysql.TypeTiny:
		u &= 0xFF
	case tmysql.TypeShort:
		u &= 0xFFFF
	case tmysql.TypeInt24:
		u &= 0xFFFFFF
	case tmysql.TypeLong:
		u &= 0xFFFFFFFF
	}
	return strconv.AppendUint(b, u, 10)
}

// appendBytes renders a string or byte value according to the column type.
func appendBytes(b []byte, s string, c *colInfo) []byte {
	if c == nil {
		if utf8.ValidString(s) {
			return appendQuoted(b, s)
		}
		return appendHex(b, s)
	}
	switch c.tp {
	case tmysql.TypeNewDecimal:
		if isNumeric(s) {
			return append(b, s...)
		}
		return appendQuoted(b, s)
	case tmysql.TypeDate, tmysql.TypeDatetime, tmysql.TypeTimestamp, tmysql.TypeDuration, tmysql.TypeYear:
		return appendQuoted(b, s)
	case tmysql.TypeGeometry:
		return appendHex(b, s)
	case tmysql.TypeJSON:
		return appendQuoted(b, s)
	}
	if c.binary {
		if c.tp == tmysql.TypeString && c.flen > len(s) && c.flen <= 255 {
			// BINARY(n) is zero-padded; the binlog drops the padding.
			s += strings.Repeat("\x00", c.flen-len(s))
		}
		return appendHex(b, s)
	}
	return appendText(b, s, c)
}

// appendText renders character data in the column's character set.
func appendText(b []byte, s string, c *colInfo) []byte {
	switch c.charset {
	case "", "utf8mb4", "utf8", "utf8mb3", "ascii":
		if utf8.ValidString(s) {
			return appendQuoted(b, s)
		}
		if c.charset == "" {
			return appendHex(b, s)
		}
	}
	b = append(b, '_')
	b = append(b, c.charset...)
	b = append(b, ' ')
	return appendHex(b, s)
}

func appendHex(b []byte, s string) []byte {
	if s == "" {
		return append(b, "''"...)
	}
	b = append(b, "X'"...)
	b = hex.AppendEncode(b, []byte(s))
	return append(b, '\'')
}

// appendQuoted appends s as a single-quoted literal with MySQL backslash escapes (the
// target sessions never run with NO_BACKSLASH_ESCAPES).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case 0:
			b = append(b, '\\', '0')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\\':
			b = append(b, '\\', '\\')
		case '\'':
			b = append(b, '\\', '\'')
		case '"':
			b = append(b, '\\', '"')
		case 0x1a:
			b = append(b, '\\', 'Z')
		default:
			b = append(b, ch)
		}
	}
	return append(b, '\'')
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if (ch < '0' || ch > '9') && ch != '.' && ch != '-' && ch != '+' && ch != 'e' && ch != 'E' {
			return false
		}
	}
	return true
}

// keyValue renders v for a causality key: equal keys must give equal strings, and values
// that the target's collation treats as equal should too (case-insensitive collations
// fold case and PAD SPACE collations ignore trailing spaces). False matches only cost
// parallelism; missed matches could reorder conflicting changes.
func keyValue(b []byte, v any, c *colInfo) []byte {
	switch s := v.(type) {
	case string:
		if c != nil && !c.binary && isStringType(c.tp) {
			s = strings.TrimRight(s, " ")
			if c.ci {
				s = strings.ToLower(s)
			}
			return append(b, s...)
		}
	case []byte:
		if c != nil && !c.binary && isStringType(c.tp) {
			t := strings.TrimRight(string(s), " ")
			if c.ci {
				t = strings.ToLower(t)
			}
			return append(b, t...)
		}
	}
	out, err := appendLiteral(b, v, c)
	if err != nil {
		return append(b, fmt.Sprint(v)...)
	}
	return out
}
