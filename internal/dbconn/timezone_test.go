package dbconn

import (
	"testing"
	"time"
)

func TestTimeZone(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		offset   int
		ok       bool
	}{
		{"", "+00:00", 0, true},
		{"+00:00", "+00:00", 0, true},
		{"-00:00", "+00:00", 0, true},
		{"+08:00", "+08:00", 8 * 3600, true},
		{"-05:30", "-05:30", -(5*3600 + 30*60), true},
		{"Asia/Shanghai", "", 0, false},
		{"+8:00", "", 0, false},
		{"+15:00", "", 0, false},
		{"+08:60", "", 0, false},
	} {
		got, loc, err := TimeZone(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("TimeZone(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		_, off := time.Now().In(loc).Zone()
		if got != tt.want || off != tt.offset {
			t.Errorf("TimeZone(%q) = %q (offset %d), want %q (%d)", tt.in, got, off, tt.want, tt.offset)
		}
	}
}
