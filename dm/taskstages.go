package dm

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// TaskStatus reports each subtask of a task, by source name; sources, when given, limits
// the report to those sources (DM ignores it; dmkit honours it).
func (c *Cluster) TaskStatus(ctx context.Context, name string, sources []string) (List[SubTaskStatus], error) {
	txn := c.read()
	if getRecord(txn, kindTask, name) == nil {
		return List[SubTaskStatus]{}, taskNotFound(name)
	}
	return newList(c.taskStatuses(txn, name, sources)), nil
}

func (c *Cluster) taskStatuses(txn txnReader, task string, sources []string) []SubTaskStatus {
	var out []SubTaskStatus
	for _, st := range listRecords[*subtaskRecord](txn, kindSubtask, "task", task) {
		if len(sources) > 0 && !slices.Contains(sources, st.Source) {
			continue
		}
		out = append(out, c.subtaskStatus(txn, st))
	}
	return nonNil(out)
}

func (c *Cluster) subtaskStatus(txn txnReader, st *subtaskRecord) SubTaskStatus {
	bw := boundWorker(txn, st.Source)
	if bw == nil {
		return SubTaskStatus{Name: st.Task, SourceName: st.Source,
			ErrorMsg: fmt.Sprintf("source %s is not bound to any worker; add a free worker or transfer the source\n", st.Source)}
	}
	w := c.workers.get(bw.Name)
	if w == nil {
		return SubTaskStatus{Name: st.Task, SourceName: st.Source, WorkerName: bw.Name,
			ErrorMsg: fmt.Sprintf("dm-worker %s is offline\n", bw.Name)}
	}
	if s, ok := w.status(st.Task); ok {
		c.decorateShardStatus(txn, &s)
		return s
	}
	// The worker has not picked the subtask up yet.
	return SubTaskStatus{Name: st.Task, SourceName: st.Source, WorkerName: bw.Name, Stage: StageStopped, UnresolvedDDLLockID: strPtr("")}
}

// validStartTime reports whether s is a start_time in DM's format naming a real instant
// (2026-13-45 25:61:61 matches the pattern but is no time).
func validStartTime(s string) bool {
	if !startTimeRE.MatchString(s) {
		return false
	}
	t := strings.Replace(s, " ", "T", 1)
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05-0700"} {
		if _, err := time.Parse(layout, t); err == nil {
			return true
		}
	}
	return false
}

var startTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?$`)

// StartTask starts, or resumes, the task's subtasks on the listed sources (default: all).
// RemoveMeta first drops the task's checkpoints in the target, so it starts over.
// StartTime and SafeModeDuration are stored for the sync unit (API.md §1.4.6).
func (c *Cluster) StartTask(ctx context.Context, name string, req StartTaskRequest) error {
	tr := c.taskRecord(name)
	if tr == nil {
		if len(req.SourceNameList) > 0 {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", req.SourceNameList[0])
		}
		return taskNotFound(name)
	}
	sources := req.SourceNameList
	if len(sources) == 0 {
		sources = taskSources(&tr.Task)
	}
	hasArgs := req.StartTime != nil || req.SafeModeTimeDuration != nil
	if req.StartTime != nil && *req.StartTime != "" && !validStartTime(*req.StartTime) {
		return plainError("while converting task command line arguments: error while parse start-time, expected in the format like '2006-01-02 15:04:05' or '2006-01-02T15:04:05': unsupported start-time format %s", *req.StartTime)
	}
	if req.SafeModeTimeDuration != nil && *req.SafeModeTimeDuration != "" {
		if d, err := time.ParseDuration(*req.SafeModeTimeDuration); err != nil || d < 0 {
			return plainError("while converting task command line arguments: invalid safe_mode_time_duration %q: use a duration such as 60s or 10m", *req.SafeModeTimeDuration)
		}
	}
	txn := c.read()
	for _, s := range sources {
		st, _ := getRecord(txn, kindSubtask, subtaskKey(name, s)).(*subtaskRecord)
		if st == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", s)
		}
		sc := sourceConfOf(&tr.Task, s)
		if tr.Task.TaskMode == ModeIncremental && (sc == nil || (sc.BinlogName == nil && sc.BinlogGTID == nil)) && (req.StartTime == nil || *req.StartTime == "") {
			return NewError(CodeIncrementalNeedsMeta, "mysql-instance(%s) must set meta for task-mode %s", s, ModeIncremental)
		}
		sr, _ := getRecord(txn, kindSource, s).(*sourceRecord)
		if sr == nil {
			return NewError(CodeSourceNotFound, "source config with ID %s not exists", s)
		}
		if !sr.enabled() {
			return NewError(CodeSourceDisabled, "can not start task: %s reason: source: %s is not enabled", name, s)
		}
	}
	if req.RemoveMeta {
		release, err := c.latch.acquire("start task with remove_meta", name)
		if err != nil {
			return err
		}
		defer release()
		for _, s := range taskSources(&tr.Task) {
			if st, _ := getRecord(c.read(), kindSubtask, subtaskKey(name, s)).(*subtaskRecord); st != nil && st.Expected == StageRunning {
				return invalidf("task %s is running on source %s; stop it before starting with remove_meta", name, s)
			}
		}
		c.waitTaskGone(ctx, name, nil)
		if err := dropTaskMeta(ctx, &tr.Task); err != nil {
			return NewError(CodeDBDriver, "while removing metadata: %v", err).withCause(err)
		}
	}
	return c.update(ctx, func(w *writeTxn) error {
		for _, s := range sources {
			st, _ := w.get(kindSubtask, subtaskKey(name, s)).(*subtaskRecord)
			if st == nil {
				return NewError(CodeSourcesNotInTask, "sources %v need to be operate not exist", []string{s})
			}
			n := *st
			n.Expected = StageRunning
			n.ResumeSeq++
			n.StopTimeout = ""
			if hasArgs {
				n.StartTime, n.SafeModeDuration = derefStr(req.StartTime), derefStr(req.SafeModeTimeDuration)
			} else {
				n.StartTime, n.SafeModeDuration = "", ""
			}
			w.put(kindSubtask, &n)
		}
		return nil
	})
}

func sourceConfOf(t *Task, source string) *TaskSourceConf {
	for i := range t.SourceConfig.SourceConf {
		if t.SourceConfig.SourceConf[i].SourceName == source {
			return &t.SourceConfig.SourceConf[i]
		}
	}
	return nil
}

// StopTask pauses the task's subtasks on the listed sources (default: all). Status then
// reports them Paused; StartTask resumes them from their checkpoints.
func (c *Cluster) StopTask(ctx context.Context, name string, req StopTaskRequest) error {
	if req.TimeoutDuration != nil && *req.TimeoutDuration != "" {
		if d, err := time.ParseDuration(*req.TimeoutDuration); err != nil || d < 0 {
			return plainError("while converting task command line arguments: invalid timeout_duration %q: use a duration such as 10s", *req.TimeoutDuration)
		}
	}
	return c.update(ctx, func(w *writeTxn) error {
		tr, _ := w.get(kindTask, name).(*taskRecord)
		if tr == nil {
			if len(req.SourceNameList) > 0 {
				return NewError(CodeSubtasksNotFound, "subtasks with name %s need to be operate not exist", name)
			}
			return taskNotFound(name)
		}
		sources := req.SourceNameList
		if len(sources) == 0 {
			sources = taskSources(&tr.Task)
		}
		for _, s := range sources {
			st, _ := w.get(kindSubtask, subtaskKey(name, s)).(*subtaskRecord)
			if st == nil {
				return NewError(CodeSourcesNotInTask, "sources %v need to be operate not exist", []string{s})
			}
			n := *st
			n.Expected = StageStopped
			n.StopTimeout = derefStr(req.TimeoutDuration)
			if req.TimeoutDuration == nil {
				n.StartTime, n.SafeModeDuration = "", ""
			}
			w.put(kindSubtask, &n)
		}
		return nil
	})
}
