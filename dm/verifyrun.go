package dm

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/syncer"
	"github.com/dmkit/dmkit/verify"
)

// What runs when (dmkit's verification; decisions in dm/README.md, "Verification"):
//
//   - mode full: at the end of the load, before the load unit finishes. Nothing writes the
//     target then; the source is read at a fresh snapshot P. The dump was taken at D ≤ P,
//     so a table the source's binlog wrote between D and P cannot be compared (its
//     target copy is D's) and is reported skipped; every other table must be equal.
//   - mode all: when the sync unit first starts after the load, at the first consistent
//     point replication offers: hold the apply, snapshot the source at P, let the apply
//     reach P, snapshot the target, release (syncer.Hold). Every table is compared as of P,
//     so rows changed since the dump are compared too (dump + replication together).
//   - on demand (POST /tasks/{name}/verify): the same held point, any time the sync unit runs.
//
// Repair re-reads the differing tables at a new point while the apply is held there (or the
// target is quiescent), writes the source's rows, and compares again, up to three rounds.
// A mismatch that is not repaired fails the unit: the subtask pauses with an error naming
// the differing keys.

// verifyState is a subtask's current or last verification, shared by its units.
type verifyState struct {
	mu      sync.Mutex
	st      *VerifyStatus
	running bool
}

func (s *verifyState) status() *VerifyStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return nil
	}
	c := *s.st
	c.Mismatches = append([]VerifyMismatch(nil), s.st.Mismatches...)
	c.SkippedTables = append([]VerifySkipped(nil), s.st.SkippedTables...)
	return &c
}

// begin starts a new verification; false when one is running.
func (s *verifyState) begin(trigger, mode string) (*VerifyStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil, false
	}
	s.running = true
	s.st = &VerifyStatus{Trigger: trigger, Mode: mode, Stage: VerifyRunning, StartedAt: time.Now().UTC().Format(time.RFC3339)}
	return s.st, true
}

func (s *verifyState) update(f func(st *VerifyStatus)) {
	s.mu.Lock()
	f(s.st)
	s.mu.Unlock()
}

// mismatchError is the error of a verification that found differences it did not repair.
type mismatchError struct{ msg string }

func (e *mismatchError) Error() string { return e.msg }

// verifyMode is the task's effective verify setting.
func (p *fullPipeline) verifyMode() string { return cmp.Or(p.cfg.Task.Verify, VerifyChecksum) }

// verifyJob is one verification of a subtask.
type verifyJob struct {
	p       *fullPipeline
	repair  bool
	syncer  *syncer.Syncer   // the running syncer to hold; nil when nothing writes the target
	since   *verify.Position // mode full: the dump's snapshot
	st      *verifyState
	trigger string
}

// verifyPair is one source table and its target, with its last differing result (what a
// repair rechecks).
type verifyPair struct {
	srcSchema, srcTable, dstSchema, dstTable string
	last                                     *verify.TableResult
}

func (pr verifyPair) names() (string, string) {
	return pr.srcSchema + "." + pr.srcTable, pr.dstSchema + "." + pr.dstTable
}

// start marks the verification running; an error when one already is.
func (j *verifyJob) start() error {
	mode := VerifyChecksum
	if j.repair {
		mode = VerifyRepair
	}
	if _, ok := j.st.begin(j.trigger, mode); !ok {
		return NewError(CodeVerifyRunning, "a verification of task %s on source %s is already running",
			j.p.cfg.Task.Name, j.p.cfg.Source.SourceName)
	}
	return nil
}

// finish verifies the subtask's tables (after start); a mismatch left unrepaired is a
// *mismatchError.
func (j *verifyJob) finish(ctx context.Context) error {
	err := j.verify(ctx)
	j.st.update(func(st *VerifyStatus) {
		st.FinishedAt = time.Now().UTC().Format(time.RFC3339)
		var me *mismatchError
		switch {
		case err == nil && st.MismatchedChunks > 0:
			st.Stage = VerifyRepaired // differences were found and a later comparison is equal
		case err == nil:
			st.Stage = VerifyClean
		case errors.As(err, &me):
			st.Stage = VerifyDiffers
		default:
			st.Stage, st.Error = VerifyFailed, err.Error()
		}
	})
	j.st.mu.Lock()
	j.st.running = false
	j.st.mu.Unlock()
	return err
}

