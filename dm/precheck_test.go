package dm

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

func TestParseGrant(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		want pcGrant
	}{
		{line: "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA unix_socket OR mysql_native_password USING 'invalid' WITH GRANT OPTION",
			ok: true, want: pcGrant{privs: []pcGrantPriv{{name: "ALL PRIVILEGES", all: true}}, level: pcGrantGlobal}},
		{line: "GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'",
			ok: true, want: pcGrant{privs: []pcGrantPriv{{name: "RELOAD"}, {name: "REPLICATION SLAVE"}, {name: "BINLOG MONITOR"}}, level: pcGrantGlobal}},
		{line: "GRANT SELECT, INSERT ON `db\\_1`.* TO 'u'@'%'",
			ok: true, want: pcGrant{privs: []pcGrantPriv{{name: "SELECT"}, {name: "INSERT"}}, level: pcGrantDB, db: `db\_1`}},
		{line: "GRANT SELECT (`a`, `b`), UPDATE ON `d`.`t``x` TO `u`@`%`",
			ok: true, want: pcGrant{privs: []pcGrantPriv{{name: "SELECT", columns: true}, {name: "UPDATE"}}, level: pcGrantTable, db: "d", table: "t`x"}},
		{line: "GRANT BACKUP_ADMIN,FLUSH_TABLES ON *.* TO `u`@`%`",
			ok: true, want: pcGrant{privs: []pcGrantPriv{{name: "BACKUP_ADMIN"}, {name: "FLUSH_TABLES"}}, level: pcGrantGlobal}},
		{line: "GRANT `role1` TO `u`@`%`"},
		{line: "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"},
		{line: "GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u`@`%`"},
		{line: "SET DEFAULT ROLE `r` FOR `u`@`%`"},
	}
	for _, tt := range tests {
		got, ok := parsePCGrant(tt.line)
		if ok != tt.ok {
			t.Errorf("parsePCGrant(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.level != tt.want.level || got.db != tt.want.db || got.table != tt.want.table ||
			len(got.privs) != len(tt.want.privs) {
			t.Errorf("parsePCGrant(%q) = %+v, want %+v", tt.line, got, tt.want)
			continue
		}
		for i := range got.privs {
			if got.privs[i] != tt.want.privs[i] {
				t.Errorf("parsePCGrant(%q) priv %d = %+v, want %+v", tt.line, i, got.privs[i], tt.want.privs[i])
			}
		}
	}
}

func TestLackingPrivileges(t *testing.T) {
	tables := []pcTable{{"db1", "t1"}, {"db1", "t2"}, {"db_2", "t"}}
	dump := func() []*pcPrivNeed {
		return []*pcPrivNeed{pcTablePrivNeed(pcPrivSelect, tables), {priv: pcPrivReload, global: true}}
	}
	repl := func() []*pcPrivNeed {
		return []*pcPrivNeed{{priv: pcPrivReplSlave, global: true}, {priv: pcPrivReplClient, global: true}}
	}
	tests := []struct {
		name   string
		grants []string
		needs  func() []*pcPrivNeed
		want   string
	}{
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `u`@`%`"}, dump, ""},
		{"nothing", []string{"GRANT USAGE ON *.* TO `u`@`%`"}, dump,
			"lack of Select privilege: {`db1`.`t1`, `db1`.`t2`; `db_2`.`t`}; lack of RELOAD global (*.*) privilege; "},
		{"no grants", nil, dump, "there is no such grant defined for current user on host '%'"},
		{"db and table level", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT ON `db_2`.`t` TO `u`@`%`",
		}, dump, ""},
		{"db wildcard and escape", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db%`.* TO `u`@`%`",
		}, dump, ""},
		{"escaped underscore does not match a letter", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT ON `dbx\\_2`.* TO `u`@`%`",
		}, dump, "lack of Select privilege: {`db_2`.`t`}; "},
		{"column grant is not enough", []string{
			"GRANT RELOAD, SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT (`a`) ON `db_2`.`t` TO `u`@`%`",
		}, dump, "lack of Select privilege: {`db_2`.`t`}; lack of RELOAD global (*.*) privilege; "},
		{"db-level ALL does not give global RELOAD", []string{"GRANT ALL PRIVILEGES ON `db%`.* TO `u`@`%`"}, dump,
			"lack of RELOAD global (*.*) privilege; "},
		{"MySQL FLUSH_TABLES replaces RELOAD", []string{"GRANT SELECT ON *.* TO `u`@`%`", "GRANT FLUSH_TABLES ON *.* TO `u`@`%`"}, dump, ""},
		{"replication missing", []string{"GRANT SELECT ON *.* TO `u`@`%`"}, repl,
			"lack of REPLICATION CLIENT global (*.*) privilege; lack of REPLICATION SLAVE global (*.*) privilege; "},
		{"replication MySQL", []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`"}, repl, ""},
		{"replication MariaDB", []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`"}, repl, ""},
		{"SUPER gives REPLICATION CLIENT", []string{"GRANT SUPER, REPLICATION SLAVE ON *.* TO `u`@`%`"}, repl, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pcLackingPrivilegesIn(tt.grants, tt.needs()); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"db", "db", true},
		{"db", "DB", false},
		{"db%", "db_2", true},
		{"d_", "db", true},
		{"d_", "dbb", false},
		{`db\_2`, "db_2", true},
		{`db\_2`, "dbx2", false},
		{"%", "", true},
		{"a%b%c", "aXXbYYc", true},
		{"a%b%c", "aXXbYY", false},
		{"é_", "éa", true},
	}
	for _, tt := range tests {
		if got := grantLikeMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("grantLikeMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestParseServerVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    pcVersion
		wantErr bool
	}{
		{in: "10.11.6-MariaDB-log", want: pcVersion{10, 11, 6}},
		{in: "5.7.18-log", want: pcVersion{5, 7, 18}},
		{in: "8.0.36", want: pcVersion{8, 0, 36}},
		{in: "8.0", wantErr: true},
		{in: "x.y.z", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePCVersion(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("parsePCVersion(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRenderPrecheck(t *testing.T) {
	ok := &precheckItemResult{Name: "ok", State: precheckSuccess}
	warn := &precheckItemResult{Name: "w", State: precheckWarning,
		Errors: []*precheckFinding{{Severity: precheckWarning, ShortErr: "table `d`.`t` primary/unique key does not exist"}}}
	fail := &precheckItemResult{Name: "mysql_binlog_format", State: precheckFailure, Extra: "source s1",
		Instruction: "please execute 'set global binlog_format=ROW;'",
		Errors:      []*precheckFinding{{Severity: precheckFailure, ShortErr: "binlog_format is STATEMENT, and should be ROW"}}}

	tests := []struct {
		name      string
		results   []*precheckItemResult
		want      string // prefix of the result, or of the error message
		wantCode  int
		wantInDet []string
	}{
		{name: "nothing to check", want: precheckPassed},
		{name: "clean", results: []*precheckItemResult{ok}, want: precheckPassed},
		{name: "warnings", results: []*precheckItemResult{ok, warn},
			want:      precheckMsgHeader + ": no errors but some warnings\n detail: {",
			wantInDet: []string{`"state": "warn"`, `"warning": 1`, `"passed": true`, "primary/unique key does not exist"}},
		{name: "error", results: []*precheckItemResult{ok, warn, fail}, wantCode: CodePrecheckFailed,
			want:      precheckMsgHeader + ": binlog_format is STATEMENT, and should be ROW (source s1). please execute 'set global binlog_format=ROW;'\n detail: {",
			wantInDet: []string{`"failed": 1`, `"passed": false`, `"total": 3`, `"successful": 1`, `"short_error": "binlog_format is STATEMENT, and should be ROW"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderPrecheck(tt.results)
			text := got
			if tt.wantCode != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %d", err, tt.wantCode)
				}
				text = e.Message
			} else if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, tt.want) {
				t.Fatalf("got %q, want prefix %q", text, tt.want)
			}
			if len(tt.wantInDet) == 0 {
				return
			}
			_, detail, _ := strings.Cut(text, "\n detail: ")
			var rep precheckReport
			if err := json.Unmarshal([]byte(detail), &rep); err != nil {
				t.Fatalf("detail is not JSON: %v\n%s", err, detail)
			}
			for _, r := range rep.Results {
				if r.State == precheckSuccess {
					t.Errorf("detail lists a successful result: %+v", r)
				}
			}
			for _, s := range tt.wantInDet {
				if !strings.Contains(detail, s) {
					t.Errorf("detail lacks %q:\n%s", s, detail)
				}
			}
		})
	}
}

