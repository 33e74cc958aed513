package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/dm"
)

// bareTask is validTask's task without the wrapper, as templates take it. Its target port
// is 1, where nothing listens, so that nothing here depends on a database.
var bareTask = func() string {
	var req map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validTask), &req); err != nil {
		panic(err)
	}
	return strings.Replace(string(req["task"]), `"port": 3306`, `"port": 1`, 1)
}()

// TestEveryRoute drives every operation through New with a real in-memory cluster and no
// database: statuses, success shapes and error bodies. Errors produced by the dm layer are
// checked for their status, their unified shape and, where API.md fixes it, their code.
func TestEveryRoute(t *testing.T) {
	h := New(newTestCluster(t), Options{})
	const utf8Name, utf8Escaped = "t-Ë!s`t", "t-%C3%8B%21s%60t"
	unreachable := `{"source_name": "s1", "host": "127.0.0.1", "port": 1, "user": "root", "password": "pw"}`

	type list struct {
		Total *int              `json:"total"`
		Data  []json.RawMessage `json:"data"`
	}
	wantList := func(n int) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			var l list
			r.jsonBody(t, http.StatusOK, &l)
			if l.Total == nil || *l.Total != n || len(l.Data) != n || l.Data == nil {
				t.Errorf("list = %s, want {total: %d, data: [%d items]}", r.body, n, n)
			}
		}
	}
	wantErr := func(status, code int, msg ...string) func(*testing.T, response) {
		return func(t *testing.T, r response) { r.wantError(t, status, code, msg...) }
	}

	tests := []struct {
		name, method, target, body string
		check                      func(*testing.T, response)
	}{
		{"docs", "GET", "/api/v1/docs", "", func(t *testing.T, r response) {
			if r.code != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(string(r.body), "DMAPICreateTask") {
				t.Errorf("docs page: %d %q", r.code, r.header.Get("Content-Type"))
			}
		}},
		{"dm.json", "GET", "/api/v1/dm.json", "", func(t *testing.T, r response) {
			var doc struct {
				OpenAPI string                    `json:"openapi"`
				Paths   map[string]map[string]any `json:"paths"`
			}
			r.jsonBody(t, 200, &doc)
			sp, err := loadSpec(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if doc.OpenAPI == "" || len(doc.Paths) != sp.doc.Paths.Len() {
				t.Errorf("dm.json: openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
			}
		}},

		{"cluster info", "GET", "/api/v1/cluster/info", "", func(t *testing.T, r response) {
			var info dm.ClusterInfo
			r.jsonBody(t, 200, &info)
			if info.ClusterID == 0 || info.Topology != nil {
				t.Errorf("cluster info = %s, want a cluster id and no topology", r.body)
			}
		}},
		{"cluster info bad body", "PUT", "/api/v1/cluster/info", `{"master_topology_list": [{"host": "h"}]}`,
			wantErr(400, dm.CodeInvalidRequest, `/master_topology_list/0: property "port" is missing`)},
		{"cluster info put", "PUT", "/api/v1/cluster/info", `{"master_topology_list": [{"name": "m1", "host": "127.0.0.1", "port": 18261}]}`,
			func(t *testing.T, r response) {
				var info dm.ClusterInfo
				r.jsonBody(t, 200, &info)
				if info.ClusterID == 0 || info.Topology == nil || len(info.Topology.MasterTopologyList) != 1 {
					t.Errorf("cluster info = %s, want the stored topology", r.body)
				}
			}},
		{"dm.json server from topology", "GET", "/api/v1/dm.json", "", func(t *testing.T, r response) {
			var doc struct {
				Servers []struct{ URL string } `json:"servers"`
			}
			r.jsonBody(t, 200, &doc)
			if len(doc.Servers) != 1 || doc.Servers[0].URL != "http://127.0.0.1:18261" {
				t.Errorf("servers = %+v, want the first master of the topology", doc.Servers)
			}
		}},
		{"masters", "GET", "/api/v1/cluster/masters", "", wantList(1)},
		{"offline unknown master", "DELETE", "/api/v1/cluster/masters/nope", "", wantErr(400, dm.CodeMasterNotFound, "nope")},
		{"workers", "GET", "/api/v1/cluster/workers", "", wantList(2)},
		{"offline unknown worker", "DELETE", "/api/v1/cluster/workers/nope", "", wantErr(400, dm.CodeWorkerNotFound, "nope")},
		{"offline online worker", "DELETE", "/api/v1/cluster/workers/worker1", "", wantErr(400, 0, "worker1")},

		{"create source flat", "POST", "/api/v1/sources", unreachable, wantErr(400, 0, "s1")},
		{"create source wrapped", "POST", "/api/v1/sources", `{"source": ` + unreachable + `, "worker_name": "worker1"}`, wantErr(400, 0, "s1")},
		{"create source no body", "POST", "/api/v1/sources", "", wantErr(400, 0)},
		{"sources", "GET", "/api/v1/sources?with_status=true", "", wantList(0)},
		{"sources relay filter", "GET", "/api/v1/sources?enable_relay=true", "", wantList(0)},
		{"source unknown", "GET", "/api/v1/sources/nope?with_status=true", "", wantErr(404, dm.CodeSourceNotFound, "nope")},
		{"update source unknown", "PUT", "/api/v1/sources/nope", `{"source": ` + unreachable + `}`, wantErr(400, 0)},
		{"delete source unknown", "DELETE", "/api/v1/sources/nope?force=true", "", wantErr(400, dm.CodeSourceNotFound, "nope")},
		{"source status unknown", "GET", "/api/v1/sources/nope/status", "", wantErr(400, dm.CodeSourceNotFound)},
		{"enable source unknown", "POST", "/api/v1/sources/nope/enable", "", wantErr(400, dm.CodeSourceNotFound)},
		{"disable source unknown", "POST", "/api/v1/sources/nope/disable", "", wantErr(400, dm.CodeSourceNotFound)},
		{"transfer unknown", "POST", "/api/v1/sources/nope/transfer", `{"worker_name": "worker1"}`, wantErr(400, dm.CodeSourceNotFound)},
		{"relay enable unknown", "POST", "/api/v1/sources/nope/relay/enable", `{"worker_name_list": ["worker1"], "relay_dir": "./relay_log"}`, wantErr(400, dm.CodeSourceNotFound)},
		{"relay disable unknown", "POST", "/api/v1/sources/nope/relay/disable", "", wantErr(400, dm.CodeSourceNotFound)},
		{"relay purge unknown", "POST", "/api/v1/sources/nope/relay/purge", `{"relay_binlog_name": "mysql-bin.000002", "relay_dir": "string"}`, wantErr(400, 0, "nope")},
		{"source schemas unknown", "GET", "/api/v1/sources/nope/schemas", "", wantErr(400, dm.CodeSourceNotFound)},
		{"source tables unknown", "GET", "/api/v1/sources/nope/schemas/db1", "", wantErr(400, dm.CodeSourceNotFound)},

		{"create task", "POST", "/api/v1/tasks", `{"task": ` + bareTask + `}`, wantErr(400, 0)},
		{"create task no body", "POST", "/api/v1/tasks", "", wantErr(400, 0)},
		{"tasks", "GET", "/api/v1/tasks", "", wantList(0)},
		{"tasks filtered", "GET", "/api/v1/tasks?with_status=true&stage=Running&source_name_list=a&source_name_list=b", "", wantList(0)},
		{"task unknown", "GET", "/api/v1/tasks/" + utf8Escaped + "?with_status=true", "", wantErr(400, dm.CodeTaskNotFound, utf8Name)},
		{"update task unknown", "PUT", "/api/v1/tasks/nope", `{"task": ` + bareTask + `}`, wantErr(400, 0)},
		{"delete task unknown", "DELETE", "/api/v1/tasks/nope?force=true&keep_meta=true", "", wantErr(400, dm.CodeTaskNotFound)},
		{"task status unknown", "GET", "/api/v1/tasks/" + utf8Escaped + "/status?source_name_list=s1", "", wantErr(400, dm.CodeTaskNotFound, utf8Name)},
		{"shard locks of unknown task", "GET", "/api/v1/tasks/nope/shard-ddl-locks", "", wantErr(400, dm.CodeTaskNotFound, "nope")},
		{"unlock in unknown task", "POST", "/api/v1/tasks/nope/shard-ddl-locks/unlock", `{"lock_id": "x", "action": "exec"}`, wantErr(400, dm.CodeTaskNotFound, "nope")},
		{"unlock bad action", "POST", "/api/v1/tasks/nope/shard-ddl-locks/unlock", `{"lock_id": "x", "action": "force"}`, wantErr(400, dm.CodeInvalidRequest, "action")},
		{"unlock without lock id", "POST", "/api/v1/tasks/nope/shard-ddl-locks/unlock", `{"action": "skip"}`, wantErr(400, dm.CodeInvalidRequest, "lock_id")},
		{"start task with unknown source", "POST", "/api/v1/tasks/nope/start", `{"source_name_list": ["s1"], "remove_meta": false}`, wantErr(400, 0)},
		{"stop task with unknown source", "POST", "/api/v1/tasks/nope/stop", `{"source_name_list": ["s1"], "timeout_duration": "10s"}`, wantErr(400, 0)},
		{"verify task unknown", "POST", "/api/v1/tasks/nope/verify", `{"repair": true}`, wantErr(400, dm.CodeTaskNotFound)},
		{"verify bad body", "POST", "/api/v1/tasks/nope/verify", `{"repair": "yes"}`, wantErr(400, dm.CodeInvalidRequest)},
		{"verify result unknown", "GET", "/api/v1/tasks/nope/verify", "", wantErr(400, dm.CodeTaskNotFound)},
		{"validation start unknown", "POST", "/api/v1/tasks/nope/validation/start", `{"mode": "fast"}`, wantErr(400, dm.CodeTaskNotFound)},
		{"validation start bad mode", "POST", "/api/v1/tasks/nope/validation/start", `{"mode": "slow"}`, wantErr(400, dm.CodeInvalidRequest)},
		{"validation stop unknown", "POST", "/api/v1/tasks/nope/validation/stop", `{}`, wantErr(400, dm.CodeTaskNotFound)},
		{"validation status unknown", "GET", "/api/v1/tasks/nope/validation/status", "", wantErr(400, dm.CodeTaskNotFound)},
		{"cutover unknown", "GET", "/api/v1/tasks/nope/cutover", "", wantErr(400, dm.CodeTaskNotFound)},
		{"cutover bad age", "GET", "/api/v1/tasks/nope/cutover?max_verify_age=soon", "", wantErr(400, dm.CodeInvalidRequest)},
		{"validation errors unknown", "GET", "/api/v1/tasks/nope/validation/errors", "", wantErr(400, dm.CodeTaskNotFound)},
		{"migrate targets unknown", "GET", "/api/v1/tasks/nope/sources/s1/migrate_targets?schema_pattern=db", "", wantErr(400, 0)},
		{"task schemas unknown", "GET", "/api/v1/tasks/nope/sources/s1/schemas", "", wantErr(400, 0)},
		{"task tables unknown", "GET", "/api/v1/tasks/nope/sources/s1/schemas/db1", "", wantErr(400, 0)},
		{"table structure unknown", "GET", "/api/v1/tasks/nope/sources/s1/schemas/db1/t1", "", wantErr(400, 0)},
		{"set table structure", "PUT", "/api/v1/tasks/nope/sources/s1/schemas/db1/t1", `{"sql_content": "CREATE TABLE t1 (a INT)", "flush": true, "sync": true}`, wantErr(400, 0)},
		{"set table structure (POST)", "POST", "/api/v1/tasks/nope/sources/s1/schemas/db1/t1", `{"sql_content": "CREATE TABLE t1 (a INT)"}`, wantErr(400, 0)},
		{"set table structure empty", "PUT", "/api/v1/tasks/nope/sources/s1/schemas/db1/t1", `{}`, wantErr(400, 0)},
		{"delete table structure", "DELETE", "/api/v1/tasks/nope/sources/s1/schemas/db1/t1", "", wantErr(400, 0)},

		{"convert nothing", "POST", "/api/v1/tasks/converters", `{}`, wantErr(400, dm.CodeOpenAPICommon, "task_config_file")},
		{"convert unknown source", "POST", "/api/v1/tasks/converters", `{"task": ` + bareTask + `}`, wantErr(400, 0)},
		{"templates", "GET", "/api/v1/tasks/templates", "", wantList(0)},
		{"create template", "POST", "/api/v1/tasks/templates", bareTask, wantErr(400, 0)},
		{"create template invalid", "POST", "/api/v1/tasks/templates", strings.Replace(bareTask, `"all"`, `"everything"`, 1),
			wantErr(400, dm.CodeInvalidRequest, "/task_mode")},
		{"import templates", "POST", "/api/v1/tasks/templates/import", `{"overwrite": true}`, func(t *testing.T, r response) {
			var resp dm.TaskTemplateResponse
			r.jsonBody(t, http.StatusAccepted, &resp)
			if resp.SuccessTaskList == nil || resp.FailedTaskList == nil {
				t.Errorf("import = %s, want both lists present", r.body)
			}
		}},
		{"import templates no body", "POST", "/api/v1/tasks/templates/import", "", func(t *testing.T, r response) {
			var resp dm.TaskTemplateResponse
			r.jsonBody(t, http.StatusAccepted, &resp)
		}},
		{"template unknown", "GET", "/api/v1/tasks/templates/" + utf8Escaped, "", wantErr(400, dm.CodeTemplateNotFound, utf8Name)},
		{"update template unknown", "PUT", "/api/v1/tasks/templates/nope", strings.Replace(bareTask, "task-1", "nope", 1), wantErr(400, 0)},
		{"delete template unknown", "DELETE", "/api/v1/tasks/templates/nope", "", func(t *testing.T, r response) { r.empty(t, http.StatusNoContent) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, send(t, h, tt.method, tt.target, tt.body))
		})
	}
}

