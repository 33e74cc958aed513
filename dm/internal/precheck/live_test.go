package precheck

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Task modes as unit flags.
var (
	modeAll  = Input{Dump: true, Load: true, Sync: true}
	modeFull = Input{Dump: true, Load: true}
)

// withMode returns in with the unit flags of mode.
func withMode(mode, in Input) Input {
	in.Dump, in.Load, in.Sync = mode.Dump, mode.Load, mode.Sync
	return in
}

// sourceFor builds a source on db that migrates every table of schema, routed to
// `<targetSchema>`.`<targetTable>` when targetSchema is set.
func sourceFor(name string, db *sql.DB, schema, targetSchema, targetTable string) Source {
	s := Source{Name: name, DB: db, Flavor: FlavorMariaDB,
		Match: func(sc, _ string) bool { return sc == schema }}
	if targetSchema != "" {
		s.Route = func(string, string) (string, string, error) { return targetSchema, targetTable, nil }
	}
	return s
}

// resetSchema recreates schema on s with the given statements run inside it.
func resetSchema(t *testing.T, s *mysqltest.Server, schema string, stmts ...string) {
	t.Helper()
	s.Exec(t, "DROP DATABASE IF EXISTS "+schema)
	s.Exec(t, "CREATE DATABASE "+schema)
	for _, st := range stmts {
		s.Exec(t, "USE "+schema+"; "+st)
	}
}

// outcome is how a run ended, for the tests.
type outcome int

const (
	passed  outcome = iota // every check succeeded
	skipped                // nothing ran (ignore "all")
	warned                 // warnings, no failure
	failed                 // at least one failure
)

// runOutcome runs in and classifies the report; detail is the report's JSON.
func runOutcome(t *testing.T, in Input) (outcome, string) {
	t.Helper()
	rep, err := Run(testCtx(t), in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep == nil {
		return skipped, ""
	}
	b, err := json.MarshalIndent(rep, "\t", "\t")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case rep.Summary.Failed > 0:
		return failed, string(b)
	case rep.Summary.Warning > 0:
		return warned, string(b)
	}
	return passed, string(b)
}

