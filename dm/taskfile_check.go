package dm

// Validation of tasks and task files for conversion, and error locations in the file.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dmkit/dmkit/filter"
)

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
	case customTableRules(f.ShadowTableRules, filter.DefaultShadowTableRules):
		return r.errAt([]any{"shadow-table-rules"}, "shadow-table-rules other than DM's default %q are not supported by OpenAPI tasks (enhance_online_schema_change uses the default); remove them", filter.DefaultShadowTableRules)
	case customTableRules(f.TrashTableRules, filter.DefaultTrashTableRules):
		return r.errAt([]any{"trash-table-rules"}, "trash-table-rules other than DM's default %q are not supported by OpenAPI tasks (enhance_online_schema_change uses the default); remove them", filter.DefaultTrashTableRules)
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
		if err := r.checkInstance(at, where, inst); err != nil {
			return err
		}
		if err := r.checkRuleRefs(at, where, inst, used); err != nil {
			return err
		}
		if err := r.checkConfigRefs(at, where, inst, used); err != nil {
			return err
		}
	}
	return r.checkAllUsed(used)
}

// checkInstance validates an instance's own keys: its meta and the unsupported rules.
func (r *taskFileReader) checkInstance(at []any, where string, inst *taskFileInstance) error {
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
	return nil
}

// checkRuleRefs validates the routes, filters and allow-list an instance refers to, and
// marks them used.
func (r *taskFileReader) checkRuleRefs(at []any, where string, inst *taskFileInstance, used map[string]bool) error {
	f := r.f
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
	return nil
}

// checkConfigRefs validates the mydumper, loader and syncer configs an instance refers to,
// and marks them used.
func (r *taskFileReader) checkConfigRefs(at []any, where string, inst *taskFileInstance, used map[string]bool) error {
	f := r.f
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
	return nil
}

// checkAllUsed rejects global configs that no instance refers to.
func (r *taskFileReader) checkAllUsed(used map[string]bool) error {
	f := r.f
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

// customTableRules reports whether a task file's shadow-table-rules or trash-table-rules
// value is set to something other than DM's default list.
func customTableRules(v any, defaults []string) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		if len(x) == 0 {
			return false
		}
		if len(x) != len(defaults) {
			return true
		}
		for i, e := range x {
			if s, ok := e.(string); !ok || s != defaults[i] {
				return true
			}
		}
		return false
	}
	return true
}
