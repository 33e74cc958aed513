package filter

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// Column is the current definition of a column, used to classify
// MODIFY/CHANGE COLUMN the way DM does (value range decrease, precision
// decrease, modify charset, ...). Build it with ColumnFromDef from the
// table's CREATE TABLE statement so both sides are normalised alike.
type Column struct {
	// Type is the column type. Its flags carry UNSIGNED and AUTO_INCREMENT.
	// Charset and collation should be the effective ones (filled from the
	// table default when the definition does not name them).
	Type *types.FieldType
	// Default is the DEFAULT expression as the TiDB parser restores it, nil
	// for no default or DEFAULT NULL.
	Default *string
}

// ColumnLookup returns the current definition of a column of the table being
// altered, by name (case-insensitive); ok is false when it is unknown.
type ColumnLookup func(name string) (col Column, ok bool)

// ClassifyDDL returns the binlog filter event type of one DDL statement, or
// NullEvent for statements that are not classified. ALTER TABLE is
// classified by its specs as DM does; MODIFY/CHANGE COLUMN, which needs the
// old column, is classified as AlterTable (DM's fallback without schema
// information) — use ClassifyDDLWithColumns to refine it.
func ClassifyDDL(stmt ast.StmtNode) EventType {
	return ClassifyDDLWithColumns(stmt, nil)
}

// ClassifyDDLWithColumns is ClassifyDDL with a lookup of the altered table's
// current columns, which refines MODIFY/CHANGE COLUMN into DM's kinds. A nil
// lookup behaves like ClassifyDDL.
func ClassifyDDLWithColumns(stmt ast.StmtNode, lookup ColumnLookup) EventType {
	switch n := stmt.(type) {
	case *ast.CreateDatabaseStmt:
		return CreateDatabase
	case *ast.DropDatabaseStmt:
		return DropDatabase
	case *ast.AlterDatabaseStmt:
		for _, o := range n.Options {
			if o.Tp == ast.DatabaseOptionCharset || o.Tp == ast.DatabaseOptionCollate {
				return ModifySchemaCharsetAndCollate
			}
		}
		return AlterDatabase
	case *ast.CreateTableStmt:
		return CreateTable
	case *ast.DropTableStmt:
		if n.IsView {
			return DropView
		}
		return DropTable
	case *ast.TruncateTableStmt:
		return TruncateTable
	case *ast.RenameTableStmt:
		return RenameTable
	case *ast.CreateIndexStmt:
		return CreateIndex
	case *ast.DropIndexStmt:
		return DropIndex
	case *ast.CreateViewStmt:
		return CreateView
	case *ast.AlterTableStmt:
		return classifyAlter(n.Specs, lookup)
	}
	return NullEvent
}

// alterSpecs drops the specs that do not change the table (LOCK, ALGORITHM)
// and splits `ADD (c1 ..., c2 ..., INDEX ...)` into one spec per column
// followed by one per constraint, like TiDB's ResolveAlterTableSpec.
func alterSpecs(specs []*ast.AlterTableSpec) []*ast.AlterTableSpec {
	out := make([]*ast.AlterTableSpec, 0, len(specs))
	for _, s := range specs {
		switch {
		case s.Tp == ast.AlterTableLock || s.Tp == ast.AlterTableAlgorithm:
			continue
		case s.Tp == ast.AlterTableAddColumns && (len(s.NewColumns) > 1 || len(s.NewConstraints) > 0):
			for _, c := range s.NewColumns {
				t := *s
				t.NewColumns, t.NewConstraints = []*ast.ColumnDef{c}, nil
				out = append(out, &t)
			}
			for _, c := range s.NewConstraints {
				t := *s
				t.NewColumns, t.NewConstraints = nil, nil
				t.Tp, t.Constraint = ast.AlterTableAddConstraint, c
				out = append(out, &t)
			}
		default:
			out = append(out, s)
		}
	}
	return out
}