func (j *verifyJob) verify(ctx context.Context) error {
	cfg := j.p.cfg
	v, err := verify.New(ctx, verify.Config{
		Source:   sourceDBConfig(&cfg.Source),
		Target:   targetDBConfig(&cfg.Task.TargetConfig),
		Threads:  verifyThreads(cfg),
		Throttle: j.throttle,
		Fence:    j.p.fence,
	})
	if err != nil {
		return err
	}
	defer v.Close()
	pairs, err := j.tables(ctx)
	if err != nil {
		return err
	}
	j.st.update(func(st *VerifyStatus) { st.TotalTables = len(pairs) })
	pt, done, err := j.point(ctx, v, false)
	if err != nil {
		return err
	}
	pairs, err = j.dropChangedSinceDump(ctx, pairs, pt.Source.Pos)
	if err != nil {
		done()
		return err
	}
	var bad []verifyPair
	for _, pr := range pairs {
		res, err := v.TableAt(ctx, pt, pr.srcSchema, pr.srcTable, pr.dstSchema, pr.dstTable)
		if err != nil {
			done()
			return err
		}
		j.record(pr, res)
		if !res.Equal {
			pr.last = res
			bad = append(bad, pr)
		}
	}
	done()
	if len(bad) > 0 && j.repair {
		if bad, err = j.repairTables(ctx, v, bad); err != nil {
			return err
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return j.mismatch(bad)
}

// throttleLag and throttleWait: while replication is more than throttleLag behind, each
// comparison step waits (up to throttleWait), so a verification alongside replication
// does not starve it.
const (
	throttleLag  = 5 // seconds
	throttleWait = 2 * time.Second
)

// throttle is verify's Throttle: nothing without a syncer (a quiescent target after a
// full load has nobody to starve).
func (j *verifyJob) throttle(ctx context.Context) error {
	if j.syncer == nil {
		return nil
	}
	deadline := time.Now().Add(throttleWait)
	for j.syncer.Status().SecondsBehindMaster > throttleLag && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// verifyThreads: the export threads (the copy's own parallelism), at most 8.
func verifyThreads(cfg *SubtaskConfig) int {
	if f := cfg.Task.SourceConfig.FullMigrateConf; f != nil && f.ExportThreads != nil && *f.ExportThreads > 0 {
		return min(*f.ExportThreads, 8)
	}
	return verify.DefaultThreads
}

// point opens the consistent point: the source snapshot at P and the target as of P. With
// a syncer, hold keeps the apply held at P (the target is then read live, for repair);
// otherwise the apply is released as soon as the target snapshot is open. done closes the
// snapshots and releases any hold.
func (j *verifyJob) point(ctx context.Context, v *verify.Verifier, hold bool) (verify.Point, func(), error) {
	var h *syncer.Hold
	if j.syncer != nil {
		var err error
		if h, err = j.hold(ctx); err != nil {
			return verify.Point{}, nil, err
		}
	}
	release := func() {
		if h != nil {
			h.Release()
		}
	}
	sp, err := v.SnapshotSource(ctx)
	if err != nil {
		release()
		return verify.Point{}, nil, err
	}
	if h != nil {
		to := syncer.Location{File: sp.Pos.File, Pos: sp.Pos.Pos, GTID: sp.Pos.GTID}
		if err := h.Advance(ctx, to); err != nil {
			sp.Close()
			release()
			return verify.Point{}, nil, fmt.Errorf("hold replication at the verification point %s: %w", sp.Pos, err)
		}
	}
	j.st.update(func(st *VerifyStatus) {
		st.Position, st.PositionGTID, st.Consistency = sp.Pos.String(), sp.Pos.GTID, sp.How
	})
	pt := verify.Point{Source: sp}
	if hold {
		return pt, func() { sp.Close(); release() }, nil
	}
	tp, err := v.SnapshotTarget(ctx)
	release()
	if err != nil {
		sp.Close()
		return verify.Point{}, nil, err
	}
	pt.Target = tp
	return pt, func() { sp.Close(); tp.Close() }, nil
}

// catchUpWait bounds how long a verification waits for replication to catch up before
// it takes its point anyway.
const catchUpWait = 5 * time.Minute

// hold holds the syncer, waiting for its run to start (it may be connecting) and, for up
// to catchUpWait, for it to be within throttleLag of the source: the source snapshot then
// stays open only while the apply covers a few seconds of binlog, not a long backlog.
func (j *verifyJob) hold(ctx context.Context) (*syncer.Hold, error) {
	deadline := time.Now().Add(catchUpWait)
	for j.syncer.Status().SyncerBinlog == "" || j.syncer.Status().SecondsBehindMaster > throttleLag {
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	for {
		h, err := j.syncer.Hold(ctx)
		if !errors.Is(err, syncer.ErrNotRunning) {
			return h, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tables lists the subtask's source tables and their targets, leaving out (as skipped)
// those a comparison of one source table with one target table cannot judge.
func (j *verifyJob) tables(ctx context.Context) ([]verifyPair, error) {
	p := j.p
	all, err := p.sourceTables(ctx)
	if err != nil {
		return nil, err
	}
	targets, err := p.rules.migrateTargets(all)
	if err != nil {
		return nil, err
	}
	var out []verifyPair
	for _, t := range targets {
		pr := verifyPair{srcSchema: t.SourceSchema, srcTable: t.SourceTable, dstSchema: t.TargetSchema, dstTable: t.TargetTable}
		switch {
		case p.scope.shared(t.SourceSchema, t.SourceTable):
			j.skip(pr, "the target table also receives rows from other source tables (a merge): it cannot equal one source table")
		case j.filtered(t.SourceSchema, t.SourceTable):
			j.skip(pr, "binlog filter rules ignore some row changes of this table, so the target differs from the source by design")
		default:
			out = append(out, pr)
		}
	}
	return out, nil
}

// filtered reports whether the task's event filter ignores any row change of the table.
func (j *verifyJob) filtered(schema, table string) bool {
	ev := j.p.rules.Events
	if ev == nil {
		return false
	}
	for _, e := range []filter.EventType{filter.InsertEvent, filter.UpdateEvent, filter.DeleteEvent} {
		if a, err := ev.Filter(schema, table, e, ""); err != nil || a != filter.Do {
			return true
		}
	}
	return false
}

// dropChangedSinceDump (mode full) leaves out the tables the source wrote after the dump.
func (j *verifyJob) dropChangedSinceDump(ctx context.Context, pairs []verifyPair, at verify.Position) ([]verifyPair, error) {
	if j.since == nil {
		return pairs, nil
	}
	cfg := j.p.cfg
	// A server id of its own: the syncers of this source use cfg.ServerID.
	ch, err := verify.ChangedBetween(ctx, sourceDBConfig(&cfg.Source), cfg.Flavor, cfg.ServerID^0x80000000, *j.since, at)
	if err != nil {
		return nil, err
	}
	var keep []verifyPair
	for _, pr := range pairs {
		if ch.Touched(pr.srcSchema, pr.srcTable) {
			j.skip(pr, fmt.Sprintf("the source wrote this table after the dump (between %s and %s), so its copy cannot equal the source now; "+
				"use task mode all (replication keeps it equal and it is verified at a consistent point) or stop writes during a full copy",
				*j.since, at))
			continue
		}
		keep = append(keep, pr)
	}
	return keep, nil
}

func (j *verifyJob) skip(pr verifyPair, reason string) {
	s, t := pr.names()
	j.st.update(func(st *VerifyStatus) {
		st.SkippedTables = append(st.SkippedTables, VerifySkipped{SourceTable: s, TargetTable: t, Reason: reason})
	})
}

// record adds one table's result to the status.
func (j *verifyJob) record(pr verifyPair, res *verify.TableResult) {
	s, t := pr.names()
	j.st.update(func(st *VerifyStatus) {
		st.CheckedTables++
		st.Chunks += res.Chunks
		st.SourceRows += res.SourceRows
		st.TargetRows += res.TargetRows
		st.MismatchedChunks += res.MismatchedChunks
		st.MismatchedRows += len(res.Diffs)
		for _, d := range res.Diffs {
			if len(st.Mismatches) >= maxReportedMismatches {
				break
			}
			st.Mismatches = append(st.Mismatches, VerifyMismatch{SourceTable: s, TargetTable: t, Kind: d.Kind.String(),
				KeyColumns: res.Key, Key: d.Key, Columns: res.Columns, SourceRow: showRow(d.Source), TargetRow: showRow(d.Target)})
		}
		if res.Truncated && res.Note != "" && len(res.Diffs) == 0 {
			st.MismatchedRows++ // a difference without rows (a big keyless table)
			st.Mismatches = append(st.Mismatches, VerifyMismatch{SourceTable: s, TargetTable: t, Kind: "differs", Columns: res.Columns})
		}
	})
}

// repairTables repairs the differing tables at a new point, up to three rounds; it
// returns the tables still differing.
func (j *verifyJob) repairTables(ctx context.Context, v *verify.Verifier, bad []verifyPair) ([]verifyPair, error) {
	for range 3 {
		pt, done, err := j.point(ctx, v, true)
		if err != nil {
			return nil, err
		}
		still, err := j.repairRound(ctx, v, pt, bad)
		done()
		if err != nil {
			return nil, err
		}
		if bad = still; len(bad) == 0 {
			j.st.update(func(st *VerifyStatus) {
				for i := range st.Mismatches {
					st.Mismatches[i].Repaired = true
				}
			})
			return nil, nil
		}
	}
	return bad, nil
}

// repairRound rechecks each table's differing rows at pt (target read live: held or
// quiescent), repairs what still differs and rechecks.
func (j *verifyJob) repairRound(ctx context.Context, v *verify.Verifier, pt verify.Point, bad []verifyPair) ([]verifyPair, error) {
	var still []verifyPair
	if j.since != nil {
		var err error
		if bad, err = j.dropChangedSinceDump(ctx, bad, pt.Source.Pos); err != nil {
			return nil, err
		}
	}
	for _, pr := range bad {
		// Only the rows found differing are read again (RecheckAt), so the apply is held
		// for a few row reads, not a table scan (a truncated list rechecks the table).
		res, err := v.RecheckAt(ctx, pt, pr.last)
		if err != nil {
			return nil, err
		}
		if res.Equal {
			continue
		}
		n, err := v.Repair(ctx, res)
		if err != nil {
			return nil, err
		}
		j.st.update(func(st *VerifyStatus) { st.RepairedRows += n })
		again, err := v.RecheckAt(ctx, pt, res)
		if err != nil {
			return nil, err
		}
		if !again.Equal {
			pr.last = again
			still = append(still, pr)
		}
	}
	return still, nil
}

// mismatch is the error naming the differing rows (up to 10 keys).
func (j *verifyJob) mismatch(bad []verifyPair) error {
	st := j.st.status()
	var keys []string
	for _, m := range st.Mismatches {
		if len(keys) == 10 {
			keys = append(keys, "…")
			break
		}
		k := strings.Join(m.Key, ",")
		if k == "" {
			k = "(no key)"
		}
		keys = append(keys, fmt.Sprintf("%s %s [%s]", m.TargetTable, m.Kind, k))
	}
	caveat := ""
	if j.syncer == nil && j.since == nil {
		caveat = " (the source has no binary log, so rows it wrote after the dump show as differences too; stop writes during a full copy)"
	}
	return &mismatchError{msg: fmt.Sprintf("verification at %s found %d differing row(s) in %d table(s): %s%s; "+
		"see verify_status in the task status (GET /api/v1/tasks/%s/verify); fix the target or set verify: checksum+repair and start the task again",
		st.Position, st.MismatchedRows, len(bad), strings.Join(keys, "; "), caveat, j.p.cfg.Task.Name)}
}

// showRow renders a row image for JSON: values that are not UTF-8 as 0x-hex.
func showRow(r verify.Row) []*string {
	if r == nil {
		return nil
	}
	out := make([]*string, len(r))
	for i, v := range r {
		if v == nil || utf8.ValidString(*v) {
			out[i] = v
			continue
		}
		h := "0x" + hex.EncodeToString([]byte(*v))
		out[i] = &h
	}
	return out
}
