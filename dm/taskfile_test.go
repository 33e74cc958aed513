package dm

import (
	"cmp"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

var updateConverterGolden = flag.Bool("update-converter", false, "rewrite the golden files under testdata/converter")

const converterTestdata = "testdata/converter"

// TestTaskToYAMLRoundTrip converts each task fixture to YAML, back to a task and to YAML
// again: the two files are identical, the file matches its golden copy, and every task along
// the way means the same as the fixture.
func TestTaskToYAMLRoundTrip(t *testing.T) {
	for _, name := range []string{
		"doc_task",            // the user doc's example (its rule names a source the task does not list)
		"doc_task_own_source", // the same, with the rule on the task's source
		"shard_merge",         // two sources merged into one table, shared filter, optimistic strict
		"filters",             // several templates, one used in three scopes; physical import knobs
		"incremental",         // binlog position and GTID metas, safe mode, session, target TLS
		"no_rules",            // no table rules: everything, defaults filled
	} {
		t.Run(name, func(t *testing.T) {
			task0 := readTaskFixture(t, name+".json")
			yaml1, err := taskToYAML(task0)
			if err != nil {
				t.Fatalf("taskToYAML: %v", err)
			}
			checkGolden(t, name+".yaml", yaml1)

			task1, err := taskFromYAML(yaml1)
			if err != nil {
				t.Fatalf("taskFromYAML(first YAML): %v\n%s", err, yaml1)
			}
			yaml2, err := taskToYAML(task1)
			if err != nil {
				t.Fatalf("taskToYAML(round-tripped task): %v", err)
			}
			if diff := gocmp.Diff(yaml1, yaml2); diff != "" {
				t.Errorf("YAML changed over a round trip (-first +second):\n%s", diff)
			}
			task2, err := taskFromYAML(yaml2)
			if err != nil {
				t.Fatalf("taskFromYAML(second YAML): %v", err)
			}
			if diff := gocmp.Diff(task1, task2); diff != "" {
				t.Errorf("task changed over a round trip (-first +second):\n%s", diff)
			}
			if diff := gocmp.Diff(semanticTask(task0), semanticTask(task1)); diff != "" {
				t.Errorf("converted task means something else (-fixture +converted):\n%s", diff)
			}
		})
	}
}

// TestTaskFromYAMLFiles reads hand-written DM task files: the task matches its golden JSON,
// and from there the conversion is stable.
func TestTaskFromYAMLFiles(t *testing.T) {
	for _, name := range []string{
		"dm_handwritten", // DM-style file: aliases, ignored keys, unordered routes, unscoped filter
		"dm_minimal",     // only the required keys
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(converterTestdata, name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			task1, err := taskFromYAML(string(doc))
			if err != nil {
				t.Fatalf("taskFromYAML: %v", err)
			}
			got, err := json.MarshalIndent(task1, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".task.json", string(got)+"\n")

			yaml1, err := taskToYAML(task1)
			if err != nil {
				t.Fatalf("taskToYAML: %v", err)
			}
			task2, err := taskFromYAML(yaml1)
			if err != nil {
				t.Fatalf("taskFromYAML(rendered): %v\n%s", err, yaml1)
			}
			yaml2, err := taskToYAML(task2)
			if err != nil {
				t.Fatalf("taskToYAML(second): %v", err)
			}
			if diff := gocmp.Diff(yaml1, yaml2); diff != "" {
				t.Errorf("YAML changed over a round trip (-first +second):\n%s", diff)
			}
			if diff := gocmp.Diff(semanticTask(task1), semanticTask(task2)); diff != "" {
				t.Errorf("task meaning changed over a round trip (-first +second):\n%s", diff)
			}
		})
	}
}

