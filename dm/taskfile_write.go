package dm

// Task → DM task configuration file (see taskfile.go for the mapping).

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"
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
		Verify:                    t.Verify,
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
		inst, err := instanceToFile(t, f, names, sc)
		if err != nil {
			return nil, err
		}
		f.MySQLInstances = append(f.MySQLInstances, inst)
	}
	return f, nil
}

// instanceToFile builds the mysql-instances entry of one source, adding its routes,
// filters and allow-list to f.
func instanceToFile(t *Task, f *taskFile, names *convNamer, sc TaskSourceConf) (*taskFileInstance, error) {
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
	return inst, nil
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
		OnDuplicateLogical:  loadOnDuplicate(t),
		OnDuplicatePhysical: full.OnDuplicatePhysical,
		SortingDirPhysical:  full.SortingDir,
		DiskQuotaPhysical:   full.DiskQuota,
		ChecksumPhysical:    full.Checksum,
		Analyze:             full.Analyze,
		RangeConcurrency:    convCloneInt(full.RangeConcurrency),
		CompressKVPairs:     full.CompressKVPairs,
		PDAddr:              full.PDAddr,
		DisableTargetBinlog: full.DisableTargetBinlog,
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
	if th := incr.Throttle; th != nil {
		syncer.Throttle = &taskFileThrottle{Query: th.Query, Threshold: th.Threshold, Interval: th.Interval}
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
