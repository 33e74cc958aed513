package dm

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRelayAutoPurge: the source's purge policy removes old relay files on its own —
// by age (expires) and by free space (remain_space) — but never the file a paused task's
// checkpoint is in, nor anything after it.
func TestRelayAutoPurge(t *testing.T) {
	cases := []struct {
		name  string
		purge Purge
	}{
		{"expires", Purge{Interval: int64Ptr(1), Expires: int64Ptr(1), RemainSpace: int64Ptr(0)}},
		{"remain_space", Purge{Interval: int64Ptr(1), Expires: int64Ptr(0), RemainSpace: int64Ptr(1 << 40)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			c := newDataCluster(t)
			s := sourceFor("src1", testSrc)
			s.Purge = &tc.purge
			_, err := c.UpdateSource(ctx, "src1", UpdateSourceRequest{Source: s})
			mustOK(t, err)
			schema := "relayauto"
			testSrc.Exec(t, "DROP DATABASE IF EXISTS "+schema)
			testDst.Exec(t, "DROP DATABASE IF EXISTS "+schema)
			testSrc.Exec(t, "FLUSH BINARY LOGS")
			f0, _ := masterFile(t)
			mustOK(t, c.EnableRelay(ctx, "src1", EnableRelayRequest{RelayBinlogName: &f0}))
			testSrc.Exec(t, "CREATE DATABASE "+schema)
			testSrc.Exec(t, "CREATE TABLE "+schema+".t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
			testSrc.Exec(t, "FLUSH BINARY LOGS")
			f1, p1 := masterFile(t)
			task := fullTask("relayauto", ModeIncremental, schema, "src1")
			task.SourceConfig.SourceConf[0].BinlogName, task.SourceConfig.SourceConf[0].BinlogPos = &f1, &p1
			testSrc.Exec(t, "CREATE TABLE "+schema+".u (id INT PRIMARY KEY)") // in f1, after the start
			testDst.Exec(t, "CREATE DATABASE "+schema)
			testDst.Exec(t, "CREATE TABLE "+schema+".t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
			_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			mustOK(t, c.StartTask(ctx, "relayauto", StartTaskRequest{}))
			waitUnit(t, c, "relayauto", UnitSync)
			waitSame(t, schema)
			mustOK(t, c.StopTask(ctx, "relayauto", StopTaskRequest{}))
			waitStage(t, c, "relayauto", StagePaused, "")
			for i := range 3 {
				testSrc.Exec(t, "INSERT INTO "+schema+".t (v) VALUES (1)")
				testSrc.Exec(t, "FLUSH BINARY LOGS")
				_ = i
			}
			rs := waitRelayCatchUp(t, c, "src1", "worker1")
			dir := filepath.Join(c.cfg.DataDir, "relay-dir", "src1", "worker1", rs.RelayDir)
			old := time.Now().Add(-2 * time.Hour)
			files, _ := filepath.Glob(filepath.Join(dir, "mysql-bin.*"))
			for _, f := range files {
				mustOK(t, os.Chtimes(f, old, old))
			}
			waitFor(t, f0+" purged", func() bool {
				_, err := os.Stat(filepath.Join(dir, f0))
				return os.IsNotExist(err)
			})
			time.Sleep(1500 * time.Millisecond) // more ticks: nothing needed may go
			left, _ := filepath.Glob(filepath.Join(dir, "mysql-bin.*"))
			if len(left) != len(files)-1 || filepath.Base(left[0]) != f1 {
				t.Fatalf("after auto purge: %v (before: %v); the task needs %s", left, files, f1)
			}
			mustOK(t, c.StartTask(ctx, "relayauto", StartTaskRequest{}))
			waitUnit(t, c, "relayauto", UnitSync)
			waitSame(t, schema)
		})
	}
}
