package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// processError marks a failure of the event loop itself (not of the stream): it is never
// retried by reconnecting.
type processError struct{ err error }

func (e *processError) Error() string { return e.err.Error() }
func (e *processError) Unwrap() error { return e.err }

// readLoop reads the binlog, reconnecting with backoff after stream failures, until ctx
// ends or a permanent error.
func (r *run) readLoop(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	var failingSince time.Time
	for {
		loc := r.published.Load().loc
		st, kind, err := r.openEventStream(loc)
		switched := false
		if err == nil {
			r.s.binlogType.Store(kind)
			var progressed bool
			progressed, switched, err = r.consumeSwitchable(ctx, st)
			st.Close()
			if progressed {
				failingSince, backoff = time.Time{}, 500*time.Millisecond
			}
		}
		if errors.Is(err, errQuiesced) {
			return err
		}
		if errors.Is(err, errRewind) {
			if err := r.rewind(ctx); err != nil {
				return r.stopErr(err)
			}
			continue
		}
		if ctx.Err() != nil {
			if r.werr != nil {
				return r.werr
			}
			return ctx.Err()
		}
		var pe *processError
		if errors.As(err, &pe) {
			return pe.err
		}
		if switched {
			r.log.Info("reopening the binlog stream (relay started or stopped)", "location", r.published.Load().loc.String())
			r.resetForReopen()
			continue
		}
		if isPermanentStreamError(err) {
			return fmt.Errorf("read binlog from %s at %s: %s", r.cfg.SourceDB.Addr(), loc, errText(err))
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		if time.Since(failingSince) > r.cfg.retryBudget {
			return temporary(fmt.Errorf("read binlog from %s: still failing after %s: %s", r.cfg.SourceDB.Addr(), r.cfg.retryBudget, errText(err)))
		}
		r.log.Warn("binlog stream failed; reconnecting", "error", errText(err), "location", r.published.Load().loc.String(), "backoff", backoff)
		r.resetForReopen()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			continue
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// resetForReopen prepares a restart at the last complete transaction; rows events of
// the open transaction that were already dispatched are skipped when they come again.
func (r *run) resetForReopen() {
	if r.inTxn && r.lastRowsPos.File != "" {
		p := r.lastRowsPos
		r.resumeSkip = &p
	}
	r.inTxn, r.explicitBegin = false, false
	r.curFile = r.published.Load().loc.File
}

// consumeSwitchable runs consume until SwitchStream is called (switched) or the stream
// ends.
func (r *run) consumeSwitchable(ctx context.Context, st Stream) (progressed, switched bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-r.s.switchCh:
			cancel(errStreamSwitch)
		case <-stop:
		}
	}()
	// Only the wait for the next event is cut short: an event being handled completes.
	progressed, err = r.consume(ctx, sctx, st)
	if ctx.Err() == nil && errors.Is(context.Cause(sctx), errStreamSwitch) {
		return progressed, true, err
	}
	return progressed, false, err
}

// consume handles events until the stream fails or ctx ends. progressed reports whether
// any event arrived.
// After StopAtTransactionEnd it returns errQuiesced at the next transaction boundary.
// The wait for the next event ends with waitCtx (a stream switch) or a stop request;
// handling an event ends only with ctx.
func (r *run) consume(ctx, waitCtx context.Context, st Stream) (progressed bool, err error) {
	rctx, cancel := r.readContext(waitCtx)
	defer cancel()
	for {
		if r.stopRequested() {
			// A boundary: no open transaction, and none half-dispatched before a reconnect
			// (resumeSkip is cleared at the end of the transaction being re-read).
			if !r.inTxn && r.resumeSkip == nil {
				return progressed, errQuiesced
			}
			rctx = waitCtx // finish the open transaction first
		}
		if err := r.atBarrier(ctx); err != nil {
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			return progressed, &processError{err}
		}
		ev, err := r.nextEvent(r.s.hold.waitCtx(rctx), st)
		if err != nil {
			if ctx.Err() == nil && r.stopRequested() {
				continue // woken by the request; decide at the top
			}
			if woken(rctx, err) {
				r.s.hold.rearm(rctx)
				continue // a hold request: check it at the top
			}
			return progressed, err
		}
		progressed = true
		if !r.inTxn && r.resumeSkip == nil && r.cfg.Throttle != nil {
			// Held between transactions, with the next event in hand.
			if err := r.waitThrottle(rctx); err != nil && ctx.Err() != nil {
				return progressed, err
			}
		}
		if err := r.handle(ctx, ev); err != nil {
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			return progressed, &processError{err}
		}
	}
}

// handle processes one event.
func (r *run) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	r.s.dumpBytes.Add(uint64(h.EventSize))
	r.shardProgress(h)
	if h.Timestamp != 0 && r.firstTS == 0 {
		r.firstTS = h.Timestamp
		if d := r.cfg.SafeModeDuration; d > 0 {
			r.safeUntilTS = h.Timestamp + uint32(d.Seconds())
		}
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.curFile = string(e.NextLogName)
		if !r.inTxn {
			r.publishIfAhead(Location{File: r.curFile, Pos: uint32(e.Position), GTID: r.gtid.String()}, h.Timestamp)
		}
	case *replication.MariadbGTIDEvent:
		r.beginTxn()
		r.gtid.begin(e.GTID.String())
	case *replication.GTIDEvent:
		r.beginTxn()
		if set, err := e.GTIDNext(); err == nil {
			r.gtid.begin(set.String())
		}
	case *replication.QueryEvent:
		return r.handleQuery(ctx, h, e)
	case *replication.XIDEvent:
		r.endTxn(h)
	case *replication.RowsEvent:
		return r.handleRows(ctx, h, e, 0)
	case *replication.TransactionPayloadEvent:
		row := uint32(0)
		for _, inner := range e.Events {
			switch ie := inner.Event.(type) {
			case *replication.RowsEvent:
				if err := r.handleRows(ctx, h, ie, row); err != nil {
					return err
				}
				row += uint32(len(ie.Rows))
			case *replication.XIDEvent:
				r.endTxn(h)
			case *replication.QueryEvent:
				if err := r.handleQuery(ctx, h, ie); err != nil {
					return err
				}
			}
		}
	case *replication.FormatDescriptionEvent, *replication.MariadbGTIDListEvent,
		*replication.MariadbBinlogCheckPointEvent, *replication.PreviousGTIDsEvent:
		if !r.inTxn && h.LogPos > 0 && r.curFile != "" {
			r.publishIfAhead(Location{File: r.curFile, Pos: h.LogPos, GTID: r.gtid.String()}, h.Timestamp)
		}
	}
	return nil
}

