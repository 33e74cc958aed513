package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

var src, dst *mysqltest.Server

func TestMain(m *testing.M) {
	var servers mysqltest.Shared
	var ok bool
	if src, dst, ok = servers.StartPair("migrate"); !ok {
		os.Exit(1)
	}
	code := m.Run()
	servers.StopAll()
	os.Exit(code)
}

// TestMigrate runs the example against real MariaDB while the source keeps writing, and
// checks that it reports synced and that the target equals the source.
func TestMigrate(t *testing.T) {
	src.Exec(t, "CREATE DATABASE shop")
	src.Exec(t, "CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(10,2), note TEXT)")
	src.Exec(t, "INSERT INTO shop.orders SELECT seq, seq * 1.5, REPEAT('x', seq % 50) FROM shop.seq_1_to_20000")
	// Writes during the copy must arrive too.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		db := src.DB(t)
		for i := 20001; i <= 20300 && ctx.Err() == nil; i++ {
			_, _ = db.ExecContext(ctx, "INSERT INTO shop.orders VALUES (?, ?, 'during')", i, i)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	defer cancel()
	ep := func(s *mysqltest.Server) endpoint {
		return endpoint{User: s.User, Password: s.Password, Host: s.Host, Port: s.Port}
	}
	var out bytes.Buffer
	cfg := config{Source: ep(src), Target: ep(dst), Schema: "shop", DataDir: t.TempDir(), WritesStopped: done}
	if err := run(t.Context(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"precheck:", "writes stopped", "Sync at", "synced", "task stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := mysqltest.CompareTables(t.Context(), src.DB(t), "shop", "orders", dst.DB(t), "shop", "orders"); err != nil {
		t.Fatal(err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		out endpoint
	}{
		{"root:pw@127.0.0.1:3306", true, endpoint{"root", "pw", "127.0.0.1", 3306}},
		{"root@h:1", true, endpoint{"root", "", "h", 1}},
		{"h:1", false, endpoint{}},
		{"u:p@h", false, endpoint{}},
		{"u:p@h:x", false, endpoint{}},
	} {
		got, err := parseEndpoint(tc.in)
		if (err == nil) != tc.ok || got != tc.out {
			t.Errorf("parseEndpoint(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
