package precheck

import (
	"strings"
	"testing"

	"github.com/dmkit/dmkit/filter"
)

// TestOnlineDDLCheck: with online DDL handling on, a ghost table of a migrated table (a
// gh-ost / pt-osc run under way) fails online_ddl, the tool's tables are not checked as
// migrated tables (no "no primary key" warning for them), and the item can be ignored;
// with it off they are ordinary tables.
func TestOnlineDDLCheck(t *testing.T) {
	resetSchema(t, testSrc, "pc_onl", "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE _t_gho (id INT PRIMARY KEY)",
		"CREATE TABLE _t_ghc (hint VARCHAR(64))", "CREATE TABLE u (id INT PRIMARY KEY)")
	resetSchema(t, testSrc, "pc_onl_done", "CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE _t_old (x INT)")
	on := filter.DefaultOnlineDDL()
	src := func(schema string, o *filter.OnlineDDL, match func(string, string) bool) []Source {
		s := sourceFor("s1", testSrc.DB(t), schema, "", "")
		s.OnlineDDL = o
		if match != nil {
			s.Match = match
		}
		return []Source{s}
	}
	onlyU := func(sc, tb string) bool { return sc == "pc_onl" && tb == "u" }
	for _, tc := range []struct {
		name     string
		in       Input
		want     outcome
		contains []string
		lacks    []string
	}{
		{name: "migration under way fails", in: Input{Sources: src("pc_onl", on, nil)}, want: failed,
			contains: []string{`"name": "online ddl checker"`, "ghost tables `pc_onl`.`_t_gho` exist"},
			lacks:    []string{"`_t_ghc`"}},
		{name: "ignored", in: Input{Sources: src("pc_onl", on, nil), Ignore: []string{"online_ddl"}}, want: passed,
			lacks: []string{"online ddl checker", "_t_ghc"}},
		{name: "ghost of a table not migrated", in: Input{Sources: src("pc_onl", on, onlyU)}, want: passed},
		{name: "trash tables alone pass", in: Input{Sources: src("pc_onl_done", on, nil)}, want: passed,
			contains: []string{`"name": "online ddl checker"`}, lacks: []string{"_t_old"}},
		{name: "off: ordinary tables", in: Input{Sources: src("pc_onl", nil, nil)}, want: warned,
			contains: []string{"table `pc_onl`.`_t_ghc` primary/unique key does not exist"}, lacks: []string{"online ddl checker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := withMode(modeAll, tc.in)
			in.Target, in.ExportThreads, in.ImportThreads = testDst.DB(t), 4, 16
			got, detail := runOutcome(t, in)
			if got != tc.want {
				t.Fatalf("outcome = %d, want %d\n%s", got, tc.want, detail)
			}
			for _, s := range tc.contains {
				if !strings.Contains(detail, s) {
					t.Errorf("report lacks %q:\n%s", s, detail)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(detail, s) {
					t.Errorf("report has %q:\n%s", s, detail)
				}
			}
		})
	}
}
