package precheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// autoIncrementExtra marks the sharding result whose only problem is auto-increment keys.
const autoIncrementExtra = "auto-increment key checking"

// shardMember is one source table of a sharding group.
type shardMember struct {
	src   *source
	table table
}

func (m shardMember) meta() *tableMeta {
	if md := m.src.meta[m.table]; md != nil && len(md.Columns) > 0 {
		return md
	}
	return nil
}

// shardChecks returns one check per target table that two or more source tables (on any
// sources) are merged into.
func (r *runner) shardChecks() []check {
	groups := map[table][]shardMember{}
	for _, s := range r.sources {
		for _, t := range s.tables {
			target := s.targets[t]
			groups[target] = append(groups[target], shardMember{src: s, table: t})
		}
	}
	autoInc := r.items[itemShardAutoIncrement]
	var checks []check
	for _, target := range sortedGroupTargets(groups) {
		members := groups[target]
		if len(members) < 2 {
			continue
		}
		if r.in.ShardMode == "optimistic" {
			checks = append(checks, optimisticShardCheck(target, members, autoInc))
		} else {
			checks = append(checks, pessimisticShardCheck(target, members, autoInc))
		}
		if autoInc {
			checks = append(checks, autoIncrementCollisionCheck(target, members))
		}
	}
	return checks
}

func sortedGroupTargets(groups map[table][]shardMember) []table {
	out := make([]table, 0, len(groups))
	for t := range groups {
		out = append(out, t)
	}
	slices.SortFunc(out, compareTables)
	return out
}

// warnAutoIncrement warns when a sharding table has an auto-increment column, whose values
// may collide in the merged table.
func warnAutoIncrement(r *Result, m shardMember, meta *tableMeta, target table) {
	if !slices.ContainsFunc(meta.Columns, func(c column) bool { return c.AutoInc }) {
		return
	}
	if r.State == Success {
		r.Instruction = instrAutoInc
		r.Extra = autoIncrementExtra
	}
	r.warn("sourceID %s table %s of sharding %s have auto-increment key, please make sure them don't conflict in target table!",
		m.src.Name, m.table, target)
}

// pessimisticShardCheck fails unless every table of the group has the first table's columns
// (names and types, in order): pessimistic shard DDL needs identical schemas.
func pessimisticShardCheck(target table, members []shardMember, autoInc bool) check {
	return func(context.Context) *Result {
		first := members[0]
		r := &Result{Name: fmt.Sprintf("sharding table %s consistency checking", target),
			Desc: "check consistency of sharding table structures", State: Success,
			Extra: fmt.Sprintf("sourceID %s on sharding %s", first.src.Name, target)}
		firstMeta := first.meta()
		if firstMeta == nil {
			return r
		}
		for _, m := range members {
			meta := m.meta()
			if meta == nil {
				continue
			}
			if autoInc {
				warnAutoIncrement(r, m, meta, target)
			}
			if f := shardColumnMismatch(first, firstMeta, m, meta); f != nil {
				r.State = Failure
				r.Errors = append(r.Errors, f)
				r.Extra = "error on sharding " + target.String()
				r.Instruction = instrShardSchema
			}
		}
		return r
	}
}

// shardColumnMismatch compares a sharding table's columns with the first table's.
func shardColumnMismatch(first shardMember, firstMeta *tableMeta, other shardMember, otherMeta *tableMeta) *Finding {
	names := func(m *tableMeta) []string {
		out := make([]string, len(m.Columns))
		for i, c := range m.Columns {
			out[i] = strings.ToLower(c.Name)
		}
		return out
	}
	self, oth := firstMeta.Columns, otherMeta.Columns
	if len(self) != len(oth) {
		return &Finding{Severity: Failure,
			ShortErr: fmt.Sprintf("column length mismatch (self: %d vs other: %d)", len(self), len(oth)),
			Self:     fmt.Sprintf("sourceID %s table %s columns %v", first.src.Name, first.table, names(firstMeta)),
			Other:    fmt.Sprintf("sourceID %s table %s columns %v", other.src.Name, other.table, names(otherMeta))}
	}
	for i := range self {
		a, b := self[i], oth[i]
		if strings.EqualFold(a.Name, b.Name) && a.Type == b.Type {
			continue
		}
		return &Finding{Severity: Failure,
			ShortErr: "different column definition",
			Self:     fmt.Sprintf("sourceID %s table %s column %s %s", first.src.Name, first.table, strings.ToLower(a.Name), a.Type),
			Other:    fmt.Sprintf("sourceID %s table %s column %s %s", other.src.Name, other.table, strings.ToLower(b.Name), b.Type)}
	}
	return nil
}

// optimisticShardCheck fails when the sharding tables cannot be joined into one schema:
// optimistic shard DDL tolerates different column sets but not a column whose types belong
// to incompatible families (a simplification of DM's schemacmp join).
func optimisticShardCheck(target table, members []shardMember, autoInc bool) check {
	return func(context.Context) *Result {
		r := &Result{Name: fmt.Sprintf("optimistic sharding table %s consistency checking", target),
			Desc:  "check consistency of sharding table structures for Optimistic Sharding Merge",
			State: Success, Extra: fmt.Sprintf("sharding %s", target)}
		type joinedColumn struct {
			col column
			at  shardMember
		}
		joined := map[string]joinedColumn{}
		for _, m := range members {
			meta := m.meta()
			if meta == nil {
				continue
			}
			if autoInc {
				warnAutoIncrement(r, m, meta, target)
			}
			for _, c := range meta.Columns {
				name := strings.ToLower(c.Name)
				j, ok := joined[name]
				if !ok {
					joined[name] = joinedColumn{col: c, at: m}
					continue
				}
				if typeFamily(j.col.DataType) != typeFamily(c.DataType) {
					f := r.fail("column %s has incompatible types %s and %s", name, j.col.Type, c.Type)
					f.Self = fmt.Sprintf("sourceID %s table %s column %s %s", j.at.src.Name, j.at.table, name, j.col.Type)
					f.Other = fmt.Sprintf("sourceID %s table %s column %s %s", m.src.Name, m.table, name, c.Type)
					r.Extra = "fail to join table info on sharding " + target.String()
					r.Instruction = instrShardJoin
				}
			}
		}
		return r
	}
}

// typeFamily groups the data types whose columns optimistic sharding can join (a wider type
// of the same family absorbs a narrower one).
func typeFamily(dataType string) string {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return "integer"
	case "float", "double", "real":
		return "float"
	case "decimal", "numeric":
		return "decimal"
	case "char", "varchar":
		return "char"
	case "binary", "varbinary":
		return "binary"
	case "tinytext", "text", "mediumtext", "longtext":
		return "text"
	case "tinyblob", "blob", "mediumblob", "longblob":
		return "blob"
	}
	return dataType
}
