package dm

import (
	"fmt"
	"slices"
	"testing"
)

// TestValidationRoutes: start, status, errors and stop of the continuous validator on a
// running all-mode task, under a write load (no false positives), then with rows changed
// behind dmkit's back after they were replicated.
func TestValidationRoutes(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vval", 200)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("vval", ModeAll, "vval", "src1")})
	mustOK(t, err)
	if err := c.StartValidation(ctx, "vval", ValidationRequest{Mode: "slow"}); !isCode(err, CodeInvalidRequest) {
		t.Fatalf("bad mode: %v", err)
	}
	mustOK(t, c.StartTask(ctx, "vval", StartTaskRequest{}))
	waitUnit(t, c, "vval", UnitSync)
	mustOK(t, c.StartValidation(ctx, "vval", ValidationRequest{Mode: "full"}))

	db := openDB(t, testSrc)
	for i := range 600 {
		for _, q := range []string{
			fmt.Sprintf("INSERT INTO vval.k (id, txt, f, j, b) VALUES (%d, 'load 🌍', %d.5, '[%d]', RANDOM_BYTES(4))", 1000+i, i, i),
			fmt.Sprintf("UPDATE vval.k SET d = d * 1.5, nul = NULL, f = f + 0.1 WHERE id = %d", 1+i%150),
			fmt.Sprintf("DELETE FROM vval.k WHERE id = %d", 1000+i-3),
			fmt.Sprintf("INSERT INTO vval.n (id) VALUES (%d)", i),
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSame(t, "vval")
	var st ValidationStatus
	waitFor(t, "the validator to check every row", func() bool {
		l, err := c.ValidationStatus(ctx, "vval")
		mustOK(t, err)
		st = l.Data[0]
		return st.PendingRows == 0 && st.CheckedRows > 0
	})
	if st.ErrorRows != 0 || st.Stage != "running" || st.Mode != "full" || !slices.Contains(st.SkippedTables, "`vval`.`n`") {
		t.Fatalf("validation after a clean write load = %+v", st)
	}
	if sub := taskStage(t, c, "vval")[0]; sub.ValidationStatus == nil || sub.ValidationStatus.Stage != "running" {
		t.Fatalf("task status validation = %+v", sub.ValidationStatus)
	}

	// Behind dmkit's back, right after replication wrote each row.
	dst := openDB(t, testDst)
	count := func(q string) string {
		var n string
		mustOK(t, dst.QueryRow(q).Scan(&n))
		return n
	}
	testSrc.Exec(t, "INSERT INTO vval.k (id, txt) VALUES (500000, 'x')")
	waitFor(t, "row 500000", func() bool { return count("SELECT COUNT(*) FROM vval.k WHERE id = 500000") == "1" })
	testDst.Exec(t, "UPDATE vval.k SET txt = 'tampered' WHERE id = 500000")
	var errs List[ValidationErrorRow]
	waitFor(t, "a validation error", func() bool {
		errs, err = c.ValidationErrors(ctx, "vval")
		mustOK(t, err)
		return errs.Total > 0
	})
	if e := errs.Data[0]; errs.Total != 1 || e.Kind != "changed" || e.Key != "`id`=500000" || e.Table != "`vval`.`k`" || e.SourceName != "src1" {
		t.Fatalf("validation errors = %+v", errs)
	}
	mustOK(t, c.StopValidation(ctx, "vval", ValidationRequest{}))
	l, err := c.ValidationStatus(ctx, "vval")
	mustOK(t, err)
	if l.Data[0].Stage != "stopped" || l.Data[0].ErrorRows != 1 {
		t.Fatalf("after stop: %+v", l.Data[0])
	}
}

func TestValidationNeedsReplication(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("vvfull", ModeFull, "vvfull", "src1")})
	mustOK(t, err)
	if err := c.StartValidation(ctx, "vvfull", ValidationRequest{}); !isCode(err, CodeVerifyNotRunning) {
		t.Fatalf("validation of a full-mode task: %v", err)
	}
	if err := c.StopValidation(ctx, "vvfull", ValidationRequest{Mode: "fast"}); !isCode(err, CodeInvalidRequest) {
		t.Fatalf("stop with a mode: %v", err)
	}
}
