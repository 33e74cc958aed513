package filter

import (
	"slices"
	"strings"
	"testing"
)

type filterProbe struct {
	schema, table string
	event         EventType
	sql           string
	want          Action
}

func TestEventFilter(t *testing.T) {
	tests := []struct {
		name          string
		rules         []EventRule
		caseSensitive bool
		probes        []filterProbe
	}{
		{
			name:  "no rules replicate everything",
			rules: nil,
			probes: []filterProbe{
				{"s", "t", DeleteEvent, "", Do},
				{"s", "", DropDatabase, "DROP DATABASE s", Do},
			},
		},
		{
			name: "datapath: ignore truncate and drop table on shop*",
			rules: []EventRule{{
				SchemaPattern: "shop*", Events: []EventType{"truncate table", "drop table"}, Action: Ignore,
			}},
			probes: []filterProbe{
				{"shop1", "t", TruncateTable, "TRUNCATE TABLE t", Ignore},
				{"shop1", "t", DropTable, "DROP TABLE t", Ignore},
				{"shop1", "", DropDatabase, "DROP DATABASE shop1", Do},
				{"shop1", "t", InsertEvent, "", Do},
				{"other", "t", DropTable, "DROP TABLE t", Do},
			},
		},
		{
			name: "datapath: all dml ignored on log.audit_*",
			rules: []EventRule{{
				SchemaPattern: "log", TablePattern: "audit_*", Events: []EventType{AllDML}, Action: Ignore,
			}},
			probes: []filterProbe{
				{"log", "audit_x", InsertEvent, "", Ignore},
				{"log", "audit_x", UpdateEvent, "", Ignore},
				{"log", "audit_x", DeleteEvent, "", Ignore},
				{"log", "audit_x", AlterTable, "ALTER TABLE audit_x ADD c INT", Do},
				{"log", "other", InsertEvent, "", Do},
				{"log", "", CreateDatabase, "CREATE DATABASE log", Do},
			},
		},
		{
			name: "datapath: sql pattern everywhere",
			rules: []EventRule{{
				SchemaPattern: "*", SQLPatterns: []string{"^ALTER\\s+TABLE.*ADD\\s+FULLTEXT"}, Action: Ignore,
			}},
			probes: []filterProbe{
				{"a", "b", AlterTable, "alter table b add fulltext index f(c)", Ignore},
				{"a", "b", AlterTable, "ALTER TABLE b ADD INDEX f(c)", Do},
				{"a", "b", InsertEvent, "", Do},
				// A statement that failed to parse: tables unknown, only `*` rules apply.
				{"", "", NullEvent, "ALTER TABLE x ADD FULLTEXT f(c)", Ignore},
			},
		},
		{
			name: "datapath: Do rule is an allow-list",
			rules: []EventRule{{
				SchemaPattern: "app", Events: []EventType{InsertEvent}, Action: Do,
			}},
			probes: []filterProbe{
				{"app", "t", InsertEvent, "", Do},
				{"app", "t", UpdateEvent, "", Ignore},
				{"app", "t", DeleteEvent, "", Ignore},
				{"app", "t", CreateTable, "CREATE TABLE t (a INT)", Ignore},
				{"other", "t", UpdateEvent, "", Do},
			},
		},
		{
			name: "openapi ignore_sql patterns",
			rules: []EventRule{
				{SchemaPattern: "openapi", TablePattern: "*", SQLPatterns: []string{"alter table openapi.t add column aaa int;"}, Action: Ignore},
				{SchemaPattern: "db", SQLPatterns: []string{"^DROP\\s+TABLE"}, Action: Ignore},
			},
			probes: []filterProbe{
				{"openapi", "t", AlterTable, "alter table openapi.t add column aaa int;", Ignore},
				{"openapi", "t", AlterTable, "ALTER TABLE openapi.t ADD COLUMN aaa int;", Ignore},
				{"openapi", "t", AlterTable, "alter table openapi.t add column bbb int;", Do},
				{"openapi", "t", DeleteEvent, "", Do},
				{"db", "t", DropTable, "drop   table t", Ignore},
				{"db", "t", DropTable, "/* x */ DROP TABLE t", Do}, // anchored by the user
				{"db", "t", TruncateTable, "TRUNCATE TABLE t", Do},
			},
		},
		{
			name: "error action",
			rules: []EventRule{
				{SchemaPattern: "s", Events: []EventType{DropTable}, Action: Error},
			},
			probes: []filterProbe{
				{"s", "t", DropTable, "DROP TABLE t", Error},
				{"s", "t", CreateTable, "CREATE TABLE t (a INT)", Do},
			},
		},
		{
			name: "schema-level rules are visited before table-level rules",
			rules: []EventRule{
				{SchemaPattern: "s", TablePattern: "t", Events: []EventType{DeleteEvent}, Action: Error},
				{SchemaPattern: "s", Events: []EventType{DeleteEvent}, Action: Ignore},
			},
			probes: []filterProbe{
				{"s", "t", DeleteEvent, "", Ignore},
			},
		},
		{
			name: "table-level rule decides when the schema-level rule does not",
			rules: []EventRule{
				{SchemaPattern: "s", Events: []EventType{InsertEvent}, Action: Ignore},
				{SchemaPattern: "s", TablePattern: "t*", Events: []EventType{DeleteEvent}, Action: Error},
			},
			probes: []filterProbe{
				{"s", "t1", DeleteEvent, "", Error},
				{"s", "t1", InsertEvent, "", Ignore},
				{"s", "u", DeleteEvent, "", Do},
				{"s", "", DropDatabase, "DROP DATABASE s", Do},
			},
		},
		{
			name: "table pattern `*` also matches database-level events",
			rules: []EventRule{
				{SchemaPattern: "s", TablePattern: "*", Events: []EventType{DropDatabase}, Action: Ignore},
				{SchemaPattern: "u", TablePattern: "t*", Events: []EventType{DropDatabase}, Action: Ignore},
			},
			probes: []filterProbe{
				{"s", "", DropDatabase, "DROP DATABASE s", Ignore},
				{"u", "", DropDatabase, "DROP DATABASE u", Do},
			},
		},
		{
			name: "rules apply in order within a level",
			rules: []EventRule{
				{SchemaPattern: "s*", Events: []EventType{DeleteEvent}, Action: Ignore},
				{SchemaPattern: "s", Events: []EventType{DeleteEvent}, Action: Error},
			},
			probes: []filterProbe{
				{"s", "t", DeleteEvent, "", Ignore},
			},
		},
		{
			name: "meta event types",
			rules: []EventRule{
				{SchemaPattern: "all", Events: []EventType{AllEvent}, Action: Ignore},
				{SchemaPattern: "ddl", Events: []EventType{AllDDL}, Action: Ignore},
				{SchemaPattern: "incompat", Events: []EventType{IncompatibleDDLChanges}, Action: Ignore},
				{SchemaPattern: "none", Events: []EventType{NoneEvent, InsertEvent}, Action: Ignore},
				{SchemaPattern: "nonedml", Events: []EventType{NoneDML, AllDDL}, Action: Ignore},
			},
			probes: []filterProbe{
				{"all", "t", InsertEvent, "", Ignore},
				{"all", "t", DropTable, "DROP TABLE t", Ignore},
				{"ddl", "t", InsertEvent, "", Do},
				{"ddl", "t", CreateTable, "x", Ignore},
				{"ddl", "t", DropColumn, "x", Ignore},
				{"incompat", "t", DropColumn, "x", Ignore},
				{"incompat", "t", DropTable, "x", Ignore},
				{"incompat", "t", CreateTable, "x", Do},
				{"incompat", "t", AlterTable, "x", Do},
				{"incompat", "t", AddColumn, "x", Do}, // DM calls ADD COLUMN "alter table"
				{"incompat", "t", AddPrimaryKey, "x", Ignore},
				{"none", "t", InsertEvent, "", Do}, // `none` first decides
				{"nonedml", "t", InsertEvent, "", Do},
				{"nonedml", "t", CreateTable, "x", Ignore},
			},
		},
		{
			name: "refined kinds match their DM kind too",
			rules: []EventRule{
				{SchemaPattern: "alter", Events: []EventType{AlterTable}, Action: Ignore},
				{SchemaPattern: "addcol", Events: []EventType{AddColumn}, Action: Ignore},
				{SchemaPattern: "constraint", Events: []EventType{ModifyConstraint}, Action: Ignore},
			},
			probes: []filterProbe{
				{"alter", "t", AddColumn, "x", Ignore},
				{"alter", "t", DropForeignKey, "x", Ignore},
				{"alter", "t", DropColumn, "x", Do}, // as in DM: "drop column" is not "alter table"
				{"addcol", "t", AddColumn, "x", Ignore},
				{"addcol", "t", AlterTable, "x", Do},
				{"constraint", "t", AddPrimaryKey, "x", Ignore},
				{"constraint", "t", AddForeignKey, "x", Ignore},
				{"constraint", "t", ModifyConstraint, "x", Ignore},
			},
		},
		{
			name: "event names are case-insensitive with schema aliases",
			rules: []EventRule{
				{SchemaPattern: "s", Events: []EventType{"DROP SCHEMA", "Create Schema", " Insert "}, Action: "ignore"},
			},
			probes: []filterProbe{
				{"s", "", DropDatabase, "DROP DATABASE s", Ignore},
				{"s", "", CreateDatabase, "CREATE DATABASE s", Ignore},
				{"s", "t", InsertEvent, "", Ignore},
			},
		},
		{
			name: "case-insensitive patterns",
			rules: []EventRule{
				{SchemaPattern: "Shop", TablePattern: "Orders", Events: []EventType{DeleteEvent}, Action: Ignore},
			},
			probes: []filterProbe{
				{"SHOP", "orders", DeleteEvent, "", Ignore},
				{"shop", "ORDERS", DeleteEvent, "", Ignore},
			},
		},
		{
			name:          "case-sensitive patterns",
			caseSensitive: true,
			rules: []EventRule{
				{SchemaPattern: "Shop", TablePattern: "Orders", Events: []EventType{DeleteEvent}, Action: Ignore},
			},
			probes: []filterProbe{
				{"Shop", "Orders", DeleteEvent, "", Ignore},
				{"shop", "orders", DeleteEvent, "", Do},
			},
		},
		{
			name: "sql patterns do not apply to rows events",
			rules: []EventRule{
				{SchemaPattern: "s", SQLPatterns: []string{".*"}, Action: Ignore},
			},
			probes: []filterProbe{
				{"s", "t", InsertEvent, "", Do},
				{"s", "t", CreateTable, "CREATE TABLE t (a INT)", Ignore},
			},
		},
		{
			name: "unknown event names are dropped, the rest of the rule stays",
			rules: []EventRule{
				{SchemaPattern: "s", Events: []EventType{"delete", "no such event"}, Action: Ignore},
			},
			probes: []filterProbe{
				{"s", "t", DeleteEvent, "", Ignore},
				{"s", "t", InsertEvent, "", Do},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewEventFilter(tt.rules, tt.caseSensitive)
			if err != nil {
				t.Fatalf("NewEventFilter: %v", err)
			}
			for _, p := range tt.probes {
				got, err := f.Filter(p.schema, p.table, p.event, p.sql)
				if err != nil {
					t.Fatalf("Filter(%q, %q, %q, %q): %v", p.schema, p.table, p.event, p.sql, err)
				}
				if got != p.want {
					t.Errorf("Filter(%q, %q, %q, %q) = %s, want %s", p.schema, p.table, p.event, p.sql, got, p.want)
				}
			}
		})
	}
}

