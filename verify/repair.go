package verify

import (
	"context"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Repair makes the target rows of res match the source images it found: an Extra row is
// deleted, a Missing row inserted, a Changed row's compared columns overwritten (target-only
// columns keep their values). It writes res.Target only, one transaction per call, and
// returns the number of rows it changed. Call it with the result of TableAt while nothing
// else writes those rows (the syncer held at the source snapshot's position, or a finished
// load), then verify again: a Truncated result lists only part of the differences, and a
// repair that could not take effect must show.
//
// The images are the comparison's renderings (text in utf8mb4, FLOAT widened, TIMESTAMP
// in UTC, blobs raw), so they are written back through the same session settings
// (time_zone +00:00, sql_mode ”) as literals of the target column's kind.
func (v *Verifier) Repair(ctx context.Context, res *TableResult) (int64, error) {
	if res.Equal || len(res.Diffs) == 0 {
		return 0, nil
	}
	if res.dst == nil {
		return 0, fmt.Errorf("verify: repair of %s: the result does not come from TableAt", res.Target)
	}
	dst := res.dst
	tx, err := v.dst.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("verify: repair of %s: %w", dst.table, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return 0, fmt.Errorf("verify: repair of %s: %w", dst.table, err)
	}
	var n int64
	// Deletes first, so a reinserted row never meets the row it replaces.
	for _, pass := range []DiffKind{Extra, Missing, Changed} {
		for _, d := range res.Diffs {
			if d.Kind != pass {
				continue
			}
			var q string
			switch d.Kind {
			case Extra:
				q = "DELETE FROM " + dst.table + " WHERE " + matchRow(dst.cols, res.key, d.Target) + " LIMIT 1"
			default:
				q = upsert(dst, d.Source)
			}
			r, err := tx.ExecContext(ctx, q)
			if err != nil {
				return 0, fmt.Errorf("verify: repair of %s (%s row %q): %w", dst.table, d.Kind, d.Key, err)
			}
			if k, err := r.RowsAffected(); err == nil {
				n += min(k, 1)
			}
		}
	}
	if v.cfg.Fence != nil {
		if err := v.cfg.Fence(ctx, tx); err != nil {
			return 0, fmt.Errorf("verify: repair of %s: refusing to write to the target: %w", dst.table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("verify: repair of %s: commit: %w", dst.table, err)
	}
	return n, nil
}

// matchRow is the condition selecting the target row with image r: by its key when the
// table has one (indexed), else by every compared column's bytes (null-safe).
func matchRow(cols []column, key tableKey, r Row) string {
	at := key.cols
	byImage := len(at) == 0
	if byImage {
		at = make([]int, len(cols))
		for i := range at {
			at[i] = i
		}
	}
	conds := make([]string, len(at))
	for i, c := range at {
		if byImage {
			conds[i] = valueExpr(cols[c]) + " <=> " + binaryLiteral(r[c])
		} else {
			conds[i] = sqlq.QuoteName(cols[c].name) + " = " + literal(cols[c], r[c])
		}
	}
	return strings.Join(conds, " AND ")
}

// upsert writes image r: INSERT, and on a key conflict overwrite the compared columns.
func upsert(dst *side, r Row) string {
	names := make([]string, len(dst.cols))
	vals := make([]string, len(dst.cols))
	sets := make([]string, len(dst.cols))
	for i, c := range dst.cols {
		names[i] = sqlq.QuoteName(c.name)
		vals[i] = literal(c, r[i])
		sets[i] = names[i] + " = VALUES(" + names[i] + ")"
	}
	return "INSERT INTO " + dst.table + " (" + strings.Join(names, ", ") + ") VALUES (" +
		strings.Join(vals, ", ") + ") ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

var (
	numericImage  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	temporalImage = regexp.MustCompile(`^[0-9: .-]+$`)
	numericTypes  = append([]string{"decimal", "float", "double", "year"}, integerTypes...)
	temporalTypes = []string{"date", "datetime", "timestamp", "time"}
)

// literal renders image v as a value for column c of the target.
func literal(c column, v *string) string {
	switch {
	case v == nil:
		return "NULL"
	case slices.Contains(numericTypes, c.dataType) && numericImage.MatchString(*v):
		return *v
	case slices.Contains(temporalTypes, c.dataType) && temporalImage.MatchString(*v):
		return "'" + *v + "'"
	case c.dataType == "json":
		return "CONVERT(" + binaryLiteral(v) + " USING utf8mb4)"
	case c.charset != "" && c.charset != "binary":
		return "_utf8mb4 X'" + hex.EncodeToString([]byte(*v)) + "'"
	}
	return binaryLiteral(v)
}

func binaryLiteral(v *string) string {
	if v == nil {
		return "NULL"
	}
	return "_binary X'" + hex.EncodeToString([]byte(*v)) + "'"
}
