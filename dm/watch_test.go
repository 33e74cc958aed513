package dm

import (
	"context"
	"testing"
	"time"
)

// next reads one update or fails after a while.
func next(t *testing.T, ch <-chan TaskUpdate) TaskUpdate {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("watch closed early")
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("no update")
	}
	return TaskUpdate{}
}

func TestWatchTask(t *testing.T) {
	ctx := testCtx(t)
	c, su := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	_, err = c.WatchTask(ctx, "nope", WatchOptions{})
	wantCode(t, err, CodeTaskNotFound)

	task := fullTask("watched", ModeFull, "watchdb", "src1")
	task.TargetConfig.Password = testDst.Password
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)

	wctx, cancel := context.WithCancel(ctx)
	ch, err := c.WatchTask(wctx, "watched", WatchOptions{Interval: 20 * time.Millisecond})
	mustOK(t, err)
	if u := next(t, ch); len(u.Subtasks) != 1 || u.Subtasks[0].Stage != StageStopped {
		t.Fatalf("first update %+v", u)
	}
	mustOK(t, c.StartTask(ctx, "watched", StartTaskRequest{}))
	// Each change arrives once, in order: Running in Dump, then Load after the dump ends.
	for u := next(t, ch); u.Subtasks[0].Unit != UnitDump || u.Subtasks[0].Stage != StageRunning; u = next(t, ch) {
	}
	close(su.get("watched", "src1")[0].release)
	if u := next(t, ch); u.Subtasks[0].Unit != UnitLoad {
		t.Fatalf("after the dump: %+v", u.Subtasks[0])
	}
	// Nothing changes: nothing is delivered.
	select {
	case u := <-ch:
		t.Fatalf("an update without a change: %+v", u.Subtasks[0])
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	for range ch { // closed once ctx ends
	}

	// Deleting the task ends a watch with CodeTaskNotFound.
	ch, err = c.WatchTask(ctx, "watched", WatchOptions{Interval: 20 * time.Millisecond})
	mustOK(t, err)
	next(t, ch)
	mustOK(t, c.DeleteTask(ctx, "watched", DeleteTaskOptions{Force: true}))
	u := next(t, ch)
	wantCode(t, u.Err, CodeTaskNotFound)
	if _, ok := <-ch; ok {
		t.Fatal("watch not closed after its error")
	}
}