func TestTaskToYAMLMapping(t *testing.T) {
	base := func() *Task {
		return &Task{
			Name: "t", TaskMode: ModeAll, OnDuplicate: "replace",
			TargetConfig: TaskTargetDataBase{Host: "h", Port: 3306, User: "u"},
			SourceConfig: TaskSourceConfig{SourceConf: []TaskSourceConf{{SourceName: "s"}}},
		}
	}
	tests := []struct {
		name   string
		edit   func(*Task)
		want   []string // substrings of the YAML
		reject []string // must not appear
	}{
		{
			name: "defaults",
			edit: func(*Task) {},
			want: []string{"meta-schema: dm_meta\n", "online-ddl: true\n", "threads: 4\n", "pool-size: 16\n",
				"dir: ./dumped_data\n", "import-mode: logical\n", "on-duplicate-logical: replace\n",
				"worker-count: 16\n", "batch: 100\n", "safe-mode: false\n"},
			reject: []string{"verify:", "block-allow-list", "routes:", "filters:", "meta:", "shard-mode", "extra-args", "security"},
		},
		{
			name: "overwrite is replace",
			edit: func(t *Task) { t.OnDuplicate = "overwrite" },
			want: []string{"on-duplicate-logical: replace\n"},
		},
		{
			name: "verify (dmkit extension)",
			edit: func(t *Task) { t.Verify = VerifyRepair },
			want: []string{"verify: checksum+repair\n"},
		},
		{
			// Issue 11: on_duplicate_logical is the load's knob (DM's); it was ignored.
			name: "on_duplicate_logical wins for the load over the top-level on_duplicate",
			edit: func(t *Task) {
				t.OnDuplicate = "error"
				t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{OnDuplicateLogical: "ignore"}
			},
			want: []string{"on-duplicate-logical: ignore\n"},
		},
		{
			name: "disable_target_binlog (dmkit extension)",
			edit: func(t *Task) {
				t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DisableTargetBinlog: true}
			},
			want: []string{"disable-target-binlog: true\n"},
		},
		{
			name: "binlog name alone still writes all three meta keys",
			edit: func(t *Task) { t.SourceConfig.SourceConf[0].BinlogName = convPtr("mysql-bin.000001") },
			want: []string{"meta:\n      binlog-name: mysql-bin.000001\n      binlog-pos: 0\n      binlog-gtid: \"\"\n"},
		},
		{
			name: "schema-only rule is a do-db, table rule a do-table",
			edit: func(t *Task) {
				t.TableMigrateRule = []TaskTableMigrateRule{
					{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a", Table: ""}},
					{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "b", Table: "t*"}},
					{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a", Table: ""}},
				}
			},
			want: []string{"block-allow-list: balist-01\n", "do-dbs: [a]\n", "- db-name: b\n        tbl-name: t*\n"},
		},
		{
			name: "empty target is no route",
			edit: func(t *Task) {
				t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a"}, Target: &TaskTableMigrateRuleTarget{}}}
			},
			reject: []string{"routes:", "route-rules"},
		},
		{
			name: "filter scoped to the rule, whole schema when table is empty",
			edit: func(t *Task) {
				t.BinlogFilterRule = map[string]TaskBinLogFilterRule{"f": {IgnoreEvent: []string{"truncate table"}}}
				t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a"}, BinlogFilterRule: []string{"f"}}}
			},
			want: []string{"filter-rules: [f]\n", "filters:\n  f:\n    schema-pattern: a\n    events: [truncate table]\n    action: Ignore\n"},
		},
		{
			name: "full_migrate_conf TLS does not survive, target TLS does",
			edit: func(t *Task) {
				t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{Security: &Security{SSLCAContent: "pd-ca", SSLCertContent: "c", SSLKeyContent: "k"}}
				t.TargetConfig.Security = &Security{SSLCAContent: "ca"}
			},
			want:   []string{"ssl-ca-base64: Y2E=\n"},
			reject: []string{"cGQtY2E=", "pd-ca"},
		},
		{
			name:   "TLS without contents is no TLS",
			edit:   func(t *Task) { t.TargetConfig.Security = &Security{CertAllowedCN: []string{"x"}} },
			reject: []string{"security", "cert-allowed-cn"},
		},
		{
			name: "rules of unlisted sources are dropped",
			edit: func(t *Task) {
				t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "other", Schema: "a"}}}
			},
			reject: []string{"block-allow-list"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := base()
			tc.edit(task)
			doc, err := taskToYAML(task)
			if err != nil {
				t.Fatalf("taskToYAML: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(doc, w) {
					t.Errorf("YAML lacks %q:\n%s", w, doc)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(doc, r) {
					t.Errorf("YAML contains %q:\n%s", r, doc)
				}
			}
		})
	}
}

