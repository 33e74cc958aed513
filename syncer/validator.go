package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The continuous validator (DM's `validation` verbs): every row change a worker commits
// is remembered as the row the target must now hold (its after image, or no row for a
// delete), keyed by target table and handle; a checker re-reads those rows from the target
// once they have settled and compares. A row that matches is forgotten; one that still
// differs after validationRounds checks — with no newer change of it meanwhile — is a
// validation error. See README "Validator" for why this gives no false positives under a
// write load.

// Validation modes (DM's validator modes).
const (
	ValidationFull = "full" // compare every written column
	ValidationFast = "fast" // compare only whether the row exists
)

const (
	// validationRounds is how many consecutive checks a row must fail to be an error.
	validationRounds = 3
	// maxPendingRows and maxPendingBytes bound the rows waiting to be checked (their
	// images are held); changes beyond them are counted as not validated
	// (Status.DroppedRows) rather than held in memory.
	maxPendingRows  = 200000
	maxPendingBytes = 256 << 20
	// maxValidationErrors bounds the errors kept.
	maxValidationErrors = 1000
	// validationBatch is how many rows one check pass reads at most.
	validationBatch = 2000
)

// ValidationStatus is the validator's progress.
type ValidationStatus struct {
	Mode    string // full or fast
	Running bool
	// PendingRows wait to be checked; CheckedRows matched; ErrorRows are persistent
	// differences (ValidationErrors); DroppedRows were not validated (too many pending).
	PendingRows, CheckedRows, ErrorRows, DroppedRows int64
	// SkippedTables have no unique key: their rows cannot be looked up, so they are not
	// validated (the checksum verification compares them).
	SkippedTables []string
	// Error is why the validator stopped, if it did on its own.
	Error string
}

// ValidationError is a row that differs on the target after it was replicated.
type ValidationError struct {
	// Table is the target table; Key the handle condition of the row.
	Table, Key string
	// Kind: missing (the row should exist), extra (it should be deleted), changed.
	Kind string
	// Expected is the row the binlog says the target must hold (SQL literals), empty for
	// an extra row.
	Expected string
	// At is when it was declared an error; Rounds how many checks failed.
	At     time.Time
	Rounds int
}

// pendingRow is one row the target must hold.
type pendingRow struct {
	table *tableInfo
	img   []any // an image holding the row's handle
	row   []any // expected image; nil: the row must not exist
	seen  time.Time
	seq   uint64 // changes of this key so far; a check result for an older seq is void
	fails int
	size  int64 // approximate bytes held (images)
}

// imageSize approximates the memory an image holds.
func imageSize(img []any) int64 {
	n := int64(16 * len(img))
	for _, v := range img {
		switch v := v.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		}
	}
	return n
}

// validator is the Syncer's validation state.
type validator struct {
	active  atomic.Bool
	mu      sync.Mutex
	mode    string
	keys    map[string]*pendingRow
	errs    []ValidationError
	skip    map[string]bool
	cancel  context.CancelFunc
	done    chan struct{}
	seq     uint64
	bytes   int64 // sum of the pending rows' size
	stopErr string
	shared  func(schema, table string) bool

	checked, errors, dropped atomic.Int64
}

