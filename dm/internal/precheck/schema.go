package precheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Instructions of the table structure check (tiflow table_structure.go).
const (
	instrNoKey       = "You need to set primary/unique keys for the table. Otherwise replication efficiency might become very low and exactly-once replication cannot be guaranteed."
	instrCharset     = "Ensure that you use the same charsets for both upstream and downstream databases. Different charsets might cause data inconsistency."
	instrCollation   = "Ensure that you use the same collations for both upstream and downstream databases. Otherwise the query results from the two databases might be inconsistent."
	instrKeys        = "Ensure that you use the same index columns for both upstream and downstream databases. Otherwise the migration job might fail or data inconsistency might occur."
	instrColumns     = "Ensure that the column numbers are the same between upstream and downstream databases. Otherwise the migration job may fail."
	instrShardSchema = "please set same table structure for sharding tables"
	instrShardJoin   = "Please make the column types of the sharding tables compatible, or rename the conflicting columns."
	instrAutoInc     = "If happen conflict, please handle it by yourself. You can refer to https://docs.pingcap.com/tidb-data-migration/stable/shard-merge-best-practices/#handle-conflicts-between-primary-keys-or-unique-indexes-across-multiple-sharded-tables"
)

// warnFunc records one warning with its instruction.
type warnFunc func(instruction, format string, args ...any)

// tableSchemaCheck warns about migrated tables without a primary or unique key and, where
// the target table already exists, about differences that may break the migration.
func (rn *runner) tableSchemaCheck(ctx context.Context) *Result {
	r := &Result{Name: "table structure compatibility check", Desc: "check compatibility of table structure",
		State: Success}
	var targets []table
	for _, s := range rn.sources {
		for _, t := range s.tables {
			targets = append(targets, s.targets[t])
		}
	}
	slices.SortFunc(targets, compareTables)
	targets = slices.Compact(targets)
	var down map[table]*tableMeta
	if rn.in.Target != nil {
		var err error
		if down, err = fetchTableMeta(ctx, rn.in.Target, targets); err != nil {
			return markError(r, fmt.Errorf("target: %w", err))
		}
	}
	// Each finding's instruction is listed once on the result, as DM does.
	var instructions []string
	warn := func(instruction, format string, args ...any) {
		r.warn(format, args...)
		if !slices.Contains(instructions, instruction) {
			instructions = append(instructions, instruction)
		}
	}
	for _, s := range rn.sources {
		for _, t := range s.tables {
			up := s.meta[t]
			if up == nil || len(up.Columns) == 0 {
				continue // dropped meanwhile
			}
			if len(up.Keys) == 0 {
				warn(instrNoKey, "table %s primary/unique key does not exist", t)
			}
			target := s.targets[t]
			if dm := down[target]; dm != nil && len(dm.Columns) > 0 {
				compareWithTarget(t, target, up, dm, warn)
			}
		}
	}
	r.Instruction = strings.Join(instructions, "; ")
	return r
}

// compareWithTarget adds the warnings of one source table against its existing target table.
func compareWithTarget(t, target table, up, down *tableMeta, warn warnFunc) {
	prefix := "table " + t.String() + " "
	charset := func(collation string) string { c, _, _ := strings.Cut(collation, "_"); return c }
	upCS, downCS := charset(up.Collation), charset(down.Collation)
	if upCS != "" && downCS != "" && upCS != downCS && downCS != "utf8mb4" {
		warn(instrCharset, prefix+"charset is not same, upstream: (%s %s), downstream: (%s %s)", t.Name, upCS, target.Name, downCS)
	}
	if up.Collation != "" && down.Collation != "" && up.Collation != down.Collation {
		warn(instrCollation, prefix+"collation is not same, upstream: (%s %s), downstream: (%s %s)", t.Name, up.Collation, target.Name, down.Collation)
	}

	compareKeys(prefix, target, up, down, warn)
	compareColumns(prefix, target, up, down, warn)
}

// compareKeys warns about primary and unique keys that only one side has.
func compareKeys(prefix string, target table, up, down *tableMeta, warn warnFunc) {
	upKeys, downKeys := keySets(up), keySets(down)
	for upName, upCols := range upKeys {
		for downName, downCols := range downKeys {
			if slices.Equal(upCols, downCols) {
				delete(upKeys, upName)
				delete(downKeys, downName)
				break
			}
		}
	}
	for _, name := range sortedKeys(upKeys) {
		warn(instrKeys, prefix+"upstream has more PK or NOT NULL UK than downstream, index name: %s, columns: %v", name, upKeys[name])
	}
	for _, name := range sortedKeys(downKeys) {
		warn(instrKeys, prefix+"downstream has more PK or NOT NULL UK than upstream, table name: %s, index name: %s, columns: %v", target.Name, name, downKeys[name])
	}
}

// compareColumns warns about columns that only one side has.
func compareColumns(prefix string, target table, up, down *tableMeta, warn warnFunc) {
	upCols := map[string]bool{}
	for _, c := range up.Columns {
		upCols[strings.ToLower(c.Name)] = true
	}
	downCols := map[string]bool{}
	for _, c := range down.Columns {
		downCols[strings.ToLower(c.Name)] = true
	}
	var upOnly, downOnly []string
	for _, c := range up.Columns {
		if !downCols[strings.ToLower(c.Name)] {
			upOnly = append(upOnly, strings.ToLower(c.Name))
		}
	}
	for _, c := range down.Columns {
		if !upCols[strings.ToLower(c.Name)] && !c.Ignorable {
			downOnly = append(downOnly, strings.ToLower(c.Name))
		}
	}
	if len(upOnly) > 0 {
		warn(instrColumns, prefix+"upstream has more columns than downstream, columns: %v", upOnly)
	}
	if len(downOnly) > 0 {
		warn(instrColumns, prefix+"downstream has more columns than upstream that require values to insert records, table name: %s, columns: %v", target.Name, downOnly)
	}
}

// keySets returns each unique key's columns, sorted, by index name.
func keySets(m *tableMeta) map[string][]string {
	out := make(map[string][]string, len(m.Keys))
	for name, cols := range m.Keys {
		out[name] = slices.Sorted(slices.Values(cols))
	}
	return out
}
