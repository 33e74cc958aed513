package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// src and dst are shared by the tests that do not restart or kill servers.
var src, dst *Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if src, err = Start(Options{Name: "src"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	if dst, err = Start(Options{Name: "dst"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer dst.Stop()
	return m.Run()
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRowContext(t.Context(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

func TestDefaults(t *testing.T) {
	db := src.DB(t)
	want := map[string]string{
		"SELECT @@log_bin":          "1",
		"SELECT @@binlog_format":    "ROW",
		"SELECT @@binlog_row_image": "FULL",
		"SELECT @@server_id":        fmt.Sprint(src.ServerID),
		"SELECT CURRENT_USER()":     "dmkit@%",
		// The test account is created outside the binlog.
		"SELECT @@gtid_binlog_pos": "",
	}
	for q, w := range want {
		if got := queryString(t, db, q); got != w {
			t.Errorf("%s = %q, want %q", q, got, w)
		}
	}
	if src.ServerID == dst.ServerID || src.ServerID == 0 {
		t.Errorf("server ids %d and %d must be distinct and non-zero", src.ServerID, dst.ServerID)
	}
}

func TestGTIDAfterWrite(t *testing.T) {
	src.Exec(t, "CREATE DATABASE gtid_check; CREATE TABLE gtid_check.t (id INT PRIMARY KEY); INSERT INTO gtid_check.t VALUES (?)", 1)
	t.Cleanup(func() { src.Exec(t, "DROP DATABASE gtid_check") })
	pos := queryString(t, src.DB(t), "SELECT @@gtid_binlog_pos")
	if want := fmt.Sprintf("0-%d-", src.ServerID); !strings.HasPrefix(pos, want) {
		t.Errorf("gtid_binlog_pos = %q, want prefix %q", pos, want)
	}
}

func TestWrongPasswordRejected(t *testing.T) {
	cfg := src.DBConfig()
	cfg.Password = "wrong-secret"
	db, err := dbconn.Open(t.Context(), cfg, "")
	if err == nil {
		db.Close()
		t.Fatal("connected with a wrong password")
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want map[string]string
	}{
		{"statement", Options{ExtraArgs: []string{"--binlog-format=STATEMENT"}},
			map[string]string{"SELECT @@log_bin": "1", "SELECT @@binlog_format": "STATEMENT"}},
		{"mixed", Options{BinlogFormat: "MIXED", GTIDStrictMode: true, ServerID: 4242},
			map[string]string{"SELECT @@binlog_format": "MIXED", "SELECT @@gtid_strict_mode": "1", "SELECT @@server_id": "4242"}},
		{"skip-log-bin-option", Options{SkipLogBin: true},
			map[string]string{"SELECT @@log_bin": "0"}},
		{"skip-log-bin-arg", Options{ExtraArgs: []string{"--skip-log-bin"}},
			map[string]string{"SELECT @@log_bin": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name = tt.name
			s, err := Start(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Stop(); err != nil {
					t.Error(err)
				}
			}()
			db := s.DB(t)
			for q, w := range tt.want {
				if got := queryString(t, db, q); got != w {
					t.Errorf("%s = %q, want %q", q, got, w)
				}
			}
		})
	}
}

func TestRestartAndKill(t *testing.T) {
	s, err := Start(Options{Name: "restart"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Exec(t, "CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY); INSERT INTO r.t VALUES (1), (2)")
	port := s.Port

	count := func() string {
		db, err := s.Open("r")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return queryString(t, db, "SELECT COUNT(*) FROM t")
	}

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != "2" {
		t.Errorf("after restart: %s rows, want 2", got)
	}
	if s.Port != port {
		t.Errorf("port changed from %d to %d", port, s.Port)
	}

	s.Exec(t, "INSERT INTO r.t VALUES (3)")
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if db, err := s.Open(""); err == nil {
		db.Close()
		t.Fatal("connected to a killed server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != "3" {
		t.Errorf("after kill and restart: %s rows, want 3 (committed rows survive a crash)", got)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind (stat: %v)", s.Dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestFindBinaryMissing(t *testing.T) {
	_, err := findBinary("mariadbd-does-not-exist")
	want := "mariadbd-does-not-exist not found; install it with `sudo apt-get install -y mariadb-server` or run scripts/install-deps.sh"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestCompare(t *testing.T) {
	const schema = "cmp"
	setup := `CREATE DATABASE cmp;
CREATE TABLE cmp.same (id INT PRIMARY KEY, s VARCHAR(20), n INT NULL);
INSERT INTO cmp.same VALUES (1, 'a', NULL), (2, '', 5), (3, 'c', 7);
CREATE TABLE cmp.` + sqlq.QuoteName("odd`name") + ` (id INT PRIMARY KEY);
INSERT INTO cmp.` + sqlq.QuoteName("odd`name") + ` VALUES (1);
CREATE VIEW cmp.v AS SELECT id FROM cmp.same`
	src.Exec(t, setup)
	dst.Exec(t, setup)
	// Same rows, different definition: CHECKSUM TABLE differs, content does not.
	src.Exec(t, "CREATE TABLE cmp.redef (id INT PRIMARY KEY, v INT) ROW_FORMAT=DYNAMIC; INSERT INTO cmp.redef VALUES (1, 10), (2, 20)")
	dst.Exec(t, "CREATE TABLE cmp.redef (id BIGINT PRIMARY KEY, v BIGINT) ROW_FORMAT=REDUNDANT; INSERT INTO cmp.redef VALUES (2, 20), (1, 10)")
	t.Cleanup(func() {
		src.Exec(t, "DROP DATABASE cmp")
		dst.Exec(t, "DROP DATABASE cmp")
	})
	sdb, ddb := src.DB(t), dst.DB(t)
	ctx := t.Context()

	if err := CompareSchemas(ctx, sdb, schema, ddb, schema); err != nil {
		t.Fatalf("equal schemas: %v", err)
	}

	tests := []struct {
		name    string
		change  string // run on dst, undone by undo
		undo    string
		table   string
		wantErr string
	}{
		{"changed value", "UPDATE cmp.same SET s = 'b' WHERE id = 1", "UPDATE cmp.same SET s = 'a' WHERE id = 1", "same", "different content"},
		{"null vs empty", "UPDATE cmp.same SET s = NULL WHERE id = 2", "UPDATE cmp.same SET s = '' WHERE id = 2", "same", "different content"},
		{"missing row", "DELETE FROM cmp.same WHERE id = 3", "INSERT INTO cmp.same VALUES (3, 'c', 7)", "same", "has 3 rows, target `cmp`.`same` has 2"},
		{"redefined changed", "UPDATE cmp.redef SET v = 21 WHERE id = 2", "UPDATE cmp.redef SET v = 20 WHERE id = 2", "redef", "different content"},
		{"extra column", "ALTER TABLE cmp.same ADD COLUMN x INT", "ALTER TABLE cmp.same DROP COLUMN x", "same", "has columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst.Exec(t, tt.change)
			defer dst.Exec(t, tt.undo)
			err := CompareTables(ctx, sdb, schema, tt.table, ddb, schema, tt.table)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CompareTables = %v, want error containing %q", err, tt.wantErr)
			}
			if err := CompareSchemas(ctx, sdb, schema, ddb, schema); err == nil {
				t.Error("CompareSchemas found no difference")
			}
		})
	}

	t.Run("extra and missing tables", func(t *testing.T) {
		dst.Exec(t, "CREATE TABLE cmp.extra (id INT PRIMARY KEY)")
		defer dst.Exec(t, "DROP TABLE cmp.extra")
		src.Exec(t, "CREATE TABLE cmp.only_src (id INT PRIMARY KEY)")
		defer src.Exec(t, "DROP TABLE cmp.only_src")
		err := CompareSchemas(ctx, sdb, schema, ddb, schema)
		for _, want := range []string{"`only_src` is missing from target", "has table `extra` that the source lacks"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("CompareSchemas = %v, want error containing %q", err, want)
			}
		}
	})

	if err := CompareSchemas(ctx, sdb, schema, ddb, schema); err != nil {
		t.Errorf("after undoing every change: %v", err)
	}
}

func TestChecksumTableDiffersForRedefinedTable(t *testing.T) {
	// Guards the premise of the content fallback exercised in TestCompare.
	ctx := context.Background()
	src.Exec(t, "CREATE DATABASE ck; CREATE TABLE ck.t (id INT PRIMARY KEY) ROW_FORMAT=DYNAMIC; INSERT INTO ck.t VALUES (1)")
	dst.Exec(t, "CREATE DATABASE ck; CREATE TABLE ck.t (id BIGINT PRIMARY KEY) ROW_FORMAT=REDUNDANT; INSERT INTO ck.t VALUES (1)")
	t.Cleanup(func() {
		src.Exec(t, "DROP DATABASE ck")
		dst.Exec(t, "DROP DATABASE ck")
	})
	a, err := checksumTable(ctx, src.DB(t), "`ck`.`t`")
	if err != nil {
		t.Fatal(err)
	}
	b, err := checksumTable(ctx, dst.DB(t), "`ck`.`t`")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("CHECKSUM TABLE agrees (%v) for INT vs BIGINT tables; TestCompare no longer exercises the content fallback", a)
	}
}