// classifyAlter follows DM's syncer: the first spec of a kind DM recognises
// decides; when none does the statement is AlterTable. dmkit then refines
// that AlterTable by the first spec with a more specific name (ADD COLUMN,
// DROP FOREIGN KEY, ADD PARTITION, ...); refined kinds still match rules
// naming the DM kind.
func classifyAlter(specs []*ast.AlterTableSpec, lookup ColumnLookup) EventType {
	specs = alterSpecs(specs)
	for _, s := range specs {
		if t, ok := dmAlterKind(s, lookup); ok {
			return t
		}
	}
	for _, s := range specs {
		if t, ok := refinedAlterKind(s); ok {
			return t
		}
	}
	return AlterTable
}

// dmAlterKind is the kind DM's syncer gives an ALTER TABLE spec, if any.
func dmAlterKind(s *ast.AlterTableSpec, lookup ColumnLookup) (EventType, bool) {
	switch s.Tp {
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		return classifyModifyColumn(s, lookup), true
	case ast.AlterTableAlterColumn:
		if len(s.NewColumns) > 0 && len(s.NewColumns[0].Options) > 0 {
			return SetDefaultValue, true
		}
		return ModifyDefaultValue, true
	case ast.AlterTableAddConstraint:
		return addConstraintKind(s.Constraint), true
	case ast.AlterTableOption:
		return optionKind(s.Options, dmOptionKinds)
	}
	t, ok := dmAlterKinds[s.Tp]
	return t, ok
}

// dmAlterKinds are the spec types DM's syncer names by the spec type alone.
var dmAlterKinds = map[ast.AlterTableType]EventType{
	ast.AlterTableRenameColumn:        RenameColumn,
	ast.AlterTableRenameIndex:         RenameIndex,
	ast.AlterTableRenameTable:         RenameTable,
	ast.AlterTableDropColumn:          DropColumn,
	ast.AlterTableDropIndex:           DropIndex,
	ast.AlterTableDropPartition:       DropTablePartition,
	ast.AlterTableDropPrimaryKey:      DropPrimaryKey,
	ast.AlterTableTruncatePartition:   TruncateTablePartition,
	ast.AlterTableReorganizePartition: ReorganizePartition,
	ast.AlterTableRebuildPartition:    RebuildPartition,
	ast.AlterTableCoalescePartitions:  CoalescePartition,
	ast.AlterTableExchangePartition:   ExchangePartition,
}

// dmOptionKinds are the table options DM's syncer names.
var dmOptionKinds = map[ast.TableOptionType]EventType{
	ast.TableOptionCharset: ModifyCharset,
	ast.TableOptionCollate: ModifyCollation,
	ast.TableOptionEngine:  ModifyStorageEngine,
}

// addConstraintKind is the kind of ADD CONSTRAINT c.
func addConstraintKind(c *ast.Constraint) EventType {
	if c != nil {
		switch c.Tp {
		case ast.ConstraintPrimaryKey:
			return AddPrimaryKey
		case ast.ConstraintForeignKey:
			return AddForeignKey
		}
	}
	return ModifyConstraint
}

// refinedAlterKind is dmkit's more specific name for an ALTER TABLE spec DM calls
// AlterTable, if any.
func refinedAlterKind(s *ast.AlterTableSpec) (EventType, bool) {
	if s.Tp == ast.AlterTableOption {
		return optionKind(s.Options, refinedOptionKinds)
	}
	t, ok := refinedAlterKinds[s.Tp]
	return t, ok
}

// refinedAlterKinds are the spec types dmkit names by the spec type alone.
var refinedAlterKinds = map[ast.AlterTableType]EventType{
	ast.AlterTableAddColumns:         AddColumn,
	ast.AlterTableDropForeignKey:     DropForeignKey,
	ast.AlterTableAddPartitions:      AddTablePartition,
	ast.AlterTableIndexInvisible:     AlterIndexVisibility,
	ast.AlterTablePartition:          AlterTablePartitioning,
	ast.AlterTableRemovePartitioning: RemovePartitioning,
	ast.AlterTableRemoveTTL:          AlterTTLRemove,
}

// refinedOptionKinds are the table options dmkit names.
var refinedOptionKinds = map[ast.TableOptionType]EventType{
	ast.TableOptionAutoIncrement:  RebaseAutoID,
	ast.TableOptionComment:        ModifyTableComment,
	ast.TableOptionTTL:            AlterTTLInfo,
	ast.TableOptionTTLEnable:      AlterTTLInfo,
	ast.TableOptionTTLJobInterval: AlterTTLInfo,
}

