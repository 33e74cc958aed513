package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/dm"
)

// TestRequestLog: every refusal is one INFO line carrying its code and reason, bounded in
// size, with no attribute twice and no request body; the Observe hook sees the operation.
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var observed []string
	s, _ := newRecordingServer(t, Options{Logger: log, Observe: func(op string, status int, _ time.Duration) {
		observed = append(observed, op)
	}}, map[string]handler{
		"DMAPIGetTask": func(*call) (any, error) {
			return nil, dm.NewError(dm.CodeTaskNotFound, "task %s has not been created; %s", "t1", strings.Repeat("long ", 2000))
		},
	})
	secret := `"password": "hunter2"`
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/api/v1/tasks/t1", ""},
		{"GET", "/api/v1/nope", ""},
		{"POST", "/api/v1/sources", `{"source_name": 5, ` + secret + `}`},
	} {
		send(t, s, rq.method, rq.path, rq.body)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 refused requests:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		if len(line) > 2048 {
			t.Errorf("line %d is %d bytes", i, len(line))
		}
		if strings.Contains(line, "hunter2") {
			t.Errorf("line %d logs the request body: %s", i, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if m["level"] != "INFO" || m["error_code"] == nil || m["error"] == "" {
			t.Errorf("line %d lacks the reason at INFO: %s", i, line)
		}
		// slog's JSON handler writes a repeated attribute twice: count keys in the text.
		for k := range m {
			if n := strings.Count(line, `"`+k+`":`); n != 1 {
				t.Errorf("line %d has %s %d times", i, k, n)
			}
		}
	}
	if want := fmt.Sprintf(`"error_code":%d`, dm.CodeTaskNotFound); !strings.Contains(lines[0], "has not been created") || !strings.Contains(lines[0], want) {
		t.Errorf("first line lacks the reason or %s: %s", want, lines[0])
	}
	if len(observed) != 3 || observed[0] != "DMAPIGetTask" || observed[1] != "" || observed[2] != "DMAPICreateSource" {
		t.Errorf("observed operations %q", observed)
	}
}
