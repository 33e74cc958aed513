package dm

import (
	"context"
	"database/sql"
	"path/filepath"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
)

// onlineDDL is the task's online schema change handling (enhance_online_schema_change,
// on unless set to false): the classifier of gh-ost and pt-osc ghost and trash tables
// with DM's default rules, or nil when off. The dump leaves those tables out and the
// sync captures their ALTERs for the real table.
func onlineDDL(t *Task) *filter.OnlineDDL {
	if t.EnhanceOnlineSchemaChange != nil && !*t.EnhanceOnlineSchemaChange {
		return nil
	}
	return filter.DefaultOnlineDDL()
}

// sourceDBConfig is how dmkit connects to a source.
func sourceDBConfig(s *Source) dbconn.Config {
	cfg := dbconn.Config{Host: s.Host, Port: s.Port, User: s.User}
	if s.Password != nil {
		cfg.Password = *s.Password
	}
	cfg.TLS = tlsConfig(s.Security)
	return cfg
}

func tlsConfig(sec *Security) *dbconn.TLSConfig {
	if !sec.Enabled() {
		return nil
	}
	return &dbconn.TLSConfig{CA: sec.SSLCAContent, Cert: sec.SSLCertContent, Key: sec.SSLKeyContent, AllowedCN: sec.CertAllowedCN}
}

// targetDBConfig is how dmkit connects to a task's target.
func targetDBConfig(tc *TaskTargetDataBase) dbconn.Config {
	return dbconn.Config{Host: tc.Host, Port: tc.Port, User: tc.User, Password: tc.Password, TLS: tlsConfig(tc.Security)}
}

// openTarget connects to a task's target; failure is DM's 10001.
func openTarget(ctx context.Context, t *Task) (*sql.DB, error) {
	db, err := dbconn.Open(ctx, targetDBConfig(&t.TargetConfig), "")
	if err != nil {
		return nil, NewError(CodeDBDriver, "database driver error: cannot connect to the target of task %s at %s:%d as %s; check target_config",
			t.Name, t.TargetConfig.Host, t.TargetConfig.Port, t.TargetConfig.User).withCause(err)
	}
	return db, nil
}

// onDuplicateAction is the effective on-duplicate behaviour of the sync (and of the load
// unless on_duplicate_logical is given): "replace", "error" or "ignore". dmkit honours the
// top-level on_duplicate; "overwrite" (the user doc's word) is an alias of "replace".
func onDuplicateAction(t *Task) string {
	return normalOnDuplicate(t.OnDuplicate)
}

// loadOnDuplicate is the on-duplicate behaviour of the load: full_migrate_conf's
// on_duplicate_logical when given (the knob DM's loader reads), else the top-level one.
func loadOnDuplicate(t *Task) string {
	if f := t.SourceConfig.FullMigrateConf; f != nil && f.OnDuplicateLogical != "" {
		return normalOnDuplicate(f.OnDuplicateLogical)
	}
	return onDuplicateAction(t)
}

func normalOnDuplicate(v string) string {
	switch v {
	case "", "overwrite":
		return "replace"
	}
	return v
}

// effectiveDataDir is the dump directory of one subtask: for full and all modes
// "<data_dir>.<task>" (one per source when the task has several), for dump and load the
// data_dir as is (that is how a dump task hands files to a load task).
func effectiveDataDir(base string, t *Task, source string) string {
	dir := "./dumped_data"
	if f := t.SourceConfig.FullMigrateConf; f != nil && f.DataDir != "" {
		dir = f.DataDir
	}
	switch t.TaskMode {
	case ModeFull, ModeAll:
		dir = dir + "." + t.Name
		if len(t.SourceConfig.SourceConf) > 1 {
			dir = filepath.Join(dir, source)
		}
	case ModeDump, ModeLoad:
		if len(t.SourceConfig.SourceConf) > 1 {
			dir = filepath.Join(dir, source)
		}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	return dir
}
