package dm

import (
	"context"
)

// Task templates are stored task definitions, independent of real tasks, that a UI can
// turn into tasks later. They are checked like a task (fields, target reachable) but not
// prechecked, and their passwords are masked in every response like a task's.

// checkTemplate validates a template and checks that its target is reachable.
func (c *Cluster) checkTemplate(ctx context.Context, in *Task) (*Task, error) {
	t, err := normalizeTask(in)
	if err != nil {
		return nil, err
	}
	for _, s := range taskSources(t) {
		if c.sourceRecord(s) == nil {
			return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists; create the source before a template that uses it", s)
		}
	}
	db, err := openTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	db.Close()
	return t, nil
}

func templateExists(name string) *Error {
	return NewError(CodeTemplateExists, "the openapi task config for '%s' already exist", name)
}

func templateNotFound(name string) *Error {
	return NewError(CodeTemplateNotFound, "the openapi task config for '%s' does not exist", name)
}

// CreateTaskTemplate stores a new task template; an existing name is refused.
func (c *Cluster) CreateTaskTemplate(ctx context.Context, in *Task) (*Task, error) {
	t, err := c.checkTemplate(ctx, in)
	if err != nil {
		return nil, err
	}
	err = c.update(ctx, func(w *writeTxn) error {
		if w.get(kindTemplate, t.Name) != nil {
			return templateExists(t.Name)
		}
		w.put(kindTemplate, &templateRecord{Task: *t})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return taskView(t), nil
}

// ListTaskTemplates returns every template, sorted by name.
func (c *Cluster) ListTaskTemplates(ctx context.Context) (List[Task], error) {
	var out []Task
	for _, r := range listRecords[*templateRecord](c.read(), kindTemplate, "") {
		out = append(out, *taskView(&r.Task))
	}
	return newList(out), nil
}

// GetTaskTemplate returns one template.
func (c *Cluster) GetTaskTemplate(ctx context.Context, name string) (*Task, error) {
	r, _ := getRecord(c.read(), kindTemplate, name).(*templateRecord)
	if r == nil {
		return nil, templateNotFound(name)
	}
	return taskView(&r.Task), nil
}

// UpdateTaskTemplate replaces an existing template. A masked or empty target password
// keeps the stored one.
func (c *Cluster) UpdateTaskTemplate(ctx context.Context, name string, in *Task) (*Task, error) {
	if in == nil {
		return nil, invalidf("request body must be a task")
	}
	in = cloneTask(in)
	if in.Name == "" {
		in.Name = name
	}
	if in.Name != name {
		return nil, invalidf("task name %q in the body differs from %q in the path; a template cannot be renamed", in.Name, name)
	}
	old, _ := getRecord(c.read(), kindTemplate, name).(*templateRecord)
	if old == nil {
		return nil, templateNotFound(name)
	}
	if in.TargetConfig.Password == "" || in.TargetConfig.Password == maskedPassword {
		in.TargetConfig.Password = old.Task.TargetConfig.Password
	}
	t, err := c.checkTemplate(ctx, in)
	if err != nil {
		return nil, err
	}
	err = c.update(ctx, func(w *writeTxn) error {
		if w.get(kindTemplate, name) == nil {
			return templateNotFound(name)
		}
		w.put(kindTemplate, &templateRecord{Task: *t})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return taskView(t), nil
}

// DeleteTaskTemplate removes a template; removing a missing one is not an error.
func (c *Cluster) DeleteTaskTemplate(ctx context.Context, name string) error {
	return c.update(ctx, func(w *writeTxn) error {
		if r := w.get(kindTemplate, name); r != nil {
			w.del(kindTemplate, r)
		}
		return nil
	})
}

// ImportTaskTemplates stores a template for every existing task, exactly as GetTask
// returns it (but with the real password). Without Overwrite an existing template is
// reported in failed_task_list.
func (c *Cluster) ImportTaskTemplates(ctx context.Context, req TaskTemplateRequest) (*TaskTemplateResponse, error) {
	resp := &TaskTemplateResponse{SuccessTaskList: []string{}, FailedTaskList: []TaskTemplateFailed{}}
	err := c.update(ctx, func(w *writeTxn) error {
		for _, tr := range listRecords[*taskRecord](w.txn, kindTask, "") {
			if !req.Overwrite && w.get(kindTemplate, tr.Task.Name) != nil {
				resp.FailedTaskList = append(resp.FailedTaskList, TaskTemplateFailed{TaskName: tr.Task.Name, ErrorMsg: templateExists(tr.Task.Name).Error()})
				continue
			}
			w.put(kindTemplate, &templateRecord{Task: *cloneTask(&tr.Task)})
			resp.SuccessTaskList = append(resp.SuccessTaskList, tr.Task.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ConvertTask converts between the OpenAPI task and DM's task configuration YAML. With
// TaskConfigFile it parses the YAML; otherwise it renders req.Task. Every source the task
// names must exist. Nothing is stored.
func (c *Cluster) ConvertTask(ctx context.Context, req ConverterTaskRequest) (*ConverterTaskResponse, error) {
	var t *Task
	switch {
	case req.TaskConfigFile != nil:
		parsed, err := taskFromYAML(*req.TaskConfigFile)
		if err != nil {
			return nil, invalidf("task_config_file: %v", err)
		}
		t = parsed
	case req.Task != nil:
		t = req.Task
	default:
		return nil, NewError(CodeOpenAPICommon, "request body is invalid: one of `task` or `task_config_file` must be entered")
	}
	nt, err := normalizeTask(t)
	if err != nil {
		return nil, err
	}
	for _, s := range taskSources(nt) {
		if c.sourceRecord(s) == nil {
			return nil, NewError(CodeConverterSourceNotFound, "source %s in deployment configuration not found", s)
		}
	}
	doc, err := taskToYAML(nt)
	if err != nil {
		return nil, NewError(CodeInternal, "render task %s as YAML: %v", nt.Name, err)
	}
	return &ConverterTaskResponse{Task: nt, TaskConfigFile: doc}, nil
}
