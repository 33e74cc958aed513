package filter

import (
	"fmt"
	"regexp"
	"strings"
)

// Action is what the binlog event filter decides for an event.
type Action string

// Actions. A rule's action says what to do with the events it matches;
// Filter's result says what to do with one event.
const (
	// Do replicates the event. In a rule, Do makes the rule an allow-list:
	// events it does not match are ignored.
	Do Action = "Do"
	// Ignore drops the event.
	Ignore Action = "Ignore"
	// Error stops replication with an error.
	Error Action = "Error"
)

// EventRule is one DM binlog event filter rule. A rule with an empty
// TablePattern is schema level: it applies to every table of the matching
// schemas and to database-level statements.
type EventRule struct {
	SchemaPattern string      `json:"schema-pattern" yaml:"schema-pattern"`
	TablePattern  string      `json:"table-pattern,omitempty" yaml:"table-pattern,omitempty"`
	Events        []EventType `json:"events,omitempty" yaml:"events,omitempty"`
	// SQLPatterns are regular expressions, joined with `|` and matched
	// case-insensitively (unanchored) against a statement's text.
	SQLPatterns []string `json:"sql-pattern,omitempty" yaml:"sql-pattern,omitempty"`
	Action      Action   `json:"action" yaml:"action"`
}

type compiledEventRule struct {
	schema, table *Pattern // table nil for schema-level rules
	events        []EventType
	sql           *regexp.Regexp // nil without SQL patterns
	action        Action
}

// EventFilter applies binlog event filter rules. It is immutable after
// construction and safe for concurrent use. A nil *EventFilter replicates
// everything.
type EventFilter struct {
	schemaRules []compiledEventRule
	tableRules  []compiledEventRule
	unknown     []string
}

// NewEventFilter compiles rules. A rule needs a schema pattern and an action
// (Do, Ignore or Error, case-insensitive); malformed patterns and SQL regular
// expressions are errors naming the rule. Unknown event names are not errors
// (DM only logs them): they are left out of the rule and reported by
// UnknownEvents so the caller can warn about them.
func NewEventFilter(rules []EventRule, caseSensitive bool) (*EventFilter, error) {
	f := &EventFilter{}
	seen := map[string]bool{}
	for i, r := range rules {
		c, err := compileEventRule(r, caseSensitive)
		if err != nil {
			return nil, fmt.Errorf("binlog event filter rule %d (schema %q, table %q): %w", i, r.SchemaPattern, r.TablePattern, err)
		}
		for _, name := range r.Events {
			if name == NullEvent {
				continue
			}
			e, ok := ParseEventType(string(name))
			if !ok {
				if !seen[string(name)] {
					seen[string(name)] = true
					f.unknown = append(f.unknown, string(name))
				}
				continue
			}
			c.events = append(c.events, e)
		}
		if c.table == nil {
			f.schemaRules = append(f.schemaRules, c)
		} else {
			f.tableRules = append(f.tableRules, c)
		}
	}
	return f, nil
}

func compileEventRule(r EventRule, caseSensitive bool) (compiledEventRule, error) {
	var c compiledEventRule
	if r.SchemaPattern == "" {
		return c, fmt.Errorf("schema pattern is empty; use \"*\" to match every schema")
	}
	var err error
	if c.schema, err = CompilePattern(r.SchemaPattern, caseSensitive); err != nil {
		return c, err
	}
	if r.TablePattern != "" {
		if c.table, err = CompilePattern(r.TablePattern, caseSensitive); err != nil {
			return c, err
		}
	}
	switch strings.ToLower(string(r.Action)) {
	case "do":
		c.action = Do
	case "ignore":
		c.action = Ignore
	case "error":
		c.action = Error
	default:
		return c, fmt.Errorf("action %q is not valid; use Do, Ignore or Error", r.Action)
	}
	if len(r.SQLPatterns) > 0 {
		c.sql, err = regexp.Compile("(?i)" + strings.Join(r.SQLPatterns, "|"))
		if err != nil {
			return c, fmt.Errorf("SQL patterns %q are not valid regular expressions: %w", r.SQLPatterns, err)
		}
	}
	return c, nil
}

