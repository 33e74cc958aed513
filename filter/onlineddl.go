package filter

import (
	"fmt"
	"regexp"
	"strings"
)

// TableKind is what an online schema change tool (gh-ost, pt-online-schema-change) uses
// a table for, judged by its name.
type TableKind int

const (
	// RealTable is an ordinary table.
	RealTable TableKind = iota
	// GhostTable is the tool's copy of a real table that receives the ALTER and the rows
	// (gh-ost `_t_gho`, pt-osc `_t_new`); at the cut-over it is renamed onto the real table.
	GhostTable
	// TrashTable is a helper or leftover table of the tool (gh-ost `_t_ghc` changelog and
	// `_t_del` old table, pt-osc `_t_old`).
	TrashTable
)

func (k TableKind) String() string {
	switch k {
	case GhostTable:
		return "ghost table"
	case TrashTable:
		return "trash table"
	}
	return "real table"
}

// DM's default shadow-table-rules and trash-table-rules
// (tiflow dm/config/subtask.go): the one group is the real table's name.
var (
	DefaultShadowTableRules = []string{`^_(.+)_(?:new|gho)$`}
	DefaultTrashTableRules  = []string{`^_(.+)_(?:ghc|del|old)$`}
)

// OnlineDDL recognises the ghost and trash tables of online schema change tools and the
// real table each belongs to (DM's `online-ddl`, OpenAPI `enhance_online_schema_change`).
// A nil *OnlineDDL means the feature is off: every table is real.
type OnlineDDL struct {
	shadow, trash []*regexp.Regexp
}

// NewOnlineDDL compiles shadow (ghost) and trash table name rules; an empty list takes
// DM's default. Each rule is a Go regexp with exactly one capture group, the real table
// name; it is anchored at both ends if it is not already (as DM does).
func NewOnlineDDL(shadowRules, trashRules []string) (*OnlineDDL, error) {
	if len(shadowRules) == 0 {
		shadowRules = DefaultShadowTableRules
	}
	if len(trashRules) == 0 {
		trashRules = DefaultTrashTableRules
	}
	o := &OnlineDDL{}
	var err error
	if o.shadow, err = compileTableRules("shadow-table-rules", shadowRules); err != nil {
		return nil, err
	}
	if o.trash, err = compileTableRules("trash-table-rules", trashRules); err != nil {
		return nil, err
	}
	return o, nil
}

func compileTableRules(what string, rules []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(rules))
	for _, r := range rules {
		src := r
		if !strings.HasPrefix(src, "^") {
			src = "^" + src
		}
		if !strings.HasSuffix(src, "$") {
			src += "$"
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a valid regular expression: %v", what, r, err)
		}
		if re.NumSubexp() != 1 {
			return nil, fmt.Errorf("%s: %q must have exactly one capture group (the real table name), it has %d", what, r, re.NumSubexp())
		}
		out = append(out, re)
	}
	return out, nil
}

// Classify returns the kind of table and the real table it belongs to (table itself for
// a real table). Shadow rules are checked first, as in DM.
func (o *OnlineDDL) Classify(table string) (TableKind, string) {
	if o == nil {
		return RealTable, table
	}
	for _, re := range o.shadow {
		if m := re.FindStringSubmatch(table); m != nil && m[1] != "" {
			return GhostTable, m[1]
		}
	}
	for _, re := range o.trash {
		if m := re.FindStringSubmatch(table); m != nil && m[1] != "" {
			return TrashTable, m[1]
		}
	}
	return RealTable, table
}

// IsReal reports whether table is an ordinary table (always true when o is nil).
func (o *OnlineDDL) IsReal(table string) bool {
	k, _ := o.Classify(table)
	return k == RealTable
}

// RealTables wraps a table selection so that ghost and trash tables are never selected:
// their rows come from the real table's, and they must never be created on the target.
// Schema questions (table "") are passed through.
func (o *OnlineDDL) RealTables(match func(schema, table string) bool) func(schema, table string) bool {
	if o == nil {
		return match
	}
	return func(schema, table string) bool {
		return (table == "" || o.IsReal(table)) && match(schema, table)
	}
}

// DefaultOnlineDDL is the classifier with DM's default rules.
func DefaultOnlineDDL() *OnlineDDL {
	o, err := NewOnlineDDL(nil, nil)
	if err != nil {
		panic(err) // the defaults compile
	}
	return o
}