func (r *run) beginTxn() {
	r.inTxn = true
	r.explicitBegin = false
	r.lastRowsPos = position{}
}

// endTxn publishes the end of the current transaction: everything before it has been
// dispatched.
func (r *run) endTxn(h *replication.EventHeader) {
	r.gtid.commit()
	r.inTxn, r.explicitBegin = false, false
	r.lastRowsPos = position{}
	r.publishIfAhead(Location{File: r.curFile, Pos: h.LogPos, GTID: r.gtid.String()}, h.Timestamp)
	if r.resumeSkip != nil && (position{r.curFile, h.LogPos}).compare(*r.resumeSkip) > 0 {
		r.resumeSkip = nil
	}
}

func (r *run) publishIfAhead(loc Location, ts uint32) {
	cur := r.published.Load()
	if cur != nil && posOf(loc).compare(posOf(cur.loc)) <= 0 && cur.loc.File != "" {
		return
	}
	r.published.Store(&pubLoc{loc: loc, ts: ts})
}

// handleQuery handles BEGIN/COMMIT and statements (DDL and others).
func (r *run) handleQuery(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	switch upper := strings.ToUpper(q); {
	case upper == "BEGIN" || strings.HasPrefix(upper, "XA START"):
		r.inTxn, r.explicitBegin = true, true
		return nil
	case upper == "COMMIT" || upper == "ROLLBACK" || strings.HasPrefix(upper, "XA COMMIT"):
		r.endTxn(h)
		return nil
	}
	if op, ok := r.binlogOp(position{r.curFile, h.LogPos}); ok {
		return r.applyBinlogOp(ctx, h, e, q, op)
	}
	isDDL, err := r.handleStatement(ctx, h, e, q)
	if err != nil {
		return r.ddlError(h, q, err)
	}
	if isDDL || !r.explicitBegin {
		// A DDL or a statement logged on its own ends its transaction; others inside
		// BEGIN … COMMIT (SAVEPOINT, statement-format DML) do not.
		r.endTxn(h)
	}
	return nil
}

// decodeRows is go-mysql's rows event decoder hook: rows of tables that are not
// replicated are never decoded.
func (r *run) decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table != nil && !r.replicated(string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	return e.DecodeData(pos, data)
}

// replicated applies the system-schema rule and the Tables selection. Ghost and trash
// tables of online schema changes are never replicated themselves (onlineddl.go).
func (r *run) replicated(schema, table string) bool {
	if filter.IsSystemSchema(schema) || schema == r.cfg.MetaSchema || !r.cfg.OnlineDDL.IsReal(table) {
		return false
	}
	return r.cfg.Tables(schema, table)
}

