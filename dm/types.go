package dm

// The types in this file mirror DM's OpenAPI objects field for field (same JSON names), so
// that httpapi decodes requests straight into them and DM's clients see DM's shapes.
// Pointers mark fields whose absence means something different from their zero value.

// Security is the TLS material used to reach a MySQL server. Contents are PEM text. A
// Security whose three contents are empty means "no TLS" (the user doc's examples send it).
type Security struct {
	SSLCAContent   string   `json:"ssl_ca_content"`
	SSLCertContent string   `json:"ssl_cert_content"`
	SSLKeyContent  string   `json:"ssl_key_content"`
	CertAllowedCN  []string `json:"cert_allowed_cn,omitempty"`
}

// Enabled reports whether s carries any TLS material.
func (s *Security) Enabled() bool {
	return s != nil && (s.SSLCAContent != "" || s.SSLCertContent != "" || s.SSLKeyContent != "")
}

// Purge is a source's relay-log auto-purge policy.
type Purge struct {
	// Interval is how often, in seconds, the purge check runs.
	Interval *int64 `json:"interval"`
	// Expires is the age, in hours, after which relay files are removed (0: never by age).
	Expires *int64 `json:"expires"`
	// RemainSpace is the free disk space, in GB, to keep.
	RemainSpace *int64 `json:"remain_space"`
}

// RelayConfig configures a source's relay log.
type RelayConfig struct {
	EnableRelay     bool    `json:"enable_relay"`
	RelayBinlogName *string `json:"relay_binlog_name"`
	RelayBinlogGTID *string `json:"relay_binlog_gtid"`
	RelayDir        *string `json:"relay_dir"`
}

