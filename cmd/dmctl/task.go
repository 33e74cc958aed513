package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dmkit/dmkit/dm"
)

// readTaskFile converts DM's task file into the OpenAPI task through dm-server's converter,
// so dmctl and the server agree on every field.
func readTaskFile(ctx context.Context, e *env, path string) (*dm.Task, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read task file: %w", err)
	}
	doc := string(data)
	var conv dm.ConverterTaskResponse
	if err := e.c.do(ctx, "POST", apiPath("tasks", "converters"), dm.ConverterTaskRequest{TaskConfigFile: &doc}, &conv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if conv.Task == nil {
		return nil, fmt.Errorf("%s: the converter returned no task", path)
	}
	return conv.Task, nil
}

// isFile reports whether arg names an existing regular file (a task or source file)
// rather than a name.
func isFile(arg string) bool {
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

func startTask(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "start-task")
	removeMeta := fs.Bool("remove-meta", false, "drop the task's checkpoints first and migrate from the beginning")
	startTime := fs.String("start-time", "", "incremental start time, 'YYYY-MM-DD HH:MM:SS'")
	wait := fs.Bool("wait", false, "wait until every subtask finished the full copy (or finished), with a progress bar")
	waitTimeout := fs.Duration("wait-timeout", 0, "give up waiting after this long (0: never)")
	var sources sourceList
	fs.Var(&sources, "s", "start only on these sources (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 1, "one task file or task name"); err != nil {
		return err
	}
	name := pos[0]
	if isFile(name) {
		t, err := readTaskFile(ctx, e, name)
		if err != nil {
			return err
		}
		var created dm.OperateTaskResponse
		if err := e.c.do(ctx, "POST", apiPath("tasks"), dm.CreateTaskRequest{Task: t}, &created); err != nil {
			return err
		}
		name = t.Name
		if created.CheckResult != "" && !e.json {
			fmt.Fprintf(e.out, "precheck: %s\n", created.CheckResult)
		}
	}
	req := dm.StartTaskRequest{RemoveMeta: *removeMeta, SourceNameList: sources}
	if *startTime != "" {
		req.StartTime = startTime
	}
	if err := e.c.do(ctx, "POST", apiPath("tasks", name, "start"), req, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "task %s started\n", name)
	if !*wait {
		return nil
	}
	if *waitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *waitTimeout)
		defer cancel()
	}
	return waitTask(ctx, e, name)
}

// stopTask is DM's stop-task: the task stops and is removed; its checkpoints stay in the
// target, so starting a task of the same name again resumes (unless --remove-meta).
func stopTask(ctx context.Context, e *env, args []string) error {
	pos, err := parseArgs(newFlags(e, "stop-task"), args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 1, "one task name or task file"); err != nil {
		return err
	}
	name, err := taskName(ctx, e, pos[0])
	if err != nil {
		return err
	}
	if err := e.c.do(ctx, "POST", apiPath("tasks", name, "stop"), dm.StopTaskRequest{}, nil); err != nil {
		return err
	}
	if err := e.c.do(ctx, "DELETE", apiPath("tasks", name)+"?force=true&keep_meta=true", nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "task %s stopped and removed (checkpoints kept)\n", name)
	return nil
}

// pauseTask and resumeTask map onto the OpenAPI's stop and start: a stopped subtask keeps
// its checkpoints and resumes from them.
func pauseTask(ctx context.Context, e *env, args []string) error {
	return stageTask(ctx, e, "pause-task", "stop", args)
}

func resumeTask(ctx context.Context, e *env, args []string) error {
	return stageTask(ctx, e, "resume-task", "start", args)
}

func stageTask(ctx context.Context, e *env, verb, op string, args []string) error {
	fs := newFlags(e, verb)
	var sources sourceList
	fs.Var(&sources, "s", "only these sources (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 1, "one task name"); err != nil {
		return err
	}
	name, err := taskName(ctx, e, pos[0])
	if err != nil {
		return err
	}
	var body any = dm.StopTaskRequest{SourceNameList: sources}
	if op == "start" {
		body = dm.StartTaskRequest{SourceNameList: sources}
	}
	if err := e.c.do(ctx, "POST", apiPath("tasks", name, op), body, nil); err != nil {
		return err
	}
	done := map[string]string{"stop": "paused", "start": "resumed"}[op]
	fmt.Fprintf(e.out, "task %s %s\n", name, done)
	return nil
}

