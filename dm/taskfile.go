package dm

// Conversion between the OpenAPI Task and DM's task configuration file (the task.yaml that
// dmctl start-task takes), for POST /api/v1/tasks/converters.
//
// The mapping follows DM's own converters (tiflow dm/config/task_converters.go):
//
//   - every source_conf entry becomes a mysql-instances entry; a binlog name, position or GTID
//     becomes its meta (all three keys written, as DM does);
//   - a source's table rules become one block-allow-list (table "" → do-dbs, else do-tables);
//     a rule with a target becomes a route; every binlog filter template a rule names becomes a
//     filter with action Ignore scoped to the rule's schema and table patterns;
//   - full_migrate_conf becomes one mydumpers entry (threads, extra-args "--consistency X") and
//     one loaders entry (pool-size, dir, import-mode, on-duplicate-logical, physical knobs);
//     incr_migrate_conf becomes one syncers entry. TLS material of full_migrate_conf does not
//     survive: DM's loader security is not part of the YAML;
//   - on-duplicate-logical carries the task's top-level on_duplicate (dmkit decision 3).
//
// Generated names mimic DM (route-01, balist-01, dump-01, load-01, sync-01; identical
// contents share one name). Filters keep the template's name, so a task's names survive a
// round trip; a template used with several scopes gets <name>-2, <name>-3... for the others.
//
// Reading a YAML rebuilds table_migrate_rule per source from routes and the allow-list, in an
// order consistent with the file's route-rules, do-dbs and do-tables lists (so that
// task → YAML → task → YAML is stable), deduplicated on (source, schema, table). Each filter
// is attached to the rules whose patterns equal its own; a filter matching no rule is
// attached to every rule of its source, as DM does. Template names are the YAML filter names.
//
// Strictness: like DM (which decodes task files with yaml.UnmarshalStrict), an unknown key is
// an error naming its line, so a typo is never silently dropped. Keys DM knows but an OpenAPI
// task cannot express (heartbeat, case-sensitive, validators, chunk sizes...) are accepted and
// ignored; keys whose loss would change what is migrated (ignore-dbs, expression filters,
// route extractors, filters with action Do, mydumper where/extra args) are errors that say so.
//
// The code is split by job: this file holds the file's types and small helpers;
// taskfile_write.go renders a Task as YAML, taskfile_read.go reads one back, and
// taskfile_check.go validates both sides and locates errors in the file.

import "slices"

// taskFile is DM's task configuration file: the keys an OpenAPI task maps to, in the order
// taskToYAML writes them, then every other key DM accepts (decoded, never written).
type taskFile struct {
	Name                      string                     `yaml:"name"`
	TaskMode                  string                     `yaml:"task-mode"`
	IsSharding                bool                       `yaml:"is-sharding,omitempty"`
	ShardMode                 string                     `yaml:"shard-mode,omitempty"`
	StrictOptimisticShardMode bool                       `yaml:"strict-optimistic-shard-mode,omitempty"`
	MetaSchema                string                     `yaml:"meta-schema,omitempty"`
	Verify                    string                     `yaml:"verify,omitempty"` // dmkit extension
	Timezone                  string                     `yaml:"timezone,omitempty"`
	OnlineDDL                 *bool                      `yaml:"online-ddl,omitempty"`
	IgnoreCheckingItems       []string                   `yaml:"ignore-checking-items,omitempty,flow"`
	TargetDB                  *taskFileDB                `yaml:"target-database"`
	MySQLInstances            []*taskFileInstance        `yaml:"mysql-instances"`
	Routes                    map[string]*taskFileRoute  `yaml:"routes,omitempty"`
	Filters                   map[string]*taskFileFilter `yaml:"filters,omitempty"`
	BAList                    map[string]*taskFileBAList `yaml:"block-allow-list,omitempty"`
	Mydumpers                 map[string]*taskFileDumper `yaml:"mydumpers,omitempty"`
	Loaders                   map[string]*taskFileLoader `yaml:"loaders,omitempty"`
	Syncers                   map[string]*taskFileSyncer `yaml:"syncers,omitempty"`

	// Deprecated aliases DM still reads.
	BWList          map[string]*taskFileBAList `yaml:"black-white-list,omitempty"`
	OnlineDDLScheme string                     `yaml:"online-ddl-scheme,omitempty"`
	// Unsupported: an error when non-empty.
	ColumnMappings map[string]any `yaml:"column-mappings,omitempty"`
	ExprFilter     map[string]any `yaml:"expression-filter,omitempty"`
	// Accepted only as DM's defaults (an error otherwise).
	ShadowTableRules any `yaml:"shadow-table-rules,omitempty"`
	TrashTableRules  any `yaml:"trash-table-rules,omitempty"`
	// Accepted and ignored.
	EnableHeartbeat         any `yaml:"enable-heartbeat,omitempty"`
	HeartbeatUpdateInterval any `yaml:"heartbeat-update-interval,omitempty"`
	HeartbeatReportInterval any `yaml:"heartbeat-report-interval,omitempty"`
	CaseSensitive           any `yaml:"case-sensitive,omitempty"`
	CollationCompatible     any `yaml:"collation_compatible,omitempty"`
	MariaDB2TiDB            any `yaml:"mariadb2tidb,omitempty"`
	Validators              any `yaml:"validators,omitempty"`
	CleanDumpFile           any `yaml:"clean-dump-file,omitempty"`
	ANSIQuotes              any `yaml:"ansi-quotes,omitempty"`
	RemoveMeta              any `yaml:"remove-meta,omitempty"`
	Experimental            any `yaml:"experimental,omitempty"`
}

