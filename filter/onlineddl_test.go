package filter

import (
	"strings"
	"testing"
)

func TestOnlineDDLClassify(t *testing.T) {
	o := DefaultOnlineDDL()
	for _, tc := range []struct {
		table string
		kind  TableKind
		real  string
	}{
		{"t", RealTable, "t"},
		{"_t_gho", GhostTable, "t"},
		{"_t_new", GhostTable, "t"},
		{"_t_ghc", TrashTable, "t"},
		{"_t_del", TrashTable, "t"},
		{"_t_old", TrashTable, "t"},
		{"_my_table_gho", GhostTable, "my_table"},
		{"__t_new", GhostTable, "_t"}, // pt-osc's prefix for long names: DM's regexp takes it as is
		{"t_gho", RealTable, "t_gho"},
		{"_t_gho_x", RealTable, "_t_gho_x"},
		{"__gho", RealTable, "__gho"},
		{"", RealTable, ""},
	} {
		kind, real := o.Classify(tc.table)
		if kind != tc.kind || real != tc.real {
			t.Errorf("Classify(%q) = %v, %q; want %v, %q", tc.table, kind, real, tc.kind, tc.real)
		}
	}
	var off *OnlineDDL
	if k, real := off.Classify("_t_gho"); k != RealTable || real != "_t_gho" {
		t.Errorf("nil OnlineDDL: Classify = %v, %q; want a real table", k, real)
	}
}

func TestNewOnlineDDLRules(t *testing.T) {
	o, err := NewOnlineDDL([]string{`_(.+)_shadow`}, []string{`^_(.+)_trash$`})
	if err != nil {
		t.Fatal(err)
	}
	if k, real := o.Classify("_t_shadow"); k != GhostTable || real != "t" {
		t.Errorf("custom shadow rule: %v %q", k, real)
	}
	if k, _ := o.Classify("x_t_shadow"); k != RealTable {
		t.Errorf("custom rules are anchored: x_t_shadow is %v", k)
	}
	if k, _ := o.Classify("_t_gho"); k != RealTable {
		t.Errorf("custom rules replace the defaults: _t_gho is %v", k)
	}
	for _, tc := range []struct {
		shadow []string
		want   string
	}{
		{[]string{`_(.+)_(new|gho)`}, "exactly one capture group"},
		{[]string{`_.+_new`}, "exactly one capture group"},
		{[]string{`_(.+_new`}, "not a valid regular expression"},
	} {
		if _, err := NewOnlineDDL(tc.shadow, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewOnlineDDL(%q) error %v, want %q", tc.shadow, err, tc.want)
		}
	}
}

func TestRealTables(t *testing.T) {
	all := func(string, string) bool { return true }
	sel := DefaultOnlineDDL().RealTables(all)
	for table, want := range map[string]bool{"t": true, "": true, "_t_gho": false, "_t_old": false, "_t_ghc": false} {
		if got := sel("db", table); got != want {
			t.Errorf("RealTables(%q) = %v, want %v", table, got, want)
		}
	}
	var off *OnlineDDL
	if !off.RealTables(all)("db", "_t_gho") {
		t.Error("with online DDL off, ghost tables are ordinary tables")
	}
}
