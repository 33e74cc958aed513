package precheck

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// instrAutoIncCollide says how to settle colliding auto-increment keys.
const instrAutoIncCollide = "Give the sharding tables disjoint auto-increment ranges (AUTO_INCREMENT=, or auto_increment_increment/offset " +
	"on the sources), or make the merged key include a column that tells the shards apart; if on_duplicate is meant to decide " +
	"which row wins, ignore this check with ignore_checking_items: [\"auto_increment_ID\"]."

// idSpan is the range of auto-increment values a sharding table has used or will use next.
type idSpan struct {
	m        shardMember
	col      string
	lo, hi   int64
	inc, off int64
}

// autoIncrementCollisionCheck fails when two tables of a sharding group have an
// auto-increment column that alone is a unique key, in the same value sequence
// (auto_increment_increment and offset), and their used ranges — from the lowest value to
// the next one the table will hand out — overlap: their rows would collide in the merged
// table. DM only warns (the warning stays, in the consistency check).
func autoIncrementCollisionCheck(target table, members []shardMember) check {
	return func(ctx context.Context) *Result {
		r := &Result{Name: fmt.Sprintf("sharding table %s auto-increment ID checking", target),
			Desc: "check that the auto-increment keys of merged sharding tables cannot collide", State: Success,
			Extra: fmt.Sprintf("sharding %s", target)}
		var spans []idSpan
		for _, m := range members {
			meta := m.meta()
			if meta == nil {
				continue
			}
			col := soleAutoIncKey(meta)
			if col == "" {
				continue
			}
			sp, err := readSpan(ctx, m, col)
			if err != nil {
				r.fail("read the auto-increment range of %s on source %s: %v", m.table, m.src.Name, err)
				return r
			}
			spans = append(spans, sp)
		}
		for i := range spans {
			for _, b := range spans[i+1:] {
				a := spans[i]
				if a.inc != b.inc || a.off%a.inc != b.off%b.inc || a.hi < b.lo || b.hi < a.lo {
					continue
				}
				f := r.fail("auto-increment keys of sharding %s collide: %s and %s use overlapping values", target, a.describe(), b.describe())
				f.Self, f.Other = a.describe(), b.describe()
				r.Instruction = instrAutoIncCollide
			}
		}
		return r
	}
}

func (s idSpan) describe() string {
	return fmt.Sprintf("sourceID %s table %s column %s [%d, %d]", s.m.src.Name, s.m.table, s.col, s.lo, s.hi)
}

// soleAutoIncKey returns the auto-increment column if a unique key consists of it alone.
func soleAutoIncKey(meta *tableMeta) string {
	for _, c := range meta.Columns {
		if !c.AutoInc {
			continue
		}
		for _, cols := range meta.Keys {
			if len(cols) == 1 && cols[0] == strings.ToLower(c.Name) {
				return c.Name
			}
		}
	}
	return ""
}

// readSpan reads a table's used range of col and its source's auto-increment sequence.
func readSpan(ctx context.Context, m shardMember, col string) (idSpan, error) {
	sp := idSpan{m: m, col: col}
	db := m.src.DB
	var lo, hi, next sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MIN("+sqlq.QuoteName(col)+"), MAX("+sqlq.QuoteName(col)+") FROM "+m.table.String()).Scan(&lo, &hi); err != nil {
		return sp, err
	}
	if err := db.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		m.table.Schema, m.table.Name).Scan(&next); err != nil {
		return sp, err
	}
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.auto_increment_increment, @@GLOBAL.auto_increment_offset").Scan(&sp.inc, &sp.off); err != nil {
		return sp, err
	}
	if sp.inc <= 0 {
		sp.inc = 1
	}
	sp.lo, sp.hi = next.Int64, next.Int64
	if lo.Valid {
		sp.lo, sp.hi = lo.Int64, max(hi.Int64, next.Int64)
	}
	return sp, nil
}
