package syncer

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestHoldAndAdvance: under a write load, Hold stops the apply (the target does not
// change while held), Advance to a source snapshot's position leaves the target holding
// exactly that snapshot's rows, and Release lets replication catch up.
func TestHoldAndAdvance(t *testing.T) {
	const db = "s_hold"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	r, stop := startSyncer(t, newTask(t, "hold", db))
	ctx := t.Context()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); writeLoad(t, db, 0, 15000) }()
	time.Sleep(300 * time.Millisecond)

	h, err := r.s.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	dstDB := dst.DB(t)
	state := func() string {
		return queryString(t, dstDB, "SELECT CONCAT(COUNT(*), '/', COALESCE(SUM(v), 0), '/', (SELECT COUNT(*) FROM s_hold.n)) FROM s_hold.t")
	}
	held := state()
	time.Sleep(300 * time.Millisecond)
	if again := state(); again != held {
		t.Fatalf("target changed while held: %s then %s", held, again)
	}
	if h.Location().File == "" {
		t.Fatal("held location is empty")
	}

	// A source snapshot, and its binlog position (MariaDB reports it with the snapshot).
	conn, err := src.DB(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		t.Fatal(err)
	}
	var file, pos, name string
	if err := conn.QueryRowContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_file'").Scan(&name, &file); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_position'").Scan(&name, &pos); err != nil {
		t.Fatal(err)
	}
	var want string
	if err := conn.QueryRowContext(ctx, "SELECT CONCAT(COUNT(*), '/', COALESCE(SUM(v), 0), '/', (SELECT COUNT(*) FROM s_hold.n)) FROM s_hold.t").Scan(&want); err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.ParseUint(pos, 10, 32)
	at := Location{File: file, Pos: uint32(p)}
	if err := h.Advance(ctx, at); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != want {
		t.Fatalf("held at %s after advancing to %s: target %s, source snapshot %s (held first at %s)", h.Location(), at, got, want, held)
	}
	if posOf(h.Location()).compare(posOf(at)) < 0 {
		t.Errorf("held at %s, before the requested %s", h.Location(), at)
	}
	t.Logf("first held %s, advanced to %s: %s", held, at, fmt.Sprint(want))
	h.Release()
	wg.Wait()
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Hold(ctx); err == nil {
		t.Error("Hold on a stopped syncer succeeded")
	}
}

// TestHoldGivesWayToGracefulStop: a graceful stop is never held up by a hold.
func TestHoldGivesWayToGracefulStop(t *testing.T) {
	const db = "s_hold_stop"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	r, stop := startSyncer(t, newTask(t, "hold_stop", db))
	writeLoad(t, db, 0, 50)
	waitSynced(t, r, db)
	h, err := r.s.Hold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	select {
	case <-r.s.StopAtTransactionEnd():
	case <-time.After(30 * time.Second):
		t.Fatal("graceful stop waited for the hold")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(t.Context(), Location{File: "mysql-bin.999999", Pos: 4}); err == nil {
		t.Error("Advance on a stopped syncer succeeded")
	}
}

// TestHoldRefusedWhileShardDDLPending: a blocked shard table defers changes past any point,
// so a hold is refused instead of holding at a position the target does not match.
func TestHoldRefusedWhileShardDDLPending(t *testing.T) {
	s := &Syncer{}
	r := &run{s: s}
	r.published.Store(&pubLoc{loc: Location{File: "bin.000001", Pos: 4}})
	r.sh.blocked = map[[2]string]*blockedTable{{"db", "t"}: {}}
	s.hold.beginRun()
	defer s.hold.endRun()
	got := make(chan error, 1)
	go func() {
		_, err := s.Hold(t.Context())
		got <- err
	}()
	deadline := time.After(10 * time.Second)
	for {
		if err := r.atBarrier(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if !errors.Is(err, ErrShardDDLPending) {
				t.Fatalf("Hold = %v, want ErrShardDDLPending", err)
			}
			return
		case <-deadline:
			t.Fatal("Hold did not return")
		case <-time.After(time.Millisecond):
		}
	}
}