// taskFileDB is target-database.
type taskFileDB struct {
	Host     string            `yaml:"host"`
	Port     int               `yaml:"port"`
	User     string            `yaml:"user"`
	Password string            `yaml:"password"`
	Session  map[string]string `yaml:"session,omitempty"`
	Security *taskFileSecurity `yaml:"security,omitempty"`

	MaxAllowedPacket any `yaml:"max-allowed-packet,omitempty"` // ignored
}

// taskFileSecurity is target-database.security. PEM contents travel base64-encoded in DM's
// ssl-*-base64 keys, so the file needs no certificate files.
type taskFileSecurity struct {
	SSLCABase64   string   `yaml:"ssl-ca-base64,omitempty"`
	SSLCertBase64 string   `yaml:"ssl-cert-base64,omitempty"`
	SSLKeyBase64  string   `yaml:"ssl-key-base64,omitempty"`
	CertAllowedCN []string `yaml:"cert-allowed-cn,omitempty,flow"`

	// Read only: PEM contents inline, or file paths (rejected: a conversion reads no files).
	SSLCABytes   string `yaml:"ssl-ca-bytes,omitempty"`
	SSLCertBytes string `yaml:"ssl-cert-bytes,omitempty"`
	SSLKeyBytes  string `yaml:"ssl-key-bytes,omitempty"`
	SSLCA        string `yaml:"ssl-ca,omitempty"`
	SSLCert      string `yaml:"ssl-cert,omitempty"`
	SSLKey       string `yaml:"ssl-key,omitempty"`
}

// taskFileInstance is one mysql-instances entry.
type taskFileInstance struct {
	SourceID           string        `yaml:"source-id"`
	Meta               *taskFileMeta `yaml:"meta,omitempty"`
	RouteRules         []string      `yaml:"route-rules,omitempty,flow"`
	FilterRules        []string      `yaml:"filter-rules,omitempty,flow"`
	BAListName         string        `yaml:"block-allow-list,omitempty"`
	MydumperConfigName string        `yaml:"mydumper-config-name,omitempty"`
	LoaderConfigName   string        `yaml:"loader-config-name,omitempty"`
	SyncerConfigName   string        `yaml:"syncer-config-name,omitempty"`

	// Read only: inline configs and thread aliases (which win over the configs, as in DM).
	Mydumper       *taskFileDumper `yaml:"mydumper,omitempty"`
	MydumperThread int             `yaml:"mydumper-thread,omitempty"`
	Loader         *taskFileLoader `yaml:"loader,omitempty"`
	LoaderThread   int             `yaml:"loader-thread,omitempty"`
	Syncer         *taskFileSyncer `yaml:"syncer,omitempty"`
	SyncerThread   int             `yaml:"syncer-thread,omitempty"`
	BWListName     string          `yaml:"black-white-list,omitempty"`
	// Unsupported when non-empty.
	ColumnMappingRules []string `yaml:"column-mapping-rules,omitempty"`
	ExpressionFilters  []string `yaml:"expression-filters,omitempty"`
	// Ignored.
	ValidatorConfigName string `yaml:"validator-config-name,omitempty"`
}

// taskFileMeta is an instance's incremental start position.
type taskFileMeta struct {
	BinlogName string `yaml:"binlog-name"`
	BinlogPos  int64  `yaml:"binlog-pos"`
	BinlogGTID string `yaml:"binlog-gtid"`
}

// taskFileRoute is a routes entry.
type taskFileRoute struct {
	SchemaPattern string `yaml:"schema-pattern"`
	TablePattern  string `yaml:"table-pattern,omitempty"`
	TargetSchema  string `yaml:"target-schema,omitempty"`
	TargetTable   string `yaml:"target-table,omitempty"`

	// Unsupported when set: they add columns the OpenAPI task cannot describe.
	ExtractTable  any `yaml:"extract-table,omitempty"`
	ExtractSchema any `yaml:"extract-schema,omitempty"`
	ExtractSource any `yaml:"extract-source,omitempty"`
}

// taskFileFilter is a filters entry (a binlog event rule).
type taskFileFilter struct {
	SchemaPattern string   `yaml:"schema-pattern"`
	TablePattern  string   `yaml:"table-pattern,omitempty"`
	Events        []string `yaml:"events,omitempty,flow"`
	SQLPattern    []string `yaml:"sql-pattern,omitempty,flow"`
	Action        string   `yaml:"action"`
}