// UnknownEvents returns the event names found in the rules that are not DM
// event types, in first-seen order. They were left out of their rules.
func (f *EventFilter) UnknownEvents() []string {
	if f == nil {
		return nil
	}
	return append([]string(nil), f.unknown...)
}

// Filter decides what to do with one event on schema.table (table empty for
// database-level statements; both empty for a statement whose tables are
// unknown, which then only hits rules with `*` patterns). event is the
// event's type — InsertEvent/UpdateEvent/DeleteEvent for rows, ClassifyDDL's
// result for DDL, or NullEvent when unclassified; sql is the statement text
// ("" for rows events, so SQL patterns never affect rows).
//
// DM's algorithm: the matching schema-level rules are visited first, then the
// matching table-level rules, each in the order given. For each rule, if the
// event has a type: a type match with action Ignore or Error returns that
// action, and no type match with action Do returns Ignore. Then, if sql is
// non-empty and the rule has SQL patterns, the same three cases apply to a
// pattern match. When no rule decides, the event is replicated (Do).
// An event type that is not a known name is an error.
func (f *EventFilter) Filter(schema, table string, event EventType, sql string) (Action, error) {
	if f == nil {
		return Do, nil
	}
	if event != NullEvent {
		if _, ok := eventClasses[event]; !ok || classOf(event) == classMeta {
			return Ignore, fmt.Errorf("binlog event filter: event type %q is not a concrete event type", event)
		}
	}
	for i := range f.schemaRules {
		r := &f.schemaRules[i]
		if !r.schema.Match(schema) {
			continue
		}
		if a, decided := r.decide(event, sql); decided {
			return a, nil
		}
	}
	for i := range f.tableRules {
		r := &f.tableRules[i]
		if !r.schema.Match(schema) || !r.table.Match(table) {
			continue
		}
		if a, decided := r.decide(event, sql); decided {
			return a, nil
		}
	}
	return Do, nil
}

// decide applies one matching rule to the event; decided is false when the
// rule lets evaluation continue with the next rule.
func (r *compiledEventRule) decide(event EventType, sql string) (Action, bool) {
	if event != NullEvent {
		if a, ok := r.outcome(matchEvent(r.events, event)); ok {
			return a, true
		}
	}
	if sql != "" && r.sql != nil {
		if a, ok := r.outcome(r.sql.MatchString(sql)); ok {
			return a, true
		}
	}
	return "", false
}

func (r *compiledEventRule) outcome(matched bool) (Action, bool) {
	switch {
	case matched && r.action == Ignore:
		return Ignore, true
	case matched && r.action == Error:
		return Error, true
	case !matched && r.action == Do:
		return Ignore, true
	}
	return "", false
}

// matchEvent reports whether a rule's event list matches event. As in DM the
// list is scanned in order and the first meta type that applies to the
// event's class decides (so ["none", "insert"] matches nothing). A refined
// event kind also matches its DM kind (see dmKind).
func matchEvent(rule []EventType, event EventType) bool {
	class := classOf(event)
	dm, refined := dmKind[event]
	for _, e := range rule {
		switch e {
		case AllEvent:
			return true
		case NoneEvent:
			return false
		}
		if class == classDDL || class == classIncompatibleDDL {
			switch e {
			case AllDDL:
				return true
			case NoneDDL:
				return false
			}
		}
		if class == classDML {
			switch e {
			case AllDML:
				return true
			case NoneDML:
				return false
			}
		}
		if class == classIncompatibleDDL && e == IncompatibleDDLChanges {
			return true
		}
		if e == event || (refined && e == dm) {
			return true
		}
	}
	return false
}
