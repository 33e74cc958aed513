package syncer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOnDuplicateAndSafeMode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		onDup    string
		safeMode bool
		want     string // target row after the source insert; "" expects a permanent error
	}{
		{"replace", OnDuplicateReplace, false, "src"},
		{"ignore", OnDuplicateIgnore, false, "dst"},
		{"error", OnDuplicateError, false, ""},
		{"safe-mode", OnDuplicateError, true, "src"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_ondup_" + strings.ReplaceAll(tc.name, "-", "_")
			setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
			dst.Exec(t, "INSERT INTO "+db+".t VALUES (1, 'dst')")
			cfg := newTask(t, "ondup_"+tc.name, db)
			cfg.OnDuplicate, cfg.SafeMode = tc.onDup, tc.safeMode
			r, stop := startSyncer(t, cfg)
			src.Exec(t, "INSERT INTO "+db+".t VALUES (1, 'src'), (2, 'two')")
			if tc.want == "" {
				var err error
				select {
				case err = <-r.done:
					r.done <- err
				case <-time.After(time.Minute):
					t.Fatal("duplicate key did not stop the syncer")
				}
				var tmp interface{ Temporary() bool }
				if err == nil || errors.As(err, &tmp) || !strings.Contains(err.Error(), "Duplicate entry") {
					t.Fatalf("got %v; want a permanent duplicate-key error", err)
				}
				return
			}
			dstDB := dst.DB(t)
			waitFor(t, r, func() error {
				return equal(queryString(t, dstDB, "SELECT GROUP_CONCAT(id, v ORDER BY id) FROM "+db+".t"), "1"+tc.want+",2two")
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// ForeignKeyChecks is the target sessions' foreign_key_checks (DM's
// target_config.session): off, a row whose parent the target lacks is written as the
// source wrote it; on, the target refuses it and the syncer stops with its error.
func TestForeignKeyChecksSession(t *testing.T) {
	const db = "s_fkc"
	for _, on := range []bool{false, true} {
		setupSchema(t, db, "CREATE TABLE parent (id INT PRIMARY KEY)",
			"CREATE TABLE child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id))")
		cfg := newTask(t, "fkc", db)
		cfg.ForeignKeyChecks = on
		r, stop := startSyncer(t, cfg)
		src.Exec(t, "SET foreign_key_checks = 0; INSERT INTO "+db+".child VALUES (1, 99); SET foreign_key_checks = 1")
		if !on {
			waitSynced(t, r, db)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		select {
		case err := <-r.done:
			r.done <- err
			if err == nil || !strings.Contains(err.Error(), "foreign key constraint") {
				t.Fatalf("with foreign_key_checks on, Run = %v; want the target's foreign key error", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("with foreign_key_checks on, the orphan row did not stop the syncer")
		}
		_ = stop()
	}
}
