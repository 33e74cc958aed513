package syncer

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestValidator: under a write load over many column types the validator (full mode)
// reports nothing; rows changed behind the syncer's back on the target after they were
// replicated are reported with their keys.
func TestValidator(t *testing.T) {
	const db = "s_validate"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)",
		"CREATE TABLE r (id INT PRIMARY KEY, f FLOAT, d DOUBLE, j JSON, b BLOB, s VARCHAR(50) CHARACTER SET utf8mb4, "+
			"l VARCHAR(20) CHARACTER SET latin1, ts TIMESTAMP(6) NULL, dt DATETIME, dc DECIMAL(10,3), bt BIT(5), e ENUM('a','b'), nl INT)")
	cfg := newTask(t, "validate", db)
	cfg.validateInterval = 300 * time.Millisecond
	r, _ := startSyncer(t, cfg)
	ctx := t.Context()
	if err := r.s.StartValidation(ctx, "slow"); err == nil {
		t.Fatal("mode slow accepted")
	}
	if err := r.s.StartValidation(ctx, ValidationFull); err != nil {
		t.Fatal(err)
	}
	defer r.s.StopValidation()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); writeLoad(t, db, 0, 3000) }()
	go func() {
		defer wg.Done()
		conn := src.DB(t)
		for i := range 1500 {
			q := fmt.Sprintf("INSERT INTO s_validate.r VALUES (%d, %d.1, 1/%d, '{\"k\": [%d, \"é\"]}', UNHEX('00FF%02X'), 'héllo 🌍 %d', 'café', "+
				"'2024-01-01 00:00:00.5', '2024-02-29 12:00:00', %d.125, b'101', 'b', NULL) "+
				"ON DUPLICATE KEY UPDATE f = f * 3, d = d + 0.1, j = '{\"u\": true}', b = NULL, s = CONCAT(s, '!'), nl = %d",
				i%300, i, i+1, i, i%256, i, i, i)
			if _, err := conn.Exec(q); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	waitSynced(t, r, db)
	waitFor(t, r, func() error {
		if st := r.s.ValidationStatus(); st.PendingRows > 0 {
			return fmt.Errorf("%d rows pending", st.PendingRows)
		}
		return nil
	})
	st := r.s.ValidationStatus()
	if errs := r.s.ValidationErrors(); len(errs) > 0 || st.ErrorRows > 0 {
		t.Fatalf("false positives under a write load: %d, first %+v", st.ErrorRows, errs[0])
	}
	if st.CheckedRows < 300 || !slices.Contains(st.SkippedTables, "`s_validate`.`n`") || !st.Running {
		t.Fatalf("status after the load = %+v", st)
	}

	// Changes behind the syncer's back, made right after each row was replicated.
	dstDB := dst.DB(t)
	replicated := func(cond string, want string) {
		t.Helper()
		waitFor(t, r, func() error {
			return equal(queryString(t, dstDB, "SELECT COUNT(*) FROM s_validate.t WHERE "+cond), want)
		})
	}
	src.Exec(t, "INSERT INTO s_validate.t VALUES (100000, 1)")
	replicated("id = 100000", "1")
	dst.Exec(t, "DELETE FROM s_validate.t WHERE id = 100000")
	src.Exec(t, "INSERT INTO s_validate.t VALUES (100001, 1)")
	replicated("id = 100001", "1")
	dst.Exec(t, "UPDATE s_validate.t SET v = -1 WHERE id = 100001")
	src.Exec(t, "DELETE FROM s_validate.t WHERE id = 7")
	replicated("id = 7", "0")
	dst.Exec(t, "INSERT INTO s_validate.t VALUES (7, 7)")
	waitFor(t, r, func() error {
		if n := r.s.ValidationStatus().ErrorRows; n < 3 {
			return fmt.Errorf("%d errors", n)
		}
		return nil
	})
	var got []string
	for _, e := range r.s.ValidationErrors() {
		got = append(got, e.Kind+" "+e.Key)
	}
	slices.Sort(got)
	want := []string{"changed `id`=100001", "extra `id`=7", "missing `id`=100000"}
	if !slices.Equal(got, want) {
		t.Fatalf("validation errors = %q, want %q", got, want)
	}
	// A row whose column a later DDL drops is not validated (and does not stall the checker).
	dropped := r.s.ValidationStatus().DroppedRows
	src.Exec(t, "INSERT INTO s_validate.r (id, nl) VALUES (99999, 1)")
	src.Exec(t, "ALTER TABLE s_validate.r DROP COLUMN nl")
	src.Exec(t, "INSERT INTO s_validate.t VALUES (100002, 2)")
	waitFor(t, r, func() error {
		if st := r.s.ValidationStatus(); st.PendingRows > 0 || st.DroppedRows == dropped {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	if n := r.s.ValidationStatus().ErrorRows; n != 3 {
		t.Errorf("errors after the DDL = %d, want still 3", n)
	}
	r.s.StopValidation()
	if r.s.ValidationStatus().Running {
		t.Error("still running after StopValidation")
	}
}
