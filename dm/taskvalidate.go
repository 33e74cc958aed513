package dm

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/dmkit/dmkit/filter"
)

// Defaults applied to a task, as DM applies them.
const (
	defaultMetaSchema    = "dm_meta"
	defaultExportThreads = 4
	defaultImportThreads = 16
	defaultReplThreads   = 16
	defaultReplBatch     = 100
	defaultDataDir       = "./dumped_data"
	maxThreads           = 256
	maxReplBatch         = 100000
)

var (
	taskModes      = []string{ModeAll, ModeFull, ModeIncremental, ModeDump, ModeLoad}
	shardModes     = []string{"", "pessimistic", "optimistic"}
	onDuplicates   = []string{"", "replace", "error", "ignore", "overwrite"}
	consistencies  = []string{"", "auto", "none", "flush", "lock", "snapshot"}
	offsetTimezone = regexp.MustCompile(`^([+-])(\d{2}):(\d{2})$`)
	wildcardChars  = "*?"
	urlScheme      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
)

// unknownEvents returns the names in events that are not DM binlog event types.
func unknownEvents(events []string) []string {
	if len(events) == 0 {
		return nil
	}
	types := make([]filter.EventType, len(events))
	for i, e := range events {
		types[i] = filter.EventType(e)
	}
	f, err := filter.NewEventFilter([]filter.EventRule{{SchemaPattern: "*", Events: types, Action: filter.Ignore}}, false)
	if err != nil {
		return events
	}
	return f.UnknownEvents()
}

// validGTIDSet reports whether s parses as a MySQL or a MariaDB GTID set.
func validGTIDSet(s string) bool {
	if _, err := gomysql.ParseMysqlGTIDSet(s); err == nil {
		return true
	}
	_, err := gomysql.ParseMariadbGTIDSet(s)
	return err == nil
}

// normalizeTask validates everything about a task that needs no server and fills in the
// defaults. It returns a deep copy; t is not modified.
func normalizeTask(in *Task) (*Task, error) {
	if in == nil {
		return nil, invalidf("request body must be {\"task\": {...}}")
	}
	t := cloneTask(in)
	t.StatusList = nil
	switch {
	case t.Name == "":
		return nil, invalidf("task name is required")
	case !validName(t.Name):
		return nil, invalidf("task name %q is invalid: use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'", t.Name)
	case len(t.Name) > maxTaskNameLen:
		return nil, invalidf("task name %q is %d characters long; at most %d fit in the target's checkpoint table names", t.Name, len(t.Name), maxTaskNameLen)
	case !slices.Contains(taskModes, t.TaskMode):
		return nil, invalidf("task %s: task_mode %q is not one of %s", t.Name, t.TaskMode, strings.Join(taskModes, ", "))
	case !slices.Contains(shardModes, t.ShardMode):
		return nil, invalidf("task %s: shard_mode %q is not one of pessimistic, optimistic (or omit it)", t.Name, t.ShardMode)
	case !slices.Contains(onDuplicates, t.OnDuplicate):
		return nil, invalidf("task %s: on_duplicate %q is not one of replace, error, ignore", t.Name, t.OnDuplicate)
	case !slices.Contains(verifyModes, t.Verify):
		return nil, invalidf("task %s: verify %q is not one of off, checksum, checksum+repair (or omit it: checksum)", t.Name, t.Verify)
	}
	if t.StrictOptimisticShardMode != nil && *t.StrictOptimisticShardMode && t.ShardMode != "optimistic" {
		return nil, NewError(CodeStrictOptimistic, "cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`")
	}
	if t.StrictOptimisticShardMode == nil {
		t.StrictOptimisticShardMode = boolPtr(false)
	}
	if t.OnDuplicate == "" {
		t.OnDuplicate = "replace"
	}
	if t.MetaSchema == "" {
		t.MetaSchema = defaultMetaSchema
	}
	if !validName(t.MetaSchema) || len(t.MetaSchema) > 64 {
		return nil, invalidf("task %s: meta_schema %q is invalid: use letters, digits, '_', '-' and '.' (at most 64)", t.Name, t.MetaSchema)
	}
	if filter.IsSystemSchema(t.MetaSchema) {
		return nil, invalidf("task %s: meta_schema %q is a system schema; use a schema of its own such as %s", t.Name, t.MetaSchema, defaultMetaSchema)
	}
	if t.EnhanceOnlineSchemaChange == nil {
		t.EnhanceOnlineSchemaChange = boolPtr(true)
	}
	if err := validateTimezone(t.Timezone); err != nil {
		return nil, err
	}
	if err := validateTarget(t); err != nil {
		return nil, err
	}
	if err := validateSourceConfig(t); err != nil {
		return nil, err
	}
	if err := validateRules(t); err != nil {
		return nil, err
	}
	return t, nil
}

