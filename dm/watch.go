package dm

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// WatchOptions tunes WatchTask.
type WatchOptions struct {
	// Interval is how often the status is sampled (default one second).
	Interval time.Duration
	// Progress also delivers samples whose only change is progress (rows, bytes, binlog
	// positions); without it, only stage, unit, error and shard-lock changes are delivered.
	Progress bool
}

// TaskUpdate is one delivery of WatchTask: the status of every subtask of the task.
type TaskUpdate struct {
	Task     string
	Subtasks []SubTaskStatus
	// Err ends the watch: the task was deleted (a *Error with CodeTaskNotFound) or the
	// cluster closed. The channel is closed after it.
	Err error
}

// WatchTask follows a task without polling JSON: the first update is the current status,
// then one update per change (see WatchOptions.Progress) until ctx ends, the task is
// deleted or the cluster closes; then the channel is closed. Updates are not buffered: a
// slow reader delays sampling, never memory.
func (c *Cluster) WatchTask(ctx context.Context, name string, opts WatchOptions) (<-chan TaskUpdate, error) {
	if c.ctx.Err() != nil {
		return nil, errors.New("watch task: the cluster is closed")
	}
	first, err := c.TaskStatus(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	ch := make(chan TaskUpdate)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(ch)
		c.watchTask(ctx, name, opts, first.Data, ch)
	}()
	return ch, nil
}

func (c *Cluster) watchTask(ctx context.Context, name string, opts WatchOptions, cur []SubTaskStatus, ch chan<- TaskUpdate) {
	send := func(u TaskUpdate) bool {
		select {
		case ch <- u:
			return true
		case <-ctx.Done():
		case <-c.ctx.Done():
		}
		return false
	}
	if !send(TaskUpdate{Task: name, Subtasks: cur}) {
		return
	}
	last := watchKey(cur, opts.Progress)
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			send(TaskUpdate{Task: name, Err: errors.New("the cluster closed")})
			return
		case <-tick.C:
		}
		st, err := c.TaskStatus(ctx, name, nil)
		if err != nil {
			if ctx.Err() == nil {
				send(TaskUpdate{Task: name, Err: err})
			}
			return
		}
		if k := watchKey(st.Data, opts.Progress); k != last {
			last = k
			if !send(TaskUpdate{Task: name, Subtasks: st.Data}) {
				return
			}
		}
	}
}

// watchKey is what a change is measured on: the whole status with progress, else the
// stages, units, errors and locks.
func watchKey(sts []SubTaskStatus, progress bool) string {
	if progress {
		b, _ := json.Marshal(sts)
		return string(b)
	}
	type key struct{ Source, Stage, Unit, Err, Lock string }
	ks := make([]key, len(sts))
	for i, s := range sts {
		ks[i] = key{s.SourceName, s.Stage, s.Unit, s.ErrorMsg, derefStr(s.UnresolvedDDLLockID)}
	}
	b, _ := json.Marshal(ks)
	return string(b)
}
