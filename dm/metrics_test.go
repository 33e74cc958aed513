package dm

import (
	"errors"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/syncer"
	"github.com/prometheus/client_golang/prometheus"
)

func TestBinlogIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"(mysql-bin.000012, 4)", 12, true},
		{"mysql-bin.000003", 3, true},
		{"(bin.1, 1234)", 1, true},
		{"", 0, false},
		{"(nodot, 4)", 0, false},
		{"(mysql-bin.x1, 4)", 0, false},
	} {
		got, ok := binlogIndex(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("binlogIndex(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStageValueIsDMs(t *testing.T) {
	for stage, want := range map[string]float64{"New": 1, "Running": 2, "Paused": 3, "Stopped": 4, "Finished": 5, "bogus": 0} {
		if got := stageValue(stage); got != want {
			t.Errorf("stageValue(%s) = %v, want %v", stage, got, want)
		}
	}
}

// TestConfigMetrics: a registry in Config gets the cluster's collector; a second cluster
// on the same registry is refused with the fix.
func TestConfigMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := Open(testCtx(t), Config{Store: MemoryStore(), Workers: []string{"w1"}, Metrics: reg})
	mustOK(t, err)
	defer c.Close()
	fams, err := reg.Gather()
	mustOK(t, err)
	found := false
	for _, f := range fams {
		if f.GetName() == "dmkit_worker_bound" && len(f.Metric) == 1 && f.Metric[0].Gauge.GetValue() == 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no dmkit_worker_bound for the free worker in %v", fams)
	}
	_, err = Open(testCtx(t), Config{Store: MemoryStore(), Workers: []string{"w1"}, Metrics: reg})
	if err == nil || !strings.Contains(err.Error(), "own registry") {
		t.Fatalf("second cluster on one registry: %v", err)
	}
}

// TestEventMetrics: a pause on a temporary error and the automatic resume are counted,
// and a deleted task's series go.
func TestEventMetrics(t *testing.T) {
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	su := &stepUnits{}
	c, err := Open(ctx, Config{Store: MemoryStore(), Workers: []string{"w1"}, Units: su.factory, Metrics: reg})
	mustOK(t, err)
	defer c.Close()
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	task := fullTask("evm", ModeFull, "evmdb", "src1")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "evm", StartTaskRequest{}))
	waitStage(t, c, "evm", StageRunning, UnitDump)
	su.get("evm", "src1")[0].fail <- &syncer.TemporaryError{Err: errors.New("target went away")}
	counter := func(name string) float64 {
		fams, err := reg.Gather()
		mustOK(t, err)
		for _, f := range fams {
			if f.GetName() == name {
				for _, m := range f.Metric {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	waitFor(t, "the pause and the automatic resume to be counted", func() bool {
		return counter("dmkit_subtask_errors_total") == 1 && counter("dmkit_subtask_auto_resumes_total") >= 1
	})
	mustOK(t, c.DeleteTask(ctx, "evm", DeleteTaskOptions{Force: true}))
	if n := counter("dmkit_subtask_errors_total"); n != 0 {
		t.Fatalf("a deleted task's series stayed: %v", n)
	}
}
