package dm

import (
	"testing"
	"time"

	"github.com/dmkit/dmkit/filter"
)

// Issue 11 "nothing accepted and ignored": every task and source field the data path acts
// on reaches the unit configurations (the data-path packages' own tests prove what each
// configuration setting does). httpapi/fields.yaml cites this test for those fields.
func TestUnitConfigsCarryTaskFields(t *testing.T) {
	task := Task{
		Name: "fields", TaskMode: ModeAll, OnDuplicate: "ignore", MetaSchema: "meta_x", Timezone: "+08:00",
		TargetConfig: TaskTargetDataBase{Host: "tgt", Port: 4001, User: "tu", Password: "tpw",
			Security: &Security{SSLCAContent: "tca", CertAllowedCN: []string{"tcn"}}, Session: &SessionCfg{ForeignKeyChecks: "1"}},
		BinlogFilterRule: map[string]TaskBinLogFilterRule{"f": {IgnoreEvent: []string{"delete"}, IgnoreSQL: []string{"^DROP"}}},
		TableMigrateRule: []TaskTableMigrateRule{{
			Source:           TaskTableMigrateRuleSource{SourceName: "s1", Schema: "db", Table: "t*"},
			Target:           &TaskTableMigrateRuleTarget{Schema: "db2", Table: "t2"},
			BinlogFilterRule: []string{"f"},
		}},
		SourceConfig: TaskSourceConfig{
			FullMigrateConf: &TaskFullMigrateConf{ExportThreads: intPtr(3), ImportThreads: intPtr(5), DataDir: "d", Consistency: "lock", OnDuplicateLogical: "error",
				DisableTargetBinlog: true},
			IncrMigrateConf: &TaskIncrMigrateConf{ReplThreads: intPtr(7), ReplBatch: intPtr(33), SafeMode: boolPtr(true),
				Throttle: &TaskThrottle{Query: "SELECT 1", Threshold: float64Ptr(5), Interval: "2s"}},
			SourceConf: []TaskSourceConf{{SourceName: "s1", BinlogName: strPtr("mysql-bin.000007"), BinlogPos: int64Ptr(1234), BinlogGTID: strPtr("0-1-9")}},
		},
	}
	src := Source{SourceName: "s1", Host: "src", Port: 3307, User: "su", Password: strPtr("spw"), EnableGTID: true,
		Security: &Security{SSLCAContent: "sca"}}
	cfg := &SubtaskConfig{Task: task, Source: src, Flavor: "mariadb", DataDir: "/dump/dir", CaseSensitive: false}

	units, err := builtinUnits(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := units[0].(*dumpUnit).p
	d := p.dumperConfig(nil)
	l := p.loaderConfig()
	s, err := units[2].(*syncUnit).syncerConfig()
	if err != nil {
		t.Fatal(err)
	}
	check := func(field string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s does not reach the unit configuration", field)
		}
	}
	// Source.
	check("source host/port/user/password (dump)", d.Source.Host == "src" && d.Source.Port == 3307 && d.Source.User == "su" && d.Source.Password == "spw")
	check("source host/port/user/password (sync)", s.SourceDB.Host == "src" && s.SourceDB.Port == 3307 && s.SourceDB.Password == "spw")
	check("source security", d.Source.TLS != nil && d.Source.TLS.CA == "sca" && s.SourceDB.TLS != nil && s.SourceDB.TLS.CA == "sca")
	check("source enable_gtid", s.EnableGTID)
	check("source flavor", d.Flavor == "mariadb" && s.Flavor == "mariadb")
	// Target.
	for name, tc := range map[string]struct {
		host, user, pw string
		port           int
		ca             string
		cn             []string
	}{
		"load": {l.Target.Host, l.Target.User, l.Target.Password, l.Target.Port, l.Target.TLS.CA, l.Target.TLS.AllowedCN},
		"sync": {s.Target.Host, s.Target.User, s.Target.Password, s.Target.Port, s.Target.TLS.CA, s.Target.TLS.AllowedCN},
	} {
		check("target_config ("+name+")", tc.host == "tgt" && tc.port == 4001 && tc.user == "tu" && tc.pw == "tpw" && tc.ca == "tca" && len(tc.cn) == 1 && tc.cn[0] == "tcn")
	}
	check("target_config.session.foreign_key_checks", s.ForeignKeyChecks)
	// Task.
	check("name", l.Task == "fields" && s.Task == "fields")
	check("meta_schema", l.MetaSchema == "meta_x" && s.MetaSchema == "meta_x")
	check("timezone", d.TimeZone == "+08:00" && l.TimeZone == "+08:00" && s.TimeZone == "+08:00")
	check("on_duplicate (sync)", s.OnDuplicate == "ignore")
	check("full_migrate_conf.on_duplicate_logical (load)", l.OnDuplicate == "error")
	check("full_migrate_conf.export_threads", d.Threads == 3)
	check("full_migrate_conf.import_threads", l.Threads == 5)
	check("full_migrate_conf.disable_target_binlog", l.DisableBinlog)
	check("full_migrate_conf.consistency", d.Consistency == "lock")
	check("full_migrate_conf.data_dir (effective dir)", d.Dir == "/dump/dir" && l.Dir == "/dump/dir")
	check("incr_migrate_conf.repl_threads", s.Workers == 7)
	check("incr_migrate_conf.repl_batch", s.Batch == 33)
	check("incr_migrate_conf.throttle", s.Throttle != nil && s.Throttle.Query == "SELECT 1" && s.Throttle.Threshold == 5 && s.Throttle.Interval == 2*time.Second)
	check("incr_migrate_conf.safe_mode", s.SafeMode)
	// Table rules and filters.
	check("table_migrate_rule.source (dump)", d.Tables("db", "t1") && !d.Tables("db", "x") && !d.Tables("other", "t1"))
	check("table_migrate_rule.source (sync)", s.Tables("db", "t1") && !s.Tables("db", "x"))
	ts, tt, err := l.Route("db", "t1")
	check("table_migrate_rule.target (load)", err == nil && ts == "db2" && tt == "t2")
	ts, tt, err = s.Route("db", "t1")
	check("table_migrate_rule.target (sync)", err == nil && ts == "db2" && tt == "t2")
	a, err := s.Events.Filter("db", "t1", filter.DeleteEvent, "")
	check("binlog_filter_rule.ignore_event", err == nil && a == filter.Ignore)
	a, err = s.Events.Filter("db", "t1", filter.DropTable, "DROP TABLE t1")
	check("binlog_filter_rule.ignore_sql", err == nil && a == filter.Ignore)

	// source_conf's position is the start of an incremental task.
	cfg.Task.TaskMode = ModeIncremental
	units, err = builtinUnits(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err = units[0].(*syncUnit).syncerConfig()
	if err != nil {
		t.Fatal(err)
	}
	check("source_conf.binlog_name/binlog_pos/binlog_gtid", s.Start.File == "mysql-bin.000007" && s.Start.Pos == 1234 && s.Start.GTID == "0-1-9")
}
