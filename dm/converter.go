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

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// taskFile is DM's task configuration file: the keys an OpenAPI task maps to, in the order
// taskToYAML writes them, then every other key DM accepts (decoded, never written).
type taskFile struct {
	Name                      string                     `yaml:"name"`
	TaskMode                  string                     `yaml:"task-mode"`
	IsSharding                bool                       `yaml:"is-sharding,omitempty"`
	ShardMode                 string                     `yaml:"shard-mode,omitempty"`
	StrictOptimisticShardMode bool                       `yaml:"strict-optimistic-shard-mode,omitempty"`
	MetaSchema                string                     `yaml:"meta-schema,omitempty"`
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
	// Accepted and ignored.
	EnableHeartbeat         any `yaml:"enable-heartbeat,omitempty"`
	HeartbeatUpdateInterval any `yaml:"heartbeat-update-interval,omitempty"`
	HeartbeatReportInterval any `yaml:"heartbeat-report-interval,omitempty"`
	CaseSensitive           any `yaml:"case-sensitive,omitempty"`
	CollationCompatible     any `yaml:"collation_compatible,omitempty"`
	MariaDB2TiDB            any `yaml:"mariadb2tidb,omitempty"`
	ShadowTableRules        any `yaml:"shadow-table-rules,omitempty"`
	TrashTableRules         any `yaml:"trash-table-rules,omitempty"`
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

	OnDuplicate string `yaml:"on-duplicate,omitempty"` // deprecated alias of on-duplicate-logical
}

