package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSnapshotConsistentPoint: a source snapshot taken while a writer commits keeps
// seeing one point through every connection: the target, built from what one
// snapshot connection sees, compares equal chunk by chunk (each chunk read on another
// connection), while the live source has moved on.
func TestSnapshotConsistentPoint(t *testing.T) {
	freshSchema(t, "snap")
	onBoth(t, "snap", "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)")
	var rows []string
	for i := 1; i <= 200; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 0)", i))
	}
	onBoth(t, "snap", "INSERT INTO t VALUES "+strings.Join(rows, ","))
	v := newVerifier(t, Config{Threads: 4, ChunkRows: 20})

	// A writer that bumps every row and appends one, one transaction at a time: any
	// two connections at different points see different values nearly everywhere.
	ctx, stop := context.WithCancel(t.Context())
	db := src.DB(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 201; ctx.Err() == nil; n++ {
			if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE snap.t SET v = v + 1 WHERE id %% 7 = %d", n%7)); err != nil {
				return
			}
			if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO snap.t VALUES (%d, 0)", n)); err != nil {
				return
			}
		}
	}()
	sp, err := v.SnapshotSource(t.Context())
	if err != nil {
		stop()
		wg.Wait()
		t.Fatal(err)
	}
	defer sp.Close()
	stop()
	wg.Wait()
	t.Logf("snapshot at %s, GTID %q, %s", sp.Pos, sp.Pos.GTID, sp.How)
	if sp.Pos.File == "" || sp.Pos.GTID == "" {
		t.Errorf("snapshot position = %+v, want a binlog file and GTID", sp.Pos)
	}

	// Copy the snapshot's rows to the target through one of its connections.
	conn, err := sp.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r, err := conn.QueryContext(t.Context(), "SELECT id, v FROM snap.t")
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[:0]
	for r.Next() {
		var id, val int
		if err := r.Scan(&id, &val); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("(%d, %d)", id, val))
	}
	r.Close()
	sp.put(conn)
	onTarget(t, "snap", "DELETE FROM t", "INSERT INTO t VALUES "+strings.Join(rows, ","))
	// And move the source on once more, for certain.
	src.Exec(t, "UPDATE snap.t SET v = v + 100 WHERE id = 1")

	res, err := v.TableAt(t.Context(), Point{Source: sp}, "snap", "t", "snap", "t")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.Chunks < 4 {
		t.Fatalf("source snapshot vs its copy: equal=%v chunks=%d diffs=%d (%+v)", res.Equal, res.Chunks, len(res.Diffs), res.Diffs[:min(3, len(res.Diffs))])
	}
	live, err := v.Table(t.Context(), "snap", "t", "snap", "t")
	if err != nil {
		t.Fatal(err)
	}
	if live.Equal {
		t.Fatal("the live source compares equal to the snapshot's copy; the snapshot did not isolate")
	}

	// With no writer the MariaDB snapshots meet without a lock.
	quiet, err := v.SnapshotSource(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	if !strings.HasPrefix(quiet.How, "lock-free") || quiet.Pos.File == "" {
		t.Errorf("idle source snapshot: %s at %s, want lock-free with a position", quiet.How, quiet.Pos)
	}

	// A target snapshot hides later target writes the same way.
	tp, err := v.SnapshotTarget(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	onTarget(t, "snap", "DELETE FROM t WHERE id = 5")
	res, err = v.TableAt(t.Context(), Point{Source: sp, Target: tp}, "snap", "t", "snap", "t")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal {
		t.Fatalf("snapshots differ: %+v", res.Diffs)
	}
}
