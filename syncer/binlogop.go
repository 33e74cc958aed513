package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"
)

// BinlogOp is DM's `binlog skip|replace` for one statement event: the query event that
// ends at (File, Pos) — the position a DDLError reports — is skipped, or replaced by
// Replace, statements handled as if the source had written them there (filtered, routed,
// tracked and applied like the original). An empty Replace skips.
type BinlogOp struct {
	File    string
	Pos     uint32
	Replace []string
}

// DDLError is a statement the syncer could not handle (parse, filter error action, or a
// failure on the target that is not temporary). File and Pos locate the end of its event:
// a BinlogOp there skips or replaces it.
type DDLError struct {
	File string
	Pos  uint32
	DDL  string
	Err  error
}

func (e *DDLError) Error() string {
	return fmt.Sprintf("%v (binlog position %s:%d; skip or replace it with the binlog operation of the task's source, then resume)", e.Err, e.File, e.Pos)
}

func (e *DDLError) Unwrap() error { return e.Err }

// binlogOp returns the operation for the statement event ending at p, if any.
func (r *run) binlogOp(p position) (BinlogOp, bool) {
	for _, op := range r.cfg.BinlogOps {
		if op.File == p.File && op.Pos == p.Pos {
			return op, true
		}
	}
	return BinlogOp{}, false
}

// applyBinlogOp carries out op for the statement event h (q being its text).
func (r *run) applyBinlogOp(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, q string, op BinlogOp) error {
	// A DDL (or any statement logged on its own) is its own transaction; a statement
	// inside BEGIN … COMMIT is not, and the transaction goes on.
	end := func() {
		if !r.explicitBegin {
			r.endTxn(h)
		}
	}
	if len(op.Replace) == 0 {
		r.log.Warn("skipping a statement by binlog operation", "position", position{r.curFile, h.LogPos}.String(), "statement", truncate(q, 200))
		end()
		return nil
	}
	r.log.Warn("replacing a statement by binlog operation", "position", position{r.curFile, h.LogPos}.String(),
		"statement", truncate(q, 200), "replacement", truncate(strings.Join(op.Replace, "; "), 400))
	for _, sql := range op.Replace {
		if _, err := r.handleStatement(ctx, h, e, sql); err != nil {
			return r.ddlError(h, sql, err)
		}
	}
	end()
	return nil
}

// ddlError marks a permanent statement failure with its position; temporary ones stay as
// they are, so that the task resumes by itself.
func (r *run) ddlError(h *replication.EventHeader, q string, err error) error {
	var t *TemporaryError
	var d *DDLError
	if errors.As(err, &t) || errors.As(err, &d) || errors.Is(err, context.Canceled) {
		return err
	}
	return &DDLError{File: r.curFile, Pos: h.LogPos, DDL: truncate(q, 300), Err: err}
}