func TestTaskToYAMLErrors(t *testing.T) {
	base := func() *Task {
		return &Task{
			Name: "t", TaskMode: ModeAll, OnDuplicate: "replace",
			TargetConfig: TaskTargetDataBase{Host: "h", Port: 3306, User: "u"},
			SourceConfig: TaskSourceConfig{SourceConf: []TaskSourceConf{{SourceName: "s"}}},
		}
	}
	tests := []struct {
		name string
		edit func(*Task)
		want string
	}{
		{"no name", func(t *Task) { t.Name = "" }, "has no name"},
		{"bad mode", func(t *Task) { t.TaskMode = "sync" }, `task_mode "sync"`},
		{"bad shard mode", func(t *Task) { t.ShardMode = "lazy" }, `shard_mode "lazy"`},
		{"bad on_duplicate", func(t *Task) { t.OnDuplicate = "merge" }, `on_duplicate "merge"`},
		{"no sources", func(t *Task) { t.SourceConfig.SourceConf = nil }, "at least one source"},
		{"duplicate source", func(t *Task) {
			t.SourceConfig.SourceConf = append(t.SourceConfig.SourceConf, TaskSourceConf{SourceName: "s"})
		}, "listed twice"},
		{"unknown filter template", func(t *Task) {
			t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a"}, BinlogFilterRule: []string{"nope"}}}
		}, "filter rule name nope not found."},
		{"position without file or GTID", func(t *Task) { t.SourceConfig.SourceConf[0].BinlogPos = convPtr(int64(4)) }, "needs binlog_name"},
		{"position out of range", func(t *Task) {
			t.SourceConfig.SourceConf[0].BinlogName = convPtr("mysql-bin.000001")
			t.SourceConfig.SourceConf[0].BinlogPos = convPtr(int64(1) << 33)
		}, "out of range"},
		{"two targets for one table", func(t *Task) {
			t.TableMigrateRule = []TaskTableMigrateRule{
				{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a", Table: "b"}, Target: &TaskTableMigrateRuleTarget{Schema: "x"}},
				{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "a", Table: "b"}, Target: &TaskTableMigrateRuleTarget{Schema: "y"}},
			}
		}, "keep one target"},
		{"bad consistency", func(t *Task) {
			t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{Consistency: "strong"}
		}, `consistency "strong"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := base()
			tc.edit(task)
			_, err := taskToYAML(task)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("taskToYAML error = %v, want one containing %q", err, tc.want)
			}
			if ErrorCode(err) != CodeOpenAPICommon {
				t.Errorf("error code = %d, want %d", ErrorCode(err), CodeOpenAPICommon)
			}
		})
	}
	if _, err := taskToYAML(nil); err == nil {
		t.Error("taskToYAML(nil) succeeded")
	}
}

// minimalYAML is a valid file; error cases edit it.
const minimalYAML = `name: t
task-mode: all
target-database:
  host: 127.0.0.1
  port: 4000
  user: root
  password: ""
mysql-instances:
  - source-id: s1
`

func TestTaskFromYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"empty", "", []string{"empty"}},
		{"syntax error names the line", "name: t\ntask-mode: all\n  bad: indent\n", []string{"line 3"}},
		{"tab indentation", "name: t\n\ttask-mode: all\n", []string{"line 2"}},
		{"unknown top-level key", minimalYAML + "task_mode: all\n", []string{"line 10", `unknown key "task_mode"`}},
		{"unknown nested key", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    route-rule: [r]\n", 1), []string{"line 10", `unknown key "route-rule"`}},
		{"duplicate key", minimalYAML + "name: u\n", []string{"line 10", `"name" already defined`}},
		{"wrong type", strings.Replace(minimalYAML, "port: 4000", "port: four", 1), []string{"line 5", "four"}},
		{"no name", strings.Replace(minimalYAML, "name: t\n", "", 1), []string{"name is missing"}},
		{"bad mode", strings.Replace(minimalYAML, "task-mode: all", "task-mode: load&sync", 1), []string{"line 2", `task-mode "load&sync"`}},
		{"strict without optimistic", minimalYAML + "strict-optimistic-shard-mode: true\n", []string{"line 10", "shard-mode: optimistic"}},
		{"no target", "name: t\ntask-mode: all\nmysql-instances:\n  - source-id: s1\n", []string{"target-database is missing"}},
		{"no instances", "name: t\ntask-mode: all\ntarget-database: {host: h, port: 1, user: u, password: p}\n", []string{"at least one source"}},
		{"duplicate source", minimalYAML + "  - source-id: s1\n", []string{"line 10", "repeats the source-id"}},
		{"meta without position", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    meta:\n      binlog-pos: 4\n", 1), []string{"line 10", "meta needs binlog-name"}},
		{"undefined route", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    route-rules: [r1]\n", 1), []string{"line 10", `route "r1"`}},
		{"undefined filter", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    filter-rules: [f1]\n", 1), []string{`filter "f1"`}},
		{"undefined allow-list", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    block-allow-list: ba\n", 1), []string{`block-allow-list "ba"`}},
		{"undefined loader", strings.Replace(minimalYAML, "  - source-id: s1\n", "  - source-id: s1\n    loader-config-name: l\n", 1), []string{`loader config "l"`}},
		{"unused route", minimalYAML + "routes:\n  r1:\n    schema-pattern: a\n    target-schema: b\n", []string{"routes.r1"}},
		{"filter action Do", minimalYAML[:len(minimalYAML)-1] + "\n    filter-rules: [f]\n    block-allow-list: ba\nfilters:\n  f:\n    schema-pattern: a\n    action: Do\nblock-allow-list:\n  ba:\n    do-dbs: [a]\n", []string{"line 13", `action "Do"`}},
		{"ignore-dbs", minimalYAML[:len(minimalYAML)-1] + "\n    block-allow-list: ba\nblock-allow-list:\n  ba:\n    ignore-dbs: [mysql]\n", []string{"line 12", "ignore-dbs"}},
		{"route extractor", minimalYAML[:len(minimalYAML)-1] + "\n    route-rules: [r]\nroutes:\n  r:\n    schema-pattern: a\n    target-schema: b\n    extract-table: {table-regexp: x, target-column: c}\n", []string{"extract-table"}},
		{"expression filter", minimalYAML + "expression-filter:\n  e:\n    schema: a\n    table: b\n    insert-value-expr: c > 1\n", []string{"line 10", "expression-filter"}},
		{"custom shadow-table-rules", minimalYAML + "shadow-table-rules: ['^_(.+)_shadow$']\n", []string{"line 10", "shadow-table-rules"}},
		{"custom trash-table-rules", minimalYAML + "trash-table-rules: ['^_(.+)_trash$']\n", []string{"line 10", "trash-table-rules"}},
		{"certificate files", strings.Replace(minimalYAML, `password: ""`, "password: \"\"\n  security:\n    ssl-ca: /etc/ca.pem", 1), []string{"line 8", "ssl-ca-base64"}},
		{"bad base64", strings.Replace(minimalYAML, `password: ""`, "password: \"\"\n  security:\n    ssl-ca-base64: '***'", 1), []string{"line 9", "base64"}},
		{"bad foreign_key_checks", strings.Replace(minimalYAML, `password: ""`, "password: \"\"\n  session:\n    foreign_key_checks: maybe", 1), []string{"line 9", "foreign_key_checks"}},
		{"mydumper extra args", minimalYAML[:len(minimalYAML)-1] + "\n    mydumper-config-name: d\nmydumpers:\n  d:\n    extra-args: --consistency none -B db1\n", []string{"line 13", `remove "-B"`}},
		{"bad consistency", minimalYAML[:len(minimalYAML)-1] + "\n    mydumper-config-name: d\nmydumpers:\n  d:\n    extra-args: --consistency=strong\n", []string{`consistency "strong"`}},
		{"mydumper where", minimalYAML[:len(minimalYAML)-1] + "\n    mydumper-config-name: d\nmydumpers:\n  d:\n    where: id > 10\n", []string{"line 13", "where"}},
		{"name and inline config", minimalYAML[:len(minimalYAML)-1] + "\n    syncer-config-name: s\n    syncer: {batch: 1}\nsyncers:\n  s: {batch: 2}\n", []string{"line 9", "keep one"}},
		{"unscopable filter", minimalYAML[:len(minimalYAML)-1] + "\n    filter-rules: [f]\nfilters:\n  f:\n    schema-pattern: a\n    action: Ignore\n", []string{"line 10", "do-dbs/do-tables"}},
		{"bad on-duplicate", minimalYAML[:len(minimalYAML)-1] + "\n    loader: {on-duplicate-logical: merge}\n", []string{`"merge"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, err := taskFromYAML(tc.doc)
			if err == nil {
				b, _ := json.Marshal(task)
				t.Fatalf("taskFromYAML succeeded: %s", b)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if ErrorCode(err) != CodeOpenAPICommon {
				t.Errorf("error code = %d, want %d", ErrorCode(err), CodeOpenAPICommon)
			}
		})
	}
}

