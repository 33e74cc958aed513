package dm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error is every failure a Cluster method returns to its caller: a stable numeric code
// (DM's where DM has one), a message that says what is wrong and how to fix it, and the
// HTTP status httpapi answers with. errors.Is matches two *Error values by code, so
// `errors.Is(err, &dm.Error{Code: dm.CodeTaskNotFound})` works.
type Error struct {
	Code       int
	Class      string
	Scope      string
	Level      string
	Message    string
	Workaround string
	// Status is the HTTP status; 0 means 400, DM's status for every handler error.
	Status int
	// Cause is the underlying error, if any; its text is shown as RawCause.
	Cause error
}

// Error formats like DM: "[code=..:class=..:scope=..:level=..], Message: ..[, RawCause: ..][, Workaround: ..]".
// DM's clients match substrings of this text, so the layout is part of the contract.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != 0 {
		fmt.Fprintf(&b, "[code=%d:class=%s:scope=%s:level=%s], Message: ", e.Code, e.Class, e.Scope, e.Level)
	}
	b.WriteString(e.Message)
	if e.Cause != nil {
		fmt.Fprintf(&b, ", RawCause: %s", e.Cause.Error())
	}
	if e.Workaround != "" {
		fmt.Fprintf(&b, ", Workaround: %s", e.Workaround)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the status httpapi answers with.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// ErrorCode returns the code of the *Error in err's chain, or 0 for any other error.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// errorKind is the fixed part of one error code.
type errorKind struct {
	class, scope, level string
	workaround          string
}

// Error codes. They follow DM's numbers (tiflow dm/errors.toml) where DM has one; the 491xx
// range is dmkit's own, for request validation that DM does in its OpenAPI validator.
const (
	CodeDBDriver                = 10001
	CodeFlavorNotSupported      = 11010
	CodeInvalidTimezone         = 20008
	CodeIncrementalNeedsMeta    = 20022
	CodeConverterSourceNotFound = 20031
	CodeBadAllowList            = 20044
	CodeBadRoute                = 20045
	CodeTemplateExists          = 20050
	CodeTemplateNotFound        = 20051
	CodeStartTimeTooLate        = 20057
	CodeStrictOptimistic        = 20066
	CodeImportIntoSharding      = 20068
	CodeImportIntoLocalDir      = 20069
	CodePrecheckFailed          = 26005
	CodeGTIDModeOff             = 26007
	CodeMasterNoLeader          = 38043
	CodeMasterNotFound          = 38048
	CodeSourceDisabled          = 38058
	CodeEmptySourceID           = 40005
	CodeSourceIDTooLong         = 40006
	CodeBadRelayBinlogName      = 40007
	CodeNoSourceInWorker        = 40070
	CodeWorkerNotFound          = 46004
	CodeWorkerOnline            = 46005
	CodeWorkerBadStage          = 46006
	CodeSourceExists            = 46007
	CodeSourceNotFound          = 46008
	CodeSourcesNotBound         = 46009
	CodeSourceHasTasks          = 46010
	CodeTaskExists              = 46014
	CodeSubtasksNotFound        = 46016
	CodeSourcesNotInTask        = 46017
	CodeTaskNotFound            = 46018
	CodeTransferNotInSync       = 46019
	CodeRelayWorkerBusy         = 46020
	CodeRelayWorkerBoundOther   = 46021
	CodeRelayWorkerOther        = 46022
	CodeSourceHasRelayWorkers   = 46023
	CodeResourceInUse           = 46024
	CodeSourceUpdateBlocked     = 46025
	CodeTransferRelayOther      = 46027
	CodeRelayAutoStart          = 46030
	CodeRelayAutoStop           = 46031
	CodeTransferPauseFailed     = 46032
	CodeWorkerNotFree           = 46033
	CodeSubtaskNotInTask        = 46034
	CodeTaskUpdateBlocked       = 46035
	CodeOpenAPICommon           = 49001

	CodeInvalidRequest    = 49100
	CodeRouteNotFound     = 49101
	CodeMethodNotAllowed  = 49102
	CodeBodyTooLarge      = 49103
	CodeNotImplemented    = 49104
	CodeInternal          = 49105
	CodeSourceCheckFailed = 49106
	// Shard DDL coordination (DM offers these only in dmctl, without codes of its own).
	CodeShardDDLConflict  = 49107
	CodeShardLockNotFound = 49108
)

var errorKinds = map[int]errorKind{
	CodeDBDriver:                {class: "database", scope: "not-set", level: "high"},
	CodeFlavorNotSupported:      {class: "functional", scope: "internal", level: "high"},
	CodeInvalidTimezone:         {class: "config", scope: "internal", level: "medium", workaround: "Please use an IANA time zone name such as `Asia/Shanghai`, or an offset such as `+08:00`."},
	CodeIncrementalNeedsMeta:    {class: "config", scope: "internal", level: "medium", workaround: "Please set binlog_name/binlog_pos or binlog_gtid in source_conf, or start the task with start_time."},
	CodeConverterSourceNotFound: {class: "config", scope: "internal", level: "medium", workaround: "Please create the source first."},
	CodeBadAllowList:            {class: "config", scope: "internal", level: "high"},
	CodeBadRoute:                {class: "config", scope: "internal", level: "high"},
	CodeTemplateExists:          {class: "config", scope: "internal", level: "medium"},
	CodeTemplateNotFound:        {class: "config", scope: "internal", level: "medium"},
	CodeStartTimeTooLate:        {class: "config", scope: "internal", level: "high"},
	CodeStrictOptimistic:        {class: "config", scope: "internal", level: "medium"},
	CodeImportIntoSharding:      {class: "config", scope: "internal", level: "medium"},
	CodeImportIntoLocalDir:      {class: "config", scope: "internal", level: "medium"},
	CodePrecheckFailed:          {class: "dm-master", scope: "internal", level: "medium", workaround: "Please fix the reported items, or list them in ignore_checking_items."},
	CodeGTIDModeOff:             {class: "task-check", scope: "upstream", level: "high", workaround: "Please enable GTID on the source (gtid_mode=ON, enforce_gtid_consistency=ON) or set enable_gtid=false."},
	CodeMasterNoLeader:          {class: "dm-master", scope: "internal", level: "high", workaround: "Please retry in a few seconds: the dm-masters elect a leader within their --election-ttl; check that a majority of them (and their etcd) is running."},
	CodeMasterNotFound:          {class: "dm-master", scope: "internal", level: "medium"},
	CodeSourceDisabled:          {class: "dm-master", scope: "internal", level: "medium", workaround: "Please enable the source first (POST /api/v1/sources/{source-name}/enable)."},
	CodeEmptySourceID:           {class: "dm-worker", scope: "internal", level: "medium"},
	CodeSourceIDTooLong:         {class: "dm-worker", scope: "internal", level: "medium"},
	CodeBadRelayBinlogName:      {class: "dm-worker", scope: "internal", level: "medium"},
	CodeNoSourceInWorker:        {class: "dm-worker", scope: "internal", level: "high", workaround: "Please bind the source to a worker first (transfer it, or free a worker)."},
	CodeWorkerNotFound:          {class: "scheduler", scope: "internal", level: "medium"},
	CodeWorkerOnline:            {class: "scheduler", scope: "internal", level: "medium", workaround: "Please stop the worker before offlining it."},
	CodeWorkerBadStage:          {class: "scheduler", scope: "internal", level: "medium"},
	CodeSourceExists:            {class: "scheduler", scope: "internal", level: "medium"},
	CodeSourceNotFound:          {class: "scheduler", scope: "internal", level: "medium"},
	CodeSourcesNotBound:         {class: "dm-master", scope: "internal", level: "high", workaround: "Please add more workers, or free one, so that every source is bound."},
	CodeSourceHasTasks:          {class: "dm-master", scope: "internal", level: "medium", workaround: "Please `stop-task` first."},
	CodeTaskExists:              {class: "scheduler", scope: "internal", level: "medium"},
	CodeSubtasksNotFound:        {class: "dm-master", scope: "internal", level: "medium"},
	CodeSourcesNotInTask:        {class: "dm-master", scope: "internal", level: "medium"},
	CodeTaskNotFound:            {class: "scheduler", scope: "internal", level: "medium", workaround: "Please use `query-status` command to see tasks."},
	CodeTransferNotInSync:       {class: "scheduler", scope: "internal", level: "medium", workaround: "Please wait for the tasks to reach the sync unit, or stop them first."},
	CodeRelayWorkerBusy:         {class: "scheduler", scope: "internal", level: "medium"},
	CodeRelayWorkerBoundOther:   {class: "scheduler", scope: "internal", level: "medium"},
	CodeRelayWorkerOther:        {class: "scheduler", scope: "internal", level: "medium"},
	CodeSourceHasRelayWorkers:   {class: "scheduler", scope: "internal", level: "medium", workaround: "Please disable relay first."},
	CodeResourceInUse:           {class: "scheduler", scope: "internal", level: "high", workaround: "Please try again later."},
	CodeSourceUpdateBlocked:     {class: "scheduler", scope: "internal", level: "medium", workaround: "Please stop all tasks and disable relay of the source first."},
	CodeTransferRelayOther:      {class: "scheduler", scope: "internal", level: "medium"},
	CodeRelayAutoStart:          {class: "scheduler", scope: "internal", level: "medium"},
	CodeRelayAutoStop:           {class: "scheduler", scope: "internal", level: "medium"},
	CodeTransferPauseFailed:     {class: "scheduler", scope: "internal", level: "high"},
	CodeWorkerNotFree:           {class: "scheduler", scope: "internal", level: "medium"},
	CodeSubtaskNotInTask:        {class: "scheduler", scope: "internal", level: "medium"},
	CodeTaskUpdateBlocked:       {class: "scheduler", scope: "internal", level: "medium", workaround: "Please stop the task first."},
	CodeOpenAPICommon:           {class: "openapi", scope: "internal", level: "high"},
	CodeInvalidRequest:          {class: "openapi", scope: "internal", level: "medium"},
	CodeRouteNotFound:           {class: "openapi", scope: "internal", level: "low"},
	CodeMethodNotAllowed:        {class: "openapi", scope: "internal", level: "low"},
	CodeBodyTooLarge:            {class: "openapi", scope: "internal", level: "medium"},
	CodeNotImplemented:          {class: "openapi", scope: "internal", level: "medium"},
	CodeInternal:                {class: "openapi", scope: "internal", level: "high"},
	CodeSourceCheckFailed:       {class: "task-check", scope: "upstream", level: "high"},
	CodeShardDDLConflict:        {class: "sync-unit", scope: "internal", level: "high"},
	CodeShardLockNotFound:       {class: "dm-master", scope: "internal", level: "medium", workaround: "Please list the task's locks (GET /api/v1/tasks/{task-name}/shard-ddl-locks) for their ids."},
}

// NewError builds an *Error of a known code with a formatted message.
func NewError(code int, format string, args ...any) *Error {
	k := errorKinds[code]
	return &Error{Code: code, Class: k.class, Scope: k.scope, Level: k.level, Workaround: k.workaround,
		Message: fmt.Sprintf(format, elideArgs(args)...)}
}

// maxEchoed bounds a one-line string argument of an error message: messages echo names
// from the request, and a 100 KB name must not come back 100 KB long. Multi-line
// arguments (precheck details) are reports, not echoes, and are kept whole.
const maxEchoed = 256

func elideArgs(args []any) []any {
	out := args
	for i, a := range args {
		s, ok := a.(string)
		if !ok || len(s) <= maxEchoed || strings.Contains(s, "\n") {
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		cut := maxEchoed
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		out[i] = fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
	}
	return out
}

// withCause sets the cause and returns e.
func (e *Error) withCause(err error) *Error { e.Cause = err; return e }

// withStatus sets the HTTP status and returns e.
func (e *Error) withStatus(status int) *Error { e.Status = status; return e }

// invalidf is a request-validation error (HTTP 400, code 49100).
func invalidf(format string, args ...any) *Error {
	return NewError(CodeInvalidRequest, format, args...)
}

// plainError is an error DM reports with code 0 (argument parse errors and the like).
func plainError(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, elideArgs(args)...)}
}