// taskName accepts a task name or a task file (DM's verbs take either).
func taskName(ctx context.Context, e *env, arg string) (string, error) {
	if !isFile(arg) {
		return arg, nil
	}
	t, err := readTaskFile(ctx, e, arg)
	if err != nil {
		return "", err
	}
	return t.Name, nil
}

func queryStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "query-status")
	var sources sourceList
	fs.Var(&sources, "s", "only these sources (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("expected at most one task name, got %d", len(pos))
	}
	if len(pos) == 0 {
		var raw json.RawMessage
		if err := e.c.do(ctx, "GET", apiPath("tasks")+"?with_status=true", nil, &raw); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, raw)
		}
		var list dm.List[dm.Task]
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("decode task list: %w", err)
		}
		return renderTasks(e.out, list.Data)
	}
	st, raw, err := subtaskStatus(ctx, e, pos[0], sources)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, raw)
	}
	return renderSubtasks(e.out, st)
}

func subtaskStatus(ctx context.Context, e *env, name string, sources []string) ([]dm.SubTaskStatus, json.RawMessage, error) {
	var raw json.RawMessage
	if err := e.c.do(ctx, "GET", apiPath("tasks", name, "status")+sourceQuery(sources), nil, &raw); err != nil {
		return nil, nil, err
	}
	var list dm.List[dm.SubTaskStatus]
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, nil, fmt.Errorf("decode task status: %w", err)
	}
	return list.Data, raw, nil
}

func checkTask(ctx context.Context, e *env, args []string) error {
	pos, err := parseArgs(newFlags(e, "check-task"), args)
	if err != nil {
		return err
	}
	if err := exactly(pos, 1, "one task file"); err != nil {
		return err
	}
	t, err := readTaskFile(ctx, e, pos[0])
	if err != nil {
		return err
	}
	var res dm.OperateTaskResponse
	if err := e.c.do(ctx, "POST", apiPath("tasks", "check"), dm.CreateTaskRequest{Task: t}, &res); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, res)
	}
	fmt.Fprintf(e.out, "task %s: check passed\n", t.Name)
	if res.CheckResult != "" {
		fmt.Fprintln(e.out, res.CheckResult)
	}
	return nil
}

func configTask(ctx context.Context, e *env, args []string) error {
	pos, err := parseArgs(newFlags(e, "config"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "task" {
		return errors.New("usage: dmctl config task <task-name>")
	}
	return printTaskFile(ctx, e, pos[1])
}

func getConfig(ctx context.Context, e *env, args []string) error {
	pos, err := parseArgs(newFlags(e, "get-config"), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("usage: dmctl get-config task|source <name>")
	}
	switch pos[0] {
	case "task":
		return printTaskFile(ctx, e, pos[1])
	case "source":
		var raw json.RawMessage
		if err := e.c.do(ctx, "GET", apiPath("sources", pos[1]), nil, &raw); err != nil {
			return err
		}
		return printJSON(e.out, raw)
	}
	return fmt.Errorf("get-config %s: dmctl knows task and source", pos[0])
}

// printTaskFile prints the task as DM's task file (through the server's converter), or as
// the OpenAPI JSON with --json.
func printTaskFile(ctx context.Context, e *env, name string) error {
	var t dm.Task
	if err := e.c.do(ctx, "GET", apiPath("tasks", name), nil, &t); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.out, t)
	}
	var conv dm.ConverterTaskResponse
	if err := e.c.do(ctx, "POST", apiPath("tasks", "converters"), dm.ConverterTaskRequest{Task: &t}, &conv); err != nil {
		return err
	}
	_, err := fmt.Fprint(e.out, conv.TaskConfigFile)
	return err
}

// pollEvery is how often --wait reads the status.
const pollEvery = 500 * time.Millisecond
