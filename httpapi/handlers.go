package httpapi

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/dmkit/dmkit/dm"
)

// handlers binds each operationId of the document to a call of one Cluster method.
// Parameters and bodies arrive validated (see serve); handlers only decode them.
func (s *server) handlers() map[string]handler {
	c := s.cluster
	return map[string]handler{
		// docs
		"GetDocHTML": func(*call) (any, error) {
			return rawBody{contentType: "text/html; charset=utf-8", data: s.spec.html}, nil
		},
		"GetDocJSON": s.docJSON,

		// cluster
		"DMAPIGetClusterInfo": func(x *call) (any, error) { return c.ClusterInfo(x.ctx) },
		"DMAPIUpdateClusterInfo": func(x *call) (any, error) {
			var topo dm.ClusterTopology
			if err := x.decode(&topo); err != nil {
				return nil, err
			}
			return c.UpdateClusterTopology(x.ctx, &topo)
		},
		"DMAPIGetClusterMasterList": func(x *call) (any, error) { return c.ListMasters(x.ctx) },
		"DMAPIOfflineMasterNode": func(x *call) (any, error) {
			return nil, c.OfflineMaster(x.ctx, x.param("master-name"))
		},
		"DMAPIGetClusterWorkerList": func(x *call) (any, error) { return c.ListWorkers(x.ctx) },
		"DMAPIOfflineWorkerNode": func(x *call) (any, error) {
			return nil, c.OfflineWorker(x.ctx, x.param("worker-name"))
		},

		// sources
		"DMAPICreateSource": func(x *call) (any, error) {
			req, err := decodeCreateSource(x)
			if err != nil {
				return nil, err
			}
			return c.CreateSource(x.ctx, req)
		},
		"DMAPIGetSourceList": func(x *call) (any, error) {
			opts := dm.ListSourcesOptions{WithStatus: x.boolQuery("with_status"), EnableRelay: x.optBoolQuery("enable_relay")}
			if x.err != nil {
				return nil, x.err
			}
			return c.ListSources(x.ctx, opts)
		},
		"DMAPIGetSource": func(x *call) (any, error) {
			withStatus := x.boolQuery("with_status")
			if x.err != nil {
				return nil, x.err
			}
			return c.GetSource(x.ctx, x.param("source-name"), withStatus)
		},
		"DMAPIUpdateSource": func(x *call) (any, error) {
			var req dm.UpdateSourceRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.UpdateSource(x.ctx, x.param("source-name"), req)
		},
		"DMAPIDeleteSource": func(x *call) (any, error) {
			force := x.boolQuery("force")
			if x.err != nil {
				return nil, x.err
			}
			return nil, c.DeleteSource(x.ctx, x.param("source-name"), force)
		},
		"DMAPIGetSourceStatus": func(x *call) (any, error) { return c.SourceStatus(x.ctx, x.param("source-name")) },
		"DMAPIEnableSource": func(x *call) (any, error) {
			return nil, c.EnableSource(x.ctx, x.param("source-name"))
		},
		"DMAPIDisableSource": func(x *call) (any, error) {
			return nil, c.DisableSource(x.ctx, x.param("source-name"))
		},
		"DMAPITransferSource": func(x *call) (any, error) {
			var req dm.WorkerNameRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.TransferSource(x.ctx, x.param("source-name"), req)
		},
		"DMAPIEnableRelay": func(x *call) (any, error) {
			var req dm.EnableRelayRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.EnableRelay(x.ctx, x.param("source-name"), req)
		},
		"DMAPIDisableRelay": func(x *call) (any, error) {
			var req dm.DisableRelayRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.DisableRelay(x.ctx, x.param("source-name"), req)
		},
		"DMAPIPurgeRelay": func(x *call) (any, error) {
			var req dm.PurgeRelayRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.PurgeRelay(x.ctx, x.param("source-name"), req)
		},
		"DMAPIGetSourceSchemaList": func(x *call) (any, error) { return c.SourceSchemas(x.ctx, x.param("source-name")) },
		"DMAPIGetSourceTableList": func(x *call) (any, error) {
			return c.SourceTables(x.ctx, x.param("source-name"), x.param("schema-name"))
		},

		// tasks
		"DMAPICreateTask": func(x *call) (any, error) {
			var req dm.CreateTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.CreateTask(x.ctx, req)
		},
		"DMAPIGetTaskList": func(x *call) (any, error) {
			opts := dm.ListTasksOptions{WithStatus: x.boolQuery("with_status"), Stage: x.query("stage"), SourceNameList: x.queryList("source_name_list")}
			if x.err != nil {
				return nil, x.err
			}
			return c.ListTasks(x.ctx, opts)
		},
		"DMAPIGetTask": func(x *call) (any, error) {
			withStatus := x.boolQuery("with_status")
			if x.err != nil {
				return nil, x.err
			}
			return c.GetTask(x.ctx, x.param("task-name"), withStatus)
		},
		"DMAPIUpdateTask": func(x *call) (any, error) {
			var req dm.CreateTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.UpdateTask(x.ctx, x.param("task-name"), req)
		},
		"DMAPIDeleteTask": func(x *call) (any, error) {
			opts := dm.DeleteTaskOptions{Force: x.boolQuery("force"), KeepMeta: x.boolQuery("keep_meta")}
			if x.err != nil {
				return nil, x.err
			}
			return nil, c.DeleteTask(x.ctx, x.param("task-name"), opts)
		},
		"DMAPIGetTaskStatus": func(x *call) (any, error) {
			return c.TaskStatus(x.ctx, x.param("task-name"), x.queryList("source_name_list"))
		},
		"DMAPIStartTask": func(x *call) (any, error) {
			var req dm.StartTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.StartTask(x.ctx, x.param("task-name"), req)
		},
		"DMAPIStopTask": func(x *call) (any, error) {
			var req dm.StopTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.StopTask(x.ctx, x.param("task-name"), req)
		},

		"DMKitVerifyTask": func(x *call) (any, error) {
			var req dm.VerifyTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.VerifyTask(x.ctx, x.param("task-name"), req)
		},
		"DMKitGetTaskVerify": func(x *call) (any, error) {
			return c.TaskVerify(x.ctx, x.param("task-name"))
		},
		"DMKitGetTaskCutover": func(x *call) (any, error) {
			var age time.Duration
			if s := x.query("max_verify_age"); s != "" {
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 {
					return nil, dm.NewError(dm.CodeInvalidRequest, "max_verify_age %q is not a positive duration such as 30m or 2h", s)
				}
				age = d
			}
			return c.CutoverStatus(x.ctx, x.param("task-name"), age)
		},
		"DMKitStartValidation": func(x *call) (any, error) {
			var req dm.ValidationRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.StartValidation(x.ctx, x.param("task-name"), req)
		},
		"DMKitStopValidation": func(x *call) (any, error) {
			var req dm.ValidationRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.StopValidation(x.ctx, x.param("task-name"), req)
		},
		"DMKitGetValidationStatus": func(x *call) (any, error) {
			return c.ValidationStatus(x.ctx, x.param("task-name"))
		},
		"DMKitGetValidationErrors": func(x *call) (any, error) {
			return c.ValidationErrors(x.ctx, x.param("task-name"))
		},
		"DMKitGetShardDDLLocks": func(x *call) (any, error) {
			return c.ListShardDDLLocks(x.ctx, x.param("task-name"))
		},
		"DMKitUnlockShardDDLLock": func(x *call) (any, error) {
			var req dm.UnlockShardDDLLockRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return nil, c.UnlockShardDDLLock(x.ctx, x.param("task-name"), req)
		},

		// task schemas
		"DMAPIGetTaskMigrateTargets": func(x *call) (any, error) {
			return c.TaskMigrateTargets(x.ctx, x.param("task-name"), x.param("source-name"), x.query("schema_pattern"), x.query("table_pattern"))
		},
		"DMAPIGetSchemaListByTaskAndSource": func(x *call) (any, error) {
			return c.TaskSchemas(x.ctx, x.param("task-name"), x.param("source-name"))
		},
		"DMAPIGetTableListByTaskAndSource": func(x *call) (any, error) {
			return c.TaskTables(x.ctx, x.param("task-name"), x.param("source-name"), x.param("schema-name"))
		},
		"DMAPIGetTableStructure": func(x *call) (any, error) {
			return c.TaskTableStructure(x.ctx, x.param("task-name"), x.param("source-name"), x.param("schema-name"), x.param("table-name"))
		},
		"DMAPIOperateTableStructure":     s.setTableStructure,
		"DMAPIOperateTableStructurePost": s.setTableStructure,
		"DMAPIDeleteTableStructure": func(x *call) (any, error) {
			return nil, c.DeleteTaskTableStructure(x.ctx, x.param("task-name"), x.param("source-name"), x.param("schema-name"), x.param("table-name"))
		},

		// templates and converters
		"DMKitOperateBinlog": func(x *call) (any, error) {
			var req dm.BinlogOperationRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.OperateBinlog(x.ctx, x.param("task-name"), x.param("source-name"), req)
		},
		"DMKitCheckTask": func(x *call) (any, error) {
			var req dm.CreateTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.CheckTask(x.ctx, req)
		},
		"DMAPIConvertTask": func(x *call) (any, error) {
			var req dm.ConverterTaskRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.ConvertTask(x.ctx, req)
		},
		"DMAPIGetTaskTemplateList": func(x *call) (any, error) { return c.ListTaskTemplates(x.ctx) },
		"DMAPICreateTaskTemplate": func(x *call) (any, error) {
			var t dm.Task
			if err := x.decode(&t); err != nil {
				return nil, err
			}
			return c.CreateTaskTemplate(x.ctx, &t)
		},
		"DMAPIImportTaskTemplate": func(x *call) (any, error) {
			var req dm.TaskTemplateRequest
			if err := x.decode(&req); err != nil {
				return nil, err
			}
			return c.ImportTaskTemplates(x.ctx, req)
		},
		"DMAPIGetTaskTemplate": func(x *call) (any, error) { return c.GetTaskTemplate(x.ctx, x.param("task-name")) },
		"DMAPIUpdateTaskTemplate": func(x *call) (any, error) {
			var t dm.Task
			if err := x.decode(&t); err != nil {
				return nil, err
			}
			return c.UpdateTaskTemplate(x.ctx, x.param("task-name"), &t)
		},
		"DMAPIDeleteTaskTemplate": func(x *call) (any, error) {
			return nil, c.DeleteTaskTemplate(x.ctx, x.param("task-name"))
		},
	}
}

