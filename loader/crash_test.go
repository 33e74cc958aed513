package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
)

// crashSource creates schema with a table without a primary key (a re-applied statement
// would duplicate rows) and one with a primary key (a re-applied statement would fail
// with on_duplicate=error), and dumps them with many small statements.
func crashSource(t *testing.T, schema string, rows int) string {
	t.Helper()
	cleanSlate(t, schema, schema)
	src.Exec(t, "CREATE DATABASE "+schema+"; "+
		"CREATE TABLE "+schema+".nopk (a INT, b VARCHAR(40)); INSERT INTO "+schema+".nopk SELECT seq % 7, REPEAT('n', seq % 40) FROM mysql.seq_1_to_"+itoa(int64(rows))+"; "+
		"CREATE TABLE "+schema+".pk (id INT PRIMARY KEY, b VARCHAR(40)); INSERT INTO "+schema+".pk SELECT seq, REPEAT('p', seq % 40) FROM mysql.seq_1_to_"+itoa(int64(rows)))
	dir := t.TempDir()
	for _, tb := range []string{"nopk", "pk"} {
		dumpTable(t, openDB(t, src), dir, schema, tb, dumpOpts{rowsPerStmt: 5, stmtsPerFile: 200})
	}
	return dir
}

// committedBytes is the sum of the task's checkpoint offsets over data files.
func committedBytes(t *testing.T, task string) int64 {
	t.Helper()
	db := openDB(t, tgt)
	var n int64
	err := db.QueryRowContext(t.Context(), "SELECT COALESCE(SUM(`offset`), 0) FROM dm_meta."+task+"_loader_checkpoint WHERE filename NOT LIKE '%-schema%'").Scan(&n)
	if err != nil && !missingTable(err) {
		t.Fatal(err)
	}
	return n
}

// dataBytes is the size of the data files of dir.
func dataBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := scanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if e.info.Kind == dumpfile.KindData {
			fi, err := os.Stat(filepath.Join(dir, e.name))
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

// TestCrashResume kills a loader process with SIGKILL twice mid-load, then loads to the
// end and checks the target holds every row exactly once.
func TestCrashResume(t *testing.T) {
	const task = "crash"
	dir := crashSource(t, "crash", 8000)
	total := dataBytes(t, dir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(childConfig{Target: tgt.DBConfig(), Dir: dir, Task: task, Source: "mysql-01",
		Threads: 2, OnDuplicate: OnDuplicateError, BatchBytes: -1})
	if err != nil {
		t.Fatal(err)
	}

	kills := 0
	for _, fraction := range []int64{5, 2} { // kill after 1/5, then after 1/2 of the bytes
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(2 * time.Minute)
	wait:
		for {
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("loader child failed: %v\n%s", err, out.String())
				}
				t.Logf("the child finished before it could be killed at 1/%d", fraction)
				break wait
			default:
			}
			if n := committedBytes(t, task); n >= total/fraction {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				<-exited
				kills++
				t.Logf("killed the loader with %d of %d bytes committed", committedBytes(t, task), total)
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("no progress in time; child output:\n%s", out.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if kills == 0 {
		t.Fatal("the loader was never killed mid-load; make the dump bigger")
	}

	final := testConfig(dir, task)
	final.OnDuplicate = OnDuplicateError
	l := newLoader(t, final)
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p := l.Progress(); p.FinishedBytes != total || p.TotalBytes != total {
		t.Errorf("Progress = %+v, want %d of %d", p, total, total)
	}
	compareTables(t, "crash", "nopk", "crash", "nopk")
	compareTables(t, "crash", "pk", "crash", "pk")
}

// TestTargetRestart restarts the target mid-load (the loader must retry and finish
// exactly once), then kills it (the loader must give up with a Temporary error), brings
// it back and resumes.
func TestTargetRestart(t *testing.T) {
	dir := crashSource(t, "restart", 3000)
	total := dataBytes(t, dir)
	cfg := testConfig(dir, "restart")
	cfg.Threads, cfg.BatchBytes, cfg.OnDuplicate = 2, -1, OnDuplicateError
	rec := &logRecorder{}
	cfg.Logger = slog.New(rec)

	waitCommitted := func(l *Loader, n int64, done <-chan error) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for l.Progress().FinishedBytes < n {
			select {
			case err := <-done:
				t.Fatalf("the load ended before the target went down (%v); make the dump bigger", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress in time: %+v", l.Progress())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	t.Run("restart", func(t *testing.T) {
		l := newLoader(t, cfg)
		done := make(chan error, 1)
		go func() { done <- l.LoadDir(t.Context()) }()
		waitCommitted(l, total/4, done)
		if err := tgt.Restart(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("LoadDir across a target restart: %v", err)
		}
		t.Logf("%d retries across the restart", rec.count("transient error; retrying"))
		compareTables(t, "restart", "nopk", "restart", "nopk")
		compareTables(t, "restart", "pk", "restart", "pk")
	})

	t.Run("down", func(t *testing.T) {
		tgt.Exec(t, "DROP DATABASE restart; DROP TABLE dm_meta.restart_loader_checkpoint")
		down := cfg
		down.MaxRetries, down.RetryBackoff = 2, 10*time.Millisecond
		l := newLoader(t, down)
		done := make(chan error, 1)
		go func() { done <- l.LoadDir(t.Context()) }()
		waitCommitted(l, total/3, done)
		if err := tgt.Kill(); err != nil {
			t.Fatal(err)
		}
		err := <-done
		var temp interface{ Temporary() bool }
		if !errors.As(err, &temp) || !temp.Temporary() {
			t.Fatalf("LoadDir with the target down = %v; want a Temporary error", err)
		}
		t.Logf("error with the target down: %v", err)
		if err := tgt.Restart(); err != nil {
			t.Fatal(err)
		}
		if err := newLoader(t, cfg).LoadDir(t.Context()); err != nil {
			t.Fatalf("resume after the target came back: %v", err)
		}
		compareTables(t, "restart", "nopk", "restart", "nopk")
		compareTables(t, "restart", "pk", "restart", "pk")
	})

	t.Run("unreachable", func(t *testing.T) {
		c := testConfig(dir, "unreachable")
		c.Target = dbconn.Config{Host: "127.0.0.1", Port: 1, User: "nobody"} // nothing listens there
		c.MaxRetries, c.RetryBackoff = 1, time.Millisecond                   // the default would wait ~45 s
		err := newLoader(t, c).LoadDir(t.Context())
		var temp interface{ Temporary() bool }
		if !errors.As(err, &temp) {
			t.Fatalf("LoadDir against a closed port = %v; want a Temporary error", err)
		}
	})
}
