package verify

import (
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestRepair: every mutation behind the tool's back, on every key shape, is undone by
// Repair; a second comparison is equal and so is an independent checksum.
func TestRepair(t *testing.T) {
	v := newVerifier(t, Config{ChunkRows: 2, DiffRows: 1})
	for _, ks := range keyShapes {
		for _, m := range mutations {
			t.Run(ks.name+"/"+m.name, func(t *testing.T) {
				schema := "repair_" + strings.ReplaceAll(ks.name, "-", "_")
				freshSchema(t, schema)
				onBoth(t, schema, "CREATE TABLE t ("+richColumns+ks.clause+")", richRows)
				onTarget(t, schema, m.stmts...)
				res, err := v.Table(t.Context(), schema, "t", schema, "t")
				if err != nil {
					t.Fatal(err)
				}
				if res.Equal {
					t.Fatal("mutation not found")
				}
				// RecheckAt finds the same rows (row by row for a chunked table).
				re, err := v.RecheckAt(t.Context(), Point{}, res)
				if err != nil {
					t.Fatal(err)
				}
				if re.Equal || len(re.Diffs) != len(res.Diffs) || (ks.chunked && re.Chunks > len(res.Diffs)) {
					t.Fatalf("recheck: equal=%v %d diffs in %d chunks, want the %d diffs\n%s", re.Equal, len(re.Diffs), re.Chunks, len(res.Diffs), describe(re))
				}
				n, err := v.Repair(t.Context(), re)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					t.Errorf("repair changed no row for %d diffs", len(res.Diffs))
				}
				again, err := v.Table(t.Context(), schema, "t", schema, "t")
				if err != nil {
					t.Fatal(err)
				}
				if !again.Equal {
					t.Fatalf("after repair still differs:\n%s", describe(again))
				}
				if after, err := v.RecheckAt(t.Context(), Point{}, re); err != nil || !after.Equal {
					t.Fatalf("recheck after repair: %v %+v", err, after)
				}
				if err := mysqltest.CompareTables(t.Context(), src.DB(t), schema, "t", tgt.DB(t), schema, "t"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestRepairKeepsTargetOnlyColumns: a Changed row is overwritten column by column, so a
// column only the target has keeps its value.
func TestRepairKeepsTargetOnlyColumns(t *testing.T) {
	freshSchema(t, "repair_extra_col")
	onBoth(t, "repair_extra_col", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	onTarget(t, "repair_extra_col", "ALTER TABLE t ADD COLUMN note VARCHAR(10) DEFAULT 'kept'", "UPDATE t SET v = 'z', note = 'mine' WHERE id = 2")
	v := newVerifier(t, Config{})
	res, err := v.Table(t.Context(), "repair_extra_col", "t", "repair_extra_col", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Repair(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	var val, note string
	if err := tgt.DB(t).QueryRow("SELECT v, note FROM repair_extra_col.t WHERE id = 2").Scan(&val, &note); err != nil {
		t.Fatal(err)
	}
	if val != "b" || note != "mine" {
		t.Errorf("after repair v=%q note=%q, want b, mine", val, note)
	}
}
