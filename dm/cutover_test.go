package dm

import (
	"strings"
	"testing"
	"time"
)

// checkOf returns the named check of a cut-over status.
func checkOf(st CutoverStatus, name string) *CutoverCheck {
	for i := range st.Checks {
		if st.Checks[i].Name == name {
			return &st.Checks[i]
		}
	}
	return nil
}

func TestCutoverStatus(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vcut", 100)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("vcut", ModeAll, "vcut", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "vcut", StartTaskRequest{}))
	waitUnit(t, c, "vcut", UnitSync)
	waitVerified(t, c, "vcut", VerifyAfterLoad)

	// Running, verified after the load, caught up: safe.
	var st CutoverStatus
	waitFor(t, "a safe cut-over", func() bool {
		st, err = c.CutoverStatus(ctx, "vcut", 0)
		mustOK(t, err)
		return st.Safe
	})
	for _, name := range []string{"stage", "lag", "ddl_lock", "verification"} {
		if ch := checkOf(st, name); ch == nil || !ch.OK {
			t.Errorf("check %s = %+v", name, ch)
		}
	}
	if len(st.Steps) != 5 || !strings.Contains(st.Steps[0], "Stop the application's writes") {
		t.Errorf("steps = %q", st.Steps)
	}

	// A verification older than allowed is not recent.
	st, err = c.CutoverStatus(ctx, "vcut", time.Nanosecond)
	mustOK(t, err)
	if ch := checkOf(st, "verification"); st.Safe || ch.OK || !strings.Contains(ch.Detail, "older than") {
		t.Errorf("with a 1ns age: safe=%v %+v", st.Safe, ch)
	}

	// A difference found on demand: not safe, and says so.
	testDst.Exec(t, "DELETE FROM vcut.k WHERE id = 9")
	mustOK(t, c.VerifyTask(ctx, "vcut", VerifyTaskRequest{}))
	waitVerified(t, c, "vcut", VerifyOnDemand)
	st, err = c.CutoverStatus(ctx, "vcut", 0)
	mustOK(t, err)
	if ch := checkOf(st, "verification"); st.Safe || ch.OK || !strings.Contains(ch.Detail, "mismatch") {
		t.Errorf("after a mismatch: safe=%v %+v", st.Safe, ch)
	}

	// Paused: not safe, the stage check names it.
	mustOK(t, c.StopTask(ctx, "vcut", StopTaskRequest{}))
	waitStage(t, c, "vcut", StagePaused, UnitSync)
	st, err = c.CutoverStatus(ctx, "vcut", 0)
	mustOK(t, err)
	if ch := checkOf(st, "stage"); st.Safe || ch.OK {
		t.Errorf("paused: safe=%v %+v", st.Safe, ch)
	}
	if _, err := c.CutoverStatus(ctx, "nope", 0); !isCode(err, CodeTaskNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}
