package filter

import "testing"

func TestIsSystemSchema(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"mysql", true},
		{"INFORMATION_SCHEMA", true},
		{"performance_schema", true},
		{"Sys", true},
		{"metrics_schema", true},
		{"INSPECTION_SCHEMA", true},
		{"dm_heartbeat", true},
		{"db-name", false},
		{"mysql2", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSystemSchema(tt.name); got != tt.want {
			t.Errorf("IsSystemSchema(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
