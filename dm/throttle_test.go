package dm

import (
	"strings"
	"testing"
)

func TestValidateThrottle(t *testing.T) {
	for _, tc := range []struct {
		name string
		th   *TaskThrottle
		want string // "" ok
	}{
		{"unset", nil, ""},
		{"ok", &TaskThrottle{Query: "SELECT 3", Threshold: float64Ptr(1)}, ""},
		{"not a select", &TaskThrottle{Query: "DELETE FROM t", Threshold: float64Ptr(1)}, "must be a SELECT"},
		{"two statements", &TaskThrottle{Query: "SELECT 1; SELECT 2", Threshold: float64Ptr(1)}, "one SELECT"},
		{"garbage", &TaskThrottle{Query: "SELEC", Threshold: float64Ptr(1)}, "one SELECT"},
		{"no threshold", &TaskThrottle{Query: "SELECT 1"}, "threshold is required"},
		{"fast", &TaskThrottle{Query: "SELECT 1", Threshold: float64Ptr(1), Interval: "10ms"}, "at least 100ms"},
		{"bad interval", &TaskThrottle{Query: "SELECT 1", Threshold: float64Ptr(1), Interval: "soon"}, "at least 100ms"},
	} {
		err := validateThrottle("t", tc.th)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.name == "ok" && tc.th.Interval != "1s" {
			t.Errorf("default interval %q", tc.th.Interval)
		}
	}
}

// TestThrottleInTaskFile: the throttle survives the conversion to DM's task file and back.
func TestThrottleInTaskFile(t *testing.T) {
	c, _ := newTestCluster(t)
	_, err := c.CreateSource(testCtx(t), CreateSourceRequest{Source: sourceFor("s1", testSrc)})
	mustOK(t, err)
	task := fullTask("thr", ModeAll, "db", "s1")
	task.SourceConfig.IncrMigrateConf = &TaskIncrMigrateConf{Throttle: &TaskThrottle{Query: "SELECT 1", Threshold: float64Ptr(2.5), Interval: "3s"}}
	out, err := c.ConvertTask(testCtx(t), ConverterTaskRequest{Task: task})
	mustOK(t, err)
	if !strings.Contains(out.TaskConfigFile, "throttle:") {
		t.Fatalf("no throttle in:\n%s", out.TaskConfigFile)
	}
	back, err := c.ConvertTask(testCtx(t), ConverterTaskRequest{TaskConfigFile: &out.TaskConfigFile})
	mustOK(t, err)
	th := back.Task.SourceConfig.IncrMigrateConf.Throttle
	if th == nil || th.Query != "SELECT 1" || *th.Threshold != 2.5 || th.Interval != "3s" {
		t.Fatalf("round trip: %+v", th)
	}
}
