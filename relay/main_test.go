package relay

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// One source server for the package; tests that need their own upstream start it.
var src *mysqltest.Server

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	var err error
	if src, err = mysqltest.Start(mysqltest.Options{Name: "relay-src"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	return m.Run()
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newRelay is a relay of s into a fresh directory (or dir when given).
func newRelay(t *testing.T, s *mysqltest.Server, dir string, mod func(*Config)) *Relay {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := Config{Dir: dir, SourceDB: s.DBConfig(), Flavor: "mariadb", Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runRelay runs r in the background; the returned stop ends it and returns Run's error.
func runRelay(t *testing.T, r *Relay) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	var err error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitCatchUp waits until the relay reports it holds everything the source wrote.
func waitCatchUp(t *testing.T, r *Relay) Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := r.Status(); st.CatchUp {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("relay did not catch up: %+v", r.Status())
	return Status{}
}

// load writes n small transactions into schema.t of db.
func load(t *testing.T, db *sql.DB, schema string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO `%s`.t (id, v) VALUES (?, REPEAT('x', ?))", schema), i, i%200); err != nil {
			t.Fatal(err)
		}
	}
}

func setupSchema(t *testing.T, db *sql.DB, schema string) {
	t.Helper()
	for _, q := range []string{
		"DROP DATABASE IF EXISTS `" + schema + "`",
		"CREATE DATABASE `" + schema + "`",
		"CREATE TABLE `" + schema + "`.t (id INT PRIMARY KEY, v VARCHAR(255))",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}
