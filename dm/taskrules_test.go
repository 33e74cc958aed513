package dm

import (
	"errors"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/filter"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func migrateRule(source, schema, table string, target *TaskTableMigrateRuleTarget, filters ...string) TaskTableMigrateRule {
	return TaskTableMigrateRule{
		Source:           TaskTableMigrateRuleSource{SourceName: source, Schema: schema, Table: table},
		Target:           target,
		BinlogFilterRule: filters,
	}
}

func TestBuildSubtaskRules(t *testing.T) {
	type probe struct {
		schema, table string
		migrated      bool
		targetSchema  string
		targetTable   string
	}
	type eventProbe struct {
		schema, table string
		event         filter.EventType
		sql           string
		want          filter.Action
	}
	filters := map[string]TaskBinLogFilterRule{
		"ignore-delete": {IgnoreEvent: []string{"delete"}},
		"ignore-addcol": {IgnoreSQL: []string{"alter table openapi.t add column aaa int;"}},
		"ignore-drop":   {IgnoreEvent: []string{"drop table", "truncate table"}, IgnoreSQL: []string{"^DROP\\s+DATABASE"}},
	}
	tests := []struct {
		name          string
		source        string
		rules         []TaskTableMigrateRule
		caseSensitive bool
		wantBA        filter.Rules
		probes        []probe
		events        []eventProbe
	}{
		{
			name:   "no rules: everything but system schemas, unrouted",
			source: "s1",
			probes: []probe{
				{"db", "t", true, "db", "t"},
				{"mysql", "user", false, "", ""},
			},
			events: []eventProbe{{"db", "t", filter.DeleteEvent, "", filter.Do}},
		},
		{
			name:   "rules of other sources are ignored",
			source: "s2",
			rules:  []TaskTableMigrateRule{migrateRule("s1", "only", "", nil, "no-such-filter")},
			probes: []probe{{"db", "t", true, "db", "t"}},
		},
		{
			name:   "openapi shard test: merge openapi.* into openapi.t, filters per source",
			source: "mysql-01",
			rules: []TaskTableMigrateRule{
				migrateRule("mysql-01", "openapi", "*", &TaskTableMigrateRuleTarget{Schema: "openapi", Table: "t"}, "ignore-delete"),
				migrateRule("mysql-02", "openapi", "*", &TaskTableMigrateRuleTarget{Schema: "openapi", Table: "t"}, "ignore-addcol"),
			},
			wantBA: filter.Rules{DoTables: []filter.Table{{Schema: "openapi", Name: "*"}}},
			probes: []probe{
				{"openapi", "t1", true, "openapi", "t"},
				{"openapi", "t2", true, "openapi", "t"},
				{"other", "x", false, "", ""},
			},
			events: []eventProbe{
				{"openapi", "t1", filter.DeleteEvent, "", filter.Ignore},
				{"openapi", "t1", filter.InsertEvent, "", filter.Do},
				{"openapi", "t1", filter.AddColumn, "alter table openapi.t add column aaa int;", filter.Do},
				{"other", "x", filter.DeleteEvent, "", filter.Do},
			},
		},
		{
			name:   "sql pattern template scoped to the rule's patterns",
			source: "mysql-02",
			rules: []TaskTableMigrateRule{
				migrateRule("mysql-02", "openapi", "*", &TaskTableMigrateRuleTarget{Schema: "openapi", Table: "t"}, "ignore-addcol"),
			},
			events: []eventProbe{
				{"openapi", "t2", filter.AddColumn, "alter table openapi.t add column aaa int;", filter.Ignore},
				{"openapi", "t2", filter.DeleteEvent, "", filter.Do},
			},
		},
		{
			name:   "schema-only rules: do-dbs, deduplicated, schema route keeps table names",
			source: "s1",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "shop_*", "", &TaskTableMigrateRuleTarget{Schema: "shop"}, "ignore-drop"),
				migrateRule("s1", "log", "", nil),
				migrateRule("s1", "LOG", "", nil),
			},
			wantBA: filter.Rules{DoDBs: []string{"shop_*", "log"}},
			probes: []probe{
				{"shop_1", "orders", true, "shop", "orders"},
				{"shop_1", "", true, "shop", ""},
				{"log", "x", true, "log", "x"},
				{"other", "x", false, "", ""},
			},
			events: []eventProbe{
				{"shop_1", "orders", filter.DropTable, "DROP TABLE orders", filter.Ignore},
				{"shop_1", "", filter.DropDatabase, "DROP DATABASE shop_1", filter.Ignore},
				{"shop_1", "", filter.CreateDatabase, "CREATE DATABASE shop_1", filter.Do},
				{"log", "x", filter.DropTable, "DROP TABLE x", filter.Do},
			},
		},
		{
			name:   "mixed schema and table rules: a table must match a do-db and a do-table, as in DM",
			source: "s1",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "whole", "", nil),
				migrateRule("s1", "part", "t?", &TaskTableMigrateRuleTarget{Schema: "merged", Table: "t"}),
			},
			wantBA: filter.Rules{
				DoDBs:    []string{"whole"},
				DoTables: []filter.Table{{Schema: "part", Name: "t?"}},
			},
			probes: []probe{
				{"whole", "anything", false, "", ""},
				{"part", "t1", false, "", ""},
				{"part", "t10", false, "", ""},
				{"other", "t1", false, "", ""},
			},
		},
		{
			name:   "target table only in the same schema merges tables; target schema only renames the schema",
			source: "s1",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "a", "x_*", &TaskTableMigrateRuleTarget{Schema: "a", Table: "x"}),
				migrateRule("s1", "b", "*", &TaskTableMigrateRuleTarget{Schema: "bb"}),
				migrateRule("s1", "c", "*", &TaskTableMigrateRuleTarget{}),
			},
			probes: []probe{
				{"a", "x_1", true, "a", "x"},
				{"b", "t", true, "bb", "t"},
				{"c", "t", true, "c", "t"},
			},
		},
		{
			name:   "case-insensitive source patterns, target names kept",
			source: "s1",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "UPPER_DB", "Do_Table", &TaskTableMigrateRuleTarget{Schema: "UPPER_DB_ROUTE", Table: "do_table_route"}, "ignore-delete"),
			},
			probes: []probe{
				{"upper_db", "DO_TABLE", true, "UPPER_DB_ROUTE", "do_table_route"},
			},
			events: []eventProbe{{"upper_db", "do_table", filter.DeleteEvent, "", filter.Ignore}},
		},
		{
			name:          "case-sensitive source patterns",
			source:        "s1",
			caseSensitive: true,
			rules:         []TaskTableMigrateRule{migrateRule("s1", "UPPER_DB", "*", nil)},
			probes: []probe{
				{"UPPER_DB", "t", true, "UPPER_DB", "t"},
				{"upper_db", "t", false, "", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := buildSubtaskRules(tt.source, tt.rules, filters, tt.caseSensitive)
			if err != nil {
				t.Fatalf("buildSubtaskRules: %v", err)
			}
			if diff := cmp.Diff(tt.wantBA, r.BARules, cmpopts.EquateEmpty()); tt.wantBA.DoDBs != nil || tt.wantBA.DoTables != nil {
				if diff != "" {
					t.Errorf("BARules (-want +got):\n%s", diff)
				}
			}
			for _, p := range tt.probes {
				got, err := r.migrateTargets([]filter.Table{{Schema: p.schema, Name: p.table}})
				if err != nil {
					t.Fatalf("migrateTargets(%s.%s): %v", p.schema, p.table, err)
				}
				if p.table == "" {
					// Schema-level question: the allow-list and the schema route.
					if ok := r.BA.Match(p.schema, ""); ok != p.migrated {
						t.Errorf("BA.Match(%q, \"\") = %v, want %v", p.schema, ok, p.migrated)
					}
					if s, _, err := r.Router.Route(p.schema, ""); err != nil || s != p.targetSchema {
						t.Errorf("Route(%q, \"\") = %q, %v; want %q", p.schema, s, err, p.targetSchema)
					}
					continue
				}
				if !p.migrated {
					if len(got) != 0 {
						t.Errorf("%s.%s migrated to %+v, want not migrated", p.schema, p.table, got)
					}
					continue
				}
				want := []migrateTarget{{SourceSchema: p.schema, SourceTable: p.table, TargetSchema: p.targetSchema, TargetTable: p.targetTable}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("migrateTargets(%s.%s) (-want +got):\n%s", p.schema, p.table, diff)
				}
			}
			for _, e := range tt.events {
				got, err := r.Events.Filter(e.schema, e.table, e.event, e.sql)
				if err != nil {
					t.Fatalf("Filter: %v", err)
				}
				if got != e.want {
					t.Errorf("Filter(%q, %q, %q, %q) = %s, want %s", e.schema, e.table, e.event, e.sql, got, e.want)
				}
			}
		})
	}
}

