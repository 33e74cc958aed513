package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// requiredBodies are minimal valid bodies of the operations whose body is required.
var requiredBodies = map[string]string{
	"DMAPIUpdateSource":              `{"source": {"source_name": "s", "host": "h", "port": 1, "user": "u"}}`,
	"DMAPITransferSource":            `{"worker_name": "w"}`,
	"DMAPIPurgeRelay":                `{"relay_binlog_name": "mysql-bin.000001"}`,
	"DMKitOperateBinlog":             `{"op": "skip"}`,
	"DMAPIOperateTableStructure":     `{}`,
	"DMAPIOperateTableStructurePost": `{}`,
	"DMKitUnlockShardDDLLock":        `{"lock_id": "t-` + "`a`.`b`" + `", "action": "skip"}`,
}

// concretePath fills each {name} of a document path with "p-name".
func concretePath(p string) (string, map[string]string) {
	params := map[string]string{}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if name, ok := paramName(seg); ok {
			segs[i] = "p-" + name
			params[name] = "p-" + name
		}
	}
	return strings.Join(segs, "/"), params
}

// TestDocumentAndRouterAgree checks both directions: every operation of the document is
// routed to its own handler with its parameters and success status, and every other
// method on a document path is a 405 naming exactly the document's methods.
func TestDocumentAndRouterAgree(t *testing.T) {
	s, got := newRecordingServer(t, Options{}, nil)
	ops := s.spec.operations()
	dmOps := 0
	for _, so := range ops {
		id := so.op.OperationID
		switch {
		case strings.HasPrefix(id, "DMAPI"), strings.HasPrefix(id, "GetDoc"):
			dmOps++
		case strings.HasPrefix(id, "DMKit"):
		default:
			t.Errorf("operation %s: DM's operations keep DM's DMAPI* ids, dmkit's extensions are named DMKit*", id)
		}
	}
	if dmOps != 44 {
		t.Errorf("document has %d DM operations, want 44 (DM's 43 plus the POST alias of the table-schema PUT)", dmOps)
	}
	if len(s.routes) != len(ops) {
		t.Errorf("mounted %d routes for %d operations", len(s.routes), len(ops))
	}
	for _, so := range ops {
		target, params := concretePath(so.path)
		*got = recorded{}
		resp := send(t, s, so.method, target, requiredBodies[so.op.OperationID])
		if got.op != so.op.OperationID {
			t.Errorf("%s %s reached %q (status %d: %s), want %s", so.method, target, got.op, resp.code, resp.body, so.op.OperationID)
			continue
		}
		if diff := cmp.Diff(params, got.params); diff != "" {
			t.Errorf("%s %s params (-want +got):\n%s", so.method, target, diff)
		}
		status, _, _ := successStatus(so.op)
		if resp.code != status {
			t.Errorf("%s %s answered %d, want the document's %d", so.method, target, resp.code, status)
		}
	}

	// Every other method on every document path is refused with the path's methods.
	for p, item := range s.spec.doc.Paths.Map() {
		target, _ := concretePath(p)
		var allowed []string
		for _, m := range methodOrder {
			if item.GetOperation(m) != nil {
				allowed = append(allowed, m)
			}
		}
		for _, m := range append(slices.Clone(methodOrder), http.MethodHead, http.MethodOptions) {
			if slices.Contains(allowed, m) {
				continue
			}
			resp := send(t, s, m, target, "")
			if m == http.MethodHead {
				// HEAD answers carry no body; check the status and Allow only.
				if resp.code != http.StatusMethodNotAllowed {
					t.Errorf("HEAD %s = %d, want 405", target, resp.code)
				}
			} else {
				resp.wantError(t, http.StatusMethodNotAllowed, 49102, m, target)
			}
			if a := resp.header.Get("Allow"); a != strings.Join(allowed, ", ") {
				t.Errorf("%s %s: Allow = %q, want %q", m, target, a, strings.Join(allowed, ", "))
			}
		}
	}
}

