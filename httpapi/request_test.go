package httpapi

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dmkit/dmkit/dm"
)

const validTask = `{"task": {
	"name": "task-1", "task_mode": "all", "shard_mode": "pessimistic", "on_duplicate": "overwrite",
	"target_config": {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "123456",
		"security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]}},
	"binlog_filter_rule": {"rule-1": {"ignore_event": ["all dml"], "ignore_sql": ["^Drop"]}},
	"table_migrate_rule": [{"source": {"source_name": "s1", "schema": "db-*", "table": "tb-*"},
		"target": {"schema": "db1", "table": "tb1"}, "binlog_filter_rule": ["rule-1"]}],
	"source_config": {"full_migrate_conf": {"export_threads": 4, "import_threads": 16, "data_dir": "./exported_data", "consistency": "auto"},
		"incr_migrate_conf": {"repl_threads": 16, "repl_batch": 100},
		"source_conf": [{"source_name": "s1", "binlog_name": "binlog.000001", "binlog_pos": 4}]}
}}`

// TestRequestBodyValidation covers the body pipeline: size, content type, JSON syntax and
// the document's schemas. Valid requests reach the handler with the body untouched.
func TestRequestBodyValidation(t *testing.T) {
	s, got := newRecordingServer(t, Options{}, nil)
	tests := []struct {
		name, method, target, body string
		contentType                string // default application/json when body is set
		wantOp                     string // reached; "" means a 400 49100 containing wantMsg
		wantMsg                    []string
	}{
		{name: "user doc task", method: "POST", target: "/api/v1/tasks", body: validTask, wantOp: "DMAPICreateTask"},
		{name: "empty optional body", method: "POST", target: "/api/v1/tasks", wantOp: "DMAPICreateTask"},
		{name: "blank optional body", method: "POST", target: "/api/v1/tasks", body: " \n\t", wantOp: "DMAPICreateTask"},
		{name: "unknown fields ignored", method: "POST", target: "/api/v1/sources/s1/relay/enable",
			body: `{"worker_name_list": ["w1"], "purge": {"interval": 1}, "case_sensitive": false}`, wantOp: "DMAPIEnableRelay"},
		{name: "charset parameter", method: "POST", target: "/api/v1/tasks/converters", body: `{}`,
			contentType: "application/json; charset=utf-8", wantOp: "DMAPIConvertTask"},
		{name: "response-only fields ignored", method: "PUT", target: "/api/v1/sources/s1",
			body: `{"source": {"source_name": "s1", "host": "h", "port": 1, "user": "u", "task_name_list": ["t"], "status_list": []}}`, wantOp: "DMAPIUpdateSource"},
		{name: "enum", method: "POST", target: "/api/v1/tasks",
			body:    strings.Replace(validTask, `"pessimistic"`, `"pessimist"`, 1),
			wantMsg: []string{`request body: /task/shard_mode: value is not one of the allowed values ["pessimistic","optimistic"]`}},
		{name: "on_duplicate enum", method: "POST", target: "/api/v1/tasks",
			body:    strings.Replace(validTask, `"overwrite"`, `"upsert"`, 1),
			wantMsg: []string{"/task/on_duplicate", `"overwrite"`}},
		{name: "type", method: "POST", target: "/api/v1/tasks",
			body: strings.Replace(validTask, `"port": 3306`, `"port": "3306"`, 1), wantMsg: []string{"request body: /task/target_config/port: value must be an integer"}},
		// Issue 11: DM's spec requires on_duplicate.
		{name: "on_duplicate required", method: "POST", target: "/api/v1/tasks",
			body: strings.Replace(validTask, `"on_duplicate": "overwrite",`, "", 1), wantMsg: []string{`request body: /task: property "on_duplicate" is missing`}},
		{name: "nested required", method: "POST", target: "/api/v1/tasks",
			body: strings.Replace(validTask, `"task_mode": "all",`, "", 1), wantMsg: []string{`request body: /task: property "task_mode" is missing`}},
		{name: "session is closed", method: "POST", target: "/api/v1/tasks",
			body:    strings.Replace(validTask, `"password": "123456",`, `"password": "123456", "session": {"sql_mode": ""},`, 1),
			wantMsg: []string{"/task/target_config/session", "sql_mode"}},
		{name: "array item", method: "POST", target: "/api/v1/tasks/t1/start",
			body: `{"source_name_list": ["s1", 2]}`, wantMsg: []string{"request body: /source_name_list/1: value must be a string"}},
		{name: "required body missing", method: "PUT", target: "/api/v1/sources/s1",
			wantMsg: []string{"request body is required", "UpdateSourceRequest"}},
		{name: "required body blank", method: "POST", target: "/api/v1/sources/s1/transfer", body: "  ",
			wantMsg: []string{"request body is required", "WorkerNameRequest"}},
		{name: "required property", method: "POST", target: "/api/v1/sources/s1/transfer", body: `{}`,
			wantMsg: []string{`request body: property "worker_name" is missing`}},
		{name: "purge required", method: "POST", target: "/api/v1/sources/s1/relay/purge", wantMsg: []string{"request body is required"}},
		{name: "table PUT required", method: "PUT", target: "/api/v1/tasks/t/sources/s/schemas/d/tb", wantMsg: []string{"request body is required"}},
		{name: "table POST required", method: "POST", target: "/api/v1/tasks/t/sources/s/schemas/d/tb", wantMsg: []string{"request body is required"}},
		{name: "table schema_source enum", method: "PUT", target: "/api/v1/tasks/t/sources/s/schemas/d/tb",
			body: `{"schema_source": "file"}`, wantMsg: []string{"/schema_source", "downstream"}},
		{name: "malformed JSON", method: "POST", target: "/api/v1/tasks", body: "{\n  \"task\": {,\n}",
			wantMsg: []string{"request body is not valid JSON", "(line 2, column 12)"}},
		{name: "trailing comma", method: "POST", target: "/api/v1/tasks", body: `{"task": {"name": "t",}}`,
			wantMsg: []string{"request body is not valid JSON"}},
		{name: "trailing data", method: "POST", target: "/api/v1/tasks", body: `{} {}`,
			wantMsg: []string{"request body is not valid JSON"}},
		{name: "not an object", method: "POST", target: "/api/v1/tasks", body: `[1]`,
			wantMsg: []string{"request body: value must be an object"}},
		{name: "form content type", method: "POST", target: "/api/v1/tasks", body: validTask,
			contentType: "application/x-www-form-urlencoded", wantMsg: []string{"Content-Type", "application/json"}},
		{name: "no content type", method: "POST", target: "/api/v1/tasks", body: validTask,
			contentType: "-", wantMsg: []string{"Content-Type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := httptest.NewRequest(tt.method, tt.target, body)
			switch {
			case tt.contentType == "-":
			case tt.contentType != "":
				r.Header.Set("Content-Type", tt.contentType)
			case tt.body != "":
				r.Header.Set("Content-Type", "application/json")
			}
			*got = recorded{}
			resp := serveRequest(s, r)
			if tt.wantOp == "" {
				resp.wantError(t, http.StatusBadRequest, dm.CodeInvalidRequest, tt.wantMsg...)
				if got.op != "" {
					t.Errorf("an invalid request reached %s", got.op)
				}
				return
			}
			if got.op != tt.wantOp {
				t.Fatalf("reached %q, want %s; answer %d: %s", got.op, tt.wantOp, resp.code, resp.body)
			}
			if strings.TrimSpace(tt.body) == "" {
				if got.body != nil {
					t.Errorf("an empty body reached the handler as %q, want nil", got.body)
				}
			} else if string(got.body) != tt.body {
				t.Errorf("handler got body %q, want it unchanged", got.body)
			}
		})
	}
}

