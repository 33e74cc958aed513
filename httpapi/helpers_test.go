package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/dm"
)

// newTestCluster opens an in-memory cluster with the default two workers.
func newTestCluster(t *testing.T) *dm.Cluster {
	t.Helper()
	c, err := dm.Open(context.Background(), dm.Config{Store: dm.MemoryStore()})
	if err != nil {
		t.Fatalf("open cluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recorded is what a recording handler saw.
type recorded struct {
	op     string
	params map[string]string
	body   []byte
	query  map[string][]string
}

// newRecordingServer mounts, for every operation, a handler that records the call and
// answers with an empty body (or with what answer returns, when set for that operation).
func newRecordingServer(t *testing.T, opts Options, answer map[string]handler) (*server, *recorded) {
	t.Helper()
	s, err := newServer(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := &recorded{}
	hs := map[string]handler{}
	for _, so := range s.spec.operations() {
		id := so.op.OperationID
		hs[id] = func(x *call) (any, error) {
			*got = recorded{op: id, params: x.params, body: x.body, query: x.r.URL.Query()}
			if h := answer[id]; h != nil {
				return h(x)
			}
			return nil, nil
		}
	}
	if err := s.mount(hs); err != nil {
		t.Fatal(err)
	}
	return s, got
}

// response is a served answer.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// send serves one request; a non-empty body is sent as JSON.
func send(t *testing.T, h http.Handler, method, target, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return serveRequest(h, r)
}

func serveRequest(h http.Handler, r *http.Request) response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return response{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// apiError asserts that r is an error answer with status want and the unified body, and
// returns that body.
func (r response) apiError(t *testing.T, want int) errorBody {
	t.Helper()
	if r.code != want {
		t.Fatalf("status = %d, want %d; body: %s", r.code, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonContentType {
		t.Errorf("Content-Type = %q, want %q", ct, jsonContentType)
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if len(raw) != 2 {
		t.Errorf("error body has keys %v, want error_msg and error_code only", raw)
	}
	msg, ok := raw["error_msg"].(string)
	if !ok || msg == "" {
		t.Errorf("error_msg = %#v, want a non-empty string", raw["error_msg"])
	}
	num, ok := raw["error_code"].(json.Number)
	if !ok {
		t.Fatalf("error_code = %#v, want an integer", raw["error_code"])
	}
	code, err := num.Int64()
	if err != nil {
		t.Fatalf("error_code = %s, want an integer", num)
	}
	return errorBody{ErrorMsg: msg, ErrorCode: int(code)}
}

// wantError asserts an error answer with status and code (code 0: any code).
func (r response) wantError(t *testing.T, status, code int, msgContains ...string) errorBody {
	t.Helper()
	e := r.apiError(t, status)
	if code != 0 && e.ErrorCode != code {
		t.Errorf("error_code = %d, want %d; error_msg: %s", e.ErrorCode, code, e.ErrorMsg)
	}
	for _, s := range msgContains {
		if !strings.Contains(e.ErrorMsg, s) {
			t.Errorf("error_msg %q does not contain %q", e.ErrorMsg, s)
		}
	}
	return e
}

// jsonBody asserts a JSON success answer with status want and decodes it into v.
func (r response) jsonBody(t *testing.T, want int, v any) {
	t.Helper()
	if r.code != want {
		t.Fatalf("status = %d, want %d; body: %s", r.code, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonContentType {
		t.Errorf("Content-Type = %q, want %q", ct, jsonContentType)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v: %s", err, r.body)
	}
}

// empty asserts a success answer with status want and no body.
func (r response) empty(t *testing.T, want int) {
	t.Helper()
	if r.code != want || len(r.body) != 0 {
		t.Fatalf("got %d with body %q, want %d with an empty body", r.code, r.body, want)
	}
}
