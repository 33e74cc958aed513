package dm

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"slices"
)

// checkBinlogOff refuses full_migrate_conf.disable_target_binlog where it cannot act: in
// a task mode without a load, or when the target user may not turn its session's binlog
// off (SUPER, BINLOG ADMIN or SESSION_VARIABLES_ADMIN). The privilege is tried, not read
// from the grants: the privilege names differ between MySQL and MariaDB versions, and
// the attempt is what the load does on every connection.
func checkBinlogOff(ctx context.Context, t *Task, target *sql.DB) error {
	f := t.SourceConfig.FullMigrateConf
	if f == nil || !f.DisableTargetBinlog {
		return nil
	}
	if !slices.Contains([]string{ModeAll, ModeFull, ModeLoad}, t.TaskMode) {
		return invalidf("task %s: full_migrate_conf.disable_target_binlog applies to the load, and task_mode %s has none; remove it", t.Name, t.TaskMode)
	}
	conn, err := target.Conn(ctx)
	if err != nil {
		return NewError(CodeDBDriver, "database driver error: cannot connect to the target of task %s; check target_config", t.Name).withCause(err)
	}
	// Discarded, not pooled: its session has the binlog off.
	defer func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }); _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return invalidf("task %s: full_migrate_conf.disable_target_binlog needs the target user %s to be allowed SET SESSION sql_log_bin "+
			"(SUPER, BINLOG ADMIN on MariaDB 10.5.2+, SESSION_VARIABLES_ADMIN on MySQL 8), and the target said: %v; "+
			"grant it or remove the setting", t.Name, t.TargetConfig.User, err)
	}
	return nil
}
