package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// scrape reads /metrics and returns the families by name.
func scrape(t *testing.T, c *child) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(c.base, "/api/v1") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics = %d: %s", resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return fams
}

// value is the value of the metric of family name whose labels include want; ok is false
// when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestOperatorEndpoints: /healthz, /readyz and /metrics beside the API, and the metrics
// follow a real migration (dump, load, then replicated changes).
func TestOperatorEndpoints(t *testing.T) {
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS opsdb")
	e2eSrc.Exec(t, "CREATE DATABASE opsdb")
	e2eSrc.Exec(t, "CREATE TABLE opsdb.t (id INT PRIMARY KEY, v VARCHAR(40))")
	e2eSrc.Exec(t, "INSERT INTO opsdb.t SELECT seq, CONCAT('v', seq) FROM opsdb.seq_1_to_500")
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS opsdb")

	c := startChild(t, "--data-dir", t.TempDir())
	root := strings.TrimSuffix(c.base, "/api/v1")
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(root + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"status"`) {
			t.Fatalf("%s = %d %s", p, resp.StatusCode, b)
		}
	}
	// The API's own 404 stays the unified body.
	c.expectError(t, "GET", "/nope", "", 404, 49101)

	before := scrape(t, c)
	if _, ok := value(before, "go_goroutines", nil); !ok {
		t.Fatal("no Go runtime metrics")
	}
	if _, ok := value(before, "dm_worker_task_state", nil); ok {
		t.Fatal("a task state before any task exists")
	}

	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "ops-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q, "enable_gtid": true}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)
	task := func(name, mode, targetSchema string) string {
		return fmt.Sprintf(`{"task": {"name": %q, "task_mode": %q, "on_duplicate": "replace",
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [{"source": {"source_name": "ops-src", "schema": "opsdb", "table": ""}, "target": {"schema": %q}}],
		"source_config": {"source_conf": [{"source_name": "ops-src"}]}}}`, name, mode, e2eDst.Port, e2eDst.User, e2eDst.Password, targetSchema)
	}
	// A dump task and a full task end in their last unit, whose figures the metrics show.
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS opsfull")
	c.expect(t, "POST", "/tasks", task("ops-dump", "dump", "opsdump"), 201, nil)
	c.expect(t, "POST", "/tasks/ops-dump/start", "", 200, nil)
	c.expect(t, "POST", "/tasks", task("ops-full", "full", "opsfull"), 201, nil)
	c.expect(t, "POST", "/tasks/ops-full/start", "", 200, nil)
	c.expect(t, "POST", "/tasks", task("ops", "all", "opsdb"), 201, nil)
	c.expect(t, "POST", "/tasks/ops/start", "", 200, nil)

	labels := map[string]string{"task": "ops", "source_id": "ops-src"}
	var fams map[string]*dto.MetricFamily
	waitMetric := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			fams = scrape(t, c)
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics never showed %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitMetric("the sync unit running", func() bool {
		st, _ := value(fams, "dm_worker_task_state", labels)
		unit, _ := value(fams, "dmkit_subtask_unit", map[string]string{"task": "ops", "unit": "Sync"})
		return st == 2 && unit == 1
	})
	waitMetric("the dump and full tasks finished", func() bool {
		d, _ := value(fams, "dm_worker_task_state", map[string]string{"task": "ops-dump"})
		f, _ := value(fams, "dm_worker_task_state", map[string]string{"task": "ops-full"})
		return d == 5 && f == 5
	})
	if rows, _ := value(fams, "dm_dumpling_finished_rows", map[string]string{"task": "ops-dump"}); rows != 500 {
		t.Errorf("dm_dumpling_finished_rows = %v, want 500", rows)
	}
	if n, _ := value(fams, "dm_dumpling_completed_tables", map[string]string{"task": "ops-dump"}); n != 1 {
		t.Errorf("dm_dumpling_completed_tables = %v, want 1", n)
	}
	loaded, _ := value(fams, "dm_loader_finished_bytes", map[string]string{"task": "ops-full"})
	total, _ := value(fams, "dm_loader_data_size_gauge", map[string]string{"task": "ops-full"})
	if p, _ := value(fams, "dm_loader_progress", map[string]string{"task": "ops-full"}); p != 1 || loaded == 0 || loaded != total {
		t.Errorf("dm_loader_progress = %v, loaded %v of %v bytes; want all", p, loaded, total)
	}
	if n, _ := value(fams, "dmkit_http_requests_total", map[string]string{"operation": "DMAPIStartTask", "code": "200"}); n != 3 {
		t.Errorf("dmkit_http_requests_total for the starts = %v, want 3", n)
	}
	if bound, _ := value(fams, "dmkit_worker_bound", map[string]string{"source_id": "ops-src"}); bound != 1 {
		t.Errorf("dmkit_worker_bound = %v", bound)
	}
	events0, _ := value(fams, "dmkit_syncer_events_total", labels)
	if err := mysqltest.CompareTables(t.Context(), e2eSrc.DB(t), "opsdb", "t", e2eDst.DB(t), "opsfull", "t"); err != nil {
		t.Errorf("the full task's copy: %v", err)
	}

	e2eSrc.Exec(t, "INSERT INTO opsdb.t SELECT seq, 'later' FROM opsdb.seq_501_to_600")
	waitMetric("the replicated events", func() bool {
		n, _ := value(fams, "dmkit_syncer_events_total", labels)
		return n > events0
	})
	if lag, ok := value(fams, "dm_syncer_replication_lag_gauge", labels); !ok || lag < 0 {
		t.Errorf("dm_syncer_replication_lag_gauge = %v (%v)", lag, ok)
	}
	waitMetric("the applied rows by kind", func() bool {
		n, _ := value(fams, "dmkit_syncer_rows_applied_total", map[string]string{"task": "ops", "type": "insert"})
		return n >= 100
	})
	if n, _ := value(fams, "dm_syncer_txn_duration_time", labels); n == 0 {
		t.Error("no target transaction in dm_syncer_txn_duration_time")
	}
	if n, _ := value(fams, "dmkit_syncer_checkpoint_flush_seconds", labels); n == 0 {
		t.Error("no checkpoint flush in dmkit_syncer_checkpoint_flush_seconds")
	}
	if _, ok := value(fams, "dmkit_syncer_binlog_bytes_behind", labels); !ok {
		t.Error("no dmkit_syncer_binlog_bytes_behind")
	}
	if err := mysqltest.WaitEqual(t.Context(), e2eSrc.DB(t), "opsdb", "t", e2eDst.DB(t), "opsdb", "t", time.Minute); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "POST", "/tasks/ops/stop", "", 200, nil)
	waitMetric("the paused stage", func() bool {
		st, _ := value(fams, "dm_worker_task_state", labels)
		return st == 3
	})
}
