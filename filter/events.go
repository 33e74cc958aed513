package filter

import "strings"

// EventType names a binlog event kind as DM's binlog event filter spells it
// (the values accepted in `ignore_event`, API.md Appendix B).
type EventType string

// Meta event types: they match whole classes of events.
const (
	AllEvent  EventType = "all"
	AllDDL    EventType = "all ddl"
	AllDML    EventType = "all dml"
	NoneEvent EventType = "none"
	NoneDDL   EventType = "none ddl"
	NoneDML   EventType = "none dml"
	// IncompatibleDDLChanges matches every DDL of the "incompatible" class
	// (drops, renames, truncates and lossy column changes).
	IncompatibleDDLChanges EventType = "incompatible ddl changes"
	// NullEvent is the type of a statement that has no classification; only
	// SQL patterns apply to it.
	NullEvent EventType = ""
)

// DML event types.
const (
	InsertEvent EventType = "insert"
	UpdateEvent EventType = "update"
	DeleteEvent EventType = "delete"
)

// DDL event types produced by DM's syncer.
const (
	CreateDatabase         EventType = "create database"
	DropDatabase           EventType = "drop database"
	AlterDatabase          EventType = "alter database"
	CreateTable            EventType = "create table"
	DropTable              EventType = "drop table"
	TruncateTable          EventType = "truncate table"
	RenameTable            EventType = "rename table"
	CreateIndex            EventType = "create index"
	DropIndex              EventType = "drop index"
	CreateView             EventType = "create view"
	DropView               EventType = "drop view"
	AlterTable             EventType = "alter table"
	AddTablePartition      EventType = "add table partition"
	DropTablePartition     EventType = "drop table partition"
	TruncateTablePartition EventType = "truncate table partition"
	ReorganizePartition    EventType = "reorganize table partition"
	RebuildPartition       EventType = "rebuild table partition"
	CoalescePartition      EventType = "coalesce table partition"
	SplitPartition         EventType = "split table partition"
	ExchangePartition      EventType = "exchange table partition"
	ValueRangeDecrease     EventType = "value range decrease"
	PrecisionDecrease      EventType = "precision decrease"
	ModifyColumn           EventType = "modify column"
	RenameColumn           EventType = "rename column"
	RenameIndex            EventType = "rename index"
	DropColumn             EventType = "drop column"
	DropPrimaryKey         EventType = "drop primary key"
	DropUniqueKey          EventType = "drop unique key"
	ModifyDefaultValue     EventType = "modify default value"
	ModifyConstraint       EventType = "modify constraint"
	ModifyColumnsOrder     EventType = "modify columns order"
	ModifyCharset          EventType = "modify charset"
	ModifyCollation        EventType = "modify collation"
	RemoveAutoIncrement    EventType = "remove auto increment"
	ModifyStorageEngine    EventType = "modify storage engine"
	AddForeignKey          EventType = "add foreign key"
	DropForeignKey         EventType = "drop foreign key"
)

// DDL event types DM accepts in rules but its syncer never produces; dmkit's
// ClassifyDDL produces some of them as refinements (see README.md).
const (
	ModifySchemaCharsetAndCollate EventType = "modify schema charset and collate"
	ModifyTableCharsetAndCollate  EventType = "modify table charset and collate"
	ModifyTableComment            EventType = "modify table comment"
	RecoverTable                  EventType = "recover table"
	AlterTablePartitioning        EventType = "alter table partitioning"
	RemovePartitioning            EventType = "remove table partitioning"
	AddColumn                     EventType = "add column"
	SetDefaultValue               EventType = "set default value"
	RebaseAutoID                  EventType = "rebase auto id"
	AddPrimaryKey                 EventType = "add primary key"
	AlterIndexVisibility          EventType = "alter index visibility"
	AlterTTLInfo                  EventType = "alter ttl info"
	AlterTTLRemove                EventType = "alter ttl remove"
	MultiSchemaChange             EventType = "multi schema change"
)

// Aliases accepted in rules and normalised by ParseEventType.
const (
	CreateSchema EventType = "create schema" // alias of CreateDatabase
	DropSchema   EventType = "drop schema"   // alias of DropDatabase
	AlterSchema  EventType = "alter schema"  // alias of AlterDatabase
)

// eventClass groups event types for the meta types, as DM's ClassifyEvent.
type eventClass uint8

const (
	classNone eventClass = iota
	classDML
	classDDL
	classIncompatibleDDL
	classMeta
)