// taskFileSyncer is a syncers entry.
type taskFileSyncer struct {
	WorkerCount *int `yaml:"worker-count,omitempty"`
	Batch       *int `yaml:"batch,omitempty"`
	SafeMode    bool `yaml:"safe-mode"`

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

// taskToYAML renders an OpenAPI task as DM's task configuration file.
func taskToYAML(t *Task) (string, error) {
	f, err := taskToFile(t)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return "", fmt.Errorf("render task %s as YAML: %w", t.Name, err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("render task %s as YAML: %w", t.Name, err)
	}
	return buf.String(), nil
}

// taskToFile builds the task file of t; see the file comment for the mapping.
func taskToFile(t *Task) (*taskFile, error) {
	if t == nil {
		return nil, convErr("no task to convert")
	}
	if err := checkTaskForYAML(t); err != nil {
		return nil, err
	}
	f := &taskFile{
		Name:                      t.Name,
		TaskMode:                  t.TaskMode,
		ShardMode:                 t.ShardMode,
		StrictOptimisticShardMode: t.StrictOptimisticShardMode != nil && *t.StrictOptimisticShardMode,
		MetaSchema:                cmp.Or(t.MetaSchema, defaultMetaSchema),
		Timezone:                  t.Timezone,
		OnlineDDL:                 convPtr(t.EnhanceOnlineSchemaChange == nil || *t.EnhanceOnlineSchemaChange),
		IgnoreCheckingItems:       slices.Clone(t.IgnoreCheckingItems),
		TargetDB:                  targetToFile(&t.TargetConfig),
		Routes:                    map[string]*taskFileRoute{},
		Filters:                   map[string]*taskFileFilter{},
		BAList:                    map[string]*taskFileBAList{},
	}
	dumper, loader, syncer := migrateConfToFile(t)
	f.Mydumpers = map[string]*taskFileDumper{convDumpName: dumper}
	f.Loaders = map[string]*taskFileLoader{convLoadName: loader}
	f.Syncers = map[string]*taskFileSyncer{convSyncName: syncer}

	names := newConvNamer(t)
	for _, sc := range t.SourceConfig.SourceConf {
		inst := &taskFileInstance{
			SourceID:           sc.SourceName,
			MydumperConfigName: convDumpName,
			LoaderConfigName:   convLoadName,
			SyncerConfigName:   convSyncName,
		}
		if sc.BinlogName != nil || sc.BinlogPos != nil || sc.BinlogGTID != nil {
			inst.Meta = &taskFileMeta{BinlogName: convDeref(sc.BinlogName), BinlogPos: convDeref(sc.BinlogPos), BinlogGTID: convDeref(sc.BinlogGTID)}
		}
		rules, err := sourceRules(t, sc.SourceName)
		if err != nil {
			return nil, err
		}
		ba := &taskFileBAList{}
		for _, r := range rules { // one rule per (schema, table): no duplicate entries below
			s := r.Source
			if s.Table == "" {
				ba.DoDBs = append(ba.DoDBs, s.Schema)
			} else {
				ba.DoTables = append(ba.DoTables, taskFileTable{DBName: s.Schema, TblName: s.Table})
			}
			if r.Target != nil {
				route := &taskFileRoute{SchemaPattern: s.Schema, TablePattern: s.Table, TargetSchema: r.Target.Schema, TargetTable: r.Target.Table}
				name := names.route(route)
				f.Routes[name] = route
				inst.RouteRules = append(inst.RouteRules, name)
			}
			for _, tmpl := range r.BinlogFilterRule {
				rule := t.BinlogFilterRule[tmpl]
				filter := &taskFileFilter{
					SchemaPattern: s.Schema,
					TablePattern:  s.Table,
					Events:        slices.Clone(rule.IgnoreEvent),
					SQLPattern:    slices.Clone(rule.IgnoreSQL),
					Action:        "Ignore",
				}
				name := names.filter(tmpl, s.Schema, s.Table)
				f.Filters[name] = filter
				if !slices.Contains(inst.FilterRules, name) {
					inst.FilterRules = append(inst.FilterRules, name)
				}
			}
		}
		// Ignore filters on the same table commute, so the order is canonical rather than the
		// rules' order; this keeps the file stable when the rules come back in another order.
		sort.Strings(inst.FilterRules)
		if len(ba.DoDBs) > 0 || len(ba.DoTables) > 0 {
			name := names.balist(ba)
			f.BAList[name] = ba
			inst.BAListName = name
		}
		f.MySQLInstances = append(f.MySQLInstances, inst)
	}
	return f, nil
}

// sourceRules returns the table rules of one source with the rules of equal patterns merged
// into the first (its target, everyone's filters), which is what the subtask makes of them.
// Rules of sources the task does not list are dropped, as DM drops them.
func sourceRules(t *Task, source string) ([]TaskTableMigrateRule, error) {
	var rules []TaskTableMigrateRule
	index := map[convRuleKey]int{}
	for _, r := range t.TableMigrateRule {
		if r.Source.SourceName != source {
			continue
		}
		if r.Target != nil && r.Target.Schema == "" && r.Target.Table == "" {
			r.Target = nil
		}
		key := convRuleKey{r.Source.Schema, r.Source.Table}
		i, seen := index[key]
		if !seen {
			index[key] = len(rules)
			r.BinlogFilterRule = slices.Clone(r.BinlogFilterRule)
			rules = append(rules, r)
			continue
		}
		prev := &rules[i]
		switch {
		case r.Target == nil:
		case prev.Target == nil:
			prev.Target = r.Target
		case *prev.Target != *r.Target:
			return nil, convErr("task %s: source %s: table_migrate_rule routes %s.%s to both %s.%s and %s.%s; keep one target",
				t.Name, source, key.schema, key.table, prev.Target.Schema, prev.Target.Table, r.Target.Schema, r.Target.Table)
		}
		for _, name := range r.BinlogFilterRule {
			prev.BinlogFilterRule = convAppendUnique(prev.BinlogFilterRule, name)
		}
	}
	return rules, nil
}

// checkTaskForYAML rejects what DM's task file cannot hold or DM would refuse to load.
func checkTaskForYAML(t *Task) error {
	switch {
	case t.Name == "":
		return convErr("the task has no name; set name")
	case !slices.Contains([]string{ModeAll, ModeFull, ModeIncremental, ModeDump, ModeLoad}, t.TaskMode):
		return convErr("task %s: task_mode %q is not one of all, full, incremental, dump, load", t.Name, t.TaskMode)
	case !slices.Contains(convShardModes, t.ShardMode):
		return convErr("task %s: shard_mode %q is not one of pessimistic, optimistic (or omit it)", t.Name, t.ShardMode)
	case len(t.SourceConfig.SourceConf) == 0:
		return convErr("task %s: source_config.source_conf must list at least one source", t.Name)
	}
	if onDup := onDuplicateAction(t); !slices.Contains([]string{"replace", "error", "ignore"}, onDup) {
		return convErr("task %s: on_duplicate %q is not one of replace, error, ignore", t.Name, t.OnDuplicate)
	}
	if f := t.SourceConfig.FullMigrateConf; f != nil && f.Consistency != "" && !slices.Contains(convConsistencies, f.Consistency) {
		return convErr("task %s: full_migrate_conf.consistency %q is not one of %s", t.Name, f.Consistency, strings.Join(convConsistencies, ", "))
	}
	seen := map[string]bool{}
	for _, sc := range t.SourceConfig.SourceConf {
		if sc.SourceName == "" {
			return convErr("task %s: every source_conf entry needs a source_name", t.Name)
		}
		if seen[sc.SourceName] {
			return convErr("task %s: source %s is listed twice in source_conf", t.Name, sc.SourceName)
		}
		seen[sc.SourceName] = true
		if sc.BinlogPos != nil && (*sc.BinlogPos < 0 || *sc.BinlogPos > 1<<32-1) {
			return convErr("task %s: source %s: binlog_pos %d is out of range 0..4294967295", t.Name, sc.SourceName, *sc.BinlogPos)
		}
		if (sc.BinlogName != nil || sc.BinlogPos != nil || sc.BinlogGTID != nil) && convDeref(sc.BinlogName) == "" && convDeref(sc.BinlogGTID) == "" {
			return convErr("task %s: source %s: a start position needs binlog_name (with binlog_pos) or binlog_gtid", t.Name, sc.SourceName)
		}
	}
	for _, r := range t.TableMigrateRule {
		for _, name := range r.BinlogFilterRule {
			if _, ok := t.BinlogFilterRule[name]; !ok {
				return convErr("filter rule name %s not found.", name)
			}
		}
	}
	return nil
}

// targetToFile maps target_config. TLS contents go base64-encoded; a Security without any
// content means "no TLS" and is left out.
func targetToFile(tc *TaskTargetDataBase) *taskFileDB {
	db := &taskFileDB{Host: tc.Host, Port: tc.Port, User: tc.User, Password: tc.Password}
	if tc.Session != nil && tc.Session.ForeignKeyChecks != "" {
		db.Session = map[string]string{"foreign_key_checks": tc.Session.ForeignKeyChecks}
	}
	if sec := tc.Security; sec.Enabled() {
		db.Security = &taskFileSecurity{
			SSLCABase64:   base64.StdEncoding.EncodeToString([]byte(sec.SSLCAContent)),
			SSLCertBase64: base64.StdEncoding.EncodeToString([]byte(sec.SSLCertContent)),
			SSLKeyBase64:  base64.StdEncoding.EncodeToString([]byte(sec.SSLKeyContent)),
			CertAllowedCN: slices.Clone(sec.CertAllowedCN),
		}
	}
	return db
}

// migrateConfToFile maps full_migrate_conf and incr_migrate_conf, filling DM's defaults.
// A thread count or batch of 0 means the default, as DM's config adjust treats it.
func migrateConfToFile(t *Task) (*taskFileDumper, *taskFileLoader, *taskFileSyncer) {
	full := t.SourceConfig.FullMigrateConf
	if full == nil {
		full = &TaskFullMigrateConf{}
	}
	dumper := &taskFileDumper{Threads: convPtr(convPositiveOr(full.ExportThreads, defaultExportThreads))}
	if full.Consistency != "" {
		dumper.ExtraArgs = "--consistency " + full.Consistency
	}
	loader := &taskFileLoader{
		PoolSize:            convPtr(convPositiveOr(full.ImportThreads, defaultImportThreads)),
		Dir:                 convPtr(cmp.Or(full.DataDir, defaultDataDir)),
		ImportMode:          cmp.Or(full.ImportMode, "logical"),
		OnDuplicateLogical:  onDuplicateAction(t),
		OnDuplicatePhysical: full.OnDuplicatePhysical,
		SortingDirPhysical:  full.SortingDir,
		DiskQuotaPhysical:   full.DiskQuota,
		ChecksumPhysical:    full.Checksum,
		Analyze:             full.Analyze,
		RangeConcurrency:    convCloneInt(full.RangeConcurrency),
		CompressKVPairs:     full.CompressKVPairs,
		PDAddr:              full.PDAddr,
	}
	incr := t.SourceConfig.IncrMigrateConf
	if incr == nil {
		incr = &TaskIncrMigrateConf{}
	}
	syncer := &taskFileSyncer{
		WorkerCount: convPtr(convPositiveOr(incr.ReplThreads, defaultReplThreads)),
		Batch:       convPtr(convPositiveOr(incr.ReplBatch, defaultReplBatch)),
		SafeMode:    incr.SafeMode != nil && *incr.SafeMode,
	}
	return dumper, loader, syncer
}

// convNamer hands out the generated names of routes, filters and allow-lists. Identical
// contents share a name, like DM's getGenerateName.
type convNamer struct {
	routes, balists map[string]string
	// filters maps template+scope to its filter name; used holds every name taken or reserved.
	filters map[[3]string]string
	used    map[string]bool
}

func newConvNamer(t *Task) *convNamer {
	n := &convNamer{routes: map[string]string{}, balists: map[string]string{}, filters: map[[3]string]string{}, used: map[string]bool{}}
	for name := range t.BinlogFilterRule {
		n.used[name] = true // a template's own name is reserved for it
	}
	return n
}

func (n *convNamer) route(r *taskFileRoute) string {
	return convContentName(n.routes, "route", *r)
}

func (n *convNamer) balist(b *taskFileBAList) string {
	return convContentName(n.balists, "balist", *b)
}

// filter names the filter of template tmpl scoped to schema.table: the template's name the
// first time, <tmpl>-<k> (the first free k ≥ 2) for each further scope.
func (n *convNamer) filter(tmpl, schema, table string) string {
	key := [3]string{tmpl, schema, table}
	if name, ok := n.filters[key]; ok {
		return name
	}
	name := tmpl
	if n.takenByScope(tmpl) {
		for k := 2; ; k++ {
			name = fmt.Sprintf("%s-%d", tmpl, k)
			if !n.used[name] {
				break
			}
		}
	}
	n.used[name] = true
	n.filters[key] = name
	return name
}

func (n *convNamer) takenByScope(name string) bool {
	for _, v := range n.filters {
		if v == name {
			return true
		}
	}
	return false
}

// convContentName returns the name given to v's contents, or the next "<prefix>-NN".
func convContentName[T any](names map[string]string, prefix string, v T) string {
	key := fmt.Sprintf("%#v", v)
	if name, ok := names[key]; ok {
		return name
	}
	name := fmt.Sprintf("%s-%02d", prefix, len(names)+1)
	names[key] = name
	return name
}

// taskFromYAML parses DM's task configuration file into an OpenAPI task.
func taskFromYAML(doc string) (*Task, error) {
	var f taskFile
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, convErr("the task configuration file is empty")
		}
		return nil, convErr("the task configuration file is not valid: %s", yamlErrorText(err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		return nil, convErr("the task configuration file is not valid: %s", yamlErrorText(err))
	}
	r := &taskFileReader{f: &f, root: &root}
	return r.task()
}

// taskFileReader turns a decoded task file into a Task; root locates lines for error messages.
type taskFileReader struct {
	f    *taskFile
	root *yaml.Node
}

func (r *taskFileReader) task() (*Task, error) {
	f := r.f
	if err := r.checkTop(); err != nil {
		return nil, err
	}
	if len(f.BAList) == 0 && len(f.BWList) != 0 {
		f.BAList = f.BWList
	}
	if err := r.checkInstances(); err != nil {
		return nil, err
	}

	shardMode := f.ShardMode
	if shardMode == "" && f.IsSharding {
		shardMode = "pessimistic" // DM's default for the deprecated is-sharding
	}
	online := f.OnlineDDL == nil || *f.OnlineDDL || f.OnlineDDLScheme == "pt" || f.OnlineDDLScheme == "gh-ost"
	t := &Task{
		Name:                      f.Name,
		TaskMode:                  f.TaskMode,
		ShardMode:                 shardMode,
		StrictOptimisticShardMode: convPtr(f.StrictOptimisticShardMode),
		MetaSchema:                cmp.Or(f.MetaSchema, defaultMetaSchema),
		Timezone:                  f.Timezone,
		EnhanceOnlineSchemaChange: convPtr(online),
		TableMigrateRule:          []TaskTableMigrateRule{},
	}
	if len(f.IgnoreCheckingItems) > 0 {
		t.IgnoreCheckingItems = slices.Clone(f.IgnoreCheckingItems)
	}
	target, err := r.target()
	if err != nil {
		return nil, err
	}
	t.TargetConfig = *target

	for i, inst := range f.MySQLInstances {
		sc := TaskSourceConf{SourceName: inst.SourceID}
		if m := inst.Meta; m != nil {
			sc.BinlogName, sc.BinlogPos, sc.BinlogGTID = convPtr(m.BinlogName), convPtr(m.BinlogPos), convPtr(m.BinlogGTID)
		}
		t.SourceConfig.SourceConf = append(t.SourceConfig.SourceConf, sc)
		rules, err := r.instanceRules(i, inst)
		if err != nil {
			return nil, err
		}
		t.TableMigrateRule = append(t.TableMigrateRule, rules...)
		for _, name := range inst.FilterRules {
			flt := f.Filters[name]
			if t.BinlogFilterRule == nil {
				t.BinlogFilterRule = map[string]TaskBinLogFilterRule{}
			}
			t.BinlogFilterRule[name] = TaskBinLogFilterRule{IgnoreEvent: slices.Clone(flt.Events), IgnoreSQL: slices.Clone(flt.SQLPattern)}
		}
	}
	// DM's OpenAPI holds one dump/load/sync config for all sources: the first instance's.
	if err := r.migrateConf(t, f.MySQLInstances[0]); err != nil {
		return nil, err
	}
	return t, nil
}

// checkTop validates the task-wide keys as DM's TaskConfig.adjust does.
func (r *taskFileReader) checkTop() error {
	f := r.f
	switch {
	case f.Name == "":
		return r.errAt(nil, "name is missing; every task needs a unique name")
	case !slices.Contains([]string{ModeAll, ModeFull, ModeIncremental, ModeDump, ModeLoad}, f.TaskMode):
		return r.errAt([]any{"task-mode"}, "task-mode %q is not one of all, full, incremental, dump, load", f.TaskMode)
	case !slices.Contains(convShardModes, f.ShardMode):
		return r.errAt([]any{"shard-mode"}, "shard-mode %q is not one of pessimistic, optimistic (or omit it)", f.ShardMode)
	case f.StrictOptimisticShardMode && f.ShardMode != "optimistic":
		return r.errAt([]any{"strict-optimistic-shard-mode"}, "strict-optimistic-shard-mode needs shard-mode: optimistic")
	case f.OnlineDDLScheme != "" && f.OnlineDDLScheme != "pt" && f.OnlineDDLScheme != "gh-ost":
		return r.errAt([]any{"online-ddl-scheme"}, "online-ddl-scheme %q is not one of pt, gh-ost; use online-ddl: true instead", f.OnlineDDLScheme)
	case len(f.ColumnMappings) > 0:
		return r.errAt([]any{"column-mappings"}, "column-mappings are deprecated in DM and not supported; remove them")
	case len(f.ExprFilter) > 0:
		return r.errAt([]any{"expression-filter"}, "expression-filter is not supported by OpenAPI tasks; remove it")
	case f.TargetDB == nil:
		return r.errAt(nil, "target-database is missing; set host, port, user and password of the target")
	case len(f.MySQLInstances) == 0:
		return r.errAt([]any{"mysql-instances"}, "mysql-instances must list at least one source")
	}
	return nil
}

// checkInstances validates every instance and its references, and that every global config
// is used, as DM does.
func (r *taskFileReader) checkInstances() error {
	f := r.f
	seen := map[string]int{}
	used := map[string]bool{}
	for i, inst := range f.MySQLInstances {
		at := []any{"mysql-instances", i}
		if inst == nil || inst.SourceID == "" {
			return r.errAt(at, "mysql-instances[%d] has no source-id", i)
		}
		where := fmt.Sprintf("mysql-instances[%d] (source %s)", i, inst.SourceID)
		if j, ok := seen[inst.SourceID]; ok {
			return r.errAt(at, "%s repeats the source-id of mysql-instances[%d]; list each source once", where, j)
		}
		seen[inst.SourceID] = i
		if m := inst.Meta; m != nil {
			if m.BinlogName == "" && m.BinlogGTID == "" {
				return r.errAt(append(at, "meta"), "%s: meta needs binlog-name (with binlog-pos) or binlog-gtid", where)
			}
			if m.BinlogPos < 0 || m.BinlogPos > 1<<32-1 {
				return r.errAt(append(at, "meta", "binlog-pos"), "%s: binlog-pos %d is out of range 0..4294967295", where, m.BinlogPos)
			}
		}
		if len(inst.ColumnMappingRules) > 0 {
			return r.errAt(append(at, "column-mapping-rules"), "%s: column-mapping-rules are deprecated in DM and not supported; remove them", where)
		}
		if len(inst.ExpressionFilters) > 0 {
			return r.errAt(append(at, "expression-filters"), "%s: expression-filters are not supported by OpenAPI tasks; remove them", where)
		}
		for _, name := range inst.RouteRules {
			route, ok := f.Routes[name]
			if !ok || route == nil {
				return r.errAt(append(at, "route-rules"), "%s refers to route %q, which routes does not define; define it or remove the reference", where, name)
			}
			if route.ExtractTable != nil || route.ExtractSchema != nil || route.ExtractSource != nil {
				return r.errAt([]any{"routes", name}, "route %s uses extract-table/extract-schema/extract-source, which OpenAPI tasks cannot express; remove them", name)
			}
			used["routes."+name] = true
		}
		for _, name := range inst.FilterRules {
			flt, ok := f.Filters[name]
			if !ok || flt == nil {
				return r.errAt(append(at, "filter-rules"), "%s refers to filter %q, which filters does not define; define it or remove the reference", where, name)
			}
			if !strings.EqualFold(flt.Action, "Ignore") {
				return r.errAt([]any{"filters", name}, "filter %s has action %q; OpenAPI tasks only express Ignore filters (binlog_filter_rule), so use action: Ignore", name, flt.Action)
			}
			used["filters."+name] = true
		}
		if inst.BAListName == "" {
			inst.BAListName = inst.BWListName
		}
		if name := inst.BAListName; name != "" {
			ba, ok := f.BAList[name]
			if !ok {
				return r.errAt(append(at, "block-allow-list"), "%s refers to block-allow-list %q, which block-allow-list does not define; define it or remove the reference", where, name)
			}
			if ba != nil && (len(ba.IgnoreDBs) > 0 || len(ba.IgnoreTables) > 0) {
				return r.errAt([]any{"block-allow-list", name}, "block-allow-list %s uses ignore-dbs/ignore-tables, which OpenAPI tasks cannot express; list the wanted schemas and tables in do-dbs/do-tables instead", name)
			}
		}
		refs := []struct {
			key, name string
			inline    bool
			defined   bool
		}{
			{"mydumper", inst.MydumperConfigName, inst.Mydumper != nil, convHasKey(f.Mydumpers, inst.MydumperConfigName)},
			{"loader", inst.LoaderConfigName, inst.Loader != nil, convHasKey(f.Loaders, inst.LoaderConfigName)},
			{"syncer", inst.SyncerConfigName, inst.Syncer != nil, convHasKey(f.Syncers, inst.SyncerConfigName)},
		}
		for _, ref := range refs {
			if ref.name == "" {
				continue
			}
			if ref.inline {
				return r.errAt(at, "%s sets both %s-config-name and an inline %s; keep one", where, ref.key, ref.key)
			}
			if !ref.defined {
				return r.errAt(append(at, ref.key+"-config-name"), "%s refers to %s config %q, which %ss does not define; define it or remove the reference", where, ref.key, ref.name, ref.key)
			}
			used[ref.key+"s."+ref.name] = true
		}
	}
	var unused []string
	for section, names := range map[string][]string{
		"routes": convKeys(f.Routes), "filters": convKeys(f.Filters),
		"mydumpers": convKeys(f.Mydumpers), "loaders": convKeys(f.Loaders), "syncers": convKeys(f.Syncers),
	} {
		for _, name := range names {
			if !used[section+"."+name] {
				unused = append(unused, section+"."+name)
			}
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return r.errAt(nil, "these configs are defined but no mysql-instances entry uses them: %s; reference or remove them", strings.Join(unused, ", "))
	}
	return nil
}

// target maps target-database.
func (r *taskFileReader) target() (*TaskTargetDataBase, error) {
	db := r.f.TargetDB
	tc := &TaskTargetDataBase{Host: db.Host, Port: db.Port, User: db.User, Password: db.Password}
	for k, v := range db.Session {
		if !strings.EqualFold(k, "foreign_key_checks") {
			continue // the OpenAPI target session holds foreign_key_checks only
		}
		switch strings.ToLower(v) {
		case "0", "off", "false":
			tc.Session = &SessionCfg{ForeignKeyChecks: "0"}
		case "1", "on", "true":
			tc.Session = &SessionCfg{ForeignKeyChecks: "1"}
		default:
			return nil, r.errAt([]any{"target-database", "session", k}, "target-database.session.foreign_key_checks %q is not 0 or 1", v)
		}
	}
	sec := db.Security
	if sec == nil {
		return tc, nil
	}
	if sec.SSLCA != "" || sec.SSLCert != "" || sec.SSLKey != "" {
		return nil, r.errAt([]any{"target-database", "security"}, "target-database.security names certificate files (ssl-ca/ssl-cert/ssl-key), which a conversion does not read; give their contents base64-encoded in ssl-ca-base64, ssl-cert-base64 and ssl-key-base64")
	}
	out := &Security{CertAllowedCN: slices.Clone(sec.CertAllowedCN)}
	for _, c := range []struct {
		key        string
		b64, bytes string
		dst        *string
	}{
		{"ssl-ca-base64", sec.SSLCABase64, sec.SSLCABytes, &out.SSLCAContent},
		{"ssl-cert-base64", sec.SSLCertBase64, sec.SSLCertBytes, &out.SSLCertContent},
		{"ssl-key-base64", sec.SSLKeyBase64, sec.SSLKeyBytes, &out.SSLKeyContent},
	} {
		*c.dst = c.bytes
		if c.b64 != "" {
			pem, err := base64.StdEncoding.DecodeString(c.b64)
			if err != nil {
				return nil, r.errAt([]any{"target-database", "security", c.key}, "target-database.security.%s is not valid base64: %v", c.key, err)
			}
			*c.dst = string(pem)
		}
	}
	if out.Enabled() {
		tc.Security = out
	}
	return tc, nil
}

// convRuleKey identifies a table rule of one source, for deduplication as DM does.
type convRuleKey struct{ schema, table string }

// convEntryList is do-dbs or do-tables, consumed in order.
type convEntryList struct {
	items []convRuleKey
	next  int
}

// upTo consumes the list through the next occurrence of key and returns the entries before
// it; if key does not occur again it consumes nothing.
func (l *convEntryList) upTo(key convRuleKey) []convRuleKey {
	p := slices.Index(l.items[l.next:], key)
	if p < 0 {
		return nil
	}
	before := l.items[l.next : l.next+p]
	l.next += p + 1
	return before
}

// rest consumes and returns what is left.
func (l *convEntryList) rest() []convRuleKey {
	out := l.items[l.next:]
	l.next = len(l.items)
	return out
}

// instanceRules rebuilds the table rules of one instance from its routes and allow-list,
// and attaches its filters.
//
// The rules come out in an order that respects the file's route-rules, do-dbs and do-tables
// lists at once: for each route in turn, the allow-list entries listed before the route's own
// entry are emitted first, then the route; the remaining do-dbs and do-tables follow. Since
// taskToYAML writes each list in rule order, converting the result back yields the same file.
func (r *taskFileReader) instanceRules(i int, inst *taskFileInstance) ([]TaskTableMigrateRule, error) {
	f := r.f
	source := inst.SourceID
	var dbs, tables convEntryList
	if ba := f.BAList[inst.BAListName]; ba != nil {
		for _, db := range ba.DoDBs {
			dbs.items = append(dbs.items, convRuleKey{db, ""})
		}
		for _, tbl := range ba.DoTables {
			tables.items = append(tables.items, convRuleKey{tbl.DBName, tbl.TblName})
		}
	}
	routes := make([]*taskFileRoute, 0, len(inst.RouteRules))
	for _, name := range inst.RouteRules {
		routes = append(routes, f.Routes[name])
	}

	var rules []TaskTableMigrateRule
	emitted := map[convRuleKey]bool{}
	routeDone := make([]bool, len(routes))
	emitRoute := func(k int) {
		routeDone[k] = true
		rt := routes[k]
		key := convRuleKey{rt.SchemaPattern, rt.TablePattern}
		if emitted[key] {
			return
		}
		emitted[key] = true
		rule := TaskTableMigrateRule{Source: TaskTableMigrateRuleSource{SourceName: source, Schema: key.schema, Table: key.table}}
		if rt.TargetSchema != "" || rt.TargetTable != "" {
			rule.Target = &TaskTableMigrateRuleTarget{Schema: rt.TargetSchema, Table: rt.TargetTable}
		}
		rules = append(rules, rule)
	}
	// emitEntry emits an allow-list entry, as the route of the same patterns if one is left.
	emitEntry := func(key convRuleKey) {
		for k, rt := range routes {
			if !routeDone[k] && rt.SchemaPattern == key.schema && rt.TablePattern == key.table {
				emitRoute(k)
				return
			}
		}
		if !emitted[key] {
			emitted[key] = true
			rules = append(rules, TaskTableMigrateRule{Source: TaskTableMigrateRuleSource{SourceName: source, Schema: key.schema, Table: key.table}})
		}
	}
	for k, rt := range routes {
		if routeDone[k] {
			continue
		}
		list := &tables
		if rt.TablePattern == "" {
			list = &dbs
		}
		for _, e := range list.upTo(convRuleKey{rt.SchemaPattern, rt.TablePattern}) {
			emitEntry(e)
		}
		if !routeDone[k] {
			emitRoute(k)
		}
	}
	for _, e := range dbs.rest() {
		emitEntry(e)
	}
	for _, e := range tables.rest() {
		emitEntry(e)
	}

	for _, name := range inst.FilterRules {
		flt := f.Filters[name]
		matched := false
		for j := range rules {
			if rules[j].Source.Schema == flt.SchemaPattern && rules[j].Source.Table == flt.TablePattern {
				rules[j].BinlogFilterRule = convAppendUnique(rules[j].BinlogFilterRule, name)
				matched = true
			}
		}
		if matched {
			continue
		}
		if len(rules) == 0 {
			return nil, r.errAt([]any{"mysql-instances", i, "filter-rules"}, "mysql-instances[%d] (source %s) uses filter %s but has no block-allow-list or route to scope it to; OpenAPI tasks attach filters to table rules, so add a do-dbs/do-tables entry with schema %q", i, source, name, flt.SchemaPattern)
		}
		// DM's own conversion attaches every filter of a source to every rule of it.
		for j := range rules {
			rules[j].BinlogFilterRule = convAppendUnique(rules[j].BinlogFilterRule, name)
		}
	}
	return rules, nil
}

// migrateConf maps the first instance's dump, load and sync configs, with DM's defaults and
// the instance's thread aliases applied.
func (r *taskFileReader) migrateConf(t *Task, inst *taskFileInstance) error {
	f := r.f
	dumper := cmp.Or(inst.Mydumper, f.Mydumpers[inst.MydumperConfigName], &taskFileDumper{})
	loader := cmp.Or(inst.Loader, f.Loaders[inst.LoaderConfigName], &taskFileLoader{})
	syncer := cmp.Or(inst.Syncer, f.Syncers[inst.SyncerConfigName], &taskFileSyncer{})
	at := []any{"mysql-instances", 0}
	if inst.MydumperConfigName != "" {
		at = []any{"mydumpers", inst.MydumperConfigName}
	}

	full := &TaskFullMigrateConf{
		ExportThreads:       convPtr(convPositiveOr(dumper.Threads, defaultExportThreads)),
		ImportThreads:       convPtr(convPositiveOr(loader.PoolSize, defaultImportThreads)),
		DataDir:             defaultDataDir,
		ImportMode:          strings.ToLower(loader.ImportMode),
		OnDuplicatePhysical: loader.OnDuplicatePhysical,
		SortingDir:          loader.SortingDirPhysical,
		DiskQuota:           loader.DiskQuotaPhysical,
		Checksum:            loader.ChecksumPhysical,
		Analyze:             loader.Analyze,
		RangeConcurrency:    convCloneInt(loader.RangeConcurrency),
		CompressKVPairs:     loader.CompressKVPairs,
		PDAddr:              loader.PDAddr,
	}
	if inst.MydumperThread > 0 {
		full.ExportThreads = convPtr(inst.MydumperThread)
	}
	if inst.LoaderThread > 0 {
		full.ImportThreads = convPtr(inst.LoaderThread)
	}
	if loader.Dir != nil && *loader.Dir != "" {
		full.DataDir = *loader.Dir
	}
	switch full.ImportMode {
	case "", "sql", "loader":
		full.ImportMode = "logical" // DM's adjust maps the deprecated modes to logical
	}
	if dumper.Where != "" {
		return r.errAt(append(at, "where"), "mydumper where %q is not supported by OpenAPI tasks; remove it", dumper.Where)
	}
	consistency, err := consistencyFromArgs(dumper.ExtraArgs)
	if err != nil {
		return r.errAt(append(at, "extra-args"), "%v", err)
	}
	full.Consistency = consistency

	onDup := strings.ToLower(cmp.Or(loader.OnDuplicateLogical, loader.OnDuplicate, "replace"))
	if !slices.Contains([]string{"replace", "error", "ignore"}, onDup) {
		return r.errAt(nil, "loader on-duplicate-logical %q is not one of replace, error, ignore", onDup)
	}
	t.OnDuplicate = onDup

	incr := &TaskIncrMigrateConf{
		ReplThreads: convPtr(convPositiveOr(syncer.WorkerCount, defaultReplThreads)),
		ReplBatch:   convPtr(convPositiveOr(syncer.Batch, defaultReplBatch)),
		SafeMode:    convPtr(syncer.SafeMode),
	}
	if inst.SyncerThread > 0 {
		incr.ReplThreads = convPtr(inst.SyncerThread)
	}
	t.SourceConfig.FullMigrateConf = full
	t.SourceConfig.IncrMigrateConf = incr
	return nil
}

// consistencyFromArgs reads "--consistency X" (or "--consistency=X") out of mydumper
// extra-args; any other argument is an error, since dmkit's dumper takes no mydumper flags.
func consistencyFromArgs(args string) (string, error) {
	fields := strings.Fields(args)
	var consistency string
	for i := 0; i < len(fields); i++ {
		switch arg := fields[i]; {
		case arg == "--consistency" && i+1 < len(fields):
			consistency = fields[i+1]
			i++
		case strings.HasPrefix(arg, "--consistency="):
			consistency = strings.TrimPrefix(arg, "--consistency=")
		default:
			return "", fmt.Errorf("mydumper extra-args %q: only --consistency is supported; remove %q", args, arg)
		}
	}
	if consistency != "" && !slices.Contains(convConsistencies, consistency) {
		return "", fmt.Errorf("mydumper extra-args %q: consistency %q is not one of %s", args, consistency, strings.Join(convConsistencies, ", "))
	}
	return consistency, nil
}

// errAt is a conversion error located at the YAML node found by path (mapping keys as
// strings, sequence indexes as ints); the line is left out if the path is not in the file.
func (r *taskFileReader) errAt(path []any, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if line := yamlNodeLine(r.root, path); line > 0 && path != nil {
		return convErr("task configuration file, line %d: %s", line, msg)
	}
	return convErr("task configuration file: %s", msg)
}

// yamlNodeLine returns the line of the node at path, or of its deepest existing ancestor.
func yamlNodeLine(n *yaml.Node, path []any) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch key := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						line, next = n.Content[i].Line, n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && key < len(n.Content) {
				next = n.Content[key]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

var yamlUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlErrorText makes yaml.v3's messages read in terms of the file: it drops the "yaml: "
// prefix and says "unknown key" instead of naming Go types.
func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = yamlUnknownField.ReplaceAllString(msg, `unknown key "$1" (DM's task file has no such key; check its spelling)`)
	lines := strings.Split(msg, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

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