// handleRows turns a rows event into row changes and dispatches them. firstRow offsets
// row indexes for events inside a transaction payload.
func (r *run) handleRows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent, firstRow uint32) error {
	if e.Table == nil {
		return nil
	}
	schema, table := string(e.Table.Schema), string(e.Table.Table)
	if !r.replicated(schema, table) {
		return nil
	}
	evPos := position{r.curFile, h.LogPos}
	if r.shardSkipped(schema, table, evPos) {
		return nil
	}
	if r.resumeSkip != nil && evPos.compare(*r.resumeSkip) <= 0 {
		return nil
	}
	r.lastRowsPos = evPos
	var kind changeKind
	var evType filter.EventType
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		kind, evType = kindInsert, filter.InsertEvent
	case replication.EnumRowsEventTypeUpdate:
		kind, evType = kindUpdate, filter.UpdateEvent
	case replication.EnumRowsEventTypeDelete:
		kind, evType = kindDelete, filter.DeleteEvent
	default:
		return nil
	}
	action, err := r.cfg.Events.Filter(schema, table, evType, "")
	if err != nil {
		return err
	}
	switch action {
	case filter.Ignore:
		return nil
	case filter.Error:
		return fmt.Errorf("binlog event filter rejects %s on %s at %s (action Error)", evType, sqlq.QuoteTable(schema, table), evPos)
	}
	ti, err := r.tableInfo(ctx, schema, table)
	if err != nil {
		return err
	}
	for _, sk := range e.SkippedColumns {
		if len(sk) > 0 {
			return fmt.Errorf("rows event for %s at %s lacks columns; set binlog_row_image=FULL on the source", ti.srcName(), evPos)
		}
	}
	if int(e.ColumnCount) != len(ti.cols) {
		return fmt.Errorf("rows event for %s at %s has %d columns but the tracked schema has %d; "+
			"set the table schema through the table-schema API to the source's schema at that position",
			ti.srcName(), evPos, e.ColumnCount, len(ti.cols))
	}
	step := 1
	if kind == kindUpdate {
		step = 2
	}
	for i, n := 0, uint32(firstRow); i+step <= len(e.Rows); i, n = i+step, n+1 {
		c := &change{kind: kind, table: ti, pos: changePos{r.curFile, h.LogPos, n}, ts: h.Timestamp}
		switch kind {
		case kindInsert:
			c.new = e.Rows[i]
		case kindDelete:
			c.old = e.Rows[i]
		case kindUpdate:
			c.old, c.new = e.Rows[i], e.Rows[i+1]
		}
		if err := r.dispatch(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// safeAt reports whether a change must be written idempotently.
func (r *run) safeAt(p changePos, ts uint32) bool {
	if r.cfg.SafeMode {
		return true
	}
	if r.safeUntil != nil {
		if p.compare(*r.safeUntil) <= 0 {
			return true
		}
		r.safeUntil = nil
		clear(r.tables) // table views built for the replay (shardReplayColumns) are done
		r.log.Info("leaving safe mode", "location", fmt.Sprintf("(%s, %d)", p.File, p.Pos))
	}
	return r.safeUntilTS != 0 && ts < r.safeUntilTS
}

// dispatch computes the change's keys, picks its worker and queues it.
func (r *run) dispatch(ctx context.Context, c *change) error {
	ti := c.table
	r.keys = r.keys[:0]
	if ti.uniqueHandle {
		if c.old != nil {
			r.keys, r.keyBuf = ti.rowKeys(r.keys, c.old, r.keyBuf)
		}
		if c.new != nil {
			r.keys, r.keyBuf = ti.rowKeys(r.keys, c.new, r.keyBuf)
		}
	}
	if len(r.keys) == 0 {
		r.keys = append(r.keys, ti.tableKey())
		// A table without a unique handle cannot be written idempotently: replay after a
		// restart is exact instead, skipping what the worker that owns the table had
		// applied (the table always maps to the same worker).
		if r.skipApplied != nil {
			ow := int(hashString(r.keys[0]) % uint32(r.skipWorkers))
			if ap, ok := r.skipApplied[ow]; ok && c.pos.compare(ap) <= 0 {
				return nil
			}
		}
	}
	c.safe = r.safeAt(c.pos, c.ts)
	r.seq++
	c.seq = r.seq
	c.txnPrev = r.published.Load()
	w, wait := r.caus.assign(r.keys, c.seq, r.waitBuf)
	r.waitBuf = wait
	for _, b := range wait {
		if err := r.workers[b.worker].waitApplied(ctx, b.seq, r.errc); err != nil {
			return r.stopErr(err)
		}
	}
	wk := r.workers[w]
	wk.pending.Add(1)
	select {
	case wk.ch <- c:
		return nil
	case <-r.errc:
		return r.werr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *run) stopErr(err error) error {
	if errors.Is(err, errWorkersStopped) && r.werr != nil {
		return r.werr
	}
	return err
}

// drain waits until every worker has committed everything sent to it.
func (r *run) drain(ctx context.Context) error {
	for _, w := range r.workers {
		if err := w.waitIdle(ctx, r.errc); err != nil {
			return r.stopErr(err)
		}
	}
	r.caus.reset()
	return nil
}
