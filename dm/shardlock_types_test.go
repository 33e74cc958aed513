package dm

import "testing"

func TestColTypeOrder(t *testing.T) {
	tests := []struct {
		from, to     string
		same, widens bool
	}{
		{"int(11)", "int", true, false},
		{"int(11)", "bigint(20)", false, true},
		{"bigint(20)", "int(11)", false, false},
		{"int(11) unsigned", "bigint(20)", false, false},
		{"varchar(20)", "varchar(40)", false, true},
		{"varchar(40)", "varchar(20)", false, false},
		{"char(10)", "varchar(10)", false, false},
		{"decimal(10,2)", "decimal(12,2)", false, true},
		{"decimal(10,2)", "decimal(10,3)", false, false},
		{"decimal(10,2)", "decimal(12,4)", false, true},
		{"float", "double", false, true},
		{"text", "mediumtext", false, true},
		{"text", "varchar(100)", false, false},
		{"enum('a','b')", "enum('a','b')", true, false},
		{"enum('a','b')", "enum('a','b','c')", false, false},
		{"datetime", "timestamp", false, false},
	}
	for _, tt := range tests {
		a, b := parseColType(tt.from), parseColType(tt.to)
		if got := a.same(b); got != tt.same {
			t.Errorf("%s same as %s = %v, want %v", tt.from, tt.to, got, tt.same)
		}
		if got := a.widens(b); got != tt.widens {
			t.Errorf("%s widened by %s = %v, want %v", tt.from, tt.to, got, tt.widens)
		}
	}
}