func TestTaskFromYAMLMapping(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, task *Task)
	}{
		{
			name: "defaults",
			doc:  minimalYAML,
			check: func(t *testing.T, task *Task) {
				want := &Task{
					Name: "t", TaskMode: ModeAll, MetaSchema: "dm_meta", OnDuplicate: "replace",
					StrictOptimisticShardMode: convPtr(false), EnhanceOnlineSchemaChange: convPtr(true),
					TargetConfig:     TaskTargetDataBase{Host: "127.0.0.1", Port: 4000, User: "root"},
					TableMigrateRule: []TaskTableMigrateRule{},
					SourceConfig: TaskSourceConfig{
						SourceConf: []TaskSourceConf{{SourceName: "s1"}},
						FullMigrateConf: &TaskFullMigrateConf{ExportThreads: convPtr(4), ImportThreads: convPtr(16),
							DataDir: "./dumped_data", ImportMode: "logical"},
						IncrMigrateConf: &TaskIncrMigrateConf{ReplThreads: convPtr(16), ReplBatch: convPtr(100), SafeMode: convPtr(false)},
					},
				}
				if diff := gocmp.Diff(want, task); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "verify (dmkit extension)",
			doc:  minimalYAML + "verify: \"off\"\n",
			check: func(t *testing.T, task *Task) {
				if task.Verify != VerifyOff {
					t.Errorf("verify = %q, want off", task.Verify)
				}
			},
		},
		{
			name: "disable-target-binlog (dmkit extension) in an inline loader",
			doc:  minimalYAML[:len(minimalYAML)-1] + "\n    loader: {disable-target-binlog: true}\n",
			check: func(t *testing.T, task *Task) {
				if !task.SourceConfig.FullMigrateConf.DisableTargetBinlog {
					t.Error("disable_target_binlog not read from the loader's disable-target-binlog")
				}
			},
		},
		{
			name: "is-sharding means pessimistic; online-ddl-scheme turns online DDL on",
			doc:  minimalYAML + "is-sharding: true\nonline-ddl: false\nonline-ddl-scheme: gh-ost\n",
			check: func(t *testing.T, task *Task) {
				if task.ShardMode != "pessimistic" || !*task.EnhanceOnlineSchemaChange {
					t.Errorf("shard_mode %q, online DDL %v", task.ShardMode, *task.EnhanceOnlineSchemaChange)
				}
			},
		},
		{
			name: "session and TLS contents",
			doc: strings.Replace(minimalYAML, `password: ""`, `password: "pw"
  max-allowed-packet: 67108864
  session:
    foreign_key_checks: 0
    sql_mode: ANSI
  security:
    ssl-ca-bytes: "ca-pem"
    ssl-cert-base64: Y2VydA==
    ssl-key-base64: a2V5
    cert-allowed-cn: [tidb]`, 1),
			check: func(t *testing.T, task *Task) {
				want := TaskTargetDataBase{Host: "127.0.0.1", Port: 4000, User: "root", Password: "pw",
					Session:  &SessionCfg{ForeignKeyChecks: "0"},
					Security: &Security{SSLCAContent: "ca-pem", SSLCertContent: "cert", SSLKeyContent: "key", CertAllowedCN: []string{"tidb"}}}
				if diff := gocmp.Diff(want, task.TargetConfig); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "deprecated aliases and inline configs",
			doc: minimalYAML[:len(minimalYAML)-1] + `
    black-white-list: old
    mydumper: {threads: 2, extra-args: "--consistency none"}
    mydumper-thread: 6
    loader: {pool-size: 3, dir: /data, import-mode: sql, on-duplicate: ignore}
    syncer: {worker-count: 5, batch: 50, safe-mode: true}
    syncer-thread: 7
black-white-list:
  old:
    do-dbs: [a]
`,
			check: func(t *testing.T, task *Task) {
				want := &TaskSourceConfig{
					SourceConf: []TaskSourceConf{{SourceName: "s1"}},
					FullMigrateConf: &TaskFullMigrateConf{ExportThreads: convPtr(6), ImportThreads: convPtr(3),
						DataDir: "/data", ImportMode: "logical", Consistency: "none"},
					IncrMigrateConf: &TaskIncrMigrateConf{ReplThreads: convPtr(7), ReplBatch: convPtr(50), SafeMode: convPtr(true)},
				}
				if diff := gocmp.Diff(want, &task.SourceConfig); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if task.OnDuplicate != "ignore" || len(task.TableMigrateRule) != 1 || task.TableMigrateRule[0].Source.Schema != "a" {
					t.Errorf("on_duplicate %q, rules %+v", task.OnDuplicate, task.TableMigrateRule)
				}
			},
		},
		{
			name: "routes without an allow-list become rules",
			doc: minimalYAML[:len(minimalYAML)-1] + `
    route-rules: [r]
routes:
  r: {schema-pattern: "shard_*", table-pattern: "t_*", target-schema: merged, target-table: t}
`,
			check: func(t *testing.T, task *Task) {
				want := []TaskTableMigrateRule{{
					Source: TaskTableMigrateRuleSource{SourceName: "s1", Schema: "shard_*", Table: "t_*"},
					Target: &TaskTableMigrateRuleTarget{Schema: "merged", Table: "t"},
				}}
				if diff := gocmp.Diff(want, task.TableMigrateRule); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, err := taskFromYAML(tc.doc)
			if err != nil {
				t.Fatalf("taskFromYAML: %v", err)
			}
			tc.check(t, task)
		})
	}
}

// TestInstanceRulesOrder checks that the rebuilt rules keep the relative order of the
// file's route-rules, do-dbs and do-tables, whatever the rules' original interleaving.
func TestInstanceRulesOrder(t *testing.T) {
	rule := func(schema, table, target string) TaskTableMigrateRule {
		r := TaskTableMigrateRule{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: schema, Table: table}}
		if target != "" {
			r.Target = &TaskTableMigrateRuleTarget{Schema: target}
		}
		return r
	}
	orders := [][]TaskTableMigrateRule{
		{rule("a", "t1", ""), rule("b", "t2", "x"), rule("c", "", ""), rule("d", "", "y")},
		{rule("d", "", "y"), rule("c", "", ""), rule("b", "t2", "x"), rule("a", "t1", "")},
		{rule("c", "", ""), rule("a", "t1", ""), rule("d", "", "y"), rule("b", "t2", "x")},
		{rule("b", "t2", "x"), rule("a", "t1", ""), rule("d", "", "y"), rule("c", "", "")},
	}
	for i, rules := range orders {
		task := &Task{Name: "t", TaskMode: ModeAll, OnDuplicate: "replace",
			TargetConfig:     TaskTargetDataBase{Host: "h", Port: 1, User: "u"},
			TableMigrateRule: rules,
			SourceConfig:     TaskSourceConfig{SourceConf: []TaskSourceConf{{SourceName: "s"}}}}
		yaml1, err := taskToYAML(task)
		if err != nil {
			t.Fatal(err)
		}
		back, err := taskFromYAML(yaml1)
		if err != nil {
			t.Fatal(err)
		}
		yaml2, err := taskToYAML(back)
		if err != nil {
			t.Fatal(err)
		}
		if yaml1 != yaml2 {
			t.Errorf("order %d: YAML changed (-first +second):\n%s", i, gocmp.Diff(yaml1, yaml2))
		}
	}
}

