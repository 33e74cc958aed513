package syncer

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestPTOnlineSchemaChange runs the real pt-online-schema-change (percona-toolkit,
// scripts/install-deps.sh) on a source table under a write load, with a schema-level
// and a table-level rule, restarting the syncer while the tool copies rows: the target
// table ends altered and identical to the source, and neither the tool's tables
// (_t_new, _t_old) nor its triggers ever reach the target. With online DDL off, a
// schema-level rule migrates the tool's tables like any (the RENAME runs on the target)
// and a table-level rule pauses at the cut-over with the target table kept.
func TestPTOnlineSchemaChange(t *testing.T) {
	tool, err := exec.LookPath("pt-online-schema-change")
	if err != nil {
		t.Skip("pt-online-schema-change not installed; run scripts/install-deps.sh (Debian package percona-toolkit)")
	}
	for _, tc := range []struct {
		name      string
		tableRule bool
		off       bool // enhance_online_schema_change: false
	}{{"schema rule", false, false}, {"table rule", true, false}, {"off schema rule", false, true}, {"off table rule", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_ptosc_" + strings.ReplaceAll(tc.name, " ", "_")
			setupSchema(t, db, ostTable, "CREATE TABLE other (id INT PRIMARY KEY)")
			cfg := onlineConfig(t, "ptosc"+db[8:], db, tc.tableRule)
			if tc.off {
				cfg.OnlineDDL = nil
			}
			r, stop := startSyncer(t, cfg)
			// Rows for the tool to copy, then the load during the whole migration.
			src.Exec(t, "USE "+db+"; INSERT INTO t (id, v, n) SELECT seq, CONCAT('r', seq), seq % 13 FROM seq_1_to_3000")
			load := startLoad(t, db, 3000)
			sc := src.DBConfig()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tool,
				"--alter", "ADD COLUMN c2 INT NOT NULL DEFAULT 5, ADD INDEX iv (v), MODIFY n BIGINT NOT NULL",
				"--execute", "--noversion-check", "--recursion-method=none", "--chunk-size=200", "--sleep=0.1",
				"--no-check-replication-filters", "--critical-load=Threads_running=1000", "--max-load=Threads_running=1000",
				fmt.Sprintf("h=%s,P=%d,u=%s,p=%s,D=%s,t=t", sc.Host, sc.Port, sc.User, sc.Password, db))
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			toolDone := make(chan error, 1)
			go func() { toolDone <- cmd.Wait() }()
			if !tc.off {
				// Restart the syncer once the tool's ALTER is captured, during the row copy.
				waitFor(t, r, func() error { return captured(t, cfg.Task, "_t_new", "c2") })
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
				r, stop = startSyncer(t, cfg)
			}
			if err := <-toolDone; err != nil {
				t.Fatalf("pt-online-schema-change: %v\n%s", err, out.String())
			}
			t.Logf("pt-online-schema-change:\n%s", out.String())
			time.Sleep(300 * time.Millisecond) // the load goes on on the new table
			load.pause(false)
			if tc.off && tc.tableRule {
				// The cut-over moves _t_new (not replicated) onto t: refused, t kept.
				err := stop()
				if err == nil || !strings.Contains(err.Error(), "enhance_online_schema_change") {
					t.Fatalf("want the half-in-scope RENAME refused, got %v", err)
				}
				if got := targetTableNames(t, db); !slices.Equal(got, []string{"other", "t"}) {
					t.Errorf("target tables %v, want other and t kept", got)
				}
				return
			}
			waitTableSynced(t, r, db)
			if got := targetTableNames(t, db); !slices.Equal(got, []string{"other", "t"}) {
				t.Errorf("target tables %v, want only other and t", got)
			}
			if c := showCreate(t, dst.DB(t), db); !strings.Contains(c, "`c2`") || !strings.Contains(c, "`iv`") {
				t.Errorf("target table not altered: %s", c)
			}
			if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", db); n != "0" {
				t.Errorf("%s triggers on the target", n)
			}
			records := "SELECT COUNT(*) FROM dm_meta." + OnlineDDLTableName(cfg.Task)
			if tc.off {
				records = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dm_meta' AND TABLE_NAME = '" + OnlineDDLTableName(cfg.Task) + "'"
			}
			if n := queryString(t, dst.DB(t), records); n != "0" {
				t.Errorf("%s: %s, want 0 (no records left, no table with online DDL off)", records, n)
			}
			if err := mysqltest.CompareTables(context.Background(), src.DB(t), db, "t", dst.DB(t), db, "t"); err != nil {
				t.Error(err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
