package tracker

import (
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// alterTable applies ALTER TABLE in MySQL's order: key drops and renames
// against the keys before the statement, then column and option specs in
// statement order, then added keys (so ADD COLUMN c, ADD INDEX (c) and
// DROP COLUMN c, DROP INDEX on_c both work).
func (x *txn) alterTable(s *ast.AlterTableStmt) error {
	schema, table, err := x.qualify(s.Table)
	if err != nil {
		return err
	}
	tbl, err := x.mustGet(schema, table)
	if err != nil {
		return fmt.Errorf("alter table: %w", err)
	}
	if err := x.applySpecs(tbl, s.Specs); err != nil {
		return fmt.Errorf("alter table %s: %w", TableName{schema, table}, err)
	}
	return nil
}

func (x *txn) applySpecs(tbl *Table, specs []*ast.AlterTableSpec) error {
	if err := dropKeys(tbl, specs); err != nil {
		return err
	}
	a := alteration{tbl: tbl, schemaDefs: x.schemaDefaults(tbl.Schema)}
	for _, sp := range specs {
		if err := a.apply(sp); err != nil {
			return err
		}
	}
	for _, k := range a.keys {
		if err := tbl.addInlineKey(k); err != nil {
			return err
		}
	}
	if err := tbl.addConstraints(a.constraints); err != nil {
		return err
	}

	if a.newName == nil {
		x.put(tbl)
		return nil
	}
	ns := a.newName.Schema.O
	if ns == "" {
		ns = x.def
	}
	if ns == "" {
		ns = tbl.Schema
	}
	return x.move(tbl, x.schemaName(ns), a.newName.Name.O)
}

// dropKeys applies the key drops and renames of an ALTER TABLE, against the keys before
// the statement.
func dropKeys(tbl *Table, specs []*ast.AlterTableSpec) error {
	for _, sp := range specs {
		var err error
		switch sp.Tp {
		case ast.AlterTableDropIndex:
			err = tbl.dropIndex(sp.Name, sp.IfExists)
		case ast.AlterTableDropPrimaryKey:
			err = tbl.dropIndex("PRIMARY", sp.IfExists)
		case ast.AlterTableRenameIndex:
			err = tbl.renameIndex(sp.FromKey.O, sp.ToKey.O)
		case ast.AlterTableDropCheck:
			// DROP CONSTRAINT name also drops a key of that name.
			if sp.Constraint != nil && tbl.FindIndex(sp.Constraint.Name) >= 0 {
				err = tbl.dropIndex(sp.Constraint.Name, false)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// alteration is the state of the column and option specs of one ALTER TABLE: the keys
// and constraints to add once every column spec is applied, and the new name.
type alteration struct {
	tbl         *Table
	schemaDefs  charsetDefaults
	keys        []inlineKey
	constraints []*ast.Constraint
	newName     *ast.TableName
}

// apply applies one column or option spec in statement order.
func (a *alteration) apply(sp *ast.AlterTableSpec) error {
	tbl := a.tbl
	var k []inlineKey
	var err error
	switch sp.Tp {
	case ast.AlterTableAddColumns:
		k, err = a.addColumns(sp)
	case ast.AlterTableDropColumn:
		err = tbl.dropColumn(sp.OldColumnName.Name.O, sp.IfExists)
	case ast.AlterTableModifyColumn:
		def := sp.NewColumns[0]
		k, err = tbl.changeColumn(def.Name.Name.O, def, sp.Position, sp.IfExists, tbl.defaults(a.schemaDefs))
	case ast.AlterTableChangeColumn:
		k, err = tbl.changeColumn(sp.OldColumnName.Name.O, sp.NewColumns[0], sp.Position, sp.IfExists, tbl.defaults(a.schemaDefs))
	case ast.AlterTableRenameColumn:
		err = tbl.renameColumn(sp.OldColumnName.Name.O, sp.NewColumnName.Name.O)
	case ast.AlterTableAlterColumn:
		err = tbl.alterColumnDefault(sp.NewColumns[0])
	case ast.AlterTableOption:
		applyTableCharset(tbl, sp.Options, a.schemaDefs)
	case ast.AlterTableRenameTable:
		a.newName = sp.NewTable
	case ast.AlterTableAddConstraint:
		a.constraints = append(a.constraints, sp.Constraint)
	}
	if err != nil {
		return err
	}
	a.keys = append(a.keys, k...)
	return nil
}

// addColumns applies ADD COLUMN (one or a parenthesised list, which ignores the
// position) and returns the keys the column definitions declare inline.
func (a *alteration) addColumns(sp *ast.AlterTableSpec) ([]inlineKey, error) {
	tbl := a.tbl
	pos := sp.Position
	if len(sp.NewColumns) > 1 {
		pos = nil
	}
	var k []inlineKey
	for _, def := range sp.NewColumns {
		ck, err := tbl.addColumn(def, pos, sp.IfNotExists, tbl.defaults(a.schemaDefs))
		if err != nil {
			return k, err
		}
		k = append(k, ck...)
	}
	a.constraints = append(a.constraints, sp.NewConstraints...)
	return k, nil
}

// position returns where a column placed by pos ends up; moving is the
// column's current offset (-1 for a new column), which does not count as
// a neighbour. A nil or absent position keeps it (or appends it).
func (t *Table) position(pos *ast.ColumnPosition, moving int) (int, error) {
	n := len(t.Columns)
	if moving >= 0 {
		n--
	}
	if pos == nil {
		if moving >= 0 {
			return moving, nil
		}
		return n, nil
	}
	switch pos.Tp {
	case ast.ColumnPositionFirst:
		return 0, nil
	case ast.ColumnPositionAfter:
		r := t.FindColumn(pos.RelativeColumn.Name.O)
		if r < 0 || r == moving {
			return 0, newError(ErrColumnNotFound, "column %s in AFTER", pos.RelativeColumn.Name.O)
		}
		if moving >= 0 && r > moving {
			r--
		}
		return r + 1, nil
	}
	if moving >= 0 {
		return moving, nil
	}
	return n, nil
}

// addColumn adds the column def at pos (nil: last).
func (t *Table) addColumn(def *ast.ColumnDef, pos *ast.ColumnPosition, ifNotExists bool, defs charsetDefaults) ([]inlineKey, error) {
	c, keys, err := buildColumn(def, defs)
	if err != nil {
		return nil, err
	}
	if t.FindColumn(c.Name) >= 0 {
		if ifNotExists {
			return nil, nil
		}
		return nil, newError(ErrColumnExists, "add column %s", c.Name)
	}
	p, err := t.position(pos, -1)
	if err != nil {
		return nil, err
	}
	t.insertColumn(p, c)
	return keys, nil
}

// dropColumn drops a column and its key parts.
func (t *Table) dropColumn(name string, ifExists bool) error {
	i := t.FindColumn(name)
	if i < 0 {
		if ifExists {
			return nil
		}
		return ignorableError(ErrColumnNotFound, "can't drop column %s", name)
	}
	if len(t.Columns) == 1 {
		return newError(ErrUnsupported, "can't drop %s, the only column; use DROP TABLE", name)
	}
	t.removeColumn(i)
	return nil
}

// changeColumn replaces column old with def (MODIFY and CHANGE), then
// moves it to pos. Its keys stay.
func (t *Table) changeColumn(old string, def *ast.ColumnDef, pos *ast.ColumnPosition, ifExists bool, defs charsetDefaults) ([]inlineKey, error) {
	i := t.FindColumn(old)
	if i < 0 {
		if ifExists {
			return nil, nil
		}
		return nil, newError(ErrColumnNotFound, "change column %s", old)
	}
	c, keys, err := buildColumn(def, defs)
	if err != nil {
		return nil, err
	}
	if j := t.FindColumn(c.Name); j >= 0 && j != i {
		return nil, newError(ErrColumnExists, "change column %s to %s", old, c.Name)
	}
	to, err := t.position(pos, i)
	if err != nil {
		return nil, err
	}
	t.Columns[i] = c
	t.moveColumn(i, to)
	return keys, nil
}

func (t *Table) renameColumn(old, name string) error {
	i := t.FindColumn(old)
	if i < 0 {
		return newError(ErrColumnNotFound, "rename column %s", old)
	}
	if j := t.FindColumn(name); j >= 0 && j != i {
		return newError(ErrColumnExists, "rename column %s to %s", old, name)
	}
	t.Columns[i].Name = name
	return nil
}

// alterColumnDefault applies ALTER COLUMN c SET DEFAULT v / DROP DEFAULT.
func (t *Table) alterColumnDefault(def *ast.ColumnDef) error {
	i := t.FindColumn(def.Name.Name.O)
	if i < 0 {
		return newError(ErrColumnNotFound, "alter column %s", def.Name.Name.O)
	}
	if len(def.Options) == 0 {
		t.Columns[i].Default = nil
		return nil
	}
	d, err := defaultSQL(def.Options[0].Expr)
	if err != nil {
		return fmt.Errorf("column %s: %w", def.Name.Name.O, err)
	}
	t.Columns[i].Default = d
	return nil
}

func (t *Table) renameIndex(from, to string) error {
	i := t.FindIndex(from)
	if i < 0 {
		return newError(ErrIndexNotFound, "rename key %s", from)
	}
	if j := t.FindIndex(to); j >= 0 && j != i {
		return newError(ErrIndexExists, "rename key %s to %s", from, to)
	}
	t.Indexes[i].Name = to
	return nil
}