func TestRenderPrecheckLimitsFindings(t *testing.T) {
	r := &precheckItemResult{Name: "many", State: precheckWarning}
	for range 25 {
		r.warn("table `d`.`t` primary/unique key does not exist")
	}
	got, err := renderPrecheck([]*precheckItemResult{r})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got, "primary/unique key does not exist"); n != precheckWarnLimit {
		t.Errorf("detail shows %d warnings, want %d", n, precheckWarnLimit)
	}
	if len(r.Errors) != 25 {
		t.Errorf("rendering changed the result: %d errors left", len(r.Errors))
	}
}

func TestPrecheckItems(t *testing.T) {
	if got := precheckItems([]string{"version", "all"}); got != nil {
		t.Errorf("ignoring all: got %v", got)
	}
	got := precheckItems([]string{"binlog_format", "no_such_item"})
	if got[precheckBinlogFormat] || !got[precheckVersion] || !got[precheckTableSchema] {
		t.Errorf("got %v", got)
	}
}

// precheckServers returns the package's shared source and target plus a second source
// that only the precheck tests use (for users and shard tables across sources).
func precheckServers(t *testing.T) (src, src2, dst *mysqltest.Server) {
	t.Helper()
	return testSrc, lazyServer(t, "precheck-src2", mysqltest.Options{}), testDst
}