// TestSuccessStatuses pins the document's success status of every operation to API.md,
// since the router answers with the document's status.
func TestSuccessStatuses(t *testing.T) {
	s, err := newServer(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status int
		body   bool
	}{
		"GetDocHTML": {200, true}, "GetDocJSON": {200, true},
		"DMAPIGetClusterInfo": {200, true}, "DMAPIUpdateClusterInfo": {200, true},
		"DMAPIGetClusterMasterList": {200, true}, "DMAPIOfflineMasterNode": {204, false},
		"DMAPIGetClusterWorkerList": {200, true}, "DMAPIOfflineWorkerNode": {204, false},
		"DMAPICreateSource": {201, true}, "DMAPIGetSourceList": {200, true}, "DMAPIGetSource": {200, true},
		"DMAPIUpdateSource": {200, true}, "DMAPIDeleteSource": {204, false}, "DMAPIGetSourceStatus": {200, true},
		"DMAPIEnableSource": {200, false}, "DMAPIDisableSource": {200, false}, "DMAPITransferSource": {200, false},
		"DMAPIEnableRelay": {200, false}, "DMAPIDisableRelay": {200, false}, "DMAPIPurgeRelay": {200, false},
		"DMAPIGetSourceSchemaList": {200, true}, "DMAPIGetSourceTableList": {200, true},
		"DMAPICreateTask": {201, true}, "DMAPIGetTaskList": {200, true}, "DMAPIGetTask": {200, true},
		"DMAPIUpdateTask": {200, true}, "DMAPIDeleteTask": {204, false}, "DMAPIGetTaskStatus": {200, true},
		"DMAPIStartTask": {200, false}, "DMAPIStopTask": {200, false},
		"DMKitVerifyTask": {200, false}, "DMKitGetTaskVerify": {200, true},
		"DMKitStartValidation": {200, false}, "DMKitStopValidation": {200, false},
		"DMKitGetValidationStatus": {200, true}, "DMKitGetValidationErrors": {200, true},
		"DMKitGetTaskCutover":        {200, true},
		"DMAPIGetTaskMigrateTargets": {200, true}, "DMAPIGetSchemaListByTaskAndSource": {200, true},
		"DMAPIGetTableListByTaskAndSource": {200, true}, "DMAPIGetTableStructure": {200, true},
		"DMAPIOperateTableStructure": {200, false}, "DMAPIOperateTableStructurePost": {200, false},
		"DMAPIDeleteTableStructure": {204, false},
		"DMAPIConvertTask":          {200, true}, "DMKitCheckTask": {200, true}, "DMKitOperateBinlog": {200, true}, "DMAPIGetTaskTemplateList": {200, true}, "DMAPICreateTaskTemplate": {201, true},
		"DMAPIImportTaskTemplate": {202, true}, "DMAPIGetTaskTemplate": {200, true}, "DMAPIUpdateTaskTemplate": {200, true},
		"DMAPIDeleteTaskTemplate": {204, false},
		"DMKitGetShardDDLLocks":   {200, true}, "DMKitUnlockShardDDLLock": {200, false},
	}
	ops := s.spec.operations()
	if len(ops) != len(want) {
		t.Errorf("document has %d operations, this table %d", len(ops), len(want))
	}
	for _, so := range ops {
		w, ok := want[so.op.OperationID]
		if !ok {
			t.Errorf("operation %s is not pinned here", so.op.OperationID)
			continue
		}
		status, body, err := successStatus(so.op)
		if err != nil || status != w.status || body != w.body {
			t.Errorf("%s: success %d (body %v, err %v), want %d (body %v)", so.op.OperationID, status, body, err, w.status, w.body)
		}
	}
}