// taskFileBAList is a block-allow-list entry.
type taskFileBAList struct {
	DoDBs        []string        `yaml:"do-dbs,omitempty,flow"`
	DoTables     []taskFileTable `yaml:"do-tables,omitempty"`
	IgnoreDBs    []string        `yaml:"ignore-dbs,omitempty"`
	IgnoreTables []taskFileTable `yaml:"ignore-tables,omitempty"`
}

// taskFileTable is a do-tables or ignore-tables item.
type taskFileTable struct {
	DBName  string `yaml:"db-name"`
	TblName string `yaml:"tbl-name"`
}

// taskFileDumper is a mydumpers entry.
type taskFileDumper struct {
	Threads   *int   `yaml:"threads,omitempty"`
	ExtraArgs string `yaml:"extra-args,omitempty"`

	Where string `yaml:"where,omitempty"` // unsupported when set
	// Ignored.
	MydumperPath  any `yaml:"mydumper-path,omitempty"`
	ChunkFilesize any `yaml:"chunk-filesize,omitempty"`
	StatementSize any `yaml:"statement-size,omitempty"`
	Rows          any `yaml:"rows,omitempty"`
	SkipTzUTC     any `yaml:"skip-tz-utc,omitempty"`
}

// taskFileLoader is a loaders entry.
type taskFileLoader struct {
	PoolSize            *int    `yaml:"pool-size,omitempty"`
	Dir                 *string `yaml:"dir,omitempty"`
	ImportMode          string  `yaml:"import-mode,omitempty"`
	OnDuplicateLogical  string  `yaml:"on-duplicate-logical,omitempty"`
	OnDuplicatePhysical string  `yaml:"on-duplicate-physical,omitempty"`
	SortingDirPhysical  string  `yaml:"sorting-dir-physical,omitempty"`
	DiskQuotaPhysical   string  `yaml:"disk-quota-physical,omitempty"`
	ChecksumPhysical    string  `yaml:"checksum-physical,omitempty"`
	Analyze             string  `yaml:"analyze,omitempty"`
	RangeConcurrency    *int    `yaml:"range-concurrency,omitempty"`
	CompressKVPairs     string  `yaml:"compress-kv-pairs,omitempty"`
	PDAddr              string  `yaml:"pd-addr,omitempty"`
	// DisableTargetBinlog is dmkit's extension (full_migrate_conf.disable_target_binlog).
	DisableTargetBinlog bool `yaml:"disable-target-binlog,omitempty"`

	OnDuplicate string `yaml:"on-duplicate,omitempty"` // deprecated alias of on-duplicate-logical
}

// taskFileSyncer is a syncers entry.
type taskFileThrottle struct {
	Query     string   `yaml:"query"`
	Threshold *float64 `yaml:"threshold"`
	Interval  string   `yaml:"interval,omitempty"`
}

type taskFileSyncer struct {
	WorkerCount *int `yaml:"worker-count,omitempty"`
	Batch       *int `yaml:"batch,omitempty"`
	SafeMode    bool `yaml:"safe-mode"`
	// Throttle is dmkit's extension (incr_migrate_conf.throttle).
	Throttle *taskFileThrottle `yaml:"throttle,omitempty"`

	// Ignored.
	MetaFile                any `yaml:"meta-file,omitempty"`
	QueueSize               any `yaml:"queue-size,omitempty"`
	CheckpointFlushInterval any `yaml:"checkpoint-flush-interval,omitempty"`
	Compact                 any `yaml:"compact,omitempty"`
	MultipleRows            any `yaml:"multiple-rows,omitempty"`
	MaxRetry                any `yaml:"max-retry,omitempty"`
	AutoFixGTID             any `yaml:"auto-fix-gtid,omitempty"`
	EnableGTID              any `yaml:"enable-gtid,omitempty"`
	DisableDetect           any `yaml:"disable-detect,omitempty"`
	SafeModeDuration        any `yaml:"safe-mode-duration,omitempty"`
	EnableANSIQuotes        any `yaml:"enable-ansi-quotes,omitempty"`
}

// Names of the single dump, load and sync configs: an OpenAPI task has one of each.
const (
	convDumpName = "dump-01"
	convLoadName = "load-01"
	convSyncName = "sync-01"
)

var (
	convConsistencies = []string{"auto", "none", "flush", "lock", "snapshot"}
	convShardModes    = []string{"", "pessimistic", "optimistic"}
)

// convErr is a conversion error: HTTP 400 with DM's generic OpenAPI code.
func convErr(format string, args ...any) *Error {
	return NewError(CodeOpenAPICommon, format, args...)
}

func convPtr[T any](v T) *T { return &v }

func convDeref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func convCloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	return convPtr(*p)
}

// convPositiveOr is *p when p is set and positive, else def.
func convPositiveOr(p *int, def int) int {
	if p == nil || *p <= 0 {
		return def
	}
	return *p
}

func convAppendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func convHasKey[V any](m map[string]V, key string) bool {
	_, ok := m[key]
	return ok
}

func convKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