func readTaskFixture(t *testing.T, name string) *Task {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(converterTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	var task Task
	if err := json.Unmarshal(b, &task); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &task
}

// checkGolden compares got with testdata/converter/name, or rewrites it with -update-converter.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(converterTestdata, name)
	if *updateConverterGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./dm -run Converter -update-converter to create it)", err)
	}
	if diff := gocmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-golden +got); rerun with -update-converter if intended:\n%s", name, diff)
	}
}

// semTask is what a task means once deployed: defaults applied, on_duplicate resolved, rules
// of unlisted sources dropped, rules of the same (source, schema, table) merged as the
// subtask merges them, filter templates resolved to their contents, TLS of the full
// migration dropped (it never reaches the YAML) and an empty TLS config treated as none.
type semTask struct {
	Name, Mode, ShardMode, MetaSchema, Timezone, OnDuplicate string
	Strict, OnlineDDL                                        bool
	IgnoreChecking                                           []string
	Target                                                   TaskTargetDataBase
	Sources                                                  []TaskSourceConf
	Full                                                     TaskFullMigrateConf
	Incr                                                     TaskIncrMigrateConf
	Rules                                                    []semRule
}

type semRule struct {
	Source, Schema, Table string
	Target                *TaskTableMigrateRuleTarget
	Filters               []TaskBinLogFilterRule
}