// optionKind is the kind of the first option of opts that kinds names, if any.
func optionKind(opts []*ast.TableOption, kinds map[ast.TableOptionType]EventType) (EventType, bool) {
	for _, o := range opts {
		if t, ok := kinds[o.Tp]; ok {
			return t, true
		}
	}
	return "", false
}

// ColumnFromDef builds the Column of a column definition (from CREATE TABLE
// or from a MODIFY/CHANGE COLUMN spec): AUTO_INCREMENT becomes a type flag,
// COLLATE options are applied, a charset implied by a collation is filled in,
// and the DEFAULT expression is restored to text.
func ColumnFromDef(def *ast.ColumnDef) Column {
	var tp *types.FieldType
	if def.Tp != nil {
		tp = def.Tp.Clone()
	} else {
		tp = types.NewFieldType(mysql.TypeUnspecified)
	}
	col := Column{Type: tp}
	for _, o := range def.Options {
		switch o.Tp {
		case ast.ColumnOptionAutoIncrement:
			tp.AddFlag(mysql.AutoIncrementFlag)
		case ast.ColumnOptionCollate:
			tp.SetCollate(o.StrValue)
		case ast.ColumnOptionDefaultValue:
			col.Default = restoreDefault(o.Expr)
		}
	}
	if tp.GetCollate() != "" && tp.GetCharset() == "" {
		if c, err := charset.GetCollationByName(tp.GetCollate()); err == nil {
			tp.SetCharset(c.CharsetName)
		}
	}
	if tp.GetCharset() != "" && tp.GetCollate() == "" {
		if cs, err := charset.GetCharsetInfo(tp.GetCharset()); err == nil {
			tp.SetCollate(cs.DefaultCollation)
		}
	}
	return col
}

func restoreDefault(e ast.ExprNode) *string {
	if e == nil {
		return nil
	}
	if v, ok := e.(ast.ValueExpr); ok && v.GetValue() == nil {
		return nil
	}
	var sb strings.Builder
	if err := e.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return nil
	}
	s := sb.String()
	return &s
}

// classifyModifyColumn ports DM's handleModifyColumn. Deliberate difference:
// a MODIFY that does not repeat PRIMARY KEY/UNIQUE is not "drop primary key"
// / "drop unique key", because MySQL keeps those indexes.
func classifyModifyColumn(s *ast.AlterTableSpec, lookup ColumnLookup) EventType {
	if lookup == nil || len(s.NewColumns) == 0 || s.NewColumns[0].Tp == nil {
		return AlterTable
	}
	newDef := s.NewColumns[0]
	oldName := newDef.Name.Name.L
	if s.Tp == ast.AlterTableChangeColumn && s.OldColumnName != nil {
		oldName = s.OldColumnName.Name.L
	}
	oldCol, ok := lookup(oldName)
	if !ok || oldCol.Type == nil {
		return AlterTable
	}
	newCol := ColumnFromDef(newDef)
	if newCol.Type.GetCharset() == "" && newCol.Type.GetCollate() == "" {
		// Not named: the column keeps the table default, assumed to be the
		// old column's.
		newCol.Type.SetCharset(oldCol.Type.GetCharset())
		newCol.Type.SetCollate(oldCol.Type.GetCollate())
	}
	if et := changeColumnData(oldCol.Type, newCol.Type); et != AlterTable {
		return et
	}
	switch {
	case mysql.HasAutoIncrementFlag(oldCol.Type.GetFlag()) && !mysql.HasAutoIncrementFlag(newCol.Type.GetFlag()):
		return RemoveAutoIncrement
	case !sameDefault(oldCol.Default, newCol.Default):
		return ModifyDefaultValue
	case !strings.EqualFold(oldCol.Type.GetCharset(), newCol.Type.GetCharset()):
		return ModifyCharset
	case !strings.EqualFold(oldCol.Type.GetCollate(), newCol.Type.GetCollate()):
		return ModifyCollation
	case s.Position != nil && s.Position.Tp != ast.ColumnPositionNone:
		return ModifyColumnsOrder
	case oldName != newDef.Name.Name.L:
		return RenameColumn
	}
	return AlterTable
}

