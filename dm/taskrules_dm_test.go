package dm

import (
	"testing"

	"github.com/dmkit/dmkit/filter"
)

// Issue 11 "same rules, same tables": which tables a table_migrate_rule list migrates,
// derived from DM's code. DM (tiflow dm/config/task_converters.go) turns every rule of a
// source into a do-db (no table) or a do-table (schema + table), and tidb's
// pkg/util/filter admits a table iff filterOnSchemas (a do-db matches, when there are
// do-dbs) AND filterOnTables (a do-table matches, when there are do-tables); dumpling's
// ParseMySQLReplicationRules builds the same "both filters" conjunction. Routes come from
// every rule with a target schema or table, independently of the allow-list.
//
// One deliberate difference, kept for data safety (issue 7): with do-tables and no do-dbs,
// DM's schema-level question (database DDL, table "") passes every schema; dmkit passes
// only the do-tables' schemas. The "schema" probes below record dmkit's answer.
func TestTableMigrateRuleSemanticsAsDM(t *testing.T) {
	type probe struct {
		schema, table string
		want          string // "" = not migrated, else target `schema.table` (or `schema` for table "")
	}
	rule := func(schema, table string, target ...string) TaskTableMigrateRule {
		var tgt *TaskTableMigrateRuleTarget
		if len(target) > 0 {
			tgt = &TaskTableMigrateRuleTarget{Schema: target[0]}
			if len(target) > 1 {
				tgt.Table = target[1]
			}
		}
		return migrateRule("s1", schema, table, tgt)
	}
	tests := []struct {
		name          string
		rules         []TaskTableMigrateRule
		caseSensitive bool
		probes        []probe
	}{
		{"schema-only rules", []TaskTableMigrateRule{rule("shop", ""), rule("log", "")}, false, []probe{
			{"shop", "orders", "shop.orders"}, {"log", "x", "log.x"}, {"other", "x", ""},
			{"shop", "", "shop"}, {"other", "", ""},
		}},
		{"table-only rules", []TaskTableMigrateRule{rule("shop", "orders"), rule("shop", "users")}, false, []probe{
			{"shop", "orders", "shop.orders"}, {"shop", "users", "shop.users"}, {"shop", "items", ""},
			{"other", "orders", ""}, {"shop", "", "shop"}, {"other", "", ""},
		}},
		{"wildcards in schema and table", []TaskTableMigrateRule{rule("shop_*", "t_[0-9]"), rule("~^log\\d+$", "*")}, false, []probe{
			{"shop_01", "t_1", "shop_01.t_1"}, {"shop_01", "t_a", ""}, {"shop", "t_1", ""},
			{"log7", "anything", "log7.anything"}, {"logx", "a", ""},
		}},
		{"schema rule and table rule on one schema: only the table (both lists must match)",
			[]TaskTableMigrateRule{rule("shop", ""), rule("shop", "orders")}, false, []probe{
				{"shop", "orders", "shop.orders"}, {"shop", "users", ""}, {"shop", "", "shop"},
			}},
		{"schema rule and table rule on different schemas: nothing",
			[]TaskTableMigrateRule{rule("a", ""), rule("b", "t")}, false, []probe{
				{"a", "x", ""}, {"b", "t", ""}, {"a", "", "a"}, {"b", "", ""},
			}},
		{"several table rules on one schema", []TaskTableMigrateRule{rule("shop", "o*"), rule("shop", "u?")}, false, []probe{
			{"shop", "orders", "shop.orders"}, {"shop", "u1", "shop.u1"}, {"shop", "users", ""},
		}},
		{"case-insensitive (default): rules and names fold", []TaskTableMigrateRule{rule("Shop", "Orders")}, false, []probe{
			{"shop", "orders", "shop.orders"}, {"SHOP", "ORDERS", "SHOP.ORDERS"}, {"shop", "users", ""},
		}},
		{"case-sensitive", []TaskTableMigrateRule{rule("Shop", "Orders")}, true, []probe{
			{"Shop", "Orders", "Shop.Orders"}, {"shop", "orders", ""},
		}},
		{"route without target table keeps table names", []TaskTableMigrateRule{rule("shop_*", "", "shop")}, false, []probe{
			{"shop_1", "orders", "shop.orders"}, {"shop_1", "", "shop"}, {"other", "t", ""},
		}},
		{"route with target table merges", []TaskTableMigrateRule{rule("shop_*", "orders_*", "shop", "orders")}, false, []probe{
			{"shop_1", "orders_01", "shop.orders"}, {"shop_1", "users", ""},
		}},
		{"route on a table rule alongside a schema rule: only the routed table", []TaskTableMigrateRule{
			rule("shop", ""), rule("shop", "orders", "archive", "orders_all"),
		}, false, []probe{
			{"shop", "orders", "archive.orders_all"}, {"shop", "users", ""},
		}},
		{"system schemas are never migrated", []TaskTableMigrateRule{rule("*", "")}, false, []probe{
			{"mysql", "user", ""}, {"information_schema", "tables", ""}, {"app", "t", "app.t"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := buildSubtaskRules("s1", tt.rules, nil, tt.caseSensitive)
			if err != nil {
				t.Fatalf("buildSubtaskRules: %v", err)
			}
			for _, p := range tt.probes {
				got := ""
				if p.table == "" {
					if r.BA.Match(p.schema, "") {
						s, _, err := r.Router.Route(p.schema, "")
						if err != nil {
							t.Fatal(err)
						}
						got = s
					}
				} else {
					ts, err := r.migrateTargets([]filter.Table{{Schema: p.schema, Name: p.table}})
					if err != nil {
						t.Fatal(err)
					}
					if len(ts) == 1 {
						got = ts[0].TargetSchema + "." + ts[0].TargetTable
					}
				}
				if got != p.want {
					t.Errorf("%s.%s -> %q, want %q", p.schema, p.table, got, p.want)
				}
			}
		})
	}
}
