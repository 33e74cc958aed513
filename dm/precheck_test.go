package dm

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	checker "github.com/dmkit/dmkit/dm/internal/precheck"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

func TestRenderPrecheck(t *testing.T) {
	ok := &checker.Result{Name: "ok", State: checker.Success}
	warn := &checker.Result{Name: "w", State: checker.Warning,
		Errors: []*checker.Finding{{Severity: checker.Warning, ShortErr: "table `d`.`t` primary/unique key does not exist"}}}
	fail := &checker.Result{Name: "mysql_binlog_format", State: checker.Failure, Extra: "source s1",
		Instruction: "please execute 'set global binlog_format=ROW;'",
		Errors:      []*checker.Finding{{Severity: checker.Failure, ShortErr: "binlog_format is STATEMENT, and should be ROW"}}}

	tests := []struct {
		name      string
		results   []*checker.Result
		want      string // prefix of the result, or of the error message
		wantCode  int
		wantInDet []string
	}{
		{name: "nothing to check", want: precheckPassed},
		{name: "clean", results: []*checker.Result{ok}, want: precheckPassed},
		{name: "warnings", results: []*checker.Result{ok, warn},
			want:      precheckMsgHeader + ": no errors but some warnings\n detail: {",
			wantInDet: []string{`"state": "warn"`, `"warning": 1`, `"passed": true`, "primary/unique key does not exist"}},
		{name: "error", results: []*checker.Result{ok, warn, fail}, wantCode: CodePrecheckFailed,
			want:      precheckMsgHeader + ": binlog_format is STATEMENT, and should be ROW (source s1). please execute 'set global binlog_format=ROW;'\n detail: {",
			wantInDet: []string{`"failed": 1`, `"passed": false`, `"total": 3`, `"successful": 1`, `"short_error": "binlog_format is STATEMENT, and should be ROW"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderPrecheck(checker.NewReport(tt.results))
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
			var rep checker.Report
			if err := json.Unmarshal([]byte(detail), &rep); err != nil {
				t.Fatalf("detail is not JSON: %v\n%s", err, detail)
			}
			for _, r := range rep.Results {
				if r.State == checker.Success {
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
	r := &checker.Result{Name: "many", State: checker.Warning}
	for range 25 {
		r.Errors = append(r.Errors, &checker.Finding{Severity: checker.Warning, ShortErr: "table `d`.`t` primary/unique key does not exist"})
	}
	got, err := renderPrecheck(checker.NewReport([]*checker.Result{r}))
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

// TestPrecheckThroughDM runs the checks through dm's input and rendering (the checks
// themselves are tested in dm/internal/precheck).
func TestPrecheckThroughDM(t *testing.T) {
	src, dst := testSrc, testDst
	srcDB, dstDB := src.DB(t), dst.DB(t)
	resetSchema(t, src, "pc_clean", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	resetSchema(t, src, "pc_nopk", "CREATE TABLE t (id INT, v VARCHAR(20))")
	resetSchema(t, src, "pc_shard1", "CREATE TABLE t1 (id INT PRIMARY KEY, a INT, b INT)")
	resetSchema(t, src, "pc_shard2", "CREATE TABLE t2 (id INT PRIMARY KEY, a INT)")
	merged := &TaskTableMigrateRuleTarget{Schema: "pc_shard_dst", Table: "t"}
	one := func(schema string) []precheckSource {
		return []precheckSource{precheckSourceFor(t, "s1", srcDB, schema, nil)}
	}

	tests := []struct {
		name     string
		in       precheckInput
		want     string   // exact check_result, when no error is expected
		contains []string // substrings of the check_result or of the error
		wantCode int
	}{
		{name: "clean task passes", in: precheckInput{Mode: ModeAll, Sources: one("pc_clean")}, want: precheckPassed},
		{name: "all items ignored", in: precheckInput{Mode: ModeAll, Sources: one("pc_nopk"), Ignore: []string{"all"}}, want: ""},
		{name: "table without key warns", in: precheckInput{Mode: ModeAll, Sources: one("pc_nopk")},
			contains: []string{precheckMsgHeader + ": no errors but some warnings\n detail: ",
				"table `pc_nopk`.`t` primary/unique key does not exist", `"name": "table structure compatibility check"`}},
		{name: "shard column count mismatch fails",
			in: precheckInput{Mode: ModeAll, ShardMode: "pessimistic", Sources: []precheckSource{
				precheckSourceFor(t, "s1", srcDB, "pc_shard1", merged), precheckSourceFor(t, "s2", srcDB, "pc_shard2", merged)}},
			wantCode: CodePrecheckFailed,
			contains: []string{precheckMsgHeader + ": column length mismatch (self: 3 vs other: 2) (error on sharding `pc_shard_dst`.`t`)",
				"sourceID s2 table `pc_shard2`.`t2` columns [id a]"}},
		{name: "incremental meta position is checked",
			in: precheckInput{Mode: ModeIncremental, Sources: one("pc_clean"),
				Meta: map[string]TaskSourceConf{"s1": {SourceName: "s1", BinlogName: strPtr("no-such-binlog.000001")}}},
			wantCode: CodePrecheckFailed,
			contains: []string{"binlog file no-such-binlog.000001 does not exist on the source"}},
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
