package precheck

import "testing"

func TestParseServerVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    version
		wantErr bool
	}{
		{in: "10.11.6-MariaDB-log", want: version{10, 11, 6}},
		{in: "5.7.18-log", want: version{5, 7, 18}},
		{in: "8.0.36", want: version{8, 0, 36}},
		{in: "8.0", wantErr: true},
		{in: "x.y.z", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("parseVersion(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestItemsToRun(t *testing.T) {
	if got := itemsToRun([]string{"version", "all"}); got != nil {
		t.Errorf("ignoring all: got %v", got)
	}
	got := itemsToRun([]string{"binlog_format", "no_such_item"})
	if got[itemBinlogFormat] || !got[itemVersion] || !got[itemTableSchema] {
		t.Errorf("got %v", got)
	}
}
