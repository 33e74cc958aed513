package dm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// Issue 11 "DM's status, complete": the sync unit's counters come from the syncer and
// move during a real migration; the rows/rps names carry the same counters as DM's.
func TestSyncStatusCountersMove(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	for _, s := range []*mysqltest.Server{testSrc, testDst} {
		s.Exec(t, "DROP DATABASE IF EXISTS counters; CREATE DATABASE counters; CREATE TABLE counters.t (id INT PRIMARY KEY, v VARCHAR(100))")
	}
	task := incrementalTask(t, "counters", TaskTableMigrateRuleSource{Schema: "counters"})
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, task.Name, StartTaskRequest{}))
	waitUnit(t, c, task.Name, UnitSync)

	insert := func(from, to int) {
		var vals []string
		for i := from; i < to; i++ {
			vals = append(vals, fmt.Sprintf("(%d, '%s')", i, strings.Repeat("x", 50)))
		}
		testSrc.Exec(t, "INSERT INTO counters.t VALUES "+strings.Join(vals, ","))
	}
	status := func() *SyncStatus {
		t.Helper()
		st := taskStage(t, c, task.Name)
		if len(st) != 1 || st[0].SyncStatus == nil {
			t.Fatalf("status = %+v, want one subtask with a sync status", st)
		}
		return st[0].SyncStatus
	}

	insert(0, 200)
	waitSame(t, "counters")
	var first *SyncStatus
	waitFor(t, "the sync counters to count 200 rows", func() bool { first = status(); return first.TotalEvents >= 200 })
	check := func(s *SyncStatus) {
		t.Helper()
		if s.TotalRows != s.TotalEvents || s.TotalRps != s.TotalTps || s.RecentRps != s.RecentTps {
			t.Errorf("rows/rps %d/%d/%d differ from events/tps %d/%d/%d; DM reports one counter under both names",
				s.TotalRows, s.TotalRps, s.RecentRps, s.TotalEvents, s.TotalTps, s.RecentTps)
		}
		if s.IOTotalBytes == 0 || s.DumpIOTotalBytes == 0 {
			t.Errorf("io_total_bytes %d, dump_io_total_bytes %d: want both > 0 after a migration", s.IOTotalBytes, s.DumpIOTotalBytes)
		}
		if s.BinlogType != "remote" {
			t.Errorf("binlog_type = %q, want remote (the syncer reads the source)", s.BinlogType)
		}
	}
	check(first)
	if first.TotalTps == 0 {
		t.Errorf("total_tps = 0 after %d events", first.TotalEvents)
	}

	insert(200, 400)
	waitSame(t, "counters")
	var second *SyncStatus
	waitFor(t, "the sync counters to count 400 rows", func() bool { second = status(); return second.TotalEvents >= 400 })
	check(second)
	if second.IOTotalBytes <= first.IOTotalBytes || second.DumpIOTotalBytes <= first.DumpIOTotalBytes {
		t.Errorf("io bytes did not grow with 200 more rows: %d -> %d, dump %d -> %d",
			first.IOTotalBytes, second.IOTotalBytes, first.DumpIOTotalBytes, second.DumpIOTotalBytes)
	}
	// 200 rows of ~60 bytes each went both ways.
	if d := second.IOTotalBytes - first.IOTotalBytes; d < 200*50 {
		t.Errorf("io_total_bytes grew by %d for 200 rows of 50+ bytes", d)
	}
	if d := second.DumpIOTotalBytes - first.DumpIOTotalBytes; d < 200*50 {
		t.Errorf("dump_io_total_bytes grew by %d for 200 rows of 50+ bytes", d)
	}
}
