package dumper

import (
	"encoding/hex"
	"strings"
)

// valueKind says how a column's text-protocol value is written as an SQL literal.
type valueKind uint8

const (
	// kindNumber: integers, decimals, floats, YEAR, unquoted. DECIMAL is the server's
	// text; go-sql-driver parses integer and FLOAT/DOUBLE text and database/sql
	// formats it back in shortest round-trip form.
	kindNumber valueKind = iota
	// kindString: a quoted, backslash-escaped string (utf8/ascii text, dates, times,
	// enum/set in a UTF-8 charset, MariaDB's inet/uuid types, anything unknown).
	kindString
	// kindHex: 0x… (binary strings, blobs, BIT, geometry; '' when empty).
	kindHex
	// kindCharsetHex: _charset 0x… for text in a charset other than UTF-8/ASCII, so the
	// bytes mean the same whatever character set the loading session uses.
	kindCharsetHex
	// kindUTF8String: _utf8mb4'…' for types that read a binary-charset string (what a
	// plain literal is under SET NAMES binary) differently from text: MySQL's JSON
	// refuses it, MariaDB's UUID/INET4/INET6 take it as their 16/4-byte native form.
	kindUTF8String
)

// column is one dumped (non-generated) column.
type column struct {
	name    string
	kind    valueKind
	charset string // for kindCharsetHex
	// selectExpr is what the SELECT reads; FLOAT is widened to DOUBLE because the
	// server prints FLOAT with 6 significant digits, which does not round-trip.
	selectExpr string
}

// classify picks the literal kind for a column from information_schema.COLUMNS'
// DATA_TYPE and CHARACTER_SET_NAME.
func classify(dataType, charset string) valueKind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "float", "double", "real", "double precision", "year":
		return kindNumber
	case "bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection", "vector":
		return kindHex
	case "json", "uuid", "inet4", "inet6":
		return kindUTF8String
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		switch strings.ToLower(charset) {
		case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
			return kindString
		case "binary":
			return kindHex
		default:
			return kindCharsetHex
		}
	default: // date, time, datetime, timestamp, …
		return kindString
	}
}

// appendValue appends v (nil = NULL) as an SQL literal of column c.
func appendValue(dst []byte, c *column, v []byte) []byte {
	if v == nil {
		return append(dst, "NULL"...)
	}
	switch c.kind {
	case kindNumber:
		return append(dst, v...)
	case kindHex:
		if len(v) == 0 {
			return append(dst, "''"...)
		}
		dst = append(dst, "0x"...)
		return hex.AppendEncode(dst, v)
	case kindCharsetHex:
		dst = append(dst, '_')
		dst = append(dst, c.charset...)
		if len(v) == 0 {
			return append(dst, "''"...)
		}
		dst = append(dst, " 0x"...)
		return hex.AppendEncode(dst, v)
	case kindUTF8String:
		dst = append(dst, "_utf8mb4"...)
		return appendQuoted(dst, v)
	default:
		return appendQuoted(dst, v)
	}
}

// appendQuoted appends v as a single-quoted literal escaped like
// mysql_real_escape_string, so the result never holds a raw newline.
func appendQuoted(dst, v []byte) []byte {
	dst = append(dst, '\'')
	start := 0
	for i, b := range v {
		var esc byte
		switch b {
		case 0:
			esc = '0'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\\':
			esc = '\\'
		case '\'':
			esc = '\''
		case '"':
			esc = '"'
		case 0x1a:
			esc = 'Z'
		default:
			continue
		}
		dst = append(dst, v[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	dst = append(dst, v[start:]...)
	return append(dst, '\'')
}