// Source is an upstream MySQL or MariaDB server (DM's "data source").
type Source struct {
	SourceName string `json:"source_name"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	User       string `json:"user"`
	// Password is nil when omitted: empty on create, "keep the stored one" on update.
	// Responses carry "******".
	Password   *string `json:"password"`
	EnableGTID bool    `json:"enable_gtid"`
	// Enable is nil when omitted: true on create, unchanged on update.
	Enable       *bool           `json:"enable,omitempty"`
	Flavor       string          `json:"flavor,omitempty"`
	TaskNameList *[]string       `json:"task_name_list,omitempty"`
	Security     *Security       `json:"security"`
	Purge        *Purge          `json:"purge,omitempty"`
	StatusList   *[]SourceStatus `json:"status_list,omitempty"`
	RelayConfig  *RelayConfig    `json:"relay_config,omitempty"`
}

// CreateSourceRequest is DM's create-source body; httpapi also accepts a bare Source.
type CreateSourceRequest struct {
	Source     *Source `json:"source"`
	WorkerName string  `json:"worker_name,omitempty"`
}

// UpdateSourceRequest is DM's update-source body.
type UpdateSourceRequest struct {
	Source *Source `json:"source"`
}

// SourceStatus is the state of one worker serving a source.
type SourceStatus struct {
	SourceName  string       `json:"source_name"`
	WorkerName  string       `json:"worker_name"`
	RelayStatus *RelayStatus `json:"relay_status,omitempty"`
	ErrorMsg    string       `json:"error_msg,omitempty"`
}

// RelayStatus is the progress of a relay log.
type RelayStatus struct {
	MasterBinlog       string `json:"master_binlog"`
	MasterBinlogGTID   string `json:"master_binlog_gtid"`
	RelayDir           string `json:"relay_dir"`
	RelayBinlogGTID    string `json:"relay_binlog_gtid"`
	RelayCatchUpMaster bool   `json:"relay_catch_up_master"`
	Stage              string `json:"stage"`
}

// ListSourcesOptions are the query parameters of the source list.
type ListSourcesOptions struct {
	WithStatus bool
	// EnableRelay, when set, keeps only sources with (true) or without (false) relay.
	EnableRelay *bool
}

// EnableRelayRequest is the body of relay enable.
type EnableRelayRequest struct {
	WorkerNameList  []string `json:"worker_name_list,omitempty"`
	RelayBinlogName *string  `json:"relay_binlog_name,omitempty"`
	RelayBinlogGTID *string  `json:"relay_binlog_gtid,omitempty"`
	RelayDir        *string  `json:"relay_dir,omitempty"`
}

// DisableRelayRequest is the body of relay disable.
type DisableRelayRequest struct {
	WorkerNameList []string `json:"worker_name_list,omitempty"`
}

// PurgeRelayRequest is the body of relay purge.
type PurgeRelayRequest struct {
	RelayBinlogName string  `json:"relay_binlog_name"`
	RelayDir        *string `json:"relay_dir,omitempty"`
}

// WorkerNameRequest names a worker (transfer source).
type WorkerNameRequest struct {
	WorkerName string `json:"worker_name"`
}

// Task is a migration task: what to move from which sources to one target, and how.
type Task struct {
	Name                      string                          `json:"name"`
	TaskMode                  string                          `json:"task_mode"`
	ShardMode                 string                          `json:"shard_mode,omitempty"`
	StrictOptimisticShardMode *bool                           `json:"strict_optimistic_shard_mode,omitempty"`
	MetaSchema                string                          `json:"meta_schema,omitempty"`
	Timezone                  string                          `json:"timezone,omitempty"`
	EnhanceOnlineSchemaChange *bool                           `json:"enhance_online_schema_change,omitempty"`
	OnDuplicate               string                          `json:"on_duplicate"`
	TargetConfig              TaskTargetDataBase              `json:"target_config"`
	BinlogFilterRule          map[string]TaskBinLogFilterRule `json:"binlog_filter_rule,omitempty"`
	TableMigrateRule          []TaskTableMigrateRule          `json:"table_migrate_rule"`
	SourceConfig              TaskSourceConfig                `json:"source_config"`
	StatusList                *[]SubTaskStatus                `json:"status_list,omitempty"`
	IgnoreCheckingItems       []string                        `json:"ignore_checking_items,omitempty"`
	// Verify is a dmkit extension (DM has none): whether and how the task verifies the
	// target after a full copy (modes full and all): off, checksum (omitted: the default)
	// or checksum+repair. See verifyrun.go.
	Verify string `json:"verify,omitempty"`
}

// TaskTargetDataBase is the downstream database of a task.
type TaskTargetDataBase struct {
	Host     string      `json:"host"`
	Port     int         `json:"port"`
	User     string      `json:"user"`
	Password string      `json:"password"`
	Security *Security   `json:"security,omitempty"`
	Session  *SessionCfg `json:"session,omitempty"`
}

// SessionCfg holds the target session variables a task may set.
type SessionCfg struct {
	ForeignKeyChecks string `json:"foreign_key_checks,omitempty"`
}

// TaskBinLogFilterRule is a named template of binlog events and SQL to ignore.
type TaskBinLogFilterRule struct {
	IgnoreEvent []string `json:"ignore_event,omitempty"`
	IgnoreSQL   []string `json:"ignore_sql,omitempty"`
}

// TaskTableMigrateRule selects source tables, optionally routes them to a target table and
// attaches binlog filter rules.
type TaskTableMigrateRule struct {
	Source           TaskTableMigrateRuleSource  `json:"source"`
	Target           *TaskTableMigrateRuleTarget `json:"target,omitempty"`
	BinlogFilterRule []string                    `json:"binlog_filter_rule,omitempty"`
}

// TaskTableMigrateRuleSource is the source side of a table rule (wildcards allowed).
type TaskTableMigrateRuleSource struct {
	SourceName string `json:"source_name"`
	Schema     string `json:"schema"`
	Table      string `json:"table"`
}

// TaskTableMigrateRuleTarget is the target of a table rule (no wildcards; "" keeps names).
type TaskTableMigrateRuleTarget struct {
	Schema string `json:"schema,omitempty"`
	Table  string `json:"table,omitempty"`
}

// TaskSourceConfig lists the task's sources and the full/incremental settings.
type TaskSourceConfig struct {
	SourceConf      []TaskSourceConf     `json:"source_conf"`
	FullMigrateConf *TaskFullMigrateConf `json:"full_migrate_conf,omitempty"`
	IncrMigrateConf *TaskIncrMigrateConf `json:"incr_migrate_conf,omitempty"`
}

// TaskSourceConf is one source of a task with its optional incremental start position.
type TaskSourceConf struct {
	SourceName string  `json:"source_name"`
	BinlogName *string `json:"binlog_name,omitempty"`
	BinlogPos  *int64  `json:"binlog_pos,omitempty"`
	BinlogGTID *string `json:"binlog_gtid,omitempty"`
}

// TaskFullMigrateConf configures the dump and load units.
type TaskFullMigrateConf struct {
	ExportThreads       *int      `json:"export_threads,omitempty"`
	ImportThreads       *int      `json:"import_threads,omitempty"`
	DataDir             string    `json:"data_dir,omitempty"`
	Consistency         string    `json:"consistency,omitempty"`
	ImportMode          string    `json:"import_mode,omitempty"`
	SortingDir          string    `json:"sorting_dir,omitempty"`
	DiskQuota           string    `json:"disk_quota,omitempty"`
	Checksum            string    `json:"checksum,omitempty"`
	Analyze             string    `json:"analyze,omitempty"`
	RangeConcurrency    *int      `json:"range_concurrency,omitempty"`
	CompressKVPairs     string    `json:"compress-kv-pairs,omitempty"`
	PDAddr              string    `json:"pd_addr,omitempty"`
	Security            *Security `json:"security,omitempty"`
	OnDuplicateLogical  string    `json:"on_duplicate_logical,omitempty"`
	OnDuplicatePhysical string    `json:"on_duplicate_physical,omitempty"`
	// DisableTargetBinlog is dmkit's extension: the load's sessions run with
	// sql_log_bin = 0, so the copy does not reach the target's binlog (nor its replicas).
	// Needs SUPER / BINLOG ADMIN on the target; checked at create.
	DisableTargetBinlog bool `json:"disable_target_binlog,omitempty"`
}

// TaskIncrMigrateConf configures the sync unit.
type TaskIncrMigrateConf struct {
	ReplThreads *int  `json:"repl_threads,omitempty"`
	ReplBatch   *int  `json:"repl_batch,omitempty"`
	SafeMode    *bool `json:"safe_mode,omitempty"`
	// Throttle is dmkit's addition (gh-ost's throttle query): applying pauses while the
	// query, run on the target, is above the threshold.
	Throttle *TaskThrottle `json:"throttle,omitempty"`
}

// TaskThrottle pauses binlog apply while Query (a SELECT run on the target, first column
// numeric) returns more than Threshold; it is checked every Interval (default 1s).
type TaskThrottle struct {
	Query     string   `json:"query"`
	Threshold *float64 `json:"threshold"`
	Interval  string   `json:"interval,omitempty"`
}

// CreateTaskRequest is the body of task create and update.
type CreateTaskRequest struct {
	Task *Task `json:"task"`
}

// OperateTaskResponse is the answer to task create and update.
type OperateTaskResponse struct {
	Task        *Task  `json:"task"`
	CheckResult string `json:"check_result"`
}

// ListTasksOptions are the query parameters of the task list.
type ListTasksOptions struct {
	WithStatus bool
	// Stage keeps only tasks whose every subtask reports this stage.
	Stage string
	// SourceNameList keeps only tasks whose set of sources is exactly this set.
	SourceNameList []string
}

// StartTaskRequest is the optional body of task start.
type StartTaskRequest struct {
	RemoveMeta           bool     `json:"remove_meta,omitempty"`
	SourceNameList       []string `json:"source_name_list,omitempty"`
	StartTime            *string  `json:"start_time,omitempty"`
	SafeModeTimeDuration *string  `json:"safe_mode_time_duration,omitempty"`
}

// StopTaskRequest is the optional body of task stop.
type StopTaskRequest struct {
	TimeoutDuration *string  `json:"timeout_duration,omitempty"`
	SourceNameList  []string `json:"source_name_list,omitempty"`
}

// DeleteTaskOptions are the query parameters of task delete.
type DeleteTaskOptions struct {
	Force    bool
	KeepMeta bool
}

// Subtask stages, as DM reports them.
const (
	StageRunning  = "Running"
	StagePaused   = "Paused"
	StageStopped  = "Stopped"
	StageFinished = "Finished"
)

// Units of a subtask, capitalised as DM reports them.
const (
	UnitCheck = "Check"
	UnitDump  = "Dump"
	UnitLoad  = "Load"
	UnitSync  = "Sync"
)

// Task modes.
const (
	ModeAll         = "all"
	ModeFull        = "full"
	ModeIncremental = "incremental"
	ModeDump        = "dump"
	ModeLoad        = "load"
)

// SubTaskStatus is the state of one task on one source.
type SubTaskStatus struct {
	Name                string      `json:"name"`
	SourceName          string      `json:"source_name"`
	WorkerName          string      `json:"worker_name"`
	Stage               string      `json:"stage"`
	Unit                string      `json:"unit"`
	UnresolvedDDLLockID *string     `json:"unresolved_ddl_lock_id,omitempty"`
	LoadStatus          *LoadStatus `json:"load_status,omitempty"`
	SyncStatus          *SyncStatus `json:"sync_status,omitempty"`
	DumpStatus          *DumpStatus `json:"dump_status,omitempty"`
	ErrorMsg            string      `json:"error_msg,omitempty"`
	// VerifyStatus (dmkit extension) is the subtask's current or last verification.
	VerifyStatus *VerifyStatus `json:"verify_status,omitempty"`
	// ValidationStatus is the subtask's continuous validator, once started.
	ValidationStatus *ValidationStatus `json:"validation_status,omitempty"`
	// Progress is dmkit's addition: the current unit's progress with rate and ETA.
	Progress *UnitProgress `json:"progress,omitempty"`
}

// LoadStatus is the progress of the load unit.
type LoadStatus struct {
	FinishedBytes  int64  `json:"finished_bytes"`
	TotalBytes     int64  `json:"total_bytes"`
	Progress       string `json:"progress"`
	MetaBinlog     string `json:"meta_binlog"`
	MetaBinlogGTID string `json:"meta_binlog_gtid"`
	Bps            int64  `json:"bps"`
}

// DumpStatus is the progress of the dump unit.
type DumpStatus struct {
	TotalTables       int64   `json:"total_tables"`
	CompletedTables   float64 `json:"completed_tables"`
	FinishedBytes     float64 `json:"finished_bytes"`
	FinishedRows      float64 `json:"finished_rows"`
	EstimateTotalRows float64 `json:"estimate_total_rows"`
	Bps               int64   `json:"bps"`
	Progress          string  `json:"progress"`
}

// SyncStatus is the progress of the sync unit. As in DM (syncer/status.go) the events,
// rows and rates are one counter: row changes and DDL statements applied, per second since
// the unit started (total) and since the previous status (recent); total_rows, total_rps
// and recent_rps are dmctl's names for them. io_total_bytes is what the unit sent to the
// target (SQL text, checkpoints included), dump_io_total_bytes what it read from the
// source (binlog events).
type SyncStatus struct {
	TotalEvents         int64           `json:"total_events"`
	TotalTps            int64           `json:"total_tps"`
	RecentTps           int64           `json:"recent_tps"`
	TotalRows           int64           `json:"total_rows"`
	TotalRps            int64           `json:"total_rps"`
	RecentRps           int64           `json:"recent_rps"`
	MasterBinlog        string          `json:"master_binlog"`
	MasterBinlogGTID    string          `json:"master_binlog_gtid"`
	SyncerBinlog        string          `json:"syncer_binlog"`
	SyncerBinlogGTID    string          `json:"syncer_binlog_gtid"`
	BlockingDDLs        []string        `json:"blocking_ddls"`
	UnresolvedGroups    []ShardingGroup `json:"unresolved_groups"`
	Synced              bool            `json:"synced"`
	BinlogType          string          `json:"binlog_type"`
	SecondsBehindMaster int64           `json:"seconds_behind_master"`
	IOTotalBytes        uint64          `json:"io_total_bytes"`
	DumpIOTotalBytes    uint64          `json:"dump_io_total_bytes"`
	// Throttled and ThrottleReason are dmkit's: incr_migrate_conf.throttle holds the apply.
	Throttled      bool   `json:"throttled,omitempty"`
	ThrottleReason string `json:"throttle_reason,omitempty"`
	// DuplicateKeyConflicts (dmkit) counts replicated rows that met an existing key on the
	// target and were replaced or ignored as on_duplicate says — in a shard merge, rows
	// of two shards with the same key.
	DuplicateKeyConflicts int64 `json:"duplicate_key_conflicts"`
}

// ShardingGroup is an unresolved shard-DDL group.
type ShardingGroup struct {
	Target        string   `json:"target"`
	DDLList       []string `json:"ddl_list"`
	FirstLocation string   `json:"first_location"`
	Synced        []string `json:"synced"`
	Unsynced      []string `json:"unsynced"`
}

// TaskMigrateTarget is one source table and where a task sends it.
type TaskMigrateTarget struct {
	SourceSchema string `json:"source_schema"`
	SourceTable  string `json:"source_table"`
	TargetSchema string `json:"target_schema"`
	TargetTable  string `json:"target_table"`
}

// TableStructure is a table's schema as a task's schema tracker knows it.
type TableStructure struct {
	SchemaName      string `json:"schema_name"`
	TableName       string `json:"table_name"`
	SchemaCreateSQL string `json:"schema_create_sql"`
}

// SetTableStructureRequest replaces a tracked table schema.
type SetTableStructureRequest struct {
	SQLContent   *string `json:"sql_content,omitempty"`
	Flush        *bool   `json:"flush,omitempty"`
	Sync         *bool   `json:"sync,omitempty"`
	SchemaSource string  `json:"schema_source,omitempty"`
}

// ConverterTaskRequest converts between the OpenAPI task and DM's task YAML.
type ConverterTaskRequest struct {
	Task           *Task   `json:"task,omitempty"`
	TaskConfigFile *string `json:"task_config_file,omitempty"`
}

// ConverterTaskResponse carries both forms of a task.
type ConverterTaskResponse struct {
	Task           *Task  `json:"task"`
	TaskConfigFile string `json:"task_config_file"`
}

// TaskTemplateRequest is the body of template import.
type TaskTemplateRequest struct {
	Overwrite bool `json:"overwrite"`
}

// TaskTemplateResponse reports a template import.
type TaskTemplateResponse struct {
	SuccessTaskList []string             `json:"success_task_list"`
	FailedTaskList  []TaskTemplateFailed `json:"failed_task_list"`
}

// TaskTemplateFailed is one task that could not be imported as a template.
type TaskTemplateFailed struct {
	TaskName string `json:"task_name"`
	ErrorMsg string `json:"error_msg"`
}

// ClusterMaster is a master node (dmkit has one: the process itself).
type ClusterMaster struct {
	Name   string `json:"name"`
	Alive  bool   `json:"alive"`
	Leader bool   `json:"leader"`
	Addr   string `json:"addr"`
}

// ClusterWorker is a worker and its binding.
type ClusterWorker struct {
	Name            string `json:"name"`
	Addr            string `json:"addr"`
	BoundStage      string `json:"bound_stage"`
	BoundSourceName string `json:"bound_source_name"`
}

// Worker bound stages.
const (
	WorkerOffline = "offline"
	WorkerFree    = "free"
	WorkerBound   = "bound"
	WorkerRelay   = "relay"
)

// ClusterTopology is descriptive metadata about the deployment.
type ClusterTopology struct {
	MasterTopologyList   []HostPortName `json:"master_topology_list,omitempty"`
	WorkerTopologyList   []HostPortName `json:"worker_topology_list,omitempty"`
	GrafanaTopology      *HostPort      `json:"grafana_topology,omitempty"`
	PrometheusTopology   *HostPort      `json:"prometheus_topology,omitempty"`
	AlertManagerTopology *HostPort      `json:"alert_manager_topology,omitempty"`
}

// HostPortName is a named host:port.
type HostPortName struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// HostPort is a host:port.
type HostPort struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// ClusterInfo is the cluster id and its stored topology.
type ClusterInfo struct {
	ClusterID uint64           `json:"cluster_id"`
	Topology  *ClusterTopology `json:"topology,omitempty"`
}

// List is DM's list envelope.
type List[T any] struct {
	Total int `json:"total"`
	Data  []T `json:"data"`
}

func newList[T any](data []T) List[T] {
	if data == nil {
		data = []T{}
	}
	return List[T]{Total: len(data), Data: data}
}
