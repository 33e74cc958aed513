package router

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dmkit/dmkit/filter"
)

// ErrAmbiguous is wrapped by Route's error when a table matches more than one
// rule of the deciding level.
var ErrAmbiguous = errors.New("table matches more than one route rule")

// Rule routes upstream schemas/tables matching the patterns to a target.
// Patterns use filter.Pattern syntax (wildcards, or `~` regular
// expressions). A rule with an empty TablePattern is schema level: it routes
// the schema itself (database DDL) and every table no table-level rule
// claims. An empty TargetTable keeps the table name.
type Rule struct {
	SchemaPattern string `json:"schema-pattern" yaml:"schema-pattern"`
	TablePattern  string `json:"table-pattern,omitempty" yaml:"table-pattern,omitempty"`
	TargetSchema  string `json:"target-schema" yaml:"target-schema"`
	TargetTable   string `json:"target-table,omitempty" yaml:"target-table,omitempty"`
}

type compiledRule struct {
	rule          Rule
	schema, table *filter.Pattern // table nil for schema-level rules
}

// Router maps upstream names to target names. It is immutable after
// construction and safe for concurrent use. A nil *Router routes every name
// to itself.
type Router struct {
	schemaRules []compiledRule
	tableRules  []compiledRule
}

// New validates and compiles rules. A rule needs a schema pattern and a
// target schema (as in DM); patterns must be valid. A rule repeated verbatim
// is kept once; two rules with the same patterns but different targets are
// an error, since every table they match would be ambiguous.
func New(rules []Rule, caseSensitive bool) (*Router, error) {
	r := &Router{}
	byPatterns := map[[2]string]Rule{}
	for i, rule := range rules {
		if rule.SchemaPattern == "" {
			return nil, fmt.Errorf("route rule %d %s: schema pattern is empty; set the source schema (wildcards allowed)", i, describe(rule))
		}
		if rule.TargetSchema == "" {
			return nil, fmt.Errorf("route rule %d %s: target schema is empty; set the target schema", i, describe(rule))
		}
		key := [2]string{filter.PatternKey(rule.SchemaPattern, caseSensitive), filter.PatternKey(rule.TablePattern, caseSensitive)}
		if prev, dup := byPatterns[key]; dup {
			if prev.TargetSchema == rule.TargetSchema && prev.TargetTable == rule.TargetTable {
				continue
			}
			return nil, fmt.Errorf("route rule %d %s conflicts with %s: same source patterns, different targets; keep one of them", i, describe(rule), describe(prev))
		}
		byPatterns[key] = rule
		c := compiledRule{rule: rule}
		var err error
		if c.schema, err = filter.CompilePattern(rule.SchemaPattern, caseSensitive); err != nil {
			return nil, fmt.Errorf("route rule %d %s: schema %w", i, describe(rule), err)
		}
		if rule.TablePattern == "" {
			r.schemaRules = append(r.schemaRules, c)
			continue
		}
		if c.table, err = filter.CompilePattern(rule.TablePattern, caseSensitive); err != nil {
			return nil, fmt.Errorf("route rule %d %s: table %w", i, describe(rule), err)
		}
		r.tableRules = append(r.tableRules, c)
	}
	return r, nil
}

func describe(r Rule) string {
	return fmt.Sprintf("(%q.%q -> %q.%q)", r.SchemaPattern, r.TablePattern, r.TargetSchema, r.TargetTable)
}

// Route returns the target of schema.table. table == "" routes a schema
// (database DDL) and only consults schema-level rules. Otherwise a matching
// table-level rule wins over schema-level rules. Within the deciding level
// at most one rule may match (ErrAmbiguous otherwise). Without a match the
// names are returned unchanged; an empty target table keeps the table name.
func (r *Router) Route(schema, table string) (targetSchema, targetTable string, err error) {
	if r == nil {
		return schema, table, nil
	}
	hit, err := r.decide(schema, table)
	if err != nil {
		return "", "", err
	}
	if hit == nil {
		return schema, table, nil
	}
	targetSchema, targetTable = hit.rule.TargetSchema, hit.rule.TargetTable
	if targetTable == "" {
		targetTable = table
	}
	return targetSchema, targetTable, nil
}

// Merges reports whether the target of schema.table (table "" for the schema)
// may receive more than one upstream schema or table: the deciding rule's
// pattern matches several names and maps them onto one, another rule routes
// onto the same target, or an unrouted name collides with a rule's target.
// Destructive DDL (DROP DATABASE, DROP TABLE, TRUNCATE) of one upstream object
// must not reach such a shared target: it would destroy the others' rows.
// Names that fail to route (ambiguous) count as merged.
func (r *Router) Merges(schema, table string) bool {
	if r == nil {
		return false
	}
	hit, err := r.decide(schema, table)
	if err != nil {
		return true
	}
	if hit == nil {
		// Unrouted: shared when a rule routes something else onto this name.
		for _, c := range r.all() {
			if strings.EqualFold(c.rule.TargetSchema, schema) &&
				(table == "" || c.rule.TargetTable == "" || strings.EqualFold(c.rule.TargetTable, table)) {
				return true
			}
		}
		return false
	}
	if !hit.schema.Literal() {
		return true
	}
	if hit.table != nil && hit.rule.TargetTable != "" && !hit.table.Literal() {
		return true
	}
	for _, c := range r.all() {
		if c == hit || !strings.EqualFold(c.rule.TargetSchema, hit.rule.TargetSchema) {
			continue
		}
		if table == "" || c.rule.TargetTable == "" || hit.rule.TargetTable == "" || strings.EqualFold(c.rule.TargetTable, hit.rule.TargetTable) {
			return true
		}
	}
	return false
}

// decide returns the rule that routes schema.table: a table-level rule wins over
// schema-level ones; table "" consults schema-level rules only. nil when none matches.
func (r *Router) decide(schema, table string) (*compiledRule, error) {
	if table != "" {
		if hit, err := r.single(r.tableRules, schema, table); err != nil || hit != nil {
			return hit, err
		}
	}
	return r.single(r.schemaRules, schema, table)
}

// all returns every compiled rule, table level first.
func (r *Router) all() []*compiledRule {
	out := make([]*compiledRule, 0, len(r.tableRules)+len(r.schemaRules))
	for i := range r.tableRules {
		out = append(out, &r.tableRules[i])
	}
	for i := range r.schemaRules {
		out = append(out, &r.schemaRules[i])
	}
	return out
}

func (r *Router) single(rules []compiledRule, schema, table string) (*compiledRule, error) {
	var hit *compiledRule
	for i := range rules {
		c := &rules[i]
		if !c.schema.Match(schema) || (c.table != nil && !c.table.Match(table)) {
			continue
		}
		if hit != nil {
			return nil, fmt.Errorf("route `%s`.`%s`: %w: %s and %s; narrow the patterns so only one applies", schema, table, ErrAmbiguous, describe(hit.rule), describe(c.rule))
		}
		hit = c
	}
	return hit, nil
}
