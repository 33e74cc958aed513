package dm

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cut-over status (issue 12): whether it is safe now to switch the application's writes
// from the sources to the target, and the steps to finish. Read-only: it judges the task
// status, it changes nothing.

// DefaultCutoverVerifyAge is how recent the last clean verification must be.
const DefaultCutoverVerifyAge = time.Hour

// CutoverStatus is the answer of GET /tasks/{name}/cutover.
type CutoverStatus struct {
	Task string `json:"task"`
	// Safe is true when every check passed.
	Safe   bool           `json:"safe"`
	Checks []CutoverCheck `json:"checks"`
	// Steps are what to do to finish the migration, in order.
	Steps []string `json:"steps"`
}

// CutoverCheck is one condition of a safe cut-over, per subtask.
type CutoverCheck struct {
	SourceName string `json:"source_name"`
	// Name: stage, lag, ddl_lock, verification, validation.
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// CutoverStatus judges the task's subtasks: none paused (or, without a sync unit, all
// finished), replication caught up (synced, no lag), no unresolved or blocking DDL, the
// last verification clean (or repaired) and younger than maxVerifyAge (0: one hour), and
// no validation errors when validation runs.
func (c *Cluster) CutoverStatus(ctx context.Context, name string, maxVerifyAge time.Duration) (CutoverStatus, error) {
	tr := c.taskRecord(name)
	if tr == nil {
		return CutoverStatus{}, taskNotFound(name)
	}
	if maxVerifyAge < 0 {
		return CutoverStatus{}, invalidf("max_verify_age %s is negative", maxVerifyAge)
	}
	if maxVerifyAge == 0 {
		maxVerifyAge = DefaultCutoverVerifyAge
	}
	st, err := c.TaskStatus(ctx, name, nil)
	if err != nil {
		return CutoverStatus{}, err
	}
	replicates := tr.Task.TaskMode == ModeAll || tr.Task.TaskMode == ModeIncremental
	out := CutoverStatus{Task: name, Safe: true, Checks: []CutoverCheck{}}
	add := func(source, check string, ok bool, detail string) {
		out.Checks = append(out.Checks, CutoverCheck{SourceName: source, Name: check, OK: ok, Detail: detail})
		out.Safe = out.Safe && ok
	}
	now := time.Now()
	for _, s := range st.Data {
		src := s.SourceName
		switch {
		case s.Stage == StagePaused || s.ErrorMsg != "":
			add(src, "stage", false, fmt.Sprintf("subtask is %s: %s; resume it (POST /api/v1/tasks/%s/start)", s.Stage, strings.TrimSpace(s.ErrorMsg), name))
		case replicates && (s.Stage != StageRunning || s.Unit != UnitSync):
			add(src, "stage", false, fmt.Sprintf("subtask is %s in unit %q; it must be replicating (Running, Sync)", s.Stage, s.Unit))
		case !replicates && s.Stage != StageFinished:
			add(src, "stage", false, fmt.Sprintf("subtask is %s in unit %q; the copy must have finished", s.Stage, s.Unit))
		default:
			add(src, "stage", true, s.Stage+" in unit "+s.Unit)
		}
		if replicates {
			add(src, "lag", lagZero(s.SyncStatus), lagDetail(s.SyncStatus))
			ddl := s.SyncStatus != nil && (len(s.SyncStatus.BlockingDDLs) > 0 || len(s.SyncStatus.UnresolvedGroups) > 0)
			lock := s.UnresolvedDDLLockID != nil && *s.UnresolvedDDLLockID != ""
			detail := "no unresolved DDL lock or blocking DDL"
			if ddl || lock {
				detail = "a DDL is blocking or a shard DDL lock is unresolved; resolve it first"
			}
			add(src, "ddl_lock", !ddl && !lock, detail)
		}
		ok, detail := verifiedRecently(s.VerifyStatus, now, maxVerifyAge, name)
		add(src, "verification", ok, detail)
		if v := s.ValidationStatus; v != nil && v.Stage == "running" {
			add(src, "validation", v.ErrorRows == 0, fmt.Sprintf("%d validation error(s), %d row(s) pending", v.ErrorRows, v.PendingRows))
		}
	}
	if len(st.Data) == 0 {
		add("", "stage", false, "the task has no subtasks")
	}
	out.Steps = cutoverSteps(&tr.Task, replicates)
	return out, nil
}

func lagZero(s *SyncStatus) bool {
	return s != nil && s.Synced && s.SecondsBehindMaster == 0
}

func lagDetail(s *SyncStatus) string {
	if s == nil {
		return "no sync status yet"
	}
	if lagZero(s) {
		return "synced at " + s.SyncerBinlog
	}
	return fmt.Sprintf("not caught up: applied %s, source at %s, %d s behind", s.SyncerBinlog, s.MasterBinlog, s.SecondsBehindMaster)
}

// verifiedRecently: the last verification is clean (or repaired) and finished within age.
func verifiedRecently(v *VerifyStatus, now time.Time, age time.Duration, task string) (bool, string) {
	again := fmt.Sprintf("verify: POST /api/v1/tasks/%s/verify", task)
	if v == nil {
		return false, "no verification yet; " + again
	}
	if v.Stage == VerifyRunning {
		return false, "a verification is running; wait for it (GET /api/v1/tasks/" + task + "/verify)"
	}
	if v.Stage != VerifyClean && v.Stage != VerifyRepaired {
		return false, fmt.Sprintf("the last verification (%s) ended %s; fix the differences and %s", v.FinishedAt, v.Stage, again)
	}
	at, err := time.Parse(time.RFC3339, v.FinishedAt)
	if err != nil || now.Sub(at) > age {
		return false, fmt.Sprintf("the last clean verification (%s) is older than %s; %s", v.FinishedAt, age, again)
	}
	return true, fmt.Sprintf("%s at %s (%s), %d table(s)", v.Stage, v.Position, v.FinishedAt, v.CheckedTables)
}

func cutoverSteps(t *Task, replicates bool) []string {
	sources := strings.Join(taskSources(t), ", ")
	if !replicates {
		return []string{
			"The copy is a point-in-time copy: writes made to the source(s) " + sources + " after the dump are not on the target.",
			"Stop writes to the source(s), run the task again (POST /api/v1/tasks/" + t.Name + "/start) and wait for Finished with a clean verify_status, or use task mode all.",
			"Switch the application's writes to the target.",
		}
	}
	return []string{
		"Stop the application's writes to the source(s) " + sources + ".",
		"Wait until every subtask is synced at the source's final position: GET /api/v1/tasks/" + t.Name +
			"/status until sync_status.synced is true and syncer_binlog equals master_binlog.",
		"Optionally verify once more at that point: POST /api/v1/tasks/" + t.Name + "/verify, then GET it until stage is clean.",
		"Switch the application's writes to the target.",
		"Stop the task: POST /api/v1/tasks/" + t.Name + "/stop (or DELETE it once you no longer need its checkpoints).",
	}
}