func sameDefault(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// lengthAndDecimal returns flen and decimal with unspecified values replaced
// by the type's defaults, so `INT` and `INT(11)` compare equal.
func lengthAndDecimal(ft *types.FieldType) (int, int) {
	flen, dec := ft.GetFlen(), ft.GetDecimal()
	defFlen, defDec := mysql.GetDefaultFieldLengthAndDecimal(ft.GetType())
	if flen == types.UnspecifiedLength {
		flen = defFlen
	}
	if dec == types.UnspecifiedLength {
		dec = defDec
	}
	return flen, dec
}

func isIntType(tp byte) bool {
	switch tp {
	case mysql.TypeTiny, mysql.TypeShort, mysql.TypeInt24, mysql.TypeLong, mysql.TypeLonglong:
		return true
	}
	return false
}

func isStringType(tp byte) bool {
	switch tp {
	case mysql.TypeVarchar, mysql.TypeString, mysql.TypeVarString,
		mysql.TypeBlob, mysql.TypeTinyBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		return true
	}
	return false
}

// changeColumnData ports TiDB's needChangeColumnData as DM uses it: it
// returns the lossy-change kind of a column type change, or AlterTable when
// the data needs no conversion.
func changeColumnData(oldTp, newTp *types.FieldType) EventType {
	toUnsigned := mysql.HasUnsignedFlag(newTp.GetFlag())
	wasUnsigned := mysql.HasUnsignedFlag(oldTp.GetFlag())
	oldFlen, oldDec := lengthAndDecimal(oldTp)
	newFlen, newDec := lengthAndDecimal(newTp)
	truncOrToggle := (newFlen > 0 && (newFlen < oldFlen || newDec < oldDec)) || toUnsigned != wasUnsigned
	defOld, _ := mysql.GetDefaultFieldLengthAndDecimal(oldTp.GetType())
	defNew, _ := mysql.GetDefaultFieldLengthAndDecimal(newTp.GetType())
	intTruncOrToggle := (defNew > 0 && defNew < defOld) || toUnsigned != wasUnsigned

	if oldTp.GetType() == newTp.GetType() {
		switch oldTp.GetType() {
		case mysql.TypeNewDecimal:
			if oldFlen != newFlen || oldDec != newDec || toUnsigned != wasUnsigned {
				return PrecisionDecrease
			}
			return AlterTable
		case mysql.TypeEnum, mysql.TypeSet:
			if elemsChanged(oldTp.GetElems(), newTp.GetElems()) {
				return ValueRangeDecrease
			}
			return AlterTable
		case mysql.TypeTiny, mysql.TypeShort, mysql.TypeInt24, mysql.TypeLong, mysql.TypeLonglong:
			if toUnsigned != wasUnsigned {
				return PrecisionDecrease
			}
			return AlterTable
		case mysql.TypeString:
			if strings.EqualFold(oldTp.GetCharset(), charset.CharsetBin) && newFlen != oldFlen {
				return PrecisionDecrease
			}
			return AlterTable
		}
		if truncOrToggle {
			return ValueRangeDecrease
		}
		return AlterTable
	}
	o, n := oldTp.GetType(), newTp.GetType()
	if (o == mysql.TypeVarchar && n == mysql.TypeString) || (o == mysql.TypeString && n == mysql.TypeVarchar) {
		return ModifyColumn
	}
	switch {
	case isStringType(o) && isStringType(n):
		if truncOrToggle {
			return ModifyColumn
		}
		return AlterTable
	case isIntType(o) && isIntType(n):
		if intTruncOrToggle {
			return ValueRangeDecrease
		}
		return AlterTable
	}
	return ModifyColumn
}

// elemsChanged reports whether an ENUM/SET change is not a pure append.
func elemsChanged(oldElems, newElems []string) bool {
	if len(newElems) < len(oldElems) {
		return true
	}
	for i, e := range oldElems {
		if newElems[i] != e {
			return true
		}
	}
	return false
}
