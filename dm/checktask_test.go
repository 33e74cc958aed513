package dm

import "testing"

// TestCheckTaskStoresNothing: CheckTask runs create's validation and precheck and leaves
// no task behind, so the same task can then be created.
func TestCheckTaskStoresNothing(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)

	task := fullTask("checked", ModeFull, "checkdb", "src1")
	task.TargetConfig.Password = testDst.Password
	task.IgnoreCheckingItems = nil // the real precheck runs
	resp, err := c.CheckTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	if resp.Task == nil || resp.Task.Name != "checked" || resp.Task.TargetConfig.Password != maskedPassword {
		t.Fatalf("check answered %+v", resp.Task)
	}
	_, err = c.GetTask(ctx, "checked", false)
	wantCode(t, err, CodeTaskNotFound)

	bad := fullTask("bad", ModeFull, "checkdb", "nosuchsource")
	_, err = c.CheckTask(ctx, CreateTaskRequest{Task: bad})
	wantCode(t, err, CodeSourceNotFound)

	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
}
