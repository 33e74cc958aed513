package dm

import (
	"errors"
	"fmt"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/router"
)

// Sentinels of buildSubtaskRules; callers map them to API error codes.
var (
	// errUnknownFilterRule: a table rule names a binlog_filter_rule the task does not define.
	errUnknownFilterRule = errors.New("unknown binlog filter rule")
	// errBadRoutePattern: the route rules derived from table_migrate_rule are invalid.
	errBadRoutePattern = errors.New("invalid table route")
	// errBadAllowListPattern: the allow-list derived from table_migrate_rule is invalid.
	errBadAllowListPattern = errors.New("invalid block-allow list")
	// errBadFilterRule: a binlog_filter_rule template is invalid (e.g. a bad ignore_sql regexp).
	errBadFilterRule = errors.New("invalid binlog filter rule")
)

// ruleError carries a user-facing message and matches one of the sentinels above.
type ruleError struct {
	kind error
	msg  string
}

func (e *ruleError) Error() string { return e.msg }
func (e *ruleError) Unwrap() error { return e.kind }

func newRuleError(kind error, format string, args ...any) error {
	return &ruleError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// subtaskRules are the filters and routes of one source of a task.
type subtaskRules struct {
	BA     *filter.BAList
	Router *router.Router
	Events *filter.EventFilter
	// BARules, RouteRules and EventRules are the rules the three matchers were
	// built from. BARules is the effective allow-list (see buildSubtaskRules),
	// so rebuild table_migrate_rule from the task, not from BARules.
	BARules    filter.Rules
	RouteRules []router.Rule
	EventRules []filter.EventRule
}

// migrateTarget is one migrated source table and where it goes.
type migrateTarget struct{ SourceSchema, SourceTable, TargetSchema, TargetTable string }

// buildSubtaskRules derives the allow-list, routes and event filter of source
// sourceName from the task's table_migrate_rule and binlog_filter_rule
// (API.md §3.2.5). Only rules whose source_name is sourceName count.
//
//   - Allow-list: a rule with a table adds a do-table, one without adds a
//     do-db; no rules means everything but system schemas. As in DM
//     (config.OpenAPITaskToSubTaskConfigs, then tidb's filter: a table must
//     pass filterOnSchemas AND filterOnTables), a table is migrated only when
//     it matches a do-db (if any) and a do-table (if any): rules {shop} and
//     {shop.orders} migrate shop.orders alone; {a} and {b.t} migrate nothing.
//   - Routes: a rule whose target sets a schema or a table routes
//     (source.schema, source.table) to it; a target table without a target
//     schema is rejected, as in DM.
//   - Event filters: every binlog_filter_rule name of a rule becomes an Ignore
//     rule with the template's ignore_event and ignore_sql, scoped to the
//     rule's schema and table patterns (schema level when table is "").
//
// Checks run in DM's order: unknown filter names (errUnknownFilterRule), the
// allow-list (errBadAllowListPattern), routes (errBadRoutePattern), then the
// filter templates (errBadFilterRule). Unknown event names are not errors;
// they are reported by Events.UnknownEvents().
func buildSubtaskRules(sourceName string, rules []TaskTableMigrateRule, filters map[string]TaskBinLogFilterRule, caseSensitive bool) (*subtaskRules, error) {
	c := newRuleCollector(caseSensitive)
	for _, rule := range rules {
		if rule.Source.SourceName != sourceName {
			continue
		}
		if err := c.add(rule, filters); err != nil {
			return nil, err
		}
	}
	return c.compile()
}

// ruleCollector gathers the allow-list, routes and event rules of one source's table
// rules, deduplicating allow-list entries by pattern.
type ruleCollector struct {
	caseSensitive bool
	doDBs         []string
	doTables      []filter.Table
	routes        []router.Rule
	eventRules    []filter.EventRule
	eventTemplate []string // eventTemplate[i] is the template name of eventRules[i], for errors
	seenDB        map[string]bool
	seenTable     map[[2]string]bool
}

func newRuleCollector(caseSensitive bool) *ruleCollector {
	return &ruleCollector{caseSensitive: caseSensitive, seenDB: map[string]bool{}, seenTable: map[[2]string]bool{}}
}

func (c *ruleCollector) addDB(db string) {
	if k := filter.PatternKey(db, c.caseSensitive); !c.seenDB[k] {
		c.seenDB[k] = true
		c.doDBs = append(c.doDBs, db)
	}
}

func (c *ruleCollector) addTable(t filter.Table) {
	k := [2]string{filter.PatternKey(t.Schema, c.caseSensitive), filter.PatternKey(t.Name, c.caseSensitive)}
	if !c.seenTable[k] {
		c.seenTable[k] = true
		c.doTables = append(c.doTables, t)
	}
}

// add takes one table rule: its filter templates, its allow-list entry and its route.
func (c *ruleCollector) add(rule TaskTableMigrateRule, filters map[string]TaskBinLogFilterRule) error {
	src := rule.Source
	for _, name := range rule.BinlogFilterRule {
		tmpl, ok := filters[name]
		if !ok {
			return newRuleError(errUnknownFilterRule, "filter rule name %s not found.", name)
		}
		events := make([]filter.EventType, len(tmpl.IgnoreEvent))
		for i, e := range tmpl.IgnoreEvent {
			events[i] = filter.EventType(e)
		}
		c.eventRules = append(c.eventRules, filter.EventRule{
			SchemaPattern: src.Schema,
			TablePattern:  src.Table,
			Events:        events,
			SQLPatterns:   tmpl.IgnoreSQL,
			Action:        filter.Ignore,
		})
		c.eventTemplate = append(c.eventTemplate, name)
	}
	if src.Table != "" {
		c.addTable(filter.Table{Schema: src.Schema, Name: src.Table})
	} else {
		c.addDB(src.Schema)
	}
	if t := rule.Target; t != nil && (t.Schema != "" || t.Table != "") {
		c.routes = append(c.routes, router.Rule{
			SchemaPattern: src.Schema,
			TablePattern:  src.Table,
			TargetSchema:  t.Schema,
			TargetTable:   t.Table,
		})
	}
	return nil
}

// compile builds the matchers, in DM's order of checks.
func (c *ruleCollector) compile() (*subtaskRules, error) {
	ba := filter.Rules{DoDBs: c.doDBs, DoTables: c.doTables}
	baList, err := filter.NewBAList(ba, c.caseSensitive)
	if err != nil {
		return nil, newRuleError(errBadAllowListPattern, "generate block allow list error: table_migrate_rule source patterns: %v", err)
	}
	rt, err := router.New(c.routes, c.caseSensitive)
	if err != nil {
		return nil, newRuleError(errBadRoutePattern, "generate table router error: table_migrate_rule: %v", err)
	}
	for i, r := range c.eventRules {
		if _, err := filter.NewEventFilter([]filter.EventRule{r}, c.caseSensitive); err != nil {
			return nil, newRuleError(errBadFilterRule, "binlog_filter_rule %s (applied to %s.%s): %v", c.eventTemplate[i], r.SchemaPattern, orAll(r.TablePattern), err)
		}
	}
	events, err := filter.NewEventFilter(c.eventRules, c.caseSensitive)
	if err != nil {
		return nil, newRuleError(errBadFilterRule, "binlog_filter_rule: %v", err)
	}
	return &subtaskRules{BA: baList, Router: rt, Events: events, BARules: ba, RouteRules: c.routes, EventRules: c.eventRules}, nil
}

func orAll(table string) string {
	if table == "" {
		return "*"
	}
	return table
}

// migrateTargets returns the tables the allow-list admits, in input order,
// each with its routed target. A table claimed by two routes is an error.
func (r *subtaskRules) migrateTargets(tables []filter.Table) ([]migrateTarget, error) {
	allowed := r.BA.Filter(tables)
	out := make([]migrateTarget, 0, len(allowed))
	for _, t := range allowed {
		ts, tt, err := r.Router.Route(t.Schema, t.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, migrateTarget{SourceSchema: t.Schema, SourceTable: t.Name, TargetSchema: ts, TargetTable: tt})
	}
	return out, nil
}
