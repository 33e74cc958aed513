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
// (_t_new, _t_old) nor its triggers ever reach the target.
func TestPTOnlineSchemaChange(t *testing.T) {
	tool, err := exec.LookPath("pt-online-schema-change")
	if err != nil {
		t.Skip("pt-online-schema-change not installed; run scripts/install-deps.sh (Debian package percona-toolkit)")
	}
	for _, tc := range []struct {
		name      string
		tableRule bool
	}{{"schema rule", false}, {"table rule", true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_ptosc_" + strings.ReplaceAll(tc.name, " ", "_")
			setupSchema(t, db, ostTable, "CREATE TABLE other (id INT PRIMARY KEY)")
			cfg := onlineConfig(t, "ptosc"+db[8:], db, tc.tableRule)
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
			// Restart the syncer once the tool's ALTER is captured, during the row copy.
			waitFor(t, r, func() error { return captured(t, cfg.Task, "_t_new", "c2") })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			r, stop = startSyncer(t, cfg)
			if err := <-toolDone; err != nil {
				t.Fatalf("pt-online-schema-change: %v\n%s", err, out.String())
			}
			t.Logf("pt-online-schema-change:\n%s", out.String())
			time.Sleep(300 * time.Millisecond) // the load goes on on the new table
			load.pause(false)
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
			if n := queryString(t, dst.DB(t), "SELECT COUNT(*) FROM dm_meta."+OnlineDDLTableName(cfg.Task)); n != "0" {
				t.Errorf("%s online DDL records left after the cut-over", n)
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
