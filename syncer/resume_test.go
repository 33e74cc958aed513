package syncer

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestRestartResume(t *testing.T) {
	const db = "s_resume"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	cfg := newTask(t, "resume", db)
	r, stop := startSyncer(t, cfg)
	src.Exec(t, "USE "+db+"; INSERT INTO t VALUES (1,1),(2,2); INSERT INTO n VALUES (1),(2)")
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fresh, err := r.s.Fresh(context.Background())
	if err != nil || fresh {
		t.Fatalf("Fresh = %v, %v after a run; want false", fresh, err)
	}
	// Written while stopped, plus a DDL.
	src.Exec(t, "USE "+db+"; INSERT INTO t VALUES (3,3); UPDATE t SET v=20 WHERE id=2; INSERT INTO n VALUES (3); ALTER TABLE n ADD COLUMN w INT")
	src.Exec(t, "USE "+db+"; INSERT INTO n VALUES (4, 4)")
	cfg.Start = Location{} // ignored anyway: the checkpoint wins
	r2, stop2 := startSyncer(t, cfg)
	waitSynced(t, r2, db)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	// A third run, with another worker count (taken since the last stop was clean).
	cfg.Workers = 2
	r3, stop3 := startSyncer(t, cfg)
	src.Exec(t, "USE "+db+"; INSERT INTO n VALUES (5, 5)")
	waitSynced(t, r3, db)
	if err := stop3(); err != nil {
		t.Fatal(err)
	}
	if err := DropCheckpoints(context.Background(), dst.DB(t), "", "resume"); err != nil {
		t.Fatal(err)
	}
	if fresh, err := r.s.Fresh(context.Background()); err != nil || !fresh {
		t.Fatalf("Fresh = %v, %v after DropCheckpoints; want true", fresh, err)
	}
}

func TestStartPositions(t *testing.T) {
	for _, tc := range []struct {
		name string
		loc  func(Location) Location
		gtid bool
	}{
		{"filepos", func(l Location) Location { return Location{File: l.File, Pos: l.Pos} }, false},
		{"gtid", func(l Location) Location { return Location{GTID: l.GTID} }, true},
		{"both", func(l Location) Location { return l }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_start_" + tc.name
			setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
			// Rows before the start location must not be replicated.
			src.Exec(t, "SET sql_log_bin=0; INSERT INTO "+db+".t VALUES (1, 1); SET sql_log_bin=1")
			dst.Exec(t, "INSERT INTO "+db+".t VALUES (1, 1)")
			start := masterLoc(t)
			src.Exec(t, fmt.Sprintf("INSERT INTO %s.t VALUES (2, 2); UPDATE %s.t SET v = 10 WHERE id = 1", db, db))
			cfg := newTask(t, "start_"+tc.name, db)
			cfg.Start, cfg.EnableGTID = tc.loc(start), tc.gtid
			r, stop := startSyncer(t, cfg)
			waitSynced(t, r, db)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			// Resume by GTID/position from the checkpoint.
			src.Exec(t, "INSERT INTO "+db+".t VALUES (3, 3)")
			r2, stop2 := startSyncer(t, cfg)
			waitSynced(t, r2, db)
			if err := stop2(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStartTime(t *testing.T) {
	const db = "s_starttime"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	src.Exec(t, "INSERT INTO "+db+".t VALUES (1, 1)")
	dst.Exec(t, "INSERT INTO "+db+".t VALUES (1, 1)")
	// Binlog timestamps have one-second resolution: wait for the next second.
	srcDB := src.DB(t)
	now := queryString(t, srcDB, "SELECT NOW()")
	for queryString(t, srcDB, "SELECT NOW()") == now {
		time.Sleep(20 * time.Millisecond)
	}
	startAt := queryString(t, srcDB, "SELECT NOW()")
	src.Exec(t, "INSERT INTO "+db+".t VALUES (2, 2); UPDATE "+db+".t SET v = 5 WHERE id = 1")
	cfg := newTask(t, "starttime", db)
	cfg.Start = Location{File: "no-such-file.000001", Pos: 4} // overridden by StartTime
	cfg.StartTime = startAt
	r, stop := startSyncer(t, cfg)
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
