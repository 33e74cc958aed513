package dm

// DM task configuration file → Task (see taskfile.go for the mapping).

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

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
		Verify:                    f.Verify,
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
	rules := orderedRules(inst.SourceID, routes, &dbs, &tables)
	if err := r.attachFilters(i, inst, rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// orderedRules merges an instance's routes and allow-list entries into table rules, in the
// order instanceRules describes.
func orderedRules(source string, routes []*taskFileRoute, dbs, tables *convEntryList) []TaskTableMigrateRule {
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
		list := tables
		if rt.TablePattern == "" {
			list = dbs
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
	return rules
}

// attachFilters names each of the instance's filters in the binlog_filter_rule of the rules
// whose patterns equal its own, or of every rule when none does (as DM does).
func (r *taskFileReader) attachFilters(i int, inst *taskFileInstance, rules []TaskTableMigrateRule) error {
	f := r.f
	source := inst.SourceID
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
			return r.errAt([]any{"mysql-instances", i, "filter-rules"}, "mysql-instances[%d] (source %s) uses filter %s but has no block-allow-list or route to scope it to; OpenAPI tasks attach filters to table rules, so add a do-dbs/do-tables entry with schema %q", i, source, name, flt.SchemaPattern)
		}
		// DM's own conversion attaches every filter of a source to every rule of it.
		for j := range rules {
			rules[j].BinlogFilterRule = convAppendUnique(rules[j].BinlogFilterRule, name)
		}
	}
	return nil
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
		DisableTargetBinlog: loader.DisableTargetBinlog,
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
	if th := syncer.Throttle; th != nil {
		incr.Throttle = &TaskThrottle{Query: th.Query, Threshold: th.Threshold, Interval: th.Interval}
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
