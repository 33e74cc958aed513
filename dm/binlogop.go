package dm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/dmkit/dmkit/syncer"
)

// BinlogOperationRequest is DM's `binlog skip|replace` (dmctl's handle-error) over the
// API: the statement event of a subtask's source at BinlogPos ("file:pos", the end of the
// event as the paused subtask's error reports it; default: the statement the subtask is
// paused on) is skipped, or replaced by SQLs — upstream statements, filtered, routed and
// tracked like the original. It takes effect when the subtask (re)starts: resume it with
// the task's start.
type BinlogOperationRequest struct {
	Op        string   `json:"op"`
	BinlogPos string   `json:"binlog_pos,omitempty"`
	SQLs      []string `json:"sqls,omitempty"`
}

// BinlogOperation is a stored binlog operation of a subtask.
type BinlogOperation struct {
	Op        string   `json:"op"`
	BinlogPos string   `json:"binlog_pos"`
	SQLs      []string `json:"sqls,omitempty"`
}

// binlogOpRecord is a BinlogOperation as the subtask record keeps it.
type binlogOpRecord struct {
	File string   `json:"file"`
	Pos  uint32   `json:"pos"`
	SQLs []string `json:"sqls,omitempty"` // empty: skip
}

// maxBinlogOps bounds a subtask's stored operations: they are carried to every start.
const maxBinlogOps = 64

var binlogPosRE = regexp.MustCompile(`^([^:\s]+):(\d+)$`)

// OperateBinlog stores a skip or replace for one statement of a subtask's source; see
// BinlogOperationRequest.
func (c *Cluster) OperateBinlog(ctx context.Context, task, source string, req BinlogOperationRequest) (*BinlogOperation, error) {
	if _, err := c.subtaskScope(task, source); err != nil {
		return nil, err
	}
	switch req.Op {
	case "skip":
		if len(req.SQLs) > 0 {
			return nil, invalidf("binlog skip takes no sqls; use op \"replace\" to run other statements instead")
		}
	case "replace":
		if len(req.SQLs) == 0 {
			return nil, invalidf("binlog replace needs sqls: the statements to run instead")
		}
		for _, q := range req.SQLs {
			if _, _, err := parser.New().ParseSQL(q); err != nil {
				return nil, invalidf("binlog replace: sql %q does not parse: %v", q, err)
			}
		}
	default:
		return nil, invalidf("binlog op %q: use skip or replace", req.Op)
	}
	rec, err := c.binlogOpPosition(task, source, req.BinlogPos)
	if err != nil {
		return nil, err
	}
	rec.SQLs = req.SQLs
	err = c.update(ctx, func(w *writeTxn) error {
		st, _ := w.get(kindSubtask, subtaskKey(task, source)).(*subtaskRecord)
		if st == nil {
			return taskNotFound(task)
		}
		n := *st
		n.BinlogOps = nil
		for _, op := range st.BinlogOps {
			if op.File != rec.File || op.Pos != rec.Pos { // a new operation at a position replaces the old
				n.BinlogOps = append(n.BinlogOps, op)
			}
		}
		if len(n.BinlogOps) >= maxBinlogOps {
			n.BinlogOps = n.BinlogOps[1:]
		}
		n.BinlogOps = append(n.BinlogOps, rec)
		w.put(kindSubtask, &n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("binlog operation stored", "task", task, "source", source, "op", req.Op, "position", fmt.Sprintf("%s:%d", rec.File, rec.Pos))
	return &BinlogOperation{Op: req.Op, BinlogPos: fmt.Sprintf("%s:%d", rec.File, rec.Pos), SQLs: req.SQLs}, nil
}

// binlogOpPosition is the given position, or that of the statement the subtask is paused
// on.
func (c *Cluster) binlogOpPosition(task, source, pos string) (binlogOpRecord, error) {
	if pos != "" {
		m := binlogPosRE.FindStringSubmatch(pos)
		if m == nil {
			return binlogOpRecord{}, invalidf("binlog_pos %q: use file:pos, such as mysql-bin.000001:2345 (the position in the paused subtask's error)", pos)
		}
		p, err := strconv.ParseUint(m[2], 10, 32)
		if err != nil {
			return binlogOpRecord{}, invalidf("binlog_pos %q: the position is out of range", pos)
		}
		return binlogOpRecord{File: m[1], Pos: uint32(p)}, nil
	}
	if bw := boundWorker(c.read(), source); bw != nil && c.workers.get(bw.Name) != nil {
		if d := c.workers.get(bw.Name).pausedDDL(task); d != nil {
			return binlogOpRecord{File: d.File, Pos: d.Pos}, nil
		}
	}
	return binlogOpRecord{}, invalidf("subtask %s on source %s is not paused on a statement; give binlog_pos (file:pos)", task, source)
}

// syncerBinlogOps is the syncer's form of a subtask's stored operations.
func syncerBinlogOps(recs []binlogOpRecord) []syncer.BinlogOp {
	var out []syncer.BinlogOp
	for _, r := range recs {
		out = append(out, syncer.BinlogOp{File: r.File, Pos: r.Pos, Replace: r.SQLs})
	}
	return out
}

// ddlFailure is the statement error a run ended with, if it is one.
func ddlFailure(err error) *syncer.DDLError {
	var d *syncer.DDLError
	if errors.As(err, &d) {
		return d
	}
	return nil
}
