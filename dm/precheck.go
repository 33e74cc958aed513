package dm

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	// Aliased: this file's precheck function, called by checkTask, keeps its name.
	checker "github.com/dmkit/dmkit/dm/internal/precheck"
	"github.com/dmkit/dmkit/filter"
)

// The precheck (DM's check-task) runs before a task is created or updated; the checks live
// in dm/internal/precheck. This file builds their input from the task and renders their
// results into DM's check_result text and error code.

const (
	// precheckMsgHeader starts every failed or warning check_result, as in DM.
	precheckMsgHeader = "fail to check synchronization configuration with type"
	// precheckPassed is the check_result of a clean precheck (the trailing space is DM's).
	precheckPassed = "pre-check is passed. "
	// precheckErrLimit and precheckWarnLimit cap the errors and warnings shown in the
	// detail, as DM's OpenAPI does (DefaultErrorCnt, DefaultWarnCnt).
	precheckErrLimit  = 10
	precheckWarnLimit = 10
)

// precheckSource is one source of the task: an open connection and the subtask's rules.
type precheckSource struct {
	Name   string
	DB     *sql.DB       // connection to the source
	Flavor string        // "mysql" | "mariadb"
	Rules  *subtaskRules // from buildSubtaskRules; nil migrates every non-system table
	// Addr is host:port of the source, shown in the detail as DM does; optional.
	Addr string
}

// precheckInput is one task's precheck input: per source an open connection and the rules.
type precheckInput struct {
	Mode      string // task_mode: all|full|incremental|dump|load
	ShardMode string // "", "pessimistic", "optimistic"
	Sources   []precheckSource
	Target    *sql.DB  // always present in dm
	Ignore    []string // ignore_checking_items

	ExportThreads, ImportThreads int // 0 means DM's defaults (4 and 16)
	// Optional refinements; the zero values behave like DM's defaults.

	// TargetAddr is host:port of the target, shown in the detail.
	TargetAddr string
	// Consistency is full_migrate_conf.consistency; "" means "auto" (needs RELOAD).
	Consistency string
	// Meta is each source's source_conf entry; when it names a binlog file, meta_position
	// verifies that the file still exists on the source (incremental tasks only).
	Meta map[string]TaskSourceConf
	// TaskName and MetaSchema, when both set, let the shard checks skip a task that already
	// has checkpoints in the target (DM checks only fresh tasks).
	TaskName, MetaSchema string
	// OnlineDDL is the task's online schema change handling (nil: off).
	OnlineDDL *filter.OnlineDDL
}

// precheckRunInput turns the task's input into the checks' plain input.
func precheckRunInput(in precheckInput) checker.Input {
	mode := in.Mode
	out := checker.Input{
		Dump:          mode == ModeAll || mode == ModeFull || mode == ModeDump,
		Load:          mode == ModeAll || mode == ModeFull || mode == ModeLoad,
		Sync:          mode == ModeAll || mode == ModeIncremental,
		ShardMode:     in.ShardMode,
		Target:        in.Target,
		Ignore:        in.Ignore,
		ExportThreads: cmp.Or(in.ExportThreads, defaultExportThreads),
		ImportThreads: cmp.Or(in.ImportThreads, defaultImportThreads),
		TargetAddr:    in.TargetAddr,
		Consistency:   in.Consistency,
		TaskName:      in.TaskName,
		MetaSchema:    in.MetaSchema,
	}
	for _, s := range in.Sources {
		ps := checker.Source{Name: s.Name, DB: s.DB, Flavor: s.Flavor, Addr: s.Addr, OnlineDDL: in.OnlineDDL}
		if s.Rules != nil {
			ps.Match, ps.Route = s.Rules.BA.Match, s.Rules.Router.Route
		}
		if meta, ok := in.Meta[s.Name]; ok && meta.BinlogName != nil {
			ps.BinlogName, ps.BinlogPos = *meta.BinlogName, meta.BinlogPos
		}
		out.Sources = append(out.Sources, ps)
	}
	return out
}

// precheck runs the checks; it returns DM's check_result text and a *Error (code 26005,
// CodePrecheckFailed) when any check fails with an error.
func precheck(ctx context.Context, in precheckInput) (checkResult string, err error) {
	rep, err := checker.Run(ctx, precheckRunInput(in))
	var ie *checker.InitError
	switch {
	case errors.As(err, &ie):
		return "", NewError(CodePrecheckFailed, "%s", ie.Msg).withCause(ie.Err)
	case err != nil:
		return "", err
	case rep == nil: // every item ignored
		return "", nil
	}
	return renderPrecheck(rep)
}

// renderPrecheck turns a report into DM's check_result: the pass text, the warning text,
// or a 26005 error. The detail lists only failing and warning results, capped like DM.
func renderPrecheck(rep *checker.Report) (string, error) {
	sum := rep.Summary
	if sum.Successful == sum.Total {
		return precheckPassed, nil
	}
	var first string
	for _, r := range rep.Results {
		if r.State == checker.Failure {
			first = precheckHeadline(r)
			break
		}
	}
	detail, err := json.MarshalIndent(&checker.Report{Results: limitFindings(rep.Results), Summary: sum}, "\t", "\t")
	if err != nil {
		return "", fmt.Errorf("encode precheck detail: %w", err)
	}
	if !sum.Passed {
		return "", NewError(CodePrecheckFailed, "%s: %s\n detail: %s", precheckMsgHeader, first, detail)
	}
	return fmt.Sprintf("%s: no errors but some warnings\n detail: %s", precheckMsgHeader, detail), nil
}