// validateTimezone accepts what DM accepts and can be applied losslessly: a fixed offset
// (+08:00) or UTC. DM applies the zone to the dump's source sessions and the load's and
// sync's target sessions (TIMESTAMPs are converted through it on both ends); dmkit does
// the same. A named zone is refused: where it has daylight-saving time, an hour repeats
// and two TIMESTAMP instants of that hour are converted to one local time (DM writes the
// wrong instant); it would also need the time zone tables loaded on every server.
func validateTimezone(tz string) error {
	if tz == "" {
		return nil
	}
	if strings.EqualFold(tz, "SYSTEM") || strings.EqualFold(tz, "Local") {
		return NewError(CodeInvalidTimezone, "invalid timezone string: %s", tz)
	}
	if isUTCName(tz) {
		return nil
	}
	if m := offsetTimezone.FindStringSubmatch(tz); m != nil {
		var h, mi int
		fmt.Sscanf(m[2], "%d", &h)
		fmt.Sscanf(m[3], "%d", &mi)
		mins := h*60 + mi
		if mi > 59 || (m[1] == "-" && mins > 12*60+59) || (m[1] == "+" && mins > 14*60) {
			return NewError(CodeInvalidTimezone, "invalid timezone string: %s", tz)
		}
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return NewError(CodeInvalidTimezone, "invalid timezone string: %s", tz)
	}
	return NewError(CodeInvalidTimezone, "timezone %s: named time zones are not supported: TIMESTAMP values are converted through the zone on both ends, "+
		"and in a daylight-saving change two instants share one local time, so one of them would be written wrongly; "+
		"use its fixed offset such as +08:00, or leave timezone unset (TIMESTAMPs then move in UTC, exactly)", tz)
}

func isUTCName(tz string) bool {
	return strings.EqualFold(tz, "UTC") || strings.EqualFold(tz, "Etc/UTC")
}

// sessionTimeZone is the session time zone of a task's units: its timezone as an offset,
// +00:00 when unset or UTC.
func sessionTimeZone(t *Task) string {
	if t.Timezone == "" || isUTCName(t.Timezone) {
		return "+00:00"
	}
	return t.Timezone
}

func validateTarget(t *Task) error {
	tc := &t.TargetConfig
	switch {
	case strings.TrimSpace(tc.Host) == "":
		return invalidf("task %s: target_config.host is required", t.Name)
	case tc.Port <= 0 || tc.Port > 65535:
		return invalidf("task %s: target_config.port %d is out of range 1..65535", t.Name, tc.Port)
	case tc.User == "":
		return invalidf("task %s: target_config.user is required", t.Name)
	}
	if s := tc.Session; s != nil && s.ForeignKeyChecks != "" && s.ForeignKeyChecks != "0" && s.ForeignKeyChecks != "1" {
		return invalidf("task %s: target_config.session.foreign_key_checks must be \"0\" or \"1\"", t.Name)
	}
	if sec := tc.Security; sec.Enabled() && sec.SSLCAContent == "" && sec.SSLCertContent == "" {
		return invalidf("task %s: target_config.security needs ssl_ca_content, or ssl_cert_content with ssl_key_content", t.Name)
	}
	return nil
}