// TestCreateSourceBodies checks that both bodies of create source validate against their
// own shape and decode to the same request.
func TestCreateSourceBodies(t *testing.T) {
	var req dm.CreateSourceRequest
	s, _ := newRecordingServer(t, Options{}, map[string]handler{
		"DMAPICreateSource": func(x *call) (any, error) {
			var err error
			req, err = decodeCreateSource(x)
			return nil, err
		},
	})
	flat := `{"source_name": "mysql-01", "host": "127.0.0.1", "port": 3306, "user": "root", "password": "123456", "enable": true,
		"security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]},
		"purge": {"interval": 3600, "expires": 0, "remain_space": 15}}`
	pw := "123456"
	enable := true
	wantSource := &dm.Source{SourceName: "mysql-01", Host: "127.0.0.1", Port: 3306, User: "root", Password: &pw, Enable: &enable,
		Security: &dm.Security{CertAllowedCN: []string{"string"}},
		Purge:    &dm.Purge{Interval: ptr[int64](3600), Expires: ptr[int64](0), RemainSpace: ptr[int64](15)}}

	for _, tt := range []struct {
		name, body string
		want       dm.CreateSourceRequest
	}{
		{"flat", flat, dm.CreateSourceRequest{Source: wantSource}},
		{"wrapped", `{"source": ` + flat + `, "worker_name": "worker2"}`, dm.CreateSourceRequest{Source: wantSource, WorkerName: "worker2"}},
		{"empty", "", dm.CreateSourceRequest{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req = dm.CreateSourceRequest{}
			send(t, s, http.MethodPost, "/api/v1/sources", tt.body).empty(t, http.StatusCreated)
			if diff := cmp.Diff(tt.want, req); diff != "" {
				t.Errorf("decoded request (-want +got):\n%s", diff)
			}
		})
	}

	for _, tt := range []struct{ name, body, msg string }{
		{"flat missing host", `{"source_name": "s", "port": 1, "user": "u"}`, `request body: property "host" is missing`},
		{"wrapped missing port", `{"source": {"source_name": "s", "host": "h", "user": "u"}}`, `request body: /source: property "port" is missing`},
		{"wrapped bad type", `{"source": {"source_name": "s", "host": "h", "port": "1", "user": "u"}}`, `request body: /source/port: value must be an integer`},
		{"flat bad type", `{"source_name": "s", "host": "h", "port": 1, "user": "u", "enable": "yes"}`, `request body: /enable: value must be a boolean`},
		{"source not an object", `{"source": "s"}`, `property "source_name" is missing`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			send(t, s, http.MethodPost, "/api/v1/sources", tt.body).wantError(t, http.StatusBadRequest, dm.CodeInvalidRequest, tt.msg)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestBodyTooLarge(t *testing.T) {
	s, got := newRecordingServer(t, Options{MaxBodyBytes: 64}, nil)
	big := `{"task": {"name": "` + strings.Repeat("x", 100) + `"}}`

	// Content-Length known up front.
	send(t, s, http.MethodPost, "/api/v1/tasks", big).wantError(t, http.StatusRequestEntityTooLarge, dm.CodeBodyTooLarge, "64 bytes")

	// Chunked: the limit is found while reading.
	r := httptest.NewRequest(http.MethodPost, "/api/v1/tasks", io.MultiReader(strings.NewReader(big)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	serveRequest(s, r).wantError(t, http.StatusRequestEntityTooLarge, dm.CodeBodyTooLarge)
	if got.op != "" {
		t.Errorf("an oversized request reached %s", got.op)
	}

	// At the limit is fine.
	atLimit := `{"task_config_file": "` + strings.Repeat("x", 64-24) + `"}`
	if len(atLimit) != 64 {
		t.Fatalf("test body is %d bytes", len(atLimit))
	}
	send(t, s, http.MethodPost, "/api/v1/tasks/converters", atLimit).empty(t, http.StatusOK)
}

func TestQueryParameters(t *testing.T) {
	s, got := newRecordingServer(t, Options{}, map[string]handler{
		// Exercise the handlers' own parsing as well.
		"DMAPIDeleteTask": func(x *call) (any, error) {
			force, keep := x.boolQuery("force"), x.optBoolQuery("keep_meta")
			if x.err != nil {
				return nil, x.err
			}
			if force && (keep == nil || !*keep) {
				return nil, nil
			}
			return nil, dm.NewError(dm.CodeOpenAPICommon, "force=%v keep_meta=%v", force, keep)
		},
	})
	tests := []struct {
		method, target string
		wantOp         string
		wantMsg        []string
	}{
		{"DELETE", "/api/v1/tasks/t?force=true", "DMAPIDeleteTask", nil},
		{"DELETE", "/api/v1/tasks/t?force=1&keep_meta=false", "DMAPIDeleteTask", nil},
		{"DELETE", "/api/v1/tasks/t?force=abc", "", []string{`query parameter "force"`, "abc"}},
		{"DELETE", "/api/v1/tasks/t?force=true&keep_meta=maybe", "", []string{`query parameter "keep_meta"`}},
		{"DELETE", "/api/v1/sources/s?force=abc", "", []string{`query parameter "force"`}},
		{"GET", "/api/v1/sources?with_status=", "", []string{`query parameter "with_status"`}},
		{"GET", "/api/v1/sources?enable_relay=yes", "", []string{`query parameter "enable_relay"`}},
		{"GET", "/api/v1/sources?with_status=true&enable_relay=false", "DMAPIGetSourceList", nil},
		{"GET", "/api/v1/tasks/t?with_status=nope", "", []string{`query parameter "with_status"`}},
		{"GET", "/api/v1/tasks?stage=Running", "DMAPIGetTaskList", nil},
		{"GET", "/api/v1/tasks?stage=running", "", []string{`query parameter "stage"`, `"Running"`}},
		{"GET", "/api/v1/tasks?stage=Unknown", "", []string{`query parameter "stage"`}},
		{"GET", "/api/v1/tasks?source_name_list=a&source_name_list=b", "DMAPIGetTaskList", nil},
		// The user doc sends stage to the status endpoint, where it is not a parameter.
		{"GET", "/api/v1/tasks/task-1/status?stage=running", "DMAPIGetTaskStatus", nil},
		{"GET", "/api/v1/tasks/t/sources/s/migrate_targets?schema_pattern=db.*&table_pattern=t.*", "DMAPIGetTaskMigrateTargets", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			*got = recorded{}
			resp := send(t, s, tt.method, tt.target, "")
			if tt.wantOp == "" {
				resp.wantError(t, http.StatusBadRequest, dm.CodeInvalidRequest, tt.wantMsg...)
				return
			}
			if got.op != tt.wantOp || resp.code >= 300 {
				t.Fatalf("reached %q with %d: %s, want %s", got.op, resp.code, resp.body, tt.wantOp)
			}
		})
	}
	send(t, s, "GET", "/api/v1/tasks?source_name_list=a&source_name_list=b", "")
	if diff := cmp.Diff([]string{"a", "b"}, got.query["source_name_list"]); diff != "" {
		t.Errorf("source_name_list (-want +got):\n%s", diff)
	}
}

// TestErrorMapping checks the one place errors become answers, and panic recovery.
func TestErrorMapping(t *testing.T) {
	notFound := dm.NewError(dm.CodeSourceNotFound, "source config with ID %s not exists", "s")
	notFound.Status = http.StatusNotFound
	var logs bytes.Buffer
	s, _ := newRecordingServer(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, map[string]handler{
		"DMAPIGetSource": func(*call) (any, error) { return nil, notFound },
		"DMAPIGetTask": func(*call) (any, error) {
			return nil, dm.NewError(dm.CodeTaskNotFound, "task with name %s not exist", "t-Ë!s`t")
		},
		"DMAPIGetSourceStatus": func(*call) (any, error) { return nil, errors.New("boom") },
		"DMAPIGetTaskStatus":   func(*call) (any, error) { panic("handler bug") },
		"DMAPIStartTask": func(*call) (any, error) {
			return nil, &dm.Error{Message: "while converting task command line arguments: bad start-time"}
		},
		"DMAPIGetSourceList": func(*call) (any, error) {
			return dm.List[dm.Source]{Total: 1, Data: []dm.Source{{SourceName: "<s&1>"}}}, nil
		},
	})

	send(t, s, "GET", "/api/v1/sources/s", "").wantError(t, http.StatusNotFound, dm.CodeSourceNotFound, "[code=46008:", "source config with ID s not exists")
	send(t, s, "GET", "/api/v1/tasks/t", "").wantError(t, http.StatusBadRequest, dm.CodeTaskNotFound, "task with name t-Ë!s`t not exist")
	send(t, s, "POST", "/api/v1/tasks/t/start", "").wantError(t, http.StatusBadRequest, 0, "while converting")
	send(t, s, "GET", "/api/v1/sources/s/status", "").wantError(t, http.StatusInternalServerError, dm.CodeInternal, "internal error: boom")
	send(t, s, "GET", "/api/v1/tasks/t/status", "").wantError(t, http.StatusInternalServerError, dm.CodeInternal, "GET /api/v1/tasks/t/status")
	if !strings.Contains(logs.String(), "handler bug") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
	// The server keeps serving after a panic.
	resp := send(t, s, "GET", "/api/v1/sources", "")
	var list dm.List[dm.Source]
	resp.jsonBody(t, http.StatusOK, &list)
	want := "{\n    \"total\": 1,\n    \"data\": [\n        {\n            \"source_name\": \"<s&1>\","
	if !strings.HasPrefix(string(resp.body), want) {
		t.Errorf("body is not 4-space indented JSON with HTML left alone:\n%s", resp.body)
	}
}

// TestSecretsNotLogged sends passwords through every body-carrying source route with debug
// logging on and checks that they never reach the log.
func TestSecretsNotLogged(t *testing.T) {
	var logs bytes.Buffer
	h := New(newTestCluster(t), Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	const secret = "s3cr3t-Pa55"
	src := `{"source_name": "s1", "host": "127.0.0.1", "port": 1, "user": "root", "password": "` + secret + `"}`
	send(t, h, "POST", "/api/v1/sources", src)
	send(t, h, "PUT", "/api/v1/sources/s1", `{"source": `+src+`}`)
	send(t, h, "POST", "/api/v1/tasks", strings.Replace(validTask, "123456", secret, 1))
	if logs.Len() == 0 {
		t.Fatal("nothing was logged at debug level")
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a password reached the log:\n%s", logs.String())
	}
}

// TestCallDecoding covers the handlers' own decoding, which backs up the validator.
func TestCallDecoding(t *testing.T) {
	x := &call{r: httptest.NewRequest(http.MethodGet, "/?a=true&b=abc", nil), body: []byte(`{"worker_name": 3}`)}
	if !x.boolQuery("a") || x.optBoolQuery("missing") != nil || x.err != nil {
		t.Fatalf("valid booleans: err = %v", x.err)
	}
	x.boolQuery("b")
	if dm.ErrorCode(x.err) != dm.CodeInvalidRequest || !strings.Contains(x.err.Error(), `"b"`) {
		t.Errorf("invalid boolean: err = %v", x.err)
	}
	var req dm.WorkerNameRequest
	err := x.decode(&req)
	if dm.ErrorCode(err) != dm.CodeInvalidRequest || !strings.Contains(err.Error(), "/worker_name") {
		t.Errorf("type mismatch: err = %v", err)
	}
}

// Issue 11: a malformed query string is a 400, not silently an absent parameter.
func TestMalformedQueryString(t *testing.T) {
	h := New(newTestCluster(t), Options{})
	for _, target := range []string{"/api/v1/sources?with_status=%zz", "/api/v1/tasks?with_status=%zz", "/api/v1/sources?with_status=maybe"} {
		send(t, h, http.MethodGet, target, "").wantError(t, http.StatusBadRequest, 49100)
	}
	var list map[string]any
	send(t, h, http.MethodGet, "/api/v1/sources?with_status=true", "").jsonBody(t, http.StatusOK, &list)
}

// Issue 11: a create-source body whose "source" is not an object is refused, not taken
// for a flat source with an unknown field.
func TestCreateSourceBodyShape(t *testing.T) {
	h := New(newTestCluster(t), Options{})
	for _, body := range []string{`{"source": 5}`, `{"source": "x", "source_name": "s"}`, `{"source": null}`} {
		send(t, h, http.MethodPost, "/api/v1/sources", body).wantError(t, http.StatusBadRequest, 49100)
	}
}
