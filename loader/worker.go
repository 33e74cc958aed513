package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// loadFile loads one data file, retrying transient failures. Every retry starts from the
// checkpoint committed in the target, so no statement is applied twice.
func (l *Loader) loadFile(ctx context.Context, j *job) error {
	if b, ok := ldBufPool.Get().(*[]byte); ok {
		j.ldBuf = (*b)[:0]
	}
	defer func() {
		if cap(j.ldBuf) <= maxPooledBuf {
			b := j.ldBuf[:0]
			ldBufPool.Put(&b)
		}
		j.ldBuf = nil
	}()
	err := l.retry(ctx, j.name, func() (bool, error) { return l.loadFileOnce(ctx, j) })
	if err != nil {
		return fmt.Errorf("load %s: %w", j.path, err)
	}
	return nil
}

// ldBufPool recycles the LOAD DATA path's data buffers across files (see readerPool).
var ldBufPool sync.Pool

// loadFileOnce loads j from its committed checkpoint to the end on one connection. It
// reports whether it committed anything.
func (l *Loader) loadFileOnce(ctx context.Context, j *job) (progressed bool, err error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("connect to target: %w", err)
	}
	tainted := false
	defer func() {
		// After a failure the connection's state (an open transaction, a half-read
		// result) is unknown: never give it back to the pool.
		closeConn(conn, tainted || err != nil)
	}()

	offset, endPos, ok, err := l.getCheckpoint(ctx, conn, j.name)
	if err != nil {
		return false, err
	}
	if !ok {
		if err := l.initCheckpoint(ctx, conn, j); err != nil {
			return false, err
		}
		offset, endPos = 0, j.size
	}
	if endPos != j.size || offset > endPos {
		return false, fmt.Errorf("the file has %d bytes but its checkpoint says %d of %d bytes were loaded: the dump changed after loading began; redo the dump and reset the load", j.size, offset, endPos)
	}
	l.committed(j.name, offset, false)
	if offset == endPos {
		return false, nil
	}

	f, err := os.Open(j.path)
	if err != nil {
		return false, err
	}
	defer f.Close()

	// The statements before the first INSERT (SET NAMES binary, …) set up the session;
	// they are applied on every (re)start, whatever the offset.
	dataStart, tainted, err := l.applyPrelude(ctx, conn, f, j)
	if err != nil {
		return false, err
	}
	start := max(offset, dataStart)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return false, err
	}
	r := newStmtReader(f, start, j.prefix, l.pieceLimit)
	defer func() { r.release() }()
	if start > offset {
		// Nothing but the prelude before start: the first transaction covers it.
		start = offset
	}

	for {
		newOffset, eof, err := l.loadBatch(ctx, conn, r, j, start)
		if errors.Is(err, errLoadDataFallback) && !j.plain {
			// The batch was rolled back; the file goes on from the same offset with
			// INSERT statements (exactly what they always did).
			l.log.Debug("LOAD DATA not usable for this file; loading it with INSERT statements", "file", j.name, "reason", err)
			if isMySQLError(err, errLocalInfileOff) || isMySQLError(err, errLocalInfileOffMySQL) {
				l.noLocal.Store(true)
			}
			j.plain = true
			from := max(start, dataStart)
			if _, err := f.Seek(from, io.SeekStart); err != nil {
				return progressed, err
			}
			r.release()
			r = newStmtReader(f, from, j.prefix, l.pieceLimit)
			continue
		}
		if err != nil {
			return progressed, err
		}
		progressed = true
		l.committed(j.name, newOffset, true)
		start = newOffset
		if eof {
			l.log.Debug("file loaded", "file", j.name, "bytes", j.size)
			return progressed, nil
		}
	}
}

// applyPrelude reads the statements before the first INSERT and runs the SETs the
// loader's session does not already have. It returns the offset of the first INSERT
// (the file size if there is none) and whether the session was changed.
func (l *Loader) applyPrelude(ctx context.Context, conn *sql.Conn, f *os.File, j *job) (dataStart int64, tainted bool, err error) {
	r := newStmtReader(f, 0, j.prefix, l.pieceLimit)
	defer r.release()
	for {
		p, err := r.next()
		if errors.Is(err, io.EOF) {
			return j.size, tainted, nil
		}
		if err != nil {
			return 0, tainted, err
		}
		if p.kind == pieceData {
			return p.start, tainted, nil
		}
		if kw := leadingKeywords(p.sql, 1); len(kw) == 0 || kw[0] != "SET" {
			return 0, tainted, fmt.Errorf("unsupported statement at byte %d: %.60q; a data file holds SET and INSERT statements", p.start, p.sql)
		}
		if isBaselineSet(p.sql, l.cfg.TimeZone) {
			continue
		}
		tainted = true
		if _, err := conn.ExecContext(ctx, string(p.sql)); err != nil {
			return 0, tainted, fmt.Errorf("statement at byte %d: %s: %w", p.start, p.sql, err)
		}
	}
}

// loadBatch runs statements from r in one transaction until BatchBytes is reached at a
// statement boundary or the file ends, then moves the checkpoint from `from` to the end
// of the last statement (to the end of the file at EOF) and commits.
func (l *Loader) loadBatch(ctx context.Context, conn *sql.Conn, r *stmtReader, j *job, from int64) (to int64, eof bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("begin transaction at byte %d: %w", from, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	to = from
	size := 0
	for {
		p, err := r.next()
		if errors.Is(err, io.EOF) {
			to, eof = j.size, true
			break
		}
		if err != nil {
			return 0, false, err
		}
		if p.kind != pieceData {
			return 0, false, fmt.Errorf("unsupported statement at byte %d after the first INSERT: %.60q", p.start, p.sql)
		}
		loaded := false
		if !j.plain && !l.noLocal.Load() {
			if stmt, data, ok := loadDataPiece(p.sql, j.prefix, j.ldBuf); ok {
				j.ldBuf = data
				if err := execLoadData(ctx, tx, stmt, data); err != nil {
					return 0, false, fmt.Errorf("statement at byte %d: %w", p.start, err)
				}
				loaded = true
			}
		}
		if !loaded {
			if _, err := tx.ExecContext(ctx, string(p.sql)); err != nil {
				return 0, false, l.statementError(p, err)
			}
		}
		size += len(p.sql)
		if p.last {
			to = p.end
			if size >= l.cfg.BatchBytes {
				break
			}
		}
	}
	if to == from { // only possible at EOF, when the last batch already ended there
		return to, eof, tx.Rollback()
	}
	if err := l.advanceCheckpoint(ctx, tx, j.name, from, to); err != nil {
		return 0, false, err
	}
	if err := l.fence(ctx, tx); err != nil {
		return 0, false, err
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("commit up to byte %d: %w", to, err)
	}
	return to, eof, nil
}

// statementError describes a failed statement, with the fix for the common cases.
func (l *Loader) statementError(p piece, err error) error {
	hint := ""
	switch {
	case isMySQLError(err, errDupEntry) && l.cfg.OnDuplicate == OnDuplicateError:
		hint = ` (on_duplicate is "error": the target already has a row with this key; remove it, or set on_duplicate to "replace" or "ignore")`
	case isMySQLError(err, errNoSuchTable):
		hint = " (the target table is missing: its -schema.sql file must be loaded first)"
	}
	return fmt.Errorf("statement at byte %d: %w%s", p.start, err, hint)
}
