package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/dm"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions}

// fuzzBodies seed the request bodies: the required bodies of the route test and DM's
// user-doc shapes.
var fuzzBodies = []string{
	"", "{}", "[]", "null", `{"task": {}}`, `{"source": {}}`,
	`{"source_name": "mysql-01", "host": "127.0.0.1", "port": 1, "user": "root", "password": "123456", "enable": true,
	  "security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]},
	  "purge": {"interval": 3600, "expires": 0, "remain_space": 15}}`,
	`{"task": {"name": "task-1", "task_mode": "all", "shard_mode": "pessimistic", "meta_schema": "dm-meta", "on_duplicate": "overwrite",
	  "target_config": {"host": "127.0.0.1", "port": 1, "user": "root", "password": "123456"},
	  "table_migrate_rule": [{"source": {"source_name": "source-1", "schema": "db-*", "table": "tb-*"}, "target": {"schema": "db1", "table": "tb1"}}],
	  "source_config": {"source_conf": [{"source_name": "source-1"}]}}}`,
	`{"task_config_file": "name: t\ntask-mode: all\n"}`,
	`{"remove_meta": true, "start_time": "2026-01-01 00:00:00"}`,
	`{"timeout_duration": "10s"}`,
}

// FuzzAPI sends arbitrary requests to every route of a real in-memory cluster: the
// answer is never a 5xx, every error carries the unified JSON body, and no request hangs.
// Seeded with every operation of the document; CI also runs it for a bounded time
// (scripts/test.sh).
func FuzzAPI(f *testing.F) {
	sp, err := loadSpec(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	for _, so := range sp.operations() {
		target, _ := concretePath(so.path)
		for i, m := range fuzzMethods {
			if m == so.method {
				f.Add(uint8(i), target, requiredBodies[so.op.OperationID])
				f.Add(uint8(i), target+"?with_status=true&force=true", fuzzBodies[len(fuzzBodies)-1-i%4])
			}
		}
	}
	for i, b := range fuzzBodies {
		f.Add(uint8(1), "/api/v1/sources", b)
		f.Add(uint8(1), "/api/v1/tasks", b)
		f.Add(uint8(i), "/api/v1/tasks/task-1/start", b)
	}
	c, err := dm.Open(context.Background(), dm.Config{Store: dm.MemoryStore()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = c.Close() })
	h := New(c, Options{})
	f.Fuzz(func(t *testing.T, m uint8, target, body string) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r, err := http.NewRequest(method, "http://dm"+target, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		r.RequestURI = target
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r = r.WithContext(ctx)
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); h.ServeHTTP(w, r) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s %s hung", method, target)
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s %q = %d: %s", method, target, body, w.Code, w.Body.String())
		}
		if w.Code >= 400 && method != http.MethodHead {
			var e struct {
				Msg  *string `json:"error_msg"`
				Code *int    `json:"error_code"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Msg == nil || e.Code == nil {
				t.Fatalf("%s %s = %d without the unified body: %q", method, target, w.Code, w.Body.String())
			}
		}
	})
}