func validateSourceConfig(t *Task) error {
	sc := &t.SourceConfig
	if len(sc.SourceConf) == 0 {
		return invalidf("task %s: source_config.source_conf must list at least one source", t.Name)
	}
	seen := map[string]bool{}
	for _, s := range sc.SourceConf {
		if s.SourceName == "" {
			return invalidf("task %s: every source_conf entry needs a source_name", t.Name)
		}
		if seen[s.SourceName] {
			return invalidf("task %s: source %s is listed twice in source_conf", t.Name, s.SourceName)
		}
		seen[s.SourceName] = true
		if s.BinlogPos != nil && *s.BinlogPos < 0 {
			return invalidf("task %s: source %s: binlog_pos must not be negative", t.Name, s.SourceName)
		}
		if s.BinlogName != nil && *s.BinlogName != "" && !relayBinlogNameRE.MatchString(*s.BinlogName) {
			return invalidf("task %s: source %s: binlog_name %q is not a binlog file name such as mysql-bin.000001", t.Name, s.SourceName, *s.BinlogName)
		}
		if s.BinlogGTID != nil && *s.BinlogGTID != "" && !validGTIDSet(*s.BinlogGTID) {
			return invalidf("task %s: source %s: binlog_gtid %q is not a GTID set: use MySQL's uuid:1-100 or MariaDB's 0-1-100 form", t.Name, s.SourceName, *s.BinlogGTID)
		}
	}
	if sc.FullMigrateConf == nil {
		sc.FullMigrateConf = &TaskFullMigrateConf{}
	}
	f := sc.FullMigrateConf
	if err := threads(t.Name, "full_migrate_conf.export_threads", &f.ExportThreads, defaultExportThreads, maxThreads); err != nil {
		return err
	}
	if err := threads(t.Name, "full_migrate_conf.import_threads", &f.ImportThreads, defaultImportThreads, maxThreads); err != nil {
		return err
	}
	if f.DataDir == "" {
		f.DataDir = defaultDataDir
	}
	if m := urlScheme.FindString(f.DataDir); m != "" {
		return invalidf("task %s: full_migrate_conf.data_dir %q is external storage (%s); dmkit dumps to a local directory: give a path inside the server's data directory", t.Name, f.DataDir, m)
	}
	if !slices.Contains(consistencies, f.Consistency) {
		return invalidf("task %s: full_migrate_conf.consistency %q is not one of auto, none, flush, lock, snapshot", t.Name, f.Consistency)
	}
	switch f.ImportMode {
	case "", "logical":
		f.ImportMode = "logical"
	case "physical", "import-into":
		return invalidf("task %s: full_migrate_conf.import_mode %q needs TiDB Lightning; dmkit loads MySQL-compatible targets with import_mode \"logical\"", t.Name, f.ImportMode)
	default:
		return invalidf("task %s: full_migrate_conf.import_mode %q is not one of logical, physical, import-into", t.Name, f.ImportMode)
	}
	if f.OnDuplicateLogical != "" && !slices.Contains([]string{"replace", "error", "ignore"}, f.OnDuplicateLogical) {
		return invalidf("task %s: full_migrate_conf.on_duplicate_logical %q is not one of replace, error, ignore", t.Name, f.OnDuplicateLogical)
	}
	if sec := f.Security; sec != nil && (sec.SSLCAContent == "" || sec.SSLCertContent == "" || sec.SSLKeyContent == "") {
		return NewError(CodeOpenAPICommon, "Invalid security config, full migrate conf's security fields should not be \"\"")
	}
	if set := physicalOnly(f); len(set) > 0 {
		return invalidf("task %s: full_migrate_conf [%s]: settings of the physical import (TiDB Lightning), which import_mode \"logical\" "+
			"would ignore; remove them (TLS of the logical load is target_config.security)", t.Name, strings.Join(set, ", "))
	}
	if sc.IncrMigrateConf == nil {
		sc.IncrMigrateConf = &TaskIncrMigrateConf{}
	}
	in := sc.IncrMigrateConf
	if err := threads(t.Name, "incr_migrate_conf.repl_threads", &in.ReplThreads, defaultReplThreads, maxThreads); err != nil {
		return err
	}
	if err := threads(t.Name, "incr_migrate_conf.repl_batch", &in.ReplBatch, defaultReplBatch, maxReplBatch); err != nil {
		return err
	}
	if in.SafeMode == nil {
		in.SafeMode = boolPtr(false)
	}
	return validateThrottle(t.Name, in.Throttle)
}

