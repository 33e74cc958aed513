package syncer

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Issue 11: a stop with timeout_duration lets the source transaction in progress finish
// (DM's waitBeforeRunExit): StopAtTransactionEnd, asked while the syncer is in the middle
// of one large transaction, leaves the whole transaction applied, and nothing after it.
func TestStopAtTransactionEnd(t *testing.T) {
	const db, rows = "s_gstop", 100000
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100))")
	r, stop := startSyncer(t, newTask(t, "gstop", db))
	dstDB := dst.DB(t)
	count := func() int {
		n, err := strconv.Atoi(queryString(t, dstDB, "SELECT COUNT(*) FROM "+db+".t"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	waitFor(t, r, func() error {
		if r.s.cur.Load() == nil {
			return errors.New("run not started")
		}
		return nil
	})

	// One transaction of 100k rows: stop once part of it is on the target.
	src.Exec(t, fmt.Sprintf("INSERT INTO %s.t SELECT seq, REPEAT('x', 100) FROM seq_1_to_%d", db, rows))
	deadline := time.Now().Add(60 * time.Second)
	for count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("stop asked with %d of %d rows on the target", count(), rows)
	quiet := r.s.StopAtTransactionEnd()
	select {
	case <-quiet:
	case err := <-r.done:
		t.Fatalf("Run ended before reaching a transaction end: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("the syncer never reached the transaction end")
	}
	if n := count(); n != rows {
		t.Fatalf("after stopping at the transaction end the target has %d of the transaction's %d rows", n, rows)
	}

	// Stopped: a later transaction is not read; Run still waits for its ctx.
	src.Exec(t, "INSERT INTO "+db+".t VALUES (0, 'after the stop')")
	time.Sleep(time.Second)
	if n := count(); n != rows {
		t.Errorf("a transaction after the stop was applied: %d rows", n)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v before its ctx was cancelled", err)
	default:
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}

	// A new Run resumes after the transaction and applies the rest.
	r2, _ := startSyncer(t, baseConfig(t, "gstop", db))
	waitSynced(t, r2, db)
}

// With no Run active the request is answered at once.
func TestStopAtTransactionEndIdle(t *testing.T) {
	s, err := New(baseConfig(t, "gstop-idle"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.StopAtTransactionEnd():
	case <-time.After(10 * time.Second):
		t.Fatal("StopAtTransactionEnd without a Run did not answer")
	}
}
