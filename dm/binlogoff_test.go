package dm

import (
	"errors"
	"strings"
	"testing"
)

// TestDisableTargetBinlog runs a full task with full_migrate_conf.disable_target_binlog:
// the copy is complete and the target's binlog position does not move while it loads.
// Without the privilege to turn the binlog off, or in a mode without a load, the task is
// refused at create.
func TestDisableTargetBinlog(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	testSrc.Exec(t, "DROP DATABASE IF EXISTS nobin_src; CREATE DATABASE nobin_src; "+
		"CREATE TABLE nobin_src.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO nobin_src.t SELECT seq, CONCAT('r', seq) FROM mysql.seq_1_to_2000")
	testDst.Exec(t, "DROP DATABASE IF EXISTS nobin_src")
	position := func() string {
		t.Helper()
		var file, pos, doDB, ignoreDB string
		if err := openDB(t, testDst).QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
			t.Fatal(err)
		}
		return file + ":" + pos
	}

	task := fullTask("nobin", ModeFull, "nobin_src", "src1")
	task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DisableTargetBinlog: true}
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	before := position()
	runToFinish(t, c, "nobin")
	if after := position(); after != before {
		t.Errorf("the target's binlog moved from %s to %s during a load with disable_target_binlog", before, after)
	}
	compareSchema(t, "nobin_src", "nobin_src")

	testDst.Exec(t, "DROP USER IF EXISTS 'nobinlog'@'%'; CREATE USER 'nobinlog'@'%' IDENTIFIED BY 'pw'; "+
		"GRANT ALL ON `nobin_src`.* TO 'nobinlog'@'%'; GRANT ALL ON `dm_meta`.* TO 'nobinlog'@'%'")
	for _, tt := range []struct {
		name, mode, user, want string
	}{
		{"no privilege", ModeFull, "nobinlog", "needs the target user nobinlog to be allowed SET SESSION sql_log_bin"},
		{"no load", ModeIncremental, testDst.User, "task_mode incremental has none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			task := fullTask("nobin-"+strings.ReplaceAll(tt.name, " ", "-"), tt.mode, "nobin_src", "src1")
			task.TargetConfig.User = tt.user
			if tt.user == "nobinlog" {
				task.TargetConfig.Password = "pw"
			}
			task.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{DisableTargetBinlog: true}
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			var de *Error
			if !errors.As(err, &de) || de.Code != CodeInvalidRequest || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("create: %v; want code %d saying %q", err, CodeInvalidRequest, tt.want)
			}
		})
	}
}