func TestEventFilterEveryEventTypeIsFilterable(t *testing.T) {
	for e, class := range eventClasses {
		if class == classMeta {
			continue
		}
		f, err := NewEventFilter([]EventRule{{SchemaPattern: "s", Events: []EventType{e}, Action: Ignore}}, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Filter("s", "t", e, "")
		if err != nil || got != Ignore {
			t.Errorf("rule [%q] on event %q = %s, %v; want Ignore", e, e, got, err)
		}
		parsed, ok := ParseEventType(strings.ToUpper(string(e)))
		if !ok || parsed != e {
			t.Errorf("ParseEventType(%q) = %q, %v", strings.ToUpper(string(e)), parsed, ok)
		}
	}
}

func TestEventFilterUnknownEvents(t *testing.T) {
	f, err := NewEventFilter([]EventRule{
		{SchemaPattern: "a", Events: []EventType{"delete", "bogus"}, Action: Ignore},
		{SchemaPattern: "b", Events: []EventType{"bogus", "alter tablez", ""}, Action: Ignore},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.UnknownEvents(), []string{"bogus", "alter tablez"}; !slices.Equal(got, want) {
		t.Errorf("UnknownEvents = %q, want %q", got, want)
	}
}

func TestEventFilterErrors(t *testing.T) {
	tests := []struct {
		rule EventRule
		want string
	}{
		{EventRule{Action: Ignore}, "schema pattern is empty"},
		{EventRule{SchemaPattern: "s"}, "action \"\" is not valid"},
		{EventRule{SchemaPattern: "s", Action: "Skip"}, "action \"Skip\" is not valid"},
		{EventRule{SchemaPattern: "s", SQLPatterns: []string{"("}, Action: Ignore}, "not valid regular expressions"},
		{EventRule{SchemaPattern: "a*b", Action: Ignore}, "`*` is only allowed as the last character"},
		{EventRule{SchemaPattern: "s", TablePattern: "~[", Action: Ignore}, "invalid regular expression"},
	}
	for _, tt := range tests {
		_, err := NewEventFilter([]EventRule{{SchemaPattern: "ok", Action: Do}, tt.rule}, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "rule 1") {
			t.Errorf("NewEventFilter(%+v) error = %v, want it to name rule 1 and contain %q", tt.rule, err, tt.want)
		}
	}
}

func TestEventFilterBadEvent(t *testing.T) {
	f, err := NewEventFilter(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []EventType{"bogus", AllDML, NoneEvent} {
		if _, err := f.Filter("s", "t", e, ""); err == nil {
			t.Errorf("Filter with event %q succeeded, want an error", e)
		}
	}
	var nilFilter *EventFilter
	if a, err := nilFilter.Filter("s", "t", DeleteEvent, ""); a != Do || err != nil {
		t.Errorf("nil filter = %s, %v; want Do", a, err)
	}
}
