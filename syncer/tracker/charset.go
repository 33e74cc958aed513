package tracker

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/mysql"
)

// defaults returns the charset defaults new columns of t inherit.
func (t *Table) defaults(schemaDefs charsetDefaults) charsetDefaults {
	if t.Charset != "" {
		return charsetDefaults{charset: t.Charset, collate: t.Collate}
	}
	return schemaDefs
}

// applyTableCharset applies the CHARSET/COLLATE table options (CONVERT TO
// CHARACTER SET too, which also converts the string columns).
func applyTableCharset(t *Table, opts []*ast.TableOption, schemaDefs charsetDefaults) {
	var cs, co string
	var seen, convert, toDefault bool
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			seen = true
			cs = strings.ToLower(o.StrValue)
			toDefault = o.Default && cs == ""
			convert = convert || o.UintValue == ast.TableOptionCharsetWithConvertTo
		case ast.TableOptionCollate:
			seen = true
			co = strings.ToLower(o.StrValue)
		}
	}
	if !seen {
		return
	}
	if toDefault {
		cs = schemaDefs.charset
		if co == "" {
			co = schemaDefs.collate
		}
	}
	if cs == "" && co != "" {
		cs = collationCharset(co)
	}
	if convert {
		for i := range t.Columns {
			convertColumn(&t.Columns[i], cs, co)
		}
	}
	t.Charset, t.Collate = cs, co
}

// convertColumn converts a non-binary string column to charset cs, as
// CONVERT TO CHARACTER SET does: TEXT and VARCHAR types grow when the new
// charset needs more bytes per character.
func convertColumn(c *Column, cs, co string) {
	ft := c.Type
	tp := ft.GetType()
	if !hasCharset(tp) || c.IsBinary() {
		return
	}
	if oldMax, newMax := maxLen(ft.GetCharset()), maxLen(cs); oldMax > 0 && newMax > oldMax {
		switch {
		case tp == mysql.TypeVarchar && ft.GetFlen() > 0 && ft.GetFlen()*newMax > 65535:
			ft.SetType(mysql.TypeMediumBlob)
			ft.SetFlen(-1)
		case tp == mysql.TypeTinyBlob, tp == mysql.TypeBlob, tp == mysql.TypeMediumBlob:
			chars := blobBytes(tp) / oldMax
			for chars*newMax > blobBytes(ft.GetType()) && ft.GetType() != mysql.TypeLongBlob {
				ft.SetType(nextBlob(ft.GetType()))
			}
		}
	}
	if cs == charset.CharsetBin {
		ft.AddFlag(mysql.BinaryFlag)
		co = charset.CollationBin
	}
	ft.SetCharset(cs)
	ft.SetCollate(co)
}

func maxLen(cs string) int {
	if cs == "" {
		return 0
	}
	info, err := charset.GetCharsetInfo(cs)
	if err != nil {
		return 0
	}
	return info.Maxlen
}

func blobBytes(tp byte) int {
	switch tp {
	case mysql.TypeTinyBlob:
		return 1<<8 - 1
	case mysql.TypeBlob:
		return 1<<16 - 1
	case mysql.TypeMediumBlob:
		return 1<<24 - 1
	}
	return 1<<32 - 1
}

func nextBlob(tp byte) byte {
	switch tp {
	case mysql.TypeTinyBlob:
		return mysql.TypeBlob
	case mysql.TypeBlob:
		return mysql.TypeMediumBlob
	}
	return mysql.TypeLongBlob
}
