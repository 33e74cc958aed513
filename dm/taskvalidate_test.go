package dm

import (
	"strings"
	"testing"
)

// Issue 11: loose values accepted and then ignored are refused at validation.
func TestNormalizeRefusesLooseValues(t *testing.T) {
	base := func() *Task {
		return &Task{Name: "loose", TaskMode: ModeAll, TargetConfig: TaskTargetDataBase{Host: "127.0.0.1", Port: 3306, User: "root"},
			SourceConfig: TaskSourceConfig{SourceConf: []TaskSourceConf{{SourceName: "s"}}}}
	}
	tests := []struct {
		name   string
		modify func(*Task)
		want   string // "" = accepted
	}{
		{"s3 data_dir", func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: "s3://bucket/x"} }, "external storage"},
		{"gcs data_dir", func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: "gcs://b"} }, "external storage"},
		{"local data_dir", func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DataDir: "./dumped"} }, ""},
		{"bad gtid", func(t *Task) { t.SourceConfig.SourceConf[0].BinlogGTID = strPtr("zz") }, "not a GTID set"},
		{"mariadb gtid", func(t *Task) { t.SourceConfig.SourceConf[0].BinlogGTID = strPtr("0-1-100,1-2-3") }, ""},
		{"mysql gtid", func(t *Task) {
			t.SourceConfig.SourceConf[0].BinlogGTID = strPtr("3ccc475b-2343-11e7-be21-6c0b84d59f30:1-14")
		}, ""},
		{"unknown event", func(t *Task) {
			t.BinlogFilterRule = map[string]TaskBinLogFilterRule{"f": {IgnoreEvent: []string{"delete", "bogus"}}}
		}, `not DM event types`},
		{"physical settings with logical import", func(t *Task) {
			t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DiskQuota: "80G", PDAddr: "pd:2379"}
		}, "[disk_quota, pd_addr]: settings of the physical import"},
		{"physical security with logical import", func(t *Task) {
			t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{Security: &Security{SSLCAContent: "a", SSLCertContent: "b", SSLKeyContent: "c"}}
		}, "[security]: settings of the physical import"},
		{"range_concurrency 0 is the default", func(t *Task) {
			t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{RangeConcurrency: intPtr(0)}
		}, ""},
		{"unclosed [ in a table rule schema", func(t *Task) {
			t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "["}}}
		}, "table_migrate_rule[0].source.schema: pattern \"[\": `[` opens a character class that is never closed"},
		{"bad wildcard in a table rule table", func(t *Task) {
			t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "db", Table: "a*b"}}}
		}, "table_migrate_rule[0].source.table"},
		{"class in a table rule", func(t *Task) {
			t.TableMigrateRule = []TaskTableMigrateRule{{Source: TaskTableMigrateRuleSource{SourceName: "s", Schema: "db_[0-9]", Table: "[[]x"}}}
		}, ""},
		{"known events", func(t *Task) {
			t.BinlogFilterRule = map[string]TaskBinLogFilterRule{"f": {IgnoreEvent: []string{"all dml", "truncate table"}}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := base()
			tt.modify(task)
			_, err := normalizeTask(task)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("normalizeTask = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestValidStartTime(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-01-02 15:04:05": true, "2026-01-02T15:04:05": true, "2026-01-02 15:04:05Z": true,
		"2026-01-02 15:04:05+08:00": true, "2026-01-02 15:04:05-0700": true,
		"2026-13-45 25:61:61": false, "2026-02-30 10:00:00": false, "yesterday": false,
	} {
		if got := validStartTime(s); got != want {
			t.Errorf("validStartTime(%q) = %v, want %v", s, got, want)
		}
	}
}