func TestRunLive(t *testing.T) {
	src, src2, dst := testSrc, lazyServer(t, "precheck-src2", mysqltest.Options{}), testDst
	srcDB, src2DB, dstDB := src.DB(t), src2.DB(t), dst.DB(t)

	resetSchema(t, src, "pc_clean", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	resetSchema(t, src, "pc_nopk", "CREATE TABLE t (id INT, v VARCHAR(20))")
	resetSchema(t, src, "pc_shard", "CREATE TABLE t1 (id INT PRIMARY KEY, a INT, b INT)")
	resetSchema(t, src2, "pc_shard", "CREATE TABLE t2 (id INT PRIMARY KEY, a INT)")
	resetSchema(t, src, "pc_autoinc", "CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	resetSchema(t, src2, "pc_autoinc", "CREATE TABLE t2 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	// Disjoint ranges: only DM's warning.
	resetSchema(t, src, "pc_autoinc2", "CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	resetSchema(t, src2, "pc_autoinc2", "CREATE TABLE t2 (id INT AUTO_INCREMENT PRIMARY KEY, a INT) AUTO_INCREMENT=1000000")
	src.Exec(t, "INSERT INTO pc_autoinc2.t1 (a) VALUES (1), (2), (3)")
	// Overlapping used ranges.
	resetSchema(t, src, "pc_autoinc3", "CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	resetSchema(t, src2, "pc_autoinc3", "CREATE TABLE t2 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	src.Exec(t, "INSERT INTO pc_autoinc3.t1 (a) VALUES (1), (2), (3)")
	src2.Exec(t, "INSERT INTO pc_autoinc3.t2 (a) VALUES (1)")
	// The auto-increment column is only part of the key: no collision.
	resetSchema(t, src, "pc_autoinc4", "CREATE TABLE t1 (id INT AUTO_INCREMENT, s INT, PRIMARY KEY (id, s))")
	resetSchema(t, src2, "pc_autoinc4", "CREATE TABLE t2 (id INT AUTO_INCREMENT, s INT, PRIMARY KEY (id, s))")
	// A target table that lacks a column the source has.
	resetSchema(t, src, "pc_diff", "CREATE TABLE t (id INT PRIMARY KEY, a INT, extra INT)")
	resetSchema(t, dst, "pc_diff", "CREATE TABLE t (id INT PRIMARY KEY, a INT)")

	one := func(schema string) []Source { return []Source{sourceFor("s1", srcDB, schema, "", "")} }
	shard := func(schema string) []Source {
		return []Source{
			sourceFor("s1", srcDB, schema, schema+"_dst", "t"),
			sourceFor("s2", src2DB, schema, schema+"_dst", "t"),
		}
	}

	tests := []struct {
		name     string
		mode     Input
		in       Input
		want     outcome
		contains []string // substrings of the report's JSON
	}{
		{name: "clean task passes", mode: modeAll, in: Input{Sources: one("pc_clean")}, want: passed},
		{name: "all items ignored", mode: modeAll, in: Input{Sources: one("pc_nopk"), Ignore: []string{"all"}}, want: skipped},
		{name: "table without key warns", mode: modeAll, in: Input{Sources: one("pc_nopk")}, want: warned,
			contains: []string{"table `pc_nopk`.`t` primary/unique key does not exist", `"name": "table structure compatibility check"`}},
		{name: "ignoring table_schema silences the warning", mode: modeAll,
			in: Input{Sources: one("pc_nopk"), Ignore: []string{"table_schema"}}, want: passed},
		{name: "existing target table is compared", mode: modeFull, in: Input{Sources: one("pc_diff")}, want: warned,
			contains: []string{"upstream has more columns than downstream, columns: [extra]"}},
		{name: "shard column count mismatch fails", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_shard")}, want: failed,
			contains: []string{"column length mismatch (self: 3 vs other: 2)", "sharding table `pc_shard_dst`.`t` consistency checking",
				"sourceID s2 table `pc_shard`.`t2` columns [id a]"}},
		{name: "shard mismatch passes when ignored", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_shard"), Ignore: []string{"schema_of_shard_tables"}}, want: passed},
		{name: "optimistic shard tolerates a missing column", mode: modeAll,
			in: Input{ShardMode: "optimistic", Sources: shard("pc_shard")}, want: passed},
		{name: "shard checks need a shard mode", mode: modeAll, in: Input{Sources: shard("pc_shard")}, want: passed},
		{name: "auto-increment shard keys starting together fail", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_autoinc")}, want: failed,
			contains: []string{"have auto-increment key", "sourceID s1 table `pc_autoinc`.`t1` of sharding `pc_autoinc_dst`.`t`",
				"auto-increment keys of sharding `pc_autoinc_dst`.`t` collide", "sourceID s2 table `pc_autoinc`.`t2` column id [1, 1]"}},
		{name: "auto-increment shard keys with overlapping rows fail", mode: modeAll,
			in: Input{ShardMode: "optimistic", Sources: shard("pc_autoinc3")}, want: failed,
			contains: []string{"sourceID s1 table `pc_autoinc3`.`t1` column id [1, 4]", "auto_increment_ID"}},
		{name: "auto-increment shard keys with disjoint ranges only warn", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_autoinc2")}, want: warned,
			contains: []string{"have auto-increment key"}},
		{name: "auto-increment column in a composite key only warns", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_autoinc4")}, want: warned},
		{name: "auto-increment failure can be ignored", mode: modeAll,
			in: Input{ShardMode: "pessimistic", Sources: shard("pc_autoinc"), Ignore: []string{"auto_increment_ID"}}, want: passed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := withMode(tt.mode, tt.in)
			in.Target, in.ExportThreads, in.ImportThreads = dstDB, 4, 16
			got, detail := runOutcome(t, in)
			if got != tt.want {
				t.Fatalf("outcome = %d, want %d\n%s", got, tt.want, detail)
			}
			for _, s := range tt.contains {
				if !strings.Contains(detail, s) {
					t.Errorf("report lacks %q:\n%s", s, detail)
				}
			}
		})
	}
}

func TestRunBinlogFormat(t *testing.T) {
	stmt := statementServer(t)
	resetSchema(t, stmt, "pc_stmt", "CREATE TABLE t (id INT PRIMARY KEY)")
	in := Input{Sources: []Source{sourceFor("stmt", stmt.DB(t), "pc_stmt", "", "")}, Target: testDst.DB(t)}

	got, detail := runOutcome(t, withMode(modeAll, in))
	if got != failed {
		t.Fatalf("all mode: outcome %d, want a failure\n%s", got, detail)
	}
	for _, s := range []string{"binlog_format is STATEMENT, and should be ROW", `"name": "mysql_binlog_format"`, "set global binlog_format=ROW"} {
		if !strings.Contains(detail, s) {
			t.Errorf("report lacks %q:\n%s", s, detail)
		}
	}
	if got, detail := runOutcome(t, withMode(modeFull, in)); got != passed {
		t.Fatalf("full mode runs no binlog check: outcome %d\n%s", got, detail)
	}
}

func TestRunPrivileges(t *testing.T) {
	src2, dst := lazyServer(t, "precheck-src2", mysqltest.Options{}), testDst
	resetSchema(t, src2, "pc_priv", "CREATE TABLE t (id INT PRIMARY KEY)")
	src2.Exec(t, "DROP USER IF EXISTS 'pc_user'@'%'")
	src2.Exec(t, "CREATE USER 'pc_user'@'%' IDENTIFIED BY 'pw'")
	src2.Exec(t, "GRANT SELECT ON pc_priv.* TO 'pc_user'@'%'")
	t.Cleanup(func() { src2.Exec(t, "DROP USER IF EXISTS 'pc_user'@'%'") })

	// Global privileges apply to new connections, so every run connects afresh.
	in := func() Input {
		cfg := src2.DBConfig()
		cfg.User, cfg.Password = "pc_user", "pw"
		limited, err := dbconn.Open(testCtx(t), cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { limited.Close() })
		return withMode(modeAll, Input{Target: dst.DB(t), Ignore: []string{"conn_number"},
			Sources: []Source{sourceFor("s2", limited, "pc_priv", "", "")}})
	}

	got, detail := runOutcome(t, in())
	if got != failed {
		t.Fatalf("outcome %d, want a failure\n%s", got, detail)
	}
	for _, s := range []string{
		"lack of REPLICATION CLIENT global (*.*) privilege; lack of REPLICATION SLAVE global (*.*) privilege; ",
		"lack of RELOAD global (*.*) privilege; ",
	} {
		if !strings.Contains(detail, s) {
			t.Errorf("report lacks %q:\n%s", s, detail)
		}
	}

	// MariaDB shows REPLICATION CLIENT as BINLOG MONITOR.
	src2.Exec(t, "GRANT RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'pc_user'@'%'")
	if got, detail := runOutcome(t, in()); got != passed {
		t.Fatalf("with privileges: outcome %d\n%s", got, detail)
	}

	// The same privileges through an active MariaDB role.
	src2.Exec(t, "REVOKE RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* FROM 'pc_user'@'%'")
	src2.Exec(t, "DROP ROLE IF EXISTS pc_role")
	src2.Exec(t, "CREATE ROLE pc_role")
	t.Cleanup(func() { src2.Exec(t, "DROP ROLE IF EXISTS pc_role") })
	src2.Exec(t, "GRANT RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO pc_role")
	src2.Exec(t, "GRANT pc_role TO 'pc_user'@'%'")
	src2.Exec(t, "SET DEFAULT ROLE pc_role FOR 'pc_user'@'%'")
	if got, detail := runOutcome(t, in()); got != passed {
		t.Fatalf("with a role: outcome %d\n%s", got, detail)
	}
}
