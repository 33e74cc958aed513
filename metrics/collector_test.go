package metrics

import "testing"

func TestBinlogIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"(mysql-bin.000012, 4)", 12, true},
		{"mysql-bin.000003", 3, true},
		{"(bin.1, 1234)", 1, true},
		{"", 0, false},
		{"(nodot, 4)", 0, false},
		{"(mysql-bin.x1, 4)", 0, false},
	} {
		got, ok := binlogIndex(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("binlogIndex(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStageValueIsDMs(t *testing.T) {
	for stage, want := range map[string]float64{"New": 1, "Running": 2, "Paused": 3, "Stopped": 4, "Finished": 5, "bogus": 0} {
		if got := stageValue(stage); got != want {
			t.Errorf("stageValue(%s) = %v, want %v", stage, got, want)
		}
	}
}
