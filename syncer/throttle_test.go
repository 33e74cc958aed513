package syncer

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestThrottle: while the throttle query on the target is above the threshold nothing new
// is applied and the status says why; when it drops, replication catches up exactly.
func TestThrottle(t *testing.T) {
	setupSchema(t, "thr", "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	dst.Exec(t, "CREATE DATABASE IF NOT EXISTS thr_ctl")
	dst.Exec(t, "CREATE OR REPLACE TABLE thr_ctl.lag (v INT)")
	dst.Exec(t, "INSERT INTO thr_ctl.lag VALUES (0)")
	cfg := newTask(t, "throttle", "thr")
	cfg.Throttle = &Throttle{Query: "SELECT v FROM thr_ctl.lag", Threshold: 10, Interval: 50 * time.Millisecond}
	r, stop := startSyncer(t, cfg)

	src.Exec(t, "INSERT INTO thr.t VALUES (1, 1)")
	waitSynced(t, r, "thr")

	dst.Exec(t, "UPDATE thr_ctl.lag SET v = 100")
	waitFor(t, r, func() error {
		if st := r.s.Status(); !st.Throttled || !strings.Contains(st.ThrottleReason, "100 > 10") {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	for i := 2; i <= 50; i++ {
		src.Exec(t, fmt.Sprintf("INSERT INTO thr.t VALUES (%d, %d)", i, i))
	}
	time.Sleep(time.Second)
	if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM thr.t"); n != "1" {
		t.Fatalf("%s rows applied while throttled", n)
	}

	dst.Exec(t, "UPDATE thr_ctl.lag SET v = 3")
	waitSynced(t, r, "thr")
	if st := r.s.Status(); st.Throttled {
		t.Fatalf("still throttled: %+v", st)
	}

	// A broken query never stalls replication.
	dst.Exec(t, "DROP TABLE thr_ctl.lag")
	src.Exec(t, "INSERT INTO thr.t VALUES (100, 100)")
	waitSynced(t, r, "thr")
	waitFor(t, r, func() error {
		if st := r.s.Status(); st.Throttled || !strings.Contains(st.ThrottleReason, "failed") {
			return fmt.Errorf("broken query: %+v", st)
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	dst.Exec(t, "DROP DATABASE thr_ctl")
}