func semanticTask(t *Task) semTask {
	s := semTask{
		Name: t.Name, Mode: t.TaskMode, ShardMode: t.ShardMode, Timezone: t.Timezone,
		MetaSchema:  cmp.Or(t.MetaSchema, defaultMetaSchema),
		OnDuplicate: onDuplicateAction(t),
		Strict:      t.StrictOptimisticShardMode != nil && *t.StrictOptimisticShardMode,
		OnlineDDL:   t.EnhanceOnlineSchemaChange == nil || *t.EnhanceOnlineSchemaChange,
		Target:      t.TargetConfig,
	}
	if len(t.IgnoreCheckingItems) > 0 {
		s.IgnoreChecking = t.IgnoreCheckingItems
	}
	if !s.Target.Security.Enabled() {
		s.Target.Security = nil
	}
	if s.Target.Session != nil && s.Target.Session.ForeignKeyChecks == "" {
		s.Target.Session = nil
	}
	listed := map[string]bool{}
	for _, sc := range t.SourceConfig.SourceConf {
		listed[sc.SourceName] = true
		if sc.BinlogName != nil || sc.BinlogPos != nil || sc.BinlogGTID != nil {
			sc = TaskSourceConf{SourceName: sc.SourceName, BinlogName: convPtr(convDeref(sc.BinlogName)),
				BinlogPos: convPtr(convDeref(sc.BinlogPos)), BinlogGTID: convPtr(convDeref(sc.BinlogGTID))}
		}
		s.Sources = append(s.Sources, sc)
	}
	if f := t.SourceConfig.FullMigrateConf; f != nil {
		s.Full = *f
	}
	s.Full.ExportThreads = convPtr(convPositiveOr(s.Full.ExportThreads, defaultExportThreads))
	s.Full.ImportThreads = convPtr(convPositiveOr(s.Full.ImportThreads, defaultImportThreads))
	s.Full.DataDir = cmp.Or(s.Full.DataDir, defaultDataDir)
	s.Full.ImportMode = cmp.Or(s.Full.ImportMode, "logical")
	s.Full.OnDuplicateLogical = "" // superseded by the top-level on_duplicate
	s.Full.Security = nil
	if i := t.SourceConfig.IncrMigrateConf; i != nil {
		s.Incr = *i
	}
	s.Incr.ReplThreads = convPtr(convPositiveOr(s.Incr.ReplThreads, defaultReplThreads))
	s.Incr.ReplBatch = convPtr(convPositiveOr(s.Incr.ReplBatch, defaultReplBatch))
	s.Incr.SafeMode = convPtr(s.Incr.SafeMode != nil && *s.Incr.SafeMode)

	byKey := map[[3]string]*semRule{}
	var keys [][3]string
	for _, r := range t.TableMigrateRule {
		if !listed[r.Source.SourceName] {
			continue
		}
		key := [3]string{r.Source.SourceName, r.Source.Schema, r.Source.Table}
		sr, ok := byKey[key]
		if !ok {
			sr = &semRule{Source: key[0], Schema: key[1], Table: key[2]}
			byKey[key] = sr
			keys = append(keys, key)
		}
		if sr.Target == nil && r.Target != nil && (r.Target.Schema != "" || r.Target.Table != "") {
			sr.Target = r.Target
		}
		for _, name := range r.BinlogFilterRule {
			f := t.BinlogFilterRule[name]
			if !slices.ContainsFunc(sr.Filters, func(g TaskBinLogFilterRule) bool { return gocmp.Equal(f, g) }) {
				sr.Filters = append(sr.Filters, f)
			}
		}
	}
	slices.SortFunc(keys, func(a, b [3]string) int { return slices.Compare(a[:], b[:]) })
	for _, k := range keys {
		sr := byKey[k]
		slices.SortFunc(sr.Filters, func(a, b TaskBinLogFilterRule) int {
			return cmp.Compare(strings.Join(a.IgnoreEvent, ",")+"|"+strings.Join(a.IgnoreSQL, ","),
				strings.Join(b.IgnoreEvent, ",")+"|"+strings.Join(b.IgnoreSQL, ","))
		})
		s.Rules = append(s.Rules, *sr)
	}
	return s
}
