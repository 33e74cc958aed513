package dm

// Verification (dmkit extension; DM has none built in). The task setting is Task.Verify;
// see verifyrun.go for what runs when.

// Verify modes of Task.Verify ("" is VerifyChecksum).
const (
	VerifyOff      = "off"
	VerifyChecksum = "checksum"
	VerifyRepair   = "checksum+repair"
)

// Error codes of verification (dmkit's 491xx range).
const (
	// CodeVerifyNotRunning: on-demand verification needs the task replicating.
	CodeVerifyNotRunning = 49110
	// CodeVerifyRunning: a verification of the subtask is already running.
	CodeVerifyRunning = 49111
)

func init() {
	errorKinds[CodeVerifyNotRunning] = errorKind{class: "functional", scope: "internal", level: "medium",
		workaround: "Start (or resume) the task, wait until its sync unit runs, then verify."}
	errorKinds[CodeVerifyRunning] = errorKind{class: "functional", scope: "internal", level: "low",
		workaround: "Wait for it to finish: GET /api/v1/tasks/{task-name}/verify."}
}

// verifyModes are the accepted values of Task.Verify.
var verifyModes = []string{"", VerifyOff, VerifyChecksum, VerifyRepair}

// Verification stages (VerifyStatus.Stage).
const (
	VerifyRunning  = "running"
	VerifyClean    = "clean"    // every checked table is equal
	VerifyDiffers  = "mismatch" // rows differ (Mismatches lists them)
	VerifyRepaired = "repaired" // rows differed and were repaired; a second comparison is equal
	VerifyFailed   = "error"    // the comparison could not be made (Error says why)
)

// Verification triggers (VerifyStatus.Trigger).
const (
	VerifyAfterLoad = "after_load"
	VerifyOnDemand  = "on_demand"
)

// maxReportedMismatches caps VerifyStatus.Mismatches; MismatchedRows counts them all.
const maxReportedMismatches = 100

// VerifyStatus is one verification of a subtask's tables: source and target compared at
// one consistent point (Position) by chunk checksums, differing chunks narrowed to rows.
type VerifyStatus struct {
	Trigger string `json:"trigger"`
	Mode    string `json:"mode"`
	Stage   string `json:"stage"`
	// Position is the source binlog position both sides were read at; Consistency says
	// how the source snapshot was taken.
	Position     string `json:"position,omitempty"`
	PositionGTID string `json:"position_gtid,omitempty"`
	Consistency  string `json:"consistency,omitempty"`
	StartedAt    string `json:"started_at"`
	FinishedAt   string `json:"finished_at,omitempty"`
	// TotalTables are the tables to compare; CheckedTables have been compared so far.
	TotalTables   int   `json:"total_tables"`
	CheckedTables int   `json:"checked_tables"`
	Chunks        int   `json:"chunks"`
	SourceRows    int64 `json:"source_rows"`
	TargetRows    int64 `json:"target_rows"`
	// MismatchedChunks and MismatchedRows count what differed; Mismatches lists up to
	// 100 rows (with keys and both images).
	MismatchedChunks int              `json:"mismatched_chunks"`
	MismatchedRows   int              `json:"mismatched_rows"`
	Mismatches       []VerifyMismatch `json:"mismatches,omitempty"`
	RepairedRows     int64            `json:"repaired_rows,omitempty"`
	// SkippedTables could not be compared meaningfully (why says Reason).
	SkippedTables []VerifySkipped `json:"skipped_tables,omitempty"`
	Error         string          `json:"error,omitempty"`
}

// VerifyMismatch is one differing row.
type VerifyMismatch struct {
	SourceTable string `json:"source_table"`
	TargetTable string `json:"target_table"`
	// Kind is missing (source only), extra (target only) or changed.
	Kind string `json:"kind"`
	// KeyColumns and Key identify the row (empty for a table without a unique key).
	KeyColumns []string `json:"key_columns,omitempty"`
	Key        []string `json:"key,omitempty"`
	// Columns name the values of SourceRow and TargetRow (null: SQL NULL; a value that
	// is not UTF-8 is shown as 0x-hex).
	Columns   []string  `json:"columns"`
	SourceRow []*string `json:"source_row,omitempty"`
	TargetRow []*string `json:"target_row,omitempty"`
	Repaired  bool      `json:"repaired"`
}

// VerifySkipped is a table the verification did not compare.
type VerifySkipped struct {
	SourceTable string `json:"source_table"`
	TargetTable string `json:"target_table"`
	Reason      string `json:"reason"`
}

// TaskVerifyResult is the answer of GET /tasks/{name}/verify: each subtask's last or
// current verification.
type TaskVerifyResult struct {
	Total int                 `json:"total"`
	Data  []SubtaskVerifyInfo `json:"data"`
}

// SubtaskVerifyInfo is one subtask's verification.
type SubtaskVerifyInfo struct {
	SourceName   string        `json:"source_name"`
	WorkerName   string        `json:"worker_name"`
	VerifyStatus *VerifyStatus `json:"verify_status,omitempty"`
}

// VerifyTaskRequest is the body of POST /tasks/{name}/verify.
type VerifyTaskRequest struct {
	// SourceNameList limits the verification to these sources (all when empty).
	SourceNameList []string `json:"source_name_list,omitempty"`
	// Repair overrides the task's verify mode for this run: true repairs differing rows.
	Repair *bool `json:"repair,omitempty"`
}