func TestBuildSubtaskRulesErrors(t *testing.T) {
	filters := map[string]TaskBinLogFilterRule{
		"ok":        {IgnoreEvent: []string{"delete"}},
		"bad-regex": {IgnoreSQL: []string{"(unclosed"}},
	}
	tests := []struct {
		name    string
		rules   []TaskTableMigrateRule
		wantErr error
		wantMsg string
	}{
		{
			name:    "unknown filter rule name",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "db", "*", nil, "ok", "missing")},
			wantErr: errUnknownFilterRule,
			wantMsg: "filter rule name missing not found.",
		},
		{
			name: "unknown filter name is reported before bad patterns, as in DM",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "a*b", "", nil),
				migrateRule("s1", "db", "", nil, "missing"),
			},
			wantErr: errUnknownFilterRule,
			wantMsg: "filter rule name missing not found.",
		},
		{
			name:    "star not last in a schema pattern",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "a*b", "", nil)},
			wantErr: errBadAllowListPattern,
			wantMsg: "`*` is only allowed as the last character",
		},
		{
			name:    "star not last in a table pattern",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "db", "t*x", nil)},
			wantErr: errBadAllowListPattern,
		},
		{
			name:    "empty schema",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "", "", nil)},
			wantErr: errBadAllowListPattern,
		},
		{
			name:    "target table without target schema",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "db", "*", &TaskTableMigrateRuleTarget{Table: "t"})},
			wantErr: errBadRoutePattern,
			wantMsg: "target schema is empty",
		},
		{
			name: "same source patterns routed to different targets",
			rules: []TaskTableMigrateRule{
				migrateRule("s1", "db", "*", &TaskTableMigrateRuleTarget{Schema: "a"}),
				migrateRule("s1", "db", "*", &TaskTableMigrateRuleTarget{Schema: "b"}),
			},
			wantErr: errBadRoutePattern,
		},
		{
			name:    "bad ignore_sql regexp names the template",
			rules:   []TaskTableMigrateRule{migrateRule("s1", "db", "*", nil, "bad-regex")},
			wantErr: errBadFilterRule,
			wantMsg: "binlog_filter_rule bad-regex",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildSubtaskRules("s1", tt.rules, filters, false)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestBuildSubtaskRulesUnknownEvents(t *testing.T) {
	r, err := buildSubtaskRules("s1",
		[]TaskTableMigrateRule{migrateRule("s1", "db", "*", nil, "typo")},
		map[string]TaskBinLogFilterRule{"typo": {IgnoreEvent: []string{"delete", "delte"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Events.UnknownEvents(); !cmp.Equal(got, []string{"delte"}) {
		t.Errorf("UnknownEvents = %q, want [delte]", got)
	}
	if a, _ := r.Events.Filter("db", "t", filter.DeleteEvent, ""); a != filter.Ignore {
		t.Errorf("delete = %s, want Ignore (the known event of the template still applies)", a)
	}
}

func TestMigrateTargetsAmbiguousRoute(t *testing.T) {
	r, err := buildSubtaskRules("s1", []TaskTableMigrateRule{
		migrateRule("s1", "db", "t*", &TaskTableMigrateRuleTarget{Schema: "a"}),
		migrateRule("s1", "db", "t1*", &TaskTableMigrateRuleTarget{Schema: "b"}),
	}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.migrateTargets([]filter.Table{{Schema: "db", Name: "t2"}, {Schema: "other", Name: "t1"}})
	if err != nil || len(got) != 1 || got[0].TargetSchema != "a" {
		t.Errorf("migrateTargets = %+v, %v; want db.t2 -> a", got, err)
	}
	if _, err := r.migrateTargets([]filter.Table{{Schema: "db", Name: "t10"}}); err == nil {
		t.Error("migrateTargets of a table matching two routes succeeded, want an error")
	}
}
