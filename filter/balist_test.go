package filter

import (
	"slices"
	"strings"
	"testing"
)

func TestBAListMatch(t *testing.T) {
	type probe struct {
		schema, table string
		want          bool
	}
	tests := []struct {
		name          string
		rules         Rules
		caseSensitive bool
		probes        []probe
	}{
		{
			name:  "empty rules allow everything but system schemas",
			rules: Rules{},
			probes: []probe{
				{"shop", "t", true},
				{"shop", "", true},
				{"mysql", "user", false},
				{"MySQL", "", false},
				{"information_schema", "tables", false},
				{"performance_schema", "x", false},
				{"sys", "x", false},
				{"METRICS_SCHEMA", "x", false},
				{"inspection_schema", "x", false},
				{"dm_heartbeat", "heartbeat", false},
			},
		},
		{
			name:  "do-dbs",
			rules: Rules{DoDBs: []string{"shop*", "log"}},
			probes: []probe{
				{"shop", "t", true},
				{"shop_01", "t", true},
				{"log", "", true},
				{"logs", "t", false},
				{"other", "", false},
			},
		},
		{
			name:  "ignore-dbs apply only without do-dbs",
			rules: Rules{IgnoreDBs: []string{"tmp*"}},
			probes: []probe{
				{"tmp1", "t", false},
				{"tmp1", "", false},
				{"shop", "t", true},
			},
		},
		{
			name:  "do-dbs win over ignore-dbs",
			rules: Rules{DoDBs: []string{"shop"}, IgnoreDBs: []string{"shop"}},
			probes: []probe{
				{"shop", "t", true},
			},
		},
		{
			name: "datapath example: do-dbs plus regexp do-tables",
			rules: Rules{
				DoDBs:    []string{"shop"},
				DoTables: []Table{{Schema: "shop", Name: "~^order_\\d+$"}},
			},
			probes: []probe{
				{"shop", "order_01", true},
				{"shop", "users", false},
				{"shop", "", true}, // CREATE DATABASE shop
				{"other", "order_01", false},
			},
		},
		{
			// Regression (issue 7): a rule naming only tables used to admit every
			// schema at schema level, so DROP DATABASE of any schema reached the target.
			name:  "do-tables alone: only their schemas pass the schema step",
			rules: Rules{DoTables: []Table{{Schema: "openapi", Name: "t?"}}},
			probes: []probe{
				{"openapi", "t1", true},
				{"openapi", "t10", false},
				{"other", "t1", false},
				{"other", "", false},
				{"openapi", "", true},
			},
		},
		{
			name: "do-tables win over ignore-tables",
			rules: Rules{
				DoTables:     []Table{{Schema: "s", Name: "keep"}},
				IgnoreTables: []Table{{Schema: "s", Name: "*"}},
			},
			probes: []probe{
				{"s", "keep", true},
				{"s", "other", false},
			},
		},
		{
			name:  "ignore-tables alone deny only what they match",
			rules: Rules{IgnoreTables: []Table{{Schema: "s", Name: "tmp_*"}, {Schema: "~^x\\d$", Name: "y"}}},
			probes: []probe{
				{"s", "tmp_1", false},
				{"s", "t", true},
				{"x1", "y", false},
				{"x1", "z", true},
				{"x10", "y", true},
			},
		},
		{
			name:  "case-insensitive",
			rules: Rules{DoDBs: []string{"Shop"}, DoTables: []Table{{Schema: "SHOP", Name: "Orders"}}},
			probes: []probe{
				{"shop", "orders", true},
				{"SHOP", "ORDERS", true},
				{"shop", "users", false},
			},
		},
		{
			name:          "case-sensitive",
			rules:         Rules{DoDBs: []string{"Shop"}},
			caseSensitive: true,
			probes: []probe{
				{"Shop", "t", true},
				{"shop", "t", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewBAList(tt.rules, tt.caseSensitive)
			if err != nil {
				t.Fatalf("NewBAList: %v", err)
			}
			for _, p := range tt.probes {
				if got := l.Match(p.schema, p.table); got != p.want {
					t.Errorf("Match(%q, %q) = %v, want %v", p.schema, p.table, got, p.want)
				}
			}
		})
	}
}

func TestNilBAList(t *testing.T) {
	var l *BAList
	if !l.Match("shop", "t") || l.Match("mysql", "user") {
		t.Error("nil BAList must allow everything except system schemas")
	}
}

func TestNewBAListErrors(t *testing.T) {
	tests := []struct {
		rules Rules
		want  string
	}{
		{Rules{DoDBs: []string{""}}, "do-dbs[0] is empty"},
		{Rules{IgnoreDBs: []string{"ok", "a*b"}}, "ignore-dbs[1]"},
		{Rules{DoTables: []Table{{Schema: "s"}}}, "do-tables[0]"},
		{Rules{IgnoreTables: []Table{{Schema: "s", Name: "~("}}}, "ignore-tables[0] table"},
	}
	for _, tt := range tests {
		_, err := NewBAList(tt.rules, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewBAList(%+v) error = %v, want it to contain %q", tt.rules, err, tt.want)
		}
	}
}

func TestBAListFilter(t *testing.T) {
	l, err := NewBAList(Rules{DoDBs: []string{"a", "b"}, IgnoreTables: []Table{{Schema: "a", Name: "x"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	in := []Table{{"a", "x"}, {"a", "y"}, {"b", "z"}, {"c", "w"}, {"mysql", "user"}}
	want := []Table{{"a", "y"}, {"b", "z"}}
	if got := l.Filter(in); !slices.Equal(got, want) {
		t.Errorf("Filter = %v, want %v", got, want)
	}
}

func TestBAListWhole(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		whole map[string]bool
	}{
		{"no rules: every non-system schema", Rules{}, map[string]bool{"shop": true, "mysql": false}},
		{"do-dbs", Rules{DoDBs: []string{"shop*"}}, map[string]bool{"shop": true, "shop_1": true, "other": false}},
		{"one table only", Rules{DoTables: []Table{{Schema: "shop", Name: "t2"}}}, map[string]bool{"shop": false, "targetonly": false}},
		{"schema.*", Rules{DoTables: []Table{{Schema: "shop", Name: "*"}, {Schema: "log", Name: "t"}}}, map[string]bool{"shop": true, "log": false}},
		{"do-dbs and do-tables as the task rules build them", Rules{DoDBs: []string{"a", "shop"}, DoTables: []Table{{Schema: "shop", Name: "t2"}, {Schema: "a", Name: "*"}}},
			map[string]bool{"a": true, "shop": false, "b": false}},
		{"ignore-tables carve a schema up", Rules{IgnoreTables: []Table{{Schema: "shop", Name: "tmp_*"}}}, map[string]bool{"shop": false, "log": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewBAList(tt.rules, false)
			if err != nil {
				t.Fatal(err)
			}
			for schema, want := range tt.whole {
				if got := l.Whole(schema); got != want {
					t.Errorf("Whole(%q) = %v, want %v", schema, got, want)
				}
			}
		})
	}
	var nilList *BAList
	if !nilList.Whole("shop") || nilList.Whole("mysql") {
		t.Error("nil BAList: every non-system schema is whole")
	}
}