func TestMountRefusesMismatchedHandlers(t *testing.T) {
	s, err := newServer(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := s.handlers()
	delete(hs, "DMAPIGetTask")
	if err := s.mount(hs); err == nil || !strings.Contains(err.Error(), "DMAPIGetTask") {
		t.Errorf("mount without DMAPIGetTask: err = %v, want it named", err)
	}

	s, _ = newServer(nil, Options{})
	hs = s.handlers()
	hs["DMAPINoSuchOperation"] = hs["DMAPIGetTask"]
	if err := s.mount(hs); err == nil || !strings.Contains(err.Error(), "DMAPINoSuchOperation") {
		t.Errorf("mount with an extra handler: err = %v, want it named", err)
	}
}

// TestTaskRoutes pins the dispatch of the paths where DM has a literal and a parameter at
// the same level: the literal path wins, then the method is checked.
func TestTaskRoutes(t *testing.T) {
	s, got := newRecordingServer(t, Options{}, nil)
	tests := []struct {
		method, target string
		op             string            // the operation reached; "" for an error
		params         map[string]string // checked when op is set
		status         int               // the error status when op is ""
		allow          string
	}{
		{method: "GET", target: "/api/v1/tasks", op: "DMAPIGetTaskList", params: map[string]string{}},
		{method: "GET", target: "/api/v1/tasks/templates", op: "DMAPIGetTaskTemplateList", params: map[string]string{}},
		{method: "POST", target: "/api/v1/tasks/templates", op: "DMAPICreateTaskTemplate", params: map[string]string{}},
		{method: "PUT", target: "/api/v1/tasks/templates", status: 405, allow: "GET, POST"},
		{method: "DELETE", target: "/api/v1/tasks/templates", status: 405, allow: "GET, POST"},
		{method: "POST", target: "/api/v1/tasks/converters", op: "DMAPIConvertTask", params: map[string]string{}},
		{method: "GET", target: "/api/v1/tasks/converters", status: 405, allow: "POST"},
		{method: "POST", target: "/api/v1/tasks/templates/import", op: "DMAPIImportTaskTemplate", params: map[string]string{}},
		{method: "GET", target: "/api/v1/tasks/templates/import", status: 405, allow: "POST"},
		{method: "GET", target: "/api/v1/tasks/templates/t1", op: "DMAPIGetTaskTemplate", params: map[string]string{"task-name": "t1"}},
		{method: "PUT", target: "/api/v1/tasks/templates/t1", op: "DMAPIUpdateTaskTemplate", params: map[string]string{"task-name": "t1"}},
		{method: "DELETE", target: "/api/v1/tasks/templates/t1", op: "DMAPIDeleteTaskTemplate", params: map[string]string{"task-name": "t1"}},
		{method: "POST", target: "/api/v1/tasks/templates/t1", status: 405, allow: "GET, PUT, DELETE"},
		{method: "GET", target: "/api/v1/tasks/templates/status", op: "DMAPIGetTaskTemplate", params: map[string]string{"task-name": "status"}},
		{method: "GET", target: "/api/v1/tasks/t1", op: "DMAPIGetTask", params: map[string]string{"task-name": "t1"}},
		{method: "POST", target: "/api/v1/tasks/t1", status: 405, allow: "GET, PUT, DELETE"},
		{method: "GET", target: "/api/v1/tasks/t1/status", op: "DMAPIGetTaskStatus", params: map[string]string{"task-name": "t1"}},
		{method: "GET", target: "/api/v1/tasks/converters/status", op: "DMAPIGetTaskStatus", params: map[string]string{"task-name": "converters"}},
		{method: "POST", target: "/api/v1/tasks/t1/start", op: "DMAPIStartTask", params: map[string]string{"task-name": "t1"}},
		{method: "POST", target: "/api/v1/tasks/t1/stop", op: "DMAPIStopTask", params: map[string]string{"task-name": "t1"}},
		{method: "PATCH", target: "/api/v1/tasks/t1/stop", status: 405, allow: "POST"},
		{method: "GET", target: "/api/v1/tasks/t1/sources/s1/schemas/db/tb", op: "DMAPIGetTableStructure",
			params: map[string]string{"task-name": "t1", "source-name": "s1", "schema-name": "db", "table-name": "tb"}},
		{method: "GET", target: "/api/v1/tasks/t1/nothing", status: 404},
		{method: "GET", target: "/api/v1/tasks/", status: 404},
		{method: "GET", target: "/api/v1/tasks/t1/", status: 404},
		{method: "GET", target: "/api/v1/tasks/t1//status", status: 404},
		{method: "PATCH", target: "/api/v1/tasks/a/b/c/d/e/f/g", status: 404},
		{method: "GET", target: "/api/v1/sources/", status: 404},
		{method: "GET", target: "/api/v1/nothing", status: 404},
		{method: "GET", target: "/", status: 404},
		{method: "GET", target: "/api/v2/tasks", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			*got = recorded{}
			resp := send(t, s, tt.method, tt.target, "")
			if tt.op == "" {
				code := map[int]int{404: 49101, 405: 49102}[tt.status]
				resp.wantError(t, tt.status, code)
				if a := resp.header.Get("Allow"); a != tt.allow {
					t.Errorf("Allow = %q, want %q", a, tt.allow)
				}
				if got.op != "" {
					t.Errorf("reached %s", got.op)
				}
				return
			}
			if got.op != tt.op {
				t.Fatalf("reached %q (status %d: %s), want %s", got.op, resp.code, resp.body, tt.op)
			}
			if diff := cmp.Diff(tt.params, got.params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPathParamsDecoded checks that escaped path parameters reach handlers decoded, on
// both the httprouter routes and the task routes.
func TestPathParamsDecoded(t *testing.T) {
	s, got := newRecordingServer(t, Options{}, nil)
	const name, escaped = "t-Ë!s`t", "t-%C3%8B%21s%60t"
	for _, tt := range []struct{ target, op, param string }{
		{"/api/v1/tasks/" + escaped, "DMAPIGetTask", "task-name"},
		{"/api/v1/tasks/" + escaped + "/status", "DMAPIGetTaskStatus", "task-name"},
		{"/api/v1/tasks/templates/" + escaped, "DMAPIGetTaskTemplate", "task-name"},
		{"/api/v1/sources/" + escaped, "DMAPIGetSource", "source-name"},
		{"/api/v1/sources/s1/schemas/" + escaped, "DMAPIGetSourceTableList", "schema-name"},
	} {
		send(t, s, http.MethodGet, tt.target, "")
		if got.op != tt.op || got.params[tt.param] != name {
			t.Errorf("GET %s reached %s with %s=%q, want %s with %q", tt.target, got.op, tt.param, got.params[tt.param], tt.op, name)
		}
	}
}
