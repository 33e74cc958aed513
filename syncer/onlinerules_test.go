package syncer

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/filter"
)

// rulesRun is a run with online DDL on that replicates db.t, db._t_* (through t) and
// db.u only, and no store: only decisions that write nothing are exercised.
func rulesRun(t *testing.T, online bool) *run {
	t.Helper()
	ba, err := filter.NewBAList(filter.Rules{DoTables: []filter.Table{{Schema: "db", Name: "t"}, {Schema: "db", Name: "u"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Tables: ba.Match, MetaSchema: DefaultMetaSchema}
	if online {
		// The real table's rule covers its ghost and trash tables.
		cfg.OnlineDDL = filter.DefaultOnlineDDL()
		cfg.Tables = func(s, tb string) bool { _, real := cfg.OnlineDDL.Classify(tb); return ba.Match(s, real) }
	}
	cfg.withSelectionDefaults()
	r := &run{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), parser: newTestParser()}
	if online {
		r.online = &onlineStore{records: map[[2]string]*onlineRecord{}, fold: true}
	}
	return r
}

func parseParts(t *testing.T, r *run, q string) []ast.StmtNode {
	t.Helper()
	stmts, _, err := r.parser.Parse(q, "", "")
	if err != nil || len(stmts) != 1 {
		t.Fatalf("parse %q: %v", q, err)
	}
	return splitDDL(stmts[0])
}

func TestOnlineDDLDecisions(t *testing.T) {
	for _, tc := range []struct {
		q    string
		kept []string // restored statements that continue down the DDL path
		err  string
	}{
		{q: "ALTER TABLE t ADD COLUMN c INT", kept: []string{"ALTER TABLE `db`.`t` ADD COLUMN `c` INT"}},
		{q: "RENAME TABLE t TO u", kept: []string{"RENAME TABLE `db`.`t` TO `db`.`u`"}},
		{q: "RENAME TABLE t TO _t_old"},
		{q: "RENAME TABLE t TO _t_del, u TO _u_old", err: "shadow table rules"}, // DM's CheckRegex: half a cut-over
		{q: "RENAME TABLE _t_old TO t"},
		{q: "DROP TABLE IF EXISTS _t_old, _t_ghc"},
		{q: "CREATE TABLE _t_del (id INT PRIMARY KEY)"},
		{q: "TRUNCATE TABLE _t_gho"},
		{q: "CREATE TABLE db2._x_gho (id INT)"}, // real table not replicated: nothing to record
		{q: "RENAME TABLE t TO _t_gho", err: "onto the ghost table name"},
		{q: "RENAME TABLE _t_gho TO _u_new", err: "onto the ghost table name"},
		{q: "RENAME TABLE _t_old TO _t_new", err: "onto the ghost table name"},
		{q: "RENAME TABLE _t_gho TO t", err: "no CREATE or ALTER of it was seen"},
		{q: "RENAME TABLE _t_gho TO x", err: "which the task does not replicate"},
		{q: "ALTER TABLE _t_gho RENAME TO t", err: "only RENAME TABLE is supported"},
		{q: "RENAME TABLE t TO _t_old, _t_tmp TO t", err: "shadow table rules"},
		{q: "RENAME TABLE t TO t_bak, _t_new TO t", err: "trash table rules"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			r := rulesRun(t, true)
			kept, _, err := r.onlineDDL(context.Background(), parseParts(t, r, tc.q), "db", tc.q, position{"bin.000001", 4})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range kept {
				s, err := restore(k)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if strings.Join(got, "; ") != strings.Join(tc.kept, "; ") {
				t.Errorf("kept %q, want %q", got, tc.kept)
			}
		})
	}
}

// TestCheckRename: a RENAME moving a table the task does not replicate onto one it
// does is refused (with online DDL off the gh-ost/pt-osc hint is given), and so is, with
// online DDL off, one moving the task's table onto its gh-ost/pt-osc trash name; every
// other rename passes to the scope rules.
func TestCheckRename(t *testing.T) {
	for _, tc := range []struct {
		q      string
		online bool
		err    string
	}{
		{q: "RENAME TABLE x TO t", err: "moves `db`.`x`, which the task does not replicate, onto `db`.`t`"},
		{q: "ALTER TABLE x RENAME TO t", err: "onto `db`.`t`"},
		{q: "RENAME TABLE _t_gho TO t", err: "turn enhance_online_schema_change on"},
		{q: "RENAME TABLE t TO x"},
		{q: "RENAME TABLE t TO u"},
		{q: "RENAME TABLE x TO y"},
		{q: "ALTER TABLE t ADD COLUMN c INT"},
		{q: "RENAME TABLE x TO t", online: true, err: "add `db`.`x` to the task's rules"},
		{q: "RENAME TABLE t TO _t_del", err: "the target would lose the table"},
		{q: "ALTER TABLE t RENAME TO _t_old", err: "turn enhance_online_schema_change on, or add `db`.`_t_old`"},
		{q: "RENAME TABLE t TO _u_del"}, // not t's trash name: the task's table leaves the rules (dropped, issue 7)
		{q: "RENAME TABLE t TO _t_del", online: true},
	} {
		t.Run(tc.q, func(t *testing.T) {
			r := rulesRun(t, tc.online)
			var err error
			for _, p := range parseParts(t, r, tc.q) {
				qualify(p, "db")
				if err = r.checkRename(p, tc.q, position{"bin.000001", 4}); err != nil {
					break
				}
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}
