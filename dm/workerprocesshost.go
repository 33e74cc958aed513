package dm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WorkerProcess implements workerHost: it reads the desired state from its mirror of
// etcd and sends its few reports to the leader through etcd (reporter), since only the
// leader writes the state.
var _ workerHost = (*WorkerProcess)(nil)

// desiredState implements workerHost. Without a live registration the worker is told it
// has nothing: its source may be another worker's already.
func (p *WorkerProcess) desiredState(ctx context.Context, worker string) (string, map[string]*subtaskRecord, <-chan error) {
	source, desired, ch := p.state.desiredState(ctx, worker)
	if !p.leaseValid() {
		return "", map[string]*subtaskRecord{}, ch
	}
	return source, desired, ch
}

// subtaskConfig implements workerHost: the in-process assembly, with the reports going
// to the leader and the target fenced by this binding's revision.
func (p *WorkerProcess) subtaskConfig(st *subtaskRecord, worker string, log *slog.Logger) (*SubtaskConfig, error) {
	tr := p.state.taskRecord(st.Task)
	if tr == nil {
		return nil, fmt.Errorf("subtask %s/%s: task vanished", st.Task, st.Source)
	}
	// The in-process assembly asks the lock keeper for the shard coordinator; here it is
	// the leader's, over the RPC (shardrpc.go).
	shardMode := tr.Task.ShardMode
	cfg, err := p.withoutShardMode(st, worker, log)
	if err != nil {
		return nil, err
	}
	if shardMode != "" {
		cfg.Shard = &remoteShards{p: p, task: st.Task, taskID: tr.ID, log: cfg.Logger}
	}
	rev := p.mirror.recordRev(kindWorker, worker)
	if rev == 0 {
		return nil, fmt.Errorf("subtask %s/%s: worker %s has no binding record yet", st.Task, st.Source, worker)
	}
	cfg.Fence = &Fence{Rev: rev, Valid: p.leaseValid}
	task, id, source, seq := st.Task, st.TaskID, st.Source, st.ResumeSeq
	cfg.ClearStartArgs = func() {
		p.rep.send(workerReport{Kind: reportClearStartArgs, Task: task, TaskID: id, Source: source, ResumeSeq: seq})
	}
	applied := cfg.SchemaOverrides
	cfg.ForgetSchemaOverrides = func() {
		r := workerReport{Kind: reportForgetSchemas, Task: task, TaskID: id, Source: source}
		for k, v := range applied {
			r.Schemas = append(r.Schemas, [3]string{k[0], k[1], v})
		}
		p.rep.send(r)
	}
	return cfg, nil
}

// withoutShardMode is the in-process subtaskConfig, kept from touching the lock keeper
// (the worker process has none).
func (p *WorkerProcess) withoutShardMode(st *subtaskRecord, worker string, log *slog.Logger) (*SubtaskConfig, error) {
	return p.state.subtaskConfigWith(st, worker, log, nil)
}

func (p *WorkerProcess) taskMode(task string) string { return p.state.taskMode(task) }

func (p *WorkerProcess) relaySpec(worker string) *relaySpec {
	if !p.leaseValid() {
		return nil
	}
	return p.state.relaySpec(worker)
}

func (p *WorkerProcess) recordFinished(task, taskID, source string, resumeSeq int64) {
	p.rep.send(workerReport{Kind: reportFinished, Task: task, TaskID: taskID, Source: source, ResumeSeq: resumeSeq})
}

func (p *WorkerProcess) subtaskEvent(task, source, worker string, ev subtaskEventKind) {
	p.state.subtaskEvent(task, source, worker, ev)
}

// etcdReportDir holds the reports of worker processes to the leader:
// <prefix>/%report/<worker>/<id>. The leader applies each (they are idempotent and
// conditional, like their in-process versions) and deletes it. Reports are not under a
// lease: one made just before a worker died is still applied.
const etcdReportDir = "%report"

const (
	reportFinished       = "finished"
	reportClearStartArgs = "clear-start-args"
	reportForgetSchemas  = "forget-schemas"
)

// workerReport is one report.
type workerReport struct {
	Kind      string      `json:"kind"`
	Task      string      `json:"task"`
	TaskID    string      `json:"task_id"`
	Source    string      `json:"source"`
	ResumeSeq int64       `json:"resume_seq,omitempty"`
	Schemas   [][3]string `json:"schemas,omitempty"` // schema, table, CREATE TABLE
}

// reporter puts reports into etcd.
type reporter struct {
	cli    *clientv3.Client
	prefix string
	worker string
	log    *slog.Logger
	seq    atomic.Int64
}

// send puts r, retrying for up to 30 s while etcd does not answer.
func (rp *reporter) send(r workerReport) {
	raw, _ := json.Marshal(r)
	key := fmt.Sprintf("%s/%s/%s/%020d-%06d", rp.prefix, etcdReportDir, escapeEtcdPart(rp.worker), time.Now().UnixNano(), rp.seq.Add(1))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := rp.cli.Put(ctx, key, string(raw))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			rp.log.Warn("report to the leader lost", "kind", r.Kind, "task", r.Task, "source", r.Source, "err", err)
			return
		}
		time.Sleep(time.Second)
	}
}

// applyReport is the leader's side of a report; an error leaves the report for the
// next try (or the next leader).
func (c *Cluster) applyReport(r workerReport) error {
	switch r.Kind {
	case reportFinished:
		return c.recordFinishedErr(r.Task, r.TaskID, r.Source, r.ResumeSeq)
	case reportClearStartArgs:
		return c.clearStartArgsErr(r.Task, r.TaskID, r.Source, r.ResumeSeq)
	case reportForgetSchemas:
		applied := map[[2]string]string{}
		for _, s := range r.Schemas {
			applied[[2]string{s[0], s[1]}] = s[2]
		}
		return c.forgetSchemaOverridesErr(r.Task, r.TaskID, r.Source, applied)
	}
	c.log.Warn("unknown worker report dropped", "kind", r.Kind)
	return nil
}