// precheckHeadline is the one-line summary of a failed result used in the error message: its first
// error, where it was found and what to do.
func precheckHeadline(r *checker.Result) string {
	msg := r.Name + " failed"
	instruction := r.Instruction
	for _, e := range r.Errors {
		if e.Severity == checker.Failure {
			msg = e.ShortErr
			instruction = cmp.Or(e.Instruction, instruction)
			break
		}
	}
	msg = strings.TrimSpace(msg)
	if r.Extra != "" {
		msg += " (" + r.Extra + ")"
	}
	if instruction != "" {
		msg += ". " + instruction
	}
	return msg
}

// limitFindings keeps the failing and warning results, showing at most precheckErrLimit
// failures and precheckWarnLimit warnings overall (tiflow dm/checker Process).
func limitFindings(results []*checker.Result) []*checker.Result {
	errLeft, warnLeft := precheckErrLimit, precheckWarnLimit
	take := func(s checker.State) bool {
		switch s {
		case checker.Failure:
			if errLeft > 0 {
				errLeft--
				return true
			}
		case checker.Warning:
			if warnLeft > 0 {
				warnLeft--
				return true
			}
		}
		return false
	}
	out := []*checker.Result{}
	for _, r := range results {
		if r.State == checker.Success {
			continue
		}
		if len(r.Errors) == 0 {
			if take(r.State) {
				out = append(out, r)
			}
			continue
		}
		var kept []*checker.Finding
		for _, e := range r.Errors {
			if take(e.Severity) {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 {
			c := *r
			c.Errors = kept
			out = append(out, &c)
		}
	}
	return out
}

// checkTask validates a task against the cluster and the live servers: its sources exist,
// the target is reachable, rules compile, and the precheck passes.
func (c *Cluster) checkTask(ctx context.Context, in *Task, id string) (*checkedTask, error) {
	t, err := normalizeTask(in)
	if err != nil {
		return nil, err
	}
	if err := c.checkDataDirs(t, id); err != nil {
		return nil, err
	}
	txn := c.read()
	sources := make([]*sourceRecord, 0, len(t.SourceConfig.SourceConf))
	for _, sc := range t.SourceConfig.SourceConf {
		r, _ := getRecord(txn, kindSource, sc.SourceName).(*sourceRecord)
		if r == nil {
			return nil, NewError(CodeSourceNotFound, "source config with ID %s not exists", sc.SourceName)
		}
		sources = append(sources, r)
	}
	target, err := openTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := checkBinlogOff(ctx, t, target); err != nil {
		return nil, err
	}
	full := t.SourceConfig.FullMigrateConf
	in2 := precheckInput{Mode: t.TaskMode, ShardMode: t.ShardMode, Target: target, Ignore: t.IgnoreCheckingItems,
		ExportThreads: *full.ExportThreads, ImportThreads: *full.ImportThreads, Consistency: full.Consistency,
		TargetAddr: fmt.Sprintf("%s:%d", t.TargetConfig.Host, t.TargetConfig.Port),
		Meta:       map[string]TaskSourceConf{}, TaskName: t.Name, MetaSchema: t.MetaSchema, OnlineDDL: onlineDDL(t)}
	for i, r := range sources {
		rules, err := c.subtaskRules(t, r)
		if err != nil {
			return nil, err
		}
		in2.Meta[r.Source.SourceName] = t.SourceConfig.SourceConf[i]
		if slices.Contains(t.IgnoreCheckingItems, "all") {
			continue
		}
		db, err := c.openSource(ctx, r)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		in2.Sources = append(in2.Sources, precheckSource{Name: r.Source.SourceName, DB: db, Flavor: r.Flavor, Rules: rules,
			Addr: fmt.Sprintf("%s:%d", r.Source.Host, r.Source.Port)})
	}
	res, err := precheck(ctx, in2)
	if err != nil {
		return nil, err
	}
	return &checkedTask{task: t, checkResult: res}, nil
}

// subtaskRules builds the filters and routes of task t on source r.
func (c *Cluster) subtaskRules(t *Task, r *sourceRecord) (*subtaskRules, error) {
	rules, err := buildSubtaskRules(r.Source.SourceName, t.TableMigrateRule, t.BinlogFilterRule, r.CaseSensitive)
	if err != nil {
		code := CodeOpenAPICommon
		switch {
		case errors.Is(err, errBadRoutePattern):
			code = CodeBadRoute
		case errors.Is(err, errBadAllowListPattern):
			code = CodeBadAllowList
		}
		return nil, NewError(code, "source name %s: %v", r.Source.SourceName, err)
	}
	return rules, nil
}

// checkedTask is a task that passed every check that needs servers.
type checkedTask struct {
	task        *Task
	checkResult string
}