// physicalOnly lists the physical-import settings f sets (the logical import has no use
// for them).
func physicalOnly(f *TaskFullMigrateConf) []string {
	var set []string
	add := func(name string, on bool) {
		if on {
			set = append(set, name)
		}
	}
	add("sorting_dir", f.SortingDir != "")
	add("disk_quota", f.DiskQuota != "")
	add("checksum", f.Checksum != "")
	add("analyze", f.Analyze != "")
	add("range_concurrency", f.RangeConcurrency != nil && *f.RangeConcurrency != 0)
	add("compress-kv-pairs", f.CompressKVPairs != "")
	add("pd_addr", f.PDAddr != "")
	add("on_duplicate_physical", f.OnDuplicatePhysical != "")
	add("security", f.Security != nil)
	return set
}

func threads(task, field string, v **int, def, max int) error {
	if *v == nil {
		*v = intPtr(def)
		return nil
	}
	if **v < 1 || **v > max {
		return invalidf("task %s: %s must be between 1 and %d, got %d", task, field, max, **v)
	}
	return nil
}

func validateRules(t *Task) error {
	for name, r := range t.BinlogFilterRule {
		if name == "" {
			return invalidf("task %s: binlog_filter_rule names must not be empty", t.Name)
		}
		if unknown := unknownEvents(r.IgnoreEvent); len(unknown) > 0 {
			return invalidf("task %s: binlog_filter_rule %s: ignore_event %q: not DM event types; use e.g. \"all dml\", \"insert\", \"update\", \"delete\", \"all ddl\", \"create table\", \"drop table\", \"truncate table\"",
				t.Name, name, unknown)
		}
		for _, re := range r.IgnoreSQL {
			if _, err := regexp.Compile("(?i)" + re); err != nil {
				return invalidf("task %s: binlog_filter_rule %s: ignore_sql %q is not a valid regular expression: %v", t.Name, name, re, err)
			}
		}
	}
	if t.TableMigrateRule == nil {
		t.TableMigrateRule = []TaskTableMigrateRule{}
	}
	for i, r := range t.TableMigrateRule {
		if r.Source.SourceName == "" {
			return invalidf("task %s: table_migrate_rule[%d].source.source_name is required", t.Name, i)
		}
		if r.Source.Schema == "" {
			return invalidf("task %s: table_migrate_rule[%d].source.schema is required (use \"*\" for every schema)", t.Name, i)
		}
		for _, p := range [...]struct{ field, pattern string }{{"schema", r.Source.Schema}, {"table", r.Source.Table}} {
			if _, err := filter.CompilePattern(p.pattern, false); err != nil {
				return NewError(CodeBadAllowList, "task %s: table_migrate_rule[%d].source.%s: %v", t.Name, i, p.field, err)
			}
		}
		if r.Target != nil && (strings.ContainsAny(r.Target.Schema, wildcardChars) || strings.ContainsAny(r.Target.Table, wildcardChars)) {
			return invalidf("task %s: table_migrate_rule[%d].target must not contain wildcards", t.Name, i)
		}
		if r.Target != nil && r.Target.Schema == "" && r.Target.Table != "" {
			return invalidf("task %s: table_migrate_rule[%d].target.table needs target.schema", t.Name, i)
		}
		for _, fr := range r.BinlogFilterRule {
			if _, ok := t.BinlogFilterRule[fr]; !ok {
				return NewError(CodeOpenAPICommon, "filter rule name %s not found.", fr)
			}
		}
	}
	return nil
}

// cloneTask deep-copies a task through its JSON form, which is its whole definition.
func cloneTask(t *Task) *Task {
	var out Task
	mustRoundTrip(t, &out)
	return &out
}