// StartValidation starts the continuous validator in mode (full or fast); it runs until
// StopValidation or ctx ends, across the Syncer's runs. Starting it again changes the mode.
func (s *Syncer) StartValidation(ctx context.Context, mode string) error {
	if mode != ValidationFull && mode != ValidationFast {
		return fmt.Errorf("syncer: validation mode %q is not full or fast", mode)
	}
	v := &s.val
	v.mu.Lock()
	if v.cancel != nil {
		v.mode = mode
		v.mu.Unlock()
		return nil
	}
	db, err := openValidationDB(ctx, s.cfg)
	if err != nil {
		v.mu.Unlock()
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	v.mode, v.cancel, v.done, v.stopErr, v.shared = mode, cancel, make(chan struct{}), "", s.cfg.Shared
	if v.keys == nil {
		v.keys, v.skip = map[string]*pendingRow{}, map[string]bool{}
	}
	done := v.done
	v.active.Store(true)
	v.mu.Unlock()
	go func() {
		defer close(done)
		defer db.Close()
		err := s.checkLoop(cctx, db)
		v.mu.Lock()
		v.active.Store(false)
		v.cancel = nil
		if err != nil && !errors.Is(err, context.Canceled) {
			v.stopErr = err.Error()
		}
		v.mu.Unlock()
	}()
	return nil
}

// StopValidation stops the validator and waits for it; pending rows are forgotten, the
// errors found are kept.
func (s *Syncer) StopValidation() {
	v := &s.val
	v.mu.Lock()
	cancel, done := v.cancel, v.done
	v.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	v.mu.Lock()
	clear(v.keys)
	v.bytes = 0
	v.mu.Unlock()
}

// ValidationStatus reports the validator.
func (s *Syncer) ValidationStatus() ValidationStatus {
	v := &s.val
	v.mu.Lock()
	defer v.mu.Unlock()
	st := ValidationStatus{Mode: v.mode, Running: v.cancel != nil, PendingRows: int64(len(v.keys)),
		CheckedRows: v.checked.Load(), ErrorRows: v.errors.Load(), DroppedRows: v.dropped.Load(), Error: v.stopErr}
	for t := range v.skip {
		st.SkippedTables = append(st.SkippedTables, t)
	}
	return st
}

// ValidationErrors returns the persistent differences found (at most 1000, oldest first).
func (s *Syncer) ValidationErrors() []ValidationError {
	v := &s.val
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]ValidationError(nil), v.errs...)
}

// ClearValidationErrors forgets the errors found (DM's clear-error).
func (s *Syncer) ClearValidationErrors() {
	v := &s.val
	v.mu.Lock()
	v.errs = nil
	v.errors.Store(0)
	v.mu.Unlock()
}

// observe records the rows a committed batch left on the target. Workers call it right
// after the commit and before the batch counts as applied, so for any one row the calls
// come in binlog order (causality hands the row's next change to a worker only after
// that).
func (v *validator) observe(batch []*change) {
	if !v.active.Load() {
		return
	}
	var buf []byte
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range batch {
		if c == nil {
			continue
		}
		t := c.table
		if !t.uniqueHandle || (v.shared != nil && v.shared(t.srcSchema, t.srcTable)) {
			// No key to look the row up by, or other sources write the same target.
			v.skip[t.target] = true
			continue
		}
		if c.kind == kindUpdate && t.handleChanged(c.old, c.new) {
			buf = v.expect(t, c.old, nil, now, buf)
		}
		switch c.kind {
		case kindDelete:
			buf = v.expect(t, c.old, nil, now, buf)
		default:
			buf = v.expect(t, c.new, c.new, now, buf)
		}
	}
}

// expect records that the row with img's handle must be want (nil: absent); v.mu is held.
func (v *validator) expect(t *tableInfo, img, want []any, now time.Time, buf []byte) []byte {
	var ok bool
	if buf, ok = t.handleValue(img, buf); !ok {
		return buf
	}
	k := t.target + "\x00" + string(buf)
	v.seq++
	size := imageSize(img)
	if len(want) > 0 && len(img) > 0 && &want[0] != &img[0] { // an update holds two images
		size += imageSize(want)
	}
	if p := v.keys[k]; p != nil {
		v.bytes += size - p.size
		p.table, p.img, p.row, p.seen, p.seq, p.fails, p.size = t, img, want, now, v.seq, 0, size
		return buf
	}
	if len(v.keys) >= maxPendingRows || v.bytes+size > maxPendingBytes {
		v.dropped.Add(1)
		return buf
	}
	v.bytes += size
	v.keys[k] = &pendingRow{table: t, img: img, row: want, seen: now, seq: v.seq, size: size}
	return buf
}

// forget removes a pending row; v.mu is held.
func (v *validator) forget(k string) {
	if p := v.keys[k]; p != nil {
		v.bytes -= p.size
		delete(v.keys, k)
	}
}
