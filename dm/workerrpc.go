package dm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dmkit/dmkit/syncer"
)

// The worker RPC: how the leader reaches a worker process. Every call is a POST of a
// JSON argument to <worker URL>/dmkit/worker/v1/<method>, answered 200 with a JSON
// result or with the unified error body. It carries exactly the workerHandle methods; the
// desired state travels through etcd, never through here.

const workerRPCPath = "/dmkit/worker/v1/"

type rpcArgs struct {
	Task    string `json:"task,omitempty"`
	Source  string `json:"source,omitempty"`
	Schema  string `json:"schema,omitempty"`
	Table   string `json:"table,omitempty"`
	Name    string `json:"name,omitempty"`
	Dir     string `json:"dir,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Repair  bool   `json:"repair,omitempty"`
	WaitMS  int64  `json:"wait_ms,omitempty"`
	Stopped bool   `json:"stopped,omitempty"`
}

type rpcResult struct {
	Status     *SubTaskStatus           `json:"status,omitempty"`
	OK         bool                     `json:"ok,omitempty"`
	Text       string                   `json:"text,omitempty"`
	DDL        *rpcDDLError             `json:"ddl,omitempty"`
	Relay      *RelayStatus             `json:"relay,omitempty"`
	Validation *syncer.ValidationStatus `json:"validation,omitempty"`
	ValErrors  []syncer.ValidationError `json:"validation_errors,omitempty"`
}

// rpcDDLError is syncer.DDLError on the wire.
type rpcDDLError struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	DDL  string `json:"ddl"`
	Err  string `json:"err"`
}

type rpcError struct {
	Msg  string `json:"error_msg"`
	Code int    `json:"error_code"`
}

// Handler serves the worker RPC for the masters (mount it at /dmkit/worker/v1/).
func (p *WorkerProcess) Handler() http.Handler { return rpcHandler(workerRPCPath, p.serve) }

// rpcHandler serves POST <path><method> with a JSON argument of type A through serve,
// answering its result as JSON or its error in the unified error body (the worker RPC
// and the shard RPC).
func rpcHandler[A, R any](path string, serve func(ctx context.Context, method string, a A) (R, error)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		method, ok := strings.CutPrefix(req.URL.Path, path)
		if !ok || req.Method != http.MethodPost {
			writeRPCError(rw, http.StatusNotFound, NewError(CodeOpenAPICommon, "no RPC %s %s", req.Method, req.URL.Path))
			return
		}
		var a A
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&a); err != nil {
			writeRPCError(rw, http.StatusBadRequest, invalidf("RPC %s%s: bad argument: %v", path, method, err))
			return
		}
		res, err := serve(req.Context(), method, a)
		if err != nil {
			writeRPCError(rw, http.StatusBadRequest, err)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(res)
	})
}

func (p *WorkerProcess) serve(ctx context.Context, method string, a rpcArgs) (*rpcResult, error) {
	w := p.w
	res := &rpcResult{}
	switch method {
	case "status":
		st, ok := w.status(a.Task)
		if ok {
			res.Status, res.OK = &st, true
		}
	case "subtask-stage":
		res.Text = w.subtaskStage(a.Task)
	case "tracked-table":
		res.Text, res.OK = w.trackedTable(a.Task, a.Schema, a.Table)
	case "paused-ddl":
		if d := w.pausedDDL(a.Task); d != nil {
			res.DDL = &rpcDDLError{File: d.File, Pos: d.Pos, DDL: d.DDL, Err: fmt.Sprint(d.Err)}
		}
	case "suspend":
		w.suspend(a.Source)
	case "resume":
		w.resume(a.Source)
	case "wait-source-stopped", "wait-task-stopped":
		wait := min(time.Duration(a.WaitMS)*time.Millisecond, 10*time.Second)
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		var err error
		if method == "wait-source-stopped" {
			err = w.waitSourceStopped(wctx, a.Source)
		} else {
			err = w.waitTaskStopped(wctx, a.Task)
		}
		res.OK = err == nil
		if err != nil {
			res.Text = err.Error()
		}
	case "relay-status":
		res.Relay, res.Text = w.relayStatus(a.Source)
	case "purge-relay":
		return res, w.purgeRelay(ctx, a.Source, a.Name, a.Dir)
	case "verify":
		return res, w.verifyTask(a.Task, a.Repair)
	case "validate":
		return res, w.validate(a.Task, a.Mode)
	case "validation-of":
		res.Validation, res.ValErrors = w.validationOf(a.Task)
	default:
		return nil, NewError(CodeOpenAPICommon, "no worker RPC method %q", method)
	}
	return res, nil
}

// decodeRPCError is the error an RPC answered in the unified error body, nil when raw is
// not one.
func decodeRPCError(raw []byte) *Error {
	var e rpcError
	if json.Unmarshal(raw, &e) != nil || e.Msg == "" {
		return nil
	}
	return &Error{Code: e.Code, Class: "dm-master", Scope: "internal", Level: "high", Message: e.Msg}
}

func writeRPCError(rw http.ResponseWriter, status int, err error) {
	e := rpcError{Msg: err.Error(), Code: CodeOpenAPICommon}
	var de *Error
	if errors.As(err, &de) {
		e.Code = de.Code
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(e)
}

// remoteWorker is the leader's handle of a worker process: the workerHandle methods as
// calls of the worker RPC. A call that fails (the worker is gone, the network is split)
// reads as "unknown" where the interface has one, and as an error elsewhere; the lease
// decides whether the worker is online, not a failed call.
type remoteWorker struct {
	name    string
	addr    string
	url     string
	client  *http.Client
	timeout time.Duration
	c       *Cluster
}

var _ workerHandle = (*remoteWorker)(nil)

func (r *remoteWorker) call(ctx context.Context, method string, a rpcArgs) (*rpcResult, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout+time.Duration(a.WaitMS)*time.Millisecond)
	defer cancel()
	body, _ := json.Marshal(a)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+workerRPCPath+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, NewError(CodeOpenAPICommon, "dm-worker %s at %s does not answer: %v", r.name, r.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, NewError(CodeOpenAPICommon, "dm-worker %s at %s: read the answer of %s: %v", r.name, r.url, method, err)
	}
	if resp.StatusCode != http.StatusOK {
		if e := decodeRPCError(raw); e != nil {
			return nil, e
		}
		return nil, NewError(CodeOpenAPICommon, "dm-worker %s at %s answered %s to %s", r.name, r.url, resp.Status, method)
	}
	res := &rpcResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, NewError(CodeOpenAPICommon, "dm-worker %s at %s: decode the answer of %s: %v", r.name, r.url, method, err)
	}
	return res, nil
}

// bg bounds a status-like read: the API answers "unknown" for a worker that does not
// answer within 2 s (frozen, partitioned) instead of hanging on it.
func (r *remoteWorker) bg() context.Context {
	ctx, cancel := context.WithTimeout(r.c.ctx, statusRPCTimeout)
	context.AfterFunc(ctx, cancel)
	return ctx
}

const statusRPCTimeout = 2 * time.Second

// run and poke do nothing: a worker process runs its own loop and follows etcd.
func (r *remoteWorker) run(ctx context.Context) {}
func (r *remoteWorker) poke()                   {}

// stopAll does nothing: a worker process stops its subtasks itself when it closes or
// loses its registration.
func (r *remoteWorker) stopAll() {}

func (r *remoteWorker) status(task string) (SubTaskStatus, bool) {
	res, err := r.call(r.bg(), "status", rpcArgs{Task: task})
	if err != nil || !res.OK || res.Status == nil {
		return SubTaskStatus{}, false
	}
	return *res.Status, true
}

func (r *remoteWorker) subtaskStage(task string) string {
	res, err := r.call(r.bg(), "subtask-stage", rpcArgs{Task: task})
	if err != nil {
		return ""
	}
	return res.Text
}

func (r *remoteWorker) trackedTable(task, schema, table string) (string, bool) {
	res, err := r.call(r.bg(), "tracked-table", rpcArgs{Task: task, Schema: schema, Table: table})
	if err != nil {
		return "", false
	}
	return res.Text, res.OK
}

func (r *remoteWorker) pausedDDL(task string) *syncer.DDLError {
	res, err := r.call(r.bg(), "paused-ddl", rpcArgs{Task: task})
	if err != nil || res.DDL == nil {
		return nil
	}
	return &syncer.DDLError{File: res.DDL.File, Pos: res.DDL.Pos, DDL: res.DDL.DDL, Err: errors.New(res.DDL.Err)}
}

func (r *remoteWorker) suspend(source string) {
	if _, err := r.call(r.bg(), "suspend", rpcArgs{Source: source}); err != nil {
		r.c.log.Warn("suspend the subtasks of a source on a remote worker", "worker", r.name, "source", source, "err", err)
	}
}

func (r *remoteWorker) resume(source string) {
	if _, err := r.call(r.bg(), "resume", rpcArgs{Source: source}); err != nil {
		r.c.log.Warn("resume the subtasks of a source on a remote worker", "worker", r.name, "source", source, "err", err)
	}
}

// wait polls a wait-* method (each call waits up to 5 s on the worker) until it reports
// stopped or ctx ends.
func (r *remoteWorker) wait(ctx context.Context, method string, a rpcArgs) error {
	a.WaitMS = 5000
	for {
		res, err := r.call(ctx, method, a)
		switch {
		case err != nil:
			return err
		case res.OK:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("dm-worker %s: %s: %w", r.name, res.Text, ctx.Err())
		}
	}
}

func (r *remoteWorker) waitSourceStopped(ctx context.Context, source string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return r.wait(ctx, "wait-source-stopped", rpcArgs{Source: source})
}

func (r *remoteWorker) waitTaskStopped(ctx context.Context, task string) error {
	return r.wait(ctx, "wait-task-stopped", rpcArgs{Task: task})
}

func (r *remoteWorker) relayStatus(source string) (*RelayStatus, string) {
	res, err := r.call(r.bg(), "relay-status", rpcArgs{Source: source})
	if err != nil {
		return &RelayStatus{Stage: StagePaused}, err.Error() + "\n"
	}
	if res.Relay == nil {
		res.Relay = &RelayStatus{}
	}
	return res.Relay, res.Text
}

func (r *remoteWorker) purgeRelay(ctx context.Context, source, name, dir string) error {
	_, err := r.call(ctx, "purge-relay", rpcArgs{Source: source, Name: name, Dir: dir, WaitMS: int64(relayStartWait / time.Millisecond)})
	return err
}

func (r *remoteWorker) verifyTask(task string, repair bool) error {
	_, err := r.call(r.bg(), "verify", rpcArgs{Task: task, Repair: repair})
	return err
}

func (r *remoteWorker) validate(task, mode string) error {
	_, err := r.call(r.bg(), "validate", rpcArgs{Task: task, Mode: mode})
	return err
}

func (r *remoteWorker) validationOf(task string) (*syncer.ValidationStatus, []syncer.ValidationError) {
	res, err := r.call(r.bg(), "validation-of", rpcArgs{Task: task})
	if err != nil {
		return nil, nil
	}
	return res.Validation, res.ValErrors
}