// setTableStructure serves both the PUT (DM's spec) and the POST (DM's user doc) of a
// table schema.
func (s *server) setTableStructure(x *call) (any, error) {
	var req dm.SetTableStructureRequest
	if err := x.decode(&req); err != nil {
		return nil, err
	}
	return nil, s.cluster.SetTaskTableStructure(x.ctx, x.param("task-name"), x.param("source-name"), x.param("schema-name"), x.param("table-name"), req)
}

// decodeCreateSource accepts DM's {"source": {...}, "worker_name": ...} and the flat
// Source of DM's user doc; the body is wrapped when "source" holds an object.
func decodeCreateSource(x *call) (dm.CreateSourceRequest, error) {
	var req dm.CreateSourceRequest
	if x.body == nil {
		return req, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(x.body, &probe); err != nil {
		return req, invalidRequest("request body: %v", err)
	}
	if raw, ok := probe["source"]; ok && len(raw) > 0 {
		if raw[0] != '{' {
			// Neither DM's wrapped body nor the flat Source, which has no "source" field.
			return req, invalidRequest(`request body: "source" must be an object {"source_name": ...}; or send the source's fields at the top level`)
		}
		err := x.decode(&req)
		return req, err
	}
	var src dm.Source
	if err := x.decode(&src); err != nil {
		return req, err
	}
	req.Source = &src
	return req, nil
}

// docJSON serves the document, its server set to the first master of the stored topology.
func (s *server) docJSON(x *call) (any, error) {
	data := s.spec.json
	info, err := s.cluster.ClusterInfo(x.ctx)
	if err != nil {
		// The document is static; it stays available with its default server.
		s.log.Warn("read cluster topology for /api/v1/dm.json", "error", err)
	} else if info != nil && info.Topology != nil && len(info.Topology.MasterTopologyList) > 0 {
		m := info.Topology.MasterTopologyList[0]
		url := fmt.Sprintf("http://%s", net.JoinHostPort(m.Host, strconv.Itoa(m.Port)))
		if data, err = s.spec.jsonWithServer(url); err != nil {
			return nil, err
		}
	}
	return rawBody{contentType: jsonContentType, data: data}, nil
}