var eventClasses = map[EventType]eventClass{
	AllEvent: classMeta, AllDDL: classMeta, AllDML: classMeta,
	NoneEvent: classMeta, NoneDDL: classMeta, NoneDML: classMeta,
	IncompatibleDDLChanges: classMeta,

	InsertEvent: classDML, UpdateEvent: classDML, DeleteEvent: classDML,

	CreateDatabase: classDDL, AlterDatabase: classDDL, CreateTable: classDDL,
	CreateIndex: classDDL, CreateView: classDDL, DropView: classDDL,
	AlterTable: classDDL, AddTablePartition: classDDL,

	DropDatabase: classIncompatibleDDL, DropTable: classIncompatibleDDL,
	TruncateTable: classIncompatibleDDL, RenameTable: classIncompatibleDDL,
	DropIndex: classIncompatibleDDL, DropTablePartition: classIncompatibleDDL,
	TruncateTablePartition: classIncompatibleDDL, ReorganizePartition: classIncompatibleDDL,
	RebuildPartition: classIncompatibleDDL, CoalescePartition: classIncompatibleDDL,
	SplitPartition: classIncompatibleDDL, ExchangePartition: classIncompatibleDDL,
	ValueRangeDecrease: classIncompatibleDDL, PrecisionDecrease: classIncompatibleDDL,
	ModifyColumn: classIncompatibleDDL, RenameColumn: classIncompatibleDDL,
	RenameIndex: classIncompatibleDDL, DropColumn: classIncompatibleDDL,
	DropPrimaryKey: classIncompatibleDDL, DropUniqueKey: classIncompatibleDDL,
	ModifyDefaultValue: classIncompatibleDDL, ModifyConstraint: classIncompatibleDDL,
	ModifyColumnsOrder: classIncompatibleDDL, ModifyCharset: classIncompatibleDDL,
	ModifyCollation: classIncompatibleDDL, RemoveAutoIncrement: classIncompatibleDDL,
	ModifyStorageEngine: classIncompatibleDDL, AddForeignKey: classIncompatibleDDL,
	DropForeignKey: classIncompatibleDDL,

	ModifySchemaCharsetAndCollate: classIncompatibleDDL, ModifyTableCharsetAndCollate: classIncompatibleDDL,
	ModifyTableComment: classIncompatibleDDL, RecoverTable: classIncompatibleDDL,
	AlterTablePartitioning: classIncompatibleDDL, RemovePartitioning: classIncompatibleDDL,
	AddColumn: classIncompatibleDDL, SetDefaultValue: classIncompatibleDDL,
	RebaseAutoID: classIncompatibleDDL, AddPrimaryKey: classIncompatibleDDL,
	AlterIndexVisibility: classIncompatibleDDL, AlterTTLInfo: classIncompatibleDDL,
	AlterTTLRemove: classIncompatibleDDL, MultiSchemaChange: classIncompatibleDDL,
}

// dmKind maps the refined kinds that ClassifyDDL produces where DM's syncer
// would produce a coarser kind, to that DM kind. An event of a refined kind
// matches rules naming either kind and takes the class of the DM kind, so
// every rule keeps matching exactly the statements it matches in DM.
var dmKind = map[EventType]EventType{
	AddColumn:                     AlterTable,
	DropForeignKey:                AlterTable,
	AddTablePartition:             AlterTable,
	RebaseAutoID:                  AlterTable,
	ModifyTableComment:            AlterTable,
	AlterIndexVisibility:          AlterTable,
	AlterTablePartitioning:        AlterTable,
	RemovePartitioning:            AlterTable,
	AlterTTLInfo:                  AlterTable,
	AlterTTLRemove:                AlterTable,
	AddPrimaryKey:                 ModifyConstraint,
	AddForeignKey:                 ModifyConstraint,
	SetDefaultValue:               ModifyDefaultValue,
	ModifySchemaCharsetAndCollate: AlterDatabase,
}

// ParseEventType normalises an event name as written in a rule: it is
// case-insensitive, surrounding blanks are dropped and the `schema` aliases
// map to their `database` names. ok is false for unknown names.
func ParseEventType(name string) (EventType, bool) {
	e := EventType(strings.ToLower(strings.TrimSpace(name)))
	switch e {
	case CreateSchema:
		return CreateDatabase, true
	case DropSchema:
		return DropDatabase, true
	case AlterSchema:
		return AlterDatabase, true
	}
	_, ok := eventClasses[e]
	return e, ok
}

// classOf returns the class used for meta matching: a refined kind takes the
// class of its DM kind.
func classOf(e EventType) eventClass {
	if k, ok := dmKind[e]; ok {
		e = k
	}
	return eventClasses[e]
}
