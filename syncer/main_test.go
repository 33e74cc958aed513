package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// One source and one target server for the whole package; each test uses its own schema
// and task name.
var src, dst *mysqltest.Server

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Getenv(crashChildEnv) != "" {
		return crashChild()
	}
	var err error
	if src, err = mysqltest.Start(mysqltest.Options{Name: "syncer-src"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	if dst, err = mysqltest.Start(mysqltest.Options{Name: "syncer-dst", SkipLogBin: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer dst.Stop()
	return m.Run()
}

// testLogger logs to the test output when -v is given, else discards.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// masterLoc returns the source's current binlog end.
func masterLoc(t testing.TB) Location {
	t.Helper()
	db := src.DB(t)
	loc, err := masterStatus(context.Background(), db, "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// baseConfig is a syncer for schema(s) starting at the source's current binlog end.
func baseConfig(t testing.TB, task string, schemas ...string) Config {
	t.Helper()
	ba, err := filter.NewBAList(filter.Rules{DoDBs: schemas}, false)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Task:               task,
		Source:             "src1",
		SourceDB:           src.DBConfig(),
		Flavor:             "mariadb",
		Target:             dst.DBConfig(),
		Start:              masterLoc(t),
		Workers:            4,
		Batch:              50,
		Tables:             ba.Match,
		Logger:             testLogger(t),
		checkpointInterval: 50 * time.Millisecond,
		retryBudget:        20 * time.Second,
	}
}

// setupSchema (re)creates schema on both servers with the same DDL, without binlogging it.
func setupSchema(t testing.TB, schema string, ddl ...string) {
	t.Helper()
	for _, s := range []*mysqltest.Server{src, dst} {
		stmts := "SET sql_log_bin=0; DROP DATABASE IF EXISTS `" + schema + "`; CREATE DATABASE `" + schema + "`; USE `" + schema + "`;"
		for _, d := range ddl {
			stmts += d + ";"
		}
		s.Exec(t, stmts+"SET sql_log_bin=1")
	}
}

// running is a syncer started in the background.
type running struct {
	s    *Syncer
	done chan error
	stop context.CancelFunc
}

// startSyncer runs Run in a goroutine; stop cancels it and returns Run's error (nil for a
// clean cancellation). The syncer is stopped at the end of the test if still running.
func startSyncer(t testing.TB, cfg Config) (*running, func() error) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- s.Run(ctx) }()
	stopped := false
	var result error
	stop := func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		err := <-r.done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		result = err
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return r, stop
}

// waitSynced waits until every schema has the same tables and rows on both servers, and
// fails the test (with the last difference) if that does not happen within a minute or
// the syncer stops.
func waitSynced(t testing.TB, r *running, schemas ...string) {
	t.Helper()
	srcDB, dstDB := src.DB(t), dst.DB(t)
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("syncer stopped: %v", err)
		default:
		}
		last = nil
		for _, s := range schemas {
			if err := mysqltest.CompareSchemas(context.Background(), srcDB, s, dstDB, s); err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not synced: %v", last)
}

// query returns the first column of the first row.
func queryString(t testing.TB, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

// waitFor polls check until it returns nil; it fails the test with the last error after
// a minute or when the syncer stops.
func waitFor(t testing.TB, r *running, check func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("syncer stopped: %v", err)
		default:
		}
		if last = check(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("condition not reached: %v", last)
}

func equal(got, want string) error {
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// newTask is baseConfig for a task that starts fresh: its checkpoints from earlier runs
// of the test binary (-count) are dropped.
func newTask(t testing.TB, task string, schemas ...string) Config {
	t.Helper()
	if err := DropCheckpoints(context.Background(), dst.DB(t), "", task); err != nil {
		t.Fatal(err)
	}
	return baseConfig(t, task, schemas...)
}
