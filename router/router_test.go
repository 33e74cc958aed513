package router

import (
	"errors"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	type probe struct {
		schema, table         string
		wantSchema, wantTable string
		wantAmbiguous         bool
	}
	tests := []struct {
		name          string
		rules         []Rule
		caseSensitive bool
		probes        []probe
	}{
		{
			name:  "no rules: identity",
			rules: nil,
			probes: []probe{
				{schema: "s", table: "t", wantSchema: "s", wantTable: "t"},
				{schema: "s", wantSchema: "s"},
			},
		},
		{
			name: "shard merge: table rule plus schema rule",
			rules: []Rule{
				{SchemaPattern: "shard_*", TablePattern: "t_*", TargetSchema: "merged", TargetTable: "t"},
				{SchemaPattern: "shard_*", TargetSchema: "merged"},
			},
			probes: []probe{
				{schema: "shard_01", table: "t_01", wantSchema: "merged", wantTable: "t"},
				{schema: "shard_02", table: "t_9", wantSchema: "merged", wantTable: "t"},
				// No table rule claims it: the schema rule keeps the table name.
				{schema: "shard_01", table: "users", wantSchema: "merged", wantTable: "users"},
				// Database DDL only consults schema rules.
				{schema: "shard_01", wantSchema: "merged"},
				{schema: "other", table: "t_01", wantSchema: "other", wantTable: "t_01"},
			},
		},
		{
			name: "openapi shard test: openapi.* of two sources into openapi.t",
			rules: []Rule{
				{SchemaPattern: "openapi", TablePattern: "*", TargetSchema: "openapi", TargetTable: "t"},
			},
			probes: []probe{
				{schema: "openapi", table: "t1", wantSchema: "openapi", wantTable: "t"},
				{schema: "openapi", table: "t2", wantSchema: "openapi", wantTable: "t"},
				// A table rule does not route the schema itself.
				{schema: "openapi", wantSchema: "openapi"},
			},
		},
		{
			name: "question mark and character classes",
			rules: []Rule{
				{SchemaPattern: "db?", TablePattern: "t[0-9]", TargetSchema: "x", TargetTable: "y"},
			},
			probes: []probe{
				{schema: "db1", table: "t5", wantSchema: "x", wantTable: "y"},
				{schema: "db12", table: "t5", wantSchema: "db12", wantTable: "t5"},
				{schema: "db1", table: "ta", wantSchema: "db1", wantTable: "ta"},
			},
		},
		{
			name: "regexp patterns",
			rules: []Rule{
				{SchemaPattern: "~^shop_\\d+$", TablePattern: "~^order", TargetSchema: "shop", TargetTable: "orders"},
			},
			probes: []probe{
				{schema: "shop_1", table: "order_2024", wantSchema: "shop", wantTable: "orders"},
				{schema: "shop_x", table: "order_2024", wantSchema: "shop_x", wantTable: "order_2024"},
			},
		},
		{
			name: "prefix patterns of different length at the same level conflict",
			rules: []Rule{
				{SchemaPattern: "s", TablePattern: "t*", TargetSchema: "a"},
				{SchemaPattern: "s", TablePattern: "t_*", TargetSchema: "b"},
			},
			probes: []probe{
				{schema: "s", table: "tx", wantSchema: "a", wantTable: "tx"},
				{schema: "s", table: "t_1", wantAmbiguous: true},
			},
		},
		{
			name: "two schema rules conflict",
			rules: []Rule{
				{SchemaPattern: "s*", TargetSchema: "a"},
				{SchemaPattern: "s?", TargetSchema: "b"},
			},
			probes: []probe{
				{schema: "s", table: "t", wantSchema: "a", wantTable: "t"},
				{schema: "s1", wantAmbiguous: true},
				{schema: "s1", table: "t", wantAmbiguous: true},
			},
		},
		{
			name: "a single table rule beats several schema rules",
			rules: []Rule{
				{SchemaPattern: "s*", TargetSchema: "a"},
				{SchemaPattern: "s?", TargetSchema: "b"},
				{SchemaPattern: "s1", TablePattern: "t", TargetSchema: "c", TargetTable: "u"},
			},
			probes: []probe{
				{schema: "s1", table: "t", wantSchema: "c", wantTable: "u"},
				{schema: "s1", table: "x", wantAmbiguous: true},
			},
		},
		{
			name: "case-insensitive: patterns fold, targets are kept as written",
			rules: []Rule{
				{SchemaPattern: "UPPER_DB", TablePattern: "Do_Table", TargetSchema: "Route_DB", TargetTable: "Do_Table_Route"},
			},
			probes: []probe{
				{schema: "upper_db", table: "do_table", wantSchema: "Route_DB", wantTable: "Do_Table_Route"},
				{schema: "UPPER_DB", table: "DO_TABLE", wantSchema: "Route_DB", wantTable: "Do_Table_Route"},
			},
		},
		{
			name:          "case-sensitive",
			caseSensitive: true,
			rules: []Rule{
				{SchemaPattern: "UPPER_DB", TablePattern: "Do_Table", TargetSchema: "route", TargetTable: "t"},
			},
			probes: []probe{
				{schema: "UPPER_DB", table: "Do_Table", wantSchema: "route", wantTable: "t"},
				{schema: "upper_db", table: "do_table", wantSchema: "upper_db", wantTable: "do_table"},
			},
		},
		{
			name: "verbatim duplicate rules are kept once",
			rules: []Rule{
				{SchemaPattern: "s", TargetSchema: "a"},
				{SchemaPattern: "s", TargetSchema: "a"},
			},
			probes: []probe{
				{schema: "s", table: "t", wantSchema: "a", wantTable: "t"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.rules, tt.caseSensitive)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for _, p := range tt.probes {
				s, tb, err := r.Route(p.schema, p.table)
				if p.wantAmbiguous {
					if !errors.Is(err, ErrAmbiguous) {
						t.Errorf("Route(%q, %q) error = %v, want ErrAmbiguous", p.schema, p.table, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Route(%q, %q): %v", p.schema, p.table, err)
				}
				if s != p.wantSchema || tb != p.wantTable {
					t.Errorf("Route(%q, %q) = %q, %q; want %q, %q", p.schema, p.table, s, tb, p.wantSchema, p.wantTable)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{{TargetSchema: "x"}}, "route rule 0"},
		{[]Rule{{SchemaPattern: "s", TablePattern: "t"}}, "target schema is empty"},
		{[]Rule{{SchemaPattern: "s", TargetSchema: "x"}, {SchemaPattern: "a*b", TargetSchema: "x"}}, "route rule 1"},
		{[]Rule{{SchemaPattern: "s", TablePattern: "~(", TargetSchema: "x"}}, "table pattern"},
		{[]Rule{{SchemaPattern: "S", TargetSchema: "x"}, {SchemaPattern: "s", TargetSchema: "y"}}, "conflicts with"},
	}
	for _, tt := range tests {
		_, err := New(tt.rules, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tt.rules, err, tt.want)
		}
	}
	// Same patterns with different case are distinct rules when case-sensitive.
	if _, err := New([]Rule{{SchemaPattern: "S", TargetSchema: "x"}, {SchemaPattern: "s", TargetSchema: "y"}}, true); err != nil {
		t.Errorf("case-sensitive rules S and s: %v", err)
	}
}

func TestNilRouter(t *testing.T) {
	var r *Router
	s, tb, err := r.Route("a", "b")
	if s != "a" || tb != "b" || err != nil {
		t.Errorf("nil Router Route = %q, %q, %v", s, tb, err)
	}
}

func TestMerges(t *testing.T) {
	type probe struct {
		schema, table string
		want          bool
	}
	tests := []struct {
		name   string
		rules  []Rule
		probes []probe
	}{
		{"no rules", nil, []probe{{"shop", "", false}, {"shop", "t", false}}},
		{"schema renamed one to one", []Rule{{SchemaPattern: "shop", TargetSchema: "dst"}},
			[]probe{{"shop", "", false}, {"shop", "t", false}, {"other", "", false}, {"dst", "", true}, {"dst", "t", true}}},
		{"shard schemas merged", []Rule{{SchemaPattern: "shop_*", TargetSchema: "shop"}},
			[]probe{{"shop_1", "", true}, {"shop_1", "t", true}, {"shop", "", true}, {"log", "t", false}}},
		{"shard tables merged", []Rule{{SchemaPattern: "shop", TablePattern: "t_*", TargetSchema: "shop", TargetTable: "t"}},
			[]probe{{"shop", "t_1", true}, {"shop", "u", false}, {"shop", "t", true}}},
		{"tables renamed one to one", []Rule{
			{SchemaPattern: "shop", TablePattern: "t1", TargetSchema: "dst", TargetTable: "a"},
			{SchemaPattern: "shop", TablePattern: "t2", TargetSchema: "dst", TargetTable: "b"}},
			[]probe{{"shop", "t1", false}, {"shop", "t2", false}}},
		{"two schemas onto one", []Rule{{SchemaPattern: "a", TargetSchema: "x"}, {SchemaPattern: "b", TargetSchema: "x"}},
			[]probe{{"a", "", true}, {"a", "t", true}}},
		{"table pattern keeping names", []Rule{{SchemaPattern: "shop", TablePattern: "*", TargetSchema: "dst"}},
			[]probe{{"shop", "t", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.rules, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.probes {
				if got := r.Merges(p.schema, p.table); got != p.want {
					t.Errorf("Merges(%q, %q) = %v, want %v", p.schema, p.table, got, p.want)
				}
			}
		})
	}
}
