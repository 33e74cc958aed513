package tracker

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// charsetDefaults are the charset and collation a new string column gets
// when it names neither (the table's, else the schema's).
type charsetDefaults struct{ charset, collate string }

// inlineKey is a PRIMARY KEY or UNIQUE column option, turned into an index
// once the column is in place.
type inlineKey struct {
	column  string
	primary bool
}

// buildColumn converts a column definition to a Column, resolving its
// charset against defs, and returns the keys its options declare.
func buildColumn(def *ast.ColumnDef, defs charsetDefaults) (Column, []inlineKey, error) {
	name := def.Name.Name.O
	if def.Tp == nil {
		return Column{}, nil, fmt.Errorf("column %s has no type", name)
	}
	c := Column{Name: name, Type: def.Tp.DeepCopy(), Nullable: true}
	var keys []inlineKey
	collate := ""
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable = false
		case ast.ColumnOptionNull:
			c.Nullable = true
		case ast.ColumnOptionPrimaryKey:
			keys = append(keys, inlineKey{column: name, primary: true})
		case ast.ColumnOptionUniqKey:
			keys = append(keys, inlineKey{column: name})
		case ast.ColumnOptionAutoIncrement:
			c.AutoIncrement = true
		case ast.ColumnOptionDefaultValue:
			d, err := defaultSQL(o.Expr)
			if err != nil {
				return Column{}, nil, fmt.Errorf("column %s: %w", name, err)
			}
			c.Default = d
		case ast.ColumnOptionOnUpdate:
			s, err := exprSQL(o.Expr)
			if err != nil {
				return Column{}, nil, fmt.Errorf("column %s ON UPDATE: %w", name, err)
			}
			c.OnUpdate = s
		case ast.ColumnOptionComment:
			if v, ok := o.Expr.(ast.ValueExpr); ok {
				c.Comment = v.GetString()
			}
		case ast.ColumnOptionGenerated:
			s, err := exprSQL(o.Expr)
			if err != nil {
				return Column{}, nil, fmt.Errorf("column %s generation expression: %w", name, err)
			}
			c.Generated, c.GeneratedExpr, c.Stored = true, s, o.Stored
		case ast.ColumnOptionCollate:
			collate = strings.ToLower(o.StrValue)
		}
	}
	normalizeType(c.Type, collate, defs)
	return c, keys, nil
}

// normalizeType resolves the charset and collation of a string type from
// its own clause, the COLLATE option and the defaults, and fills in what
// the server fills in (DECIMAL precision).
func normalizeType(ft *types.FieldType, collate string, defs charsetDefaults) {
	tp := ft.GetType()
	if tp == mysql.TypeNewDecimal {
		flen, dec := mysql.GetDefaultFieldLengthAndDecimal(tp) // 10, 0
		if ft.GetFlen() == types.UnspecifiedLength {
			ft.SetFlen(flen)
		}
		if ft.GetDecimal() == types.UnspecifiedLength {
			ft.SetDecimal(dec)
		}
	}
	if !hasCharset(tp) {
		return
	}
	cs := strings.ToLower(ft.GetCharset())
	if collate == "" {
		collate = strings.ToLower(ft.GetCollate())
	}
	explicitCollate := collate != ""
	if cs == "" && collate != "" {
		cs = collationCharset(collate)
	}
	if cs == "" {
		cs, collate = defs.charset, defs.collate
	}
	if cs == charset.CharsetBin {
		collate = charset.CollationBin
		ft.AddFlag(mysql.BinaryFlag)
	} else if mysql.HasBinaryFlag(ft.GetFlag()) && cs != "" {
		// CHAR(n) BINARY means the charset's binary collation.
		if !explicitCollate {
			collate = cs + "_bin"
		}
		ft.DelFlag(mysql.BinaryFlag)
	}
	ft.SetCharset(cs)
	ft.SetCollate(collate)
}

// collationCharset returns the charset a collation belongs to.
func collationCharset(collate string) string {
	if c, err := charset.GetCollationByName(collate); err == nil {
		return strings.ToLower(c.CharsetName)
	}
	if collate == charset.CollationBin {
		return charset.CharsetBin
	}
	cs, _, _ := strings.Cut(collate, "_")
	return cs
}

// exprSQL renders an expression as SQL text.
func exprSQL(e ast.ExprNode) (string, error) {
	var b strings.Builder
	if err := e.Restore(format.NewRestoreCtx(restoreFlags, &b)); err != nil {
		return "", fmt.Errorf("render expression: %w", err)
	}
	return b.String(), nil
}

// defaultSQL renders a DEFAULT expression as the text that follows the
// DEFAULT keyword: literals and the CURRENT_TIMESTAMP family bare, other
// expressions in parentheses. DEFAULT NULL gives nil.
func defaultSQL(e ast.ExprNode) (*string, error) {
	if v, ok := e.(ast.ValueExpr); ok && v.GetValue() == nil {
		return nil, nil
	}
	s, err := exprSQL(e)
	if err != nil {
		return nil, err
	}
	switch x := e.(type) {
	case ast.ValueExpr:
	case *ast.UnaryOperationExpr:
		if _, ok := x.V.(ast.ValueExpr); !ok {
			s = "(" + s + ")"
		}
	case *ast.FuncCallExpr:
		switch x.FnName.L {
		case ast.CurrentTimestamp, ast.Now, ast.LocalTime, ast.LocalTimestamp:
		default:
			s = "(" + s + ")"
		}
	default:
		s = "(" + s + ")"
	}
	return &s, nil
}
