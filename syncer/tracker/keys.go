package tracker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// addConstraints adds the keys table constraints declare, then the index
// InnoDB creates for a foreign key that no key covers. Foreign keys
// themselves and checks are not tracked.
func (t *Table) addConstraints(cs []*ast.Constraint) error {
	for i, c := range cs {
		var err error
		if c.Tp == ast.ConstraintForeignKey {
			err = t.addForeignKeyIndex(c, cs[i+1:])
		} else {
			err = t.addConstraint(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addForeignKeyIndex adds the key InnoDB creates for a foreign key unless
// a key (existing or declared later in the statement) starts with its
// columns; it is named after the constraint, else after its first column.
func (t *Table) addForeignKeyIndex(c *ast.Constraint, later []*ast.Constraint) error {
	cols, ok := t.partColumns(c.Keys)
	if !ok || len(cols) == 0 {
		return newError(ErrColumnNotFound, "foreign key %s columns", c.Name)
	}
	covers := func(ix []int, lens []int) bool {
		return len(ix) >= len(cols) && slices.Equal(ix[:len(cols)], cols) &&
			!slices.ContainsFunc(lens[:min(len(cols), len(lens))], func(n int) bool { return n > 0 })
	}
	for _, ix := range t.Indexes {
		if ix.Kind == IndexKey && covers(ix.Columns, ix.Lengths) {
			return nil
		}
	}
	for _, lc := range later {
		switch lc.Tp {
		case ast.ConstraintPrimaryKey, ast.ConstraintKey, ast.ConstraintIndex,
			ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
			lcols, ok := t.partColumns(lc.Keys)
			var lens []int
			for _, p := range lc.Keys {
				lens = append(lens, max(p.Length, 0))
			}
			if ok && covers(lcols, lens) {
				return nil
			}
		}
	}
	name := c.Name
	if name == "" || t.FindIndex(name) >= 0 {
		name = t.uniqueIndexName(t.Columns[cols[0]].Name)
	}
	t.Indexes = append(t.Indexes, Index{Name: name, Columns: cols})
	return nil
}

// partColumns resolves column key parts to offsets; ok is false if a
// part is an expression or names an unknown column.
func (t *Table) partColumns(parts []*ast.IndexPartSpecification) (cols []int, ok bool) {
	for _, p := range parts {
		if p.Column == nil {
			return nil, false
		}
		off := t.FindColumn(p.Column.Name.O)
		if off < 0 {
			return nil, false
		}
		cols = append(cols, off)
	}
	return cols, true
}

// addConstraint adds the key a table constraint declares (not foreign
// keys, see addConstraints).
func (t *Table) addConstraint(c *ast.Constraint) error {
	switch c.Tp {
	case ast.ConstraintPrimaryKey, ast.ConstraintKey, ast.ConstraintIndex,
		ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		return t.addIndex(c, IndexKey)
	case ast.ConstraintFulltext:
		return t.addIndex(c, IndexFulltext)
	}
	return nil
}

// addInlineKey adds the key of a PRIMARY KEY or UNIQUE column option.
func (t *Table) addInlineKey(k inlineKey) error {
	c := &ast.Constraint{Tp: ast.ConstraintUniq, Keys: []*ast.IndexPartSpecification{{Column: &ast.ColumnName{Name: ast.NewCIStr(k.column)}}}}
	if k.primary {
		c.Tp = ast.ConstraintPrimaryKey
	}
	return t.addIndex(c, IndexKey)
}

// addIndex adds the key c describes, naming it as MySQL does when unnamed.
func (t *Table) addIndex(c *ast.Constraint, kind IndexKind) error {
	ix := Index{Name: c.Name, Kind: kind}
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		ix.Primary, ix.Name = true, "PRIMARY"
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		ix.Unique = true
	}
	for _, part := range c.Keys {
		if part.Expr != nil {
			s, err := exprSQL(part.Expr)
			if err != nil {
				return fmt.Errorf("index %s: %w", c.Name, err)
			}
			ix.Exprs = append(ix.Exprs, s)
			continue
		}
		off := t.FindColumn(part.Column.Name.O)
		if off < 0 {
			return newError(ErrColumnNotFound, "key column %s", part.Column.Name.O)
		}
		ix.Columns = append(ix.Columns, off)
		ix.Lengths = append(ix.Lengths, max(part.Length, 0))
	}
	if !ix.partial() {
		ix.Lengths = nil
	}
	if ix.Primary {
		if t.PrimaryKey() != nil {
			if c.IfNotExists {
				return nil
			}
			return newError(ErrIndexExists, "multiple primary keys defined")
		}
	} else if ix.Name == "" {
		ix.Name = t.uniqueIndexName(t.baseIndexName(ix))
	} else if t.FindIndex(ix.Name) >= 0 {
		if c.IfNotExists {
			return nil
		}
		return newError(ErrIndexExists, "duplicate key name %s", ix.Name)
	}
	t.Indexes = append(t.Indexes, ix)
	return nil
}

// baseIndexName is the name MySQL derives for an unnamed key.
func (t *Table) baseIndexName(ix Index) string {
	if len(ix.Columns) > 0 {
		return t.Columns[ix.Columns[0]].Name
	}
	return "functional_index"
}

// uniqueIndexName returns base, or base_2, base_3... if taken.
func (t *Table) uniqueIndexName(base string) string {
	name := base
	for i := 2; t.FindIndex(name) >= 0 || strings.EqualFold(name, "PRIMARY"); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// dropIndex drops the key named name ("PRIMARY" is the primary key).
func (t *Table) dropIndex(name string, ifExists bool) error {
	i := t.FindIndex(name)
	if i < 0 {
		if ifExists {
			return nil
		}
		return ignorableError(ErrIndexNotFound, "can't drop key %s", name)
	}
	t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
	return nil
}
