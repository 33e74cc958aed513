package relay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestUpstreamSwitch: a second server taking over the source continues the relay in a
// new sub-directory, and a reader crosses from the old one into it.
func TestUpstreamSwitch(t *testing.T) {
	other, err := mysqltest.Start(mysqltest.Options{Name: "relay-other"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	db, db2 := src.DB(t), other.DB(t)
	setupSchema(t, db, "rswitch")
	setupSchema(t, db2, "rswitch2")
	dir := t.TempDir()
	r := newRelay(t, src, dir, nil)
	stop := runRelay(t, r)
	load(t, db, "rswitch", 0, 50)
	first := waitCatchUp(t, r)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := relayFiles(t, dir)

	r2 := newRelay(t, other, dir, nil)
	runRelay(t, r2)
	load(t, db2, "rswitch2", 0, 50)
	if _, err := db2.Exec("CREATE TABLE rswitch2.done (id INT)"); err != nil {
		t.Fatal(err)
	}
	second := waitCatchUp(t, r2)
	subs, _ := readIndex(dir)
	if len(subs) != 2 || subs[0] != first.Subdir || subs[1] != second.Subdir || first.Subdir == second.Subdir {
		t.Fatalf("sub-directories %v, status %q then %q", subs, first.Subdir, second.Subdir)
	}
	if _, n, _ := parseSubdir(second.Subdir); n != 2 {
		t.Fatalf("new sub-directory %q should have suffix 2", second.Subdir)
	}
	// A reader started in the old sub-directory crosses into the new one.
	rd2, err := r2.NewReader(Start{Subdir: files[0][0], File: files[0][1], Pos: 4}, replication.BinlogSyncerConfig{Flavor: "mariadb"})
	if err != nil {
		t.Fatal(err)
	}
	defer rd2.Close()
	rows := map[string]int{}
	collect(t, rd2.GetEvent, func(ev *replication.BinlogEvent) bool {
		if re, ok := ev.Event.(*replication.RowsEvent); ok {
			rows[string(re.Table.Schema)] += len(re.Rows)
		}
		q, ok := ev.Event.(*replication.QueryEvent)
		return ok && bytes.Contains(q.Query, []byte("rswitch2.done"))
	})
	if rows["rswitch"] != 50 || rows["rswitch2"] != 50 {
		t.Fatalf("rows read across the switch: %v", rows)
	}
	assertCopyOf(t, other, filepath.Join(dir, second.Subdir))
}

// assertCopyOf checks one sub-directory against server s.
func assertCopyOf(t *testing.T, s *mysqltest.Server, sub string) {
	t.Helper()
	fs, err := listFiles(sub)
	if err != nil || len(fs) == 0 {
		t.Fatalf("no relay files in %s: %v", sub, err)
	}
	for _, f := range fs {
		got, _ := os.ReadFile(filepath.Join(sub, f))
		want, _ := os.ReadFile(filepath.Join(s.Dir, "binlog", f))
		clearInUse(got)
		clearInUse(want)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from upstream (%d vs %d bytes)", f, len(got), len(want))
		}
	}
}

// TestPurge removes only files before the asked one, refuses to remove a file a task
// needs, and keeps files readers are in.
func TestPurge(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rpurge")
	r := newRelay(t, src, "", nil)
	runRelay(t, r)
	// The relay starts at the source's file when it connects: let it connect before the
	// rotations, so that it sees all four.
	waitCatchUp(t, r)
	for i := range 4 {
		load(t, db, "rpurge", i*10, 10)
		if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
			t.Fatal(err)
		}
	}
	waitCatchUp(t, r)
	files := relayFiles(t, r.Dir())
	if len(files) < 5 {
		t.Fatalf("want 5 relay files, got %v", files)
	}
	name := func(i int) string { return files[i][1] }

	// A task needs file 1: purging before file 3 is refused, naming the task.
	_, err := r.Purge("", name(3), map[string]Location{"task-a": {File: name(1), Pos: 4}})
	var ne *NeededError
	if !errors.As(err, &ne) || ne.Task != "task-a" {
		t.Fatalf("want a NeededError naming task-a, got %v", err)
	}
	if n := len(relayFiles(t, r.Dir())); n != len(files) {
		t.Fatalf("a refused purge removed files: %d left of %d", n, len(files))
	}
	// A reader in file 1 clamps a purge before file 3 to file 1.
	rd, err := r.NewReader(Start{File: name(1), Pos: 4}, replication.BinlogSyncerConfig{Flavor: "mariadb"})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := r.Purge("", name(3), map[string]Location{"task-a": {File: name(3), Pos: 4}})
	if err != nil || len(removed) != 1 || filepath.Base(removed[0]) != name(0) {
		t.Fatalf("purge with a reader in %s removed %v, %v", name(1), removed, err)
	}
	rd.Close()
	removed, err = r.Purge("", name(3), nil)
	if err != nil || len(removed) != 2 {
		t.Fatalf("purge before %s removed %v, %v", name(3), removed, err)
	}
	if _, err := r.NewReader(Start{File: name(1), Pos: 4}, replication.BinlogSyncerConfig{}); !errors.As(err, new(*NotInRelayError)) {
		t.Fatalf("a purged position must be refused, got %v", err)
	}
	// Automatic purge of inactive files keeps the needed one and the active file.
	removed, err = r.PurgeInactive([]Location{{File: name(4)}}, time.Time{})
	if err != nil || len(removed) != 1 || filepath.Base(removed[0]) != name(3) {
		t.Fatalf("inactive purge removed %v, %v", removed, err)
	}
	if _, err := r.Purge("", "not-a-binlog", nil); err == nil {
		t.Fatal("a bad file name must be refused")
	}
}

// TestChangedStartPoint: a relay_binlog_name older than the relay holds starts a new
// sub-directory there; the same start point again, even after a purge, resumes.
func TestChangedStartPoint(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rstart")
	if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	older, _ := masterLocation(context.Background(), db, "mariadb")
	load(t, db, "rstart", 0, 10)
	if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	load(t, db, "rstart", 10, 10)
	dir := t.TempDir()
	run := func(start string) Status {
		r := newRelay(t, src, dir, func(c *Config) { c.StartFile = start })
		stop := runRelay(t, r)
		st := waitCatchUp(t, r)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		return st
	}
	first := run("")
	second := run(older.File)
	if first.Subdir == second.Subdir {
		t.Fatalf("an older relay_binlog_name must start a new sub-directory, still %s", second.Subdir)
	}
	files := relayFiles(t, dir)
	if files[len(files)-2][1] != older.File || files[len(files)-2][0] != second.Subdir {
		t.Fatalf("relay files %v, want the new sub-directory to start at %s", files, older.File)
	}
	r := newRelay(t, src, dir, nil)
	if _, err := r.Purge("", files[len(files)-1][1], nil); err != nil {
		t.Fatal(err)
	}
	if third := run(older.File); third.Subdir != second.Subdir {
		t.Fatalf("the same start point after a purge must resume in %s, got %s", second.Subdir, third.Subdir)
	}
}