// precheckSourceFor builds a precheck source for server s whose rules migrate schema
// (optionally routed to target).
func precheckSourceFor(t *testing.T, name string, db *sql.DB, schema string, target *TaskTableMigrateRuleTarget) precheckSource {
	t.Helper()
	rules, err := buildSubtaskRules(name, []TaskTableMigrateRule{{
		Source: TaskTableMigrateRuleSource{SourceName: name, Schema: schema, Table: "*"},
		Target: target,
	}}, nil, false)
	if err != nil {
		t.Fatalf("build rules: %v", err)
	}
	return precheckSource{Name: name, DB: db, Flavor: "mariadb", Rules: rules}
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

func TestPrecheckLive(t *testing.T) {
	src, src2, dst := precheckServers(t)
	srcDB, src2DB, dstDB := src.DB(t), src2.DB(t), dst.DB(t)

	resetSchema(t, src, "pc_clean", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	resetSchema(t, src, "pc_nopk", "CREATE TABLE t (id INT, v VARCHAR(20))")
	resetSchema(t, src, "pc_shard", "CREATE TABLE t1 (id INT PRIMARY KEY, a INT, b INT)")
	resetSchema(t, src2, "pc_shard", "CREATE TABLE t2 (id INT PRIMARY KEY, a INT)")
	resetSchema(t, src, "pc_autoinc", "CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	resetSchema(t, src2, "pc_autoinc", "CREATE TABLE t2 (id INT AUTO_INCREMENT PRIMARY KEY, a INT)")
	// A target table that lacks a column the source has.
	resetSchema(t, src, "pc_diff", "CREATE TABLE t (id INT PRIMARY KEY, a INT, extra INT)")
	resetSchema(t, dst, "pc_diff", "CREATE TABLE t (id INT PRIMARY KEY, a INT)")

	merged := func(schema string) *TaskTableMigrateRuleTarget {
		return &TaskTableMigrateRuleTarget{Schema: schema + "_dst", Table: "t"}
	}
	one := func(schema string) []precheckSource {
		return []precheckSource{precheckSourceFor(t, "s1", srcDB, schema, nil)}
	}
	shard := func(schema string) []precheckSource {
		return []precheckSource{
			precheckSourceFor(t, "s1", srcDB, schema, merged(schema)),
			precheckSourceFor(t, "s2", src2DB, schema, merged(schema)),
		}
	}

	tests := []struct {
		name      string
		in        precheckInput
		want      string   // exact check_result, when no error is expected
		contains  []string // substrings of the check_result or of the error
		wantCode  int
		noContain []string
	}{
		{name: "clean task passes", in: precheckInput{Mode: ModeAll, Sources: one("pc_clean")}, want: precheckPassed},
		{name: "all items ignored", in: precheckInput{Mode: ModeAll, Sources: one("pc_nopk"), Ignore: []string{"all"}}, want: ""},
		{name: "table without key warns", in: precheckInput{Mode: ModeAll, Sources: one("pc_nopk")},
			contains: []string{precheckMsgHeader + ": no errors but some warnings\n detail: ",
				"table `pc_nopk`.`t` primary/unique key does not exist", `"name": "table structure compatibility check"`}},
		{name: "ignoring table_schema silences the warning",
			in: precheckInput{Mode: ModeAll, Sources: one("pc_nopk"), Ignore: []string{"table_schema"}}, want: precheckPassed},
		{name: "existing target table is compared", in: precheckInput{Mode: ModeFull, Sources: one("pc_diff")},
			contains: []string{"upstream has more columns than downstream, columns: [extra]"}},
		{name: "shard column count mismatch fails",
			in:       precheckInput{Mode: ModeAll, ShardMode: "pessimistic", Sources: shard("pc_shard")},
			wantCode: CodePrecheckFailed,
			contains: []string{"column length mismatch (self: 3 vs other: 2)", "sharding table `pc_shard_dst`.`t` consistency checking",
				"sourceID s2 table `pc_shard`.`t2` columns [id a]"}},
		{name: "shard mismatch passes when ignored",
			in: precheckInput{Mode: ModeAll, ShardMode: "pessimistic", Sources: shard("pc_shard"),
				Ignore: []string{"schema_of_shard_tables"}}, want: precheckPassed},
		{name: "optimistic shard tolerates a missing column",
			in: precheckInput{Mode: ModeAll, ShardMode: "optimistic", Sources: shard("pc_shard")}, want: precheckPassed},
		{name: "shard checks need a shard mode",
			in: precheckInput{Mode: ModeAll, Sources: shard("pc_shard")}, want: precheckPassed},
		{name: "auto-increment shard keys warn",
			in: precheckInput{Mode: ModeAll, ShardMode: "pessimistic", Sources: shard("pc_autoinc")},
			contains: []string{"no errors but some warnings", "have auto-increment key",
				"sourceID s1 table `pc_autoinc`.`t1` of sharding `pc_autoinc_dst`.`t`"}},
		{name: "auto-increment warning can be ignored",
			in: precheckInput{Mode: ModeAll, ShardMode: "pessimistic", Sources: shard("pc_autoinc"),
				Ignore: []string{"auto_increment_ID"}}, want: precheckPassed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Target = dstDB
			got, err := precheck(testCtx(t), tt.in)
			text := got
			if tt.wantCode != 0 {
				if code := ErrorCode(err); code != tt.wantCode {
					t.Fatalf("err = %v, want code %d (result %q)", err, tt.wantCode, got)
				}
				text = err.Error()
			} else if err != nil {
				t.Fatalf("precheck: %v", err)
			}
			if tt.contains == nil && text != tt.want {
				t.Fatalf("check_result = %q, want %q", text, tt.want)
			}
			for _, s := range tt.contains {
				if !strings.Contains(text, s) {
					t.Errorf("result lacks %q:\n%s", s, text)
				}
			}
		})
	}
}

func TestPrecheckBinlogFormat(t *testing.T) {
	stmt := lazyServer(t, "precheck-stmt", mysqltest.Options{BinlogFormat: "STATEMENT"})
	resetSchema(t, stmt, "pc_stmt", "CREATE TABLE t (id INT PRIMARY KEY)")
	sources := []precheckSource{precheckSourceFor(t, "stmt", stmt.DB(t), "pc_stmt", nil)}

	_, err := precheck(testCtx(t), precheckInput{Mode: ModeAll, Sources: sources, Target: testDst.DB(t)})
	if ErrorCode(err) != CodePrecheckFailed {
		t.Fatalf("all mode: err = %v, want code %d", err, CodePrecheckFailed)
	}
	for _, s := range []string{"binlog_format is STATEMENT, and should be ROW", `"name": "mysql_binlog_format"`, "set global binlog_format=ROW"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}

	got, err := precheck(testCtx(t), precheckInput{Mode: ModeFull, Sources: sources, Target: testDst.DB(t)})
	if err != nil || got != precheckPassed {
		t.Fatalf("full mode runs no binlog check: got %q, %v", got, err)
	}
}

func TestPrecheckPrivileges(t *testing.T) {
	_, src2, dst := precheckServers(t)
	resetSchema(t, src2, "pc_priv", "CREATE TABLE t (id INT PRIMARY KEY)")
	src2.Exec(t, "DROP USER IF EXISTS 'pc_user'@'%'")
	src2.Exec(t, "CREATE USER 'pc_user'@'%' IDENTIFIED BY 'pw'")
	src2.Exec(t, "GRANT SELECT ON pc_priv.* TO 'pc_user'@'%'")
	t.Cleanup(func() { src2.Exec(t, "DROP USER IF EXISTS 'pc_user'@'%'") })

	// Global privileges apply to new connections, so every run connects afresh.
	in := func() precheckInput {
		cfg := src2.DBConfig()
		cfg.User, cfg.Password = "pc_user", "pw"
		limited, err := dbconn.Open(testCtx(t), cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { limited.Close() })
		return precheckInput{Mode: ModeAll, Target: dst.DB(t), Ignore: []string{"conn_number"},
			Sources: []precheckSource{precheckSourceFor(t, "s2", limited, "pc_priv", nil)}}
	}

	_, err := precheck(testCtx(t), in())
	if ErrorCode(err) != CodePrecheckFailed {
		t.Fatalf("err = %v, want code %d", err, CodePrecheckFailed)
	}
	for _, s := range []string{
		"lack of REPLICATION CLIENT global (*.*) privilege; lack of REPLICATION SLAVE global (*.*) privilege; ",
		"lack of RELOAD global (*.*) privilege; ",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}

	// MariaDB shows REPLICATION CLIENT as BINLOG MONITOR.
	src2.Exec(t, "GRANT RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'pc_user'@'%'")
	got, err := precheck(testCtx(t), in())
	if err != nil || got != precheckPassed {
		t.Fatalf("with privileges: got %q, %v", got, err)
	}
}
