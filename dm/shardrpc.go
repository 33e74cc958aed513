package dm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dmkit/dmkit/syncer"
)

// Shard DDL coordination for worker processes. The lock keeper lives in the leader; a
// worker process's sync unit reaches it through this RPC: arrive, executed and left are
// the ShardCoordinator's methods, and a ShardWait decision is a waiter the worker
// long-polls until the lock resolves. Every call goes to the current leader (found by
// WorkerProcessConfig.Leader) and fails over with it: the keeper's state is in the store,
// and a waiter the new leader does not know reads as resolved — the syncer then re-reads
// the binlog from the DDL and arrives again, which the keeper answers from the stored
// lock (skip when resolved, wait again when not).

// ShardRPCPath is where the leader serves the shard coordination of worker processes.
const ShardRPCPath = "/dmkit/master/v1/shard/"

type shardRPCArgs struct {
	Task   string          `json:"task"`
	TaskID string          `json:"task_id"`
	DDL    syncer.ShardDDL `json:"ddl"`
	Waiter string          `json:"waiter,omitempty"`
}

type shardRPCResult struct {
	Action   syncer.ShardAction `json:"action"`
	DDLs     []string           `json:"ddls,omitempty"`
	Waiter   string             `json:"waiter,omitempty"`
	Resolved bool               `json:"resolved,omitempty"`
}

// shardWaiters are the ShardWait decisions handed to worker processes, by waiter id.
type shardWaiters struct {
	mu sync.Mutex
	m  map[string]<-chan struct{}
}

func (w *shardWaiters) add(ch <-chan struct{}) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]<-chan struct{}{}
	}
	for k, c := range w.m { // forget the resolved ones nobody came back for
		if closed(c) {
			delete(w.m, k)
		}
	}
	w.m[id] = ch
	return id
}

func (w *shardWaiters) get(id string) (<-chan struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.m[id]
	return ch, ok
}

func (w *shardWaiters) done(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

// ShardHandler serves the shard DDL coordination of worker processes at ShardRPCPath.
// Only the leader's cluster may serve it.
func (c *Cluster) ShardHandler() http.Handler { return rpcHandler(ShardRPCPath, c.serveShard) }

func (c *Cluster) serveShard(ctx context.Context, method string, a shardRPCArgs) (*shardRPCResult, error) {
	if method == "wait" {
		ch, ok := c.shardWait.get(a.Waiter)
		if !ok {
			return &shardRPCResult{Resolved: true}, nil // see the comment at the top
		}
		t := time.NewTimer(20 * time.Second)
		defer t.Stop()
		select {
		case <-ch:
			c.shardWait.done(a.Waiter)
			return &shardRPCResult{Resolved: true}, nil
		case <-t.C:
			return &shardRPCResult{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	tr := c.taskRecord(a.Task)
	if tr == nil || tr.ID != a.TaskID || tr.Task.ShardMode == "" {
		return nil, NewError(CodeTaskNotFound, "task %s (id %s) with a shard_mode does not exist (any more)", a.Task, a.TaskID)
	}
	co := c.locks.coordinator(&tr.Task, tr.ID)
	switch method {
	case "arrive":
		dec, err := co.Arrive(ctx, a.DDL)
		if err != nil {
			return nil, err
		}
		res := &shardRPCResult{Action: dec.Action, DDLs: dec.DDLs}
		if dec.Action == syncer.ShardWait && dec.Resolved != nil {
			res.Waiter = c.shardWait.add(dec.Resolved)
		}
		return res, nil
	case "executed":
		return &shardRPCResult{}, co.Executed(ctx, a.DDL)
	case "left":
		return &shardRPCResult{}, co.Left(ctx, a.DDL)
	}
	return nil, NewError(CodeOpenAPICommon, "no shard RPC method %q", method)
}

// remoteShards is a worker process's ShardCoordinator: the leader's keeper over the RPC.
type remoteShards struct {
	p            *WorkerProcess
	task, taskID string
	log          *slog.Logger
}

var _ syncer.ShardCoordinator = (*remoteShards)(nil)

func (s *remoteShards) call(ctx context.Context, method string, a shardRPCArgs) (*shardRPCResult, error) {
	if s.p.cfg.Leader == nil {
		return nil, errors.New("shard DDL coordination needs the leader's address; the worker process has no WorkerProcessConfig.Leader")
	}
	base, err := s.p.cfg.Leader(ctx)
	if err != nil {
		return nil, &transientError{fmt.Errorf("find the dm-master leader for shard DDL coordination: %w", err)}
	}
	a.Task, a.TaskID = s.task, s.taskID
	body, _ := json.Marshal(a)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, strings.TrimRight(base, "/")+ShardRPCPath+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.p.rpcClient().Do(req)
	if err != nil {
		return nil, &transientError{fmt.Errorf("shard DDL coordination: the leader at %s does not answer: %w", base, err)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		if err := decodeRPCError(raw); err != nil {
			if err.Code == CodeShardDDLConflict {
				return nil, err // the user's to settle
			}
			return nil, &transientError{err}
		}
		return nil, &transientError{fmt.Errorf("shard DDL coordination: the leader at %s answered %s", base, resp.Status)}
	}
	res := &shardRPCResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, &transientError{fmt.Errorf("shard DDL coordination: decode the leader's answer: %w", err)}
	}
	return res, nil
}

func (s *remoteShards) Arrive(ctx context.Context, d syncer.ShardDDL) (syncer.ShardDecision, error) {
	res, err := s.call(ctx, "arrive", shardRPCArgs{DDL: d})
	if err != nil {
		return syncer.ShardDecision{}, err
	}
	dec := syncer.ShardDecision{Action: res.Action, DDLs: res.DDLs}
	if res.Action == syncer.ShardWait {
		ch := make(chan struct{})
		dec.Resolved = ch
		// Owned by the run that arrived: it ends with ctx (the run stopped) or the process.
		go func() {
			defer close(ch)
			s.await(ctx, res.Waiter)
		}()
	}
	return dec, nil
}

// await long-polls the leader until the waiter resolves or the worker process closes; a
// leader that fails over answers "resolved" for a waiter it does not know (see above).
func (s *remoteShards) await(ctx context.Context, waiter string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.p.ctx, cancel)
	defer stop()
	for ctx.Err() == nil {
		res, err := s.call(ctx, "wait", shardRPCArgs{Waiter: waiter})
		if err == nil && res.Resolved {
			return
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("wait for a shard DDL lock", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

func (s *remoteShards) Executed(ctx context.Context, d syncer.ShardDDL) error {
	_, err := s.call(ctx, "executed", shardRPCArgs{DDL: d})
	return err
}

func (s *remoteShards) Left(ctx context.Context, d syncer.ShardDDL) error {
	_, err := s.call(ctx, "left", shardRPCArgs{DDL: d})
	return err
}
