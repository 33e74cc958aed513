package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Plain INSERT first (issue 13). With on_duplicate "replace" the rows go in as REPLACE
// INTO, so a dumped row wins over a conflicting one. REPLACE costs the target more than
// INSERT; where the target table holds nothing but what this load writes — the load
// created it, or it was empty when the load first reached it — it buys nothing, because
// the per-file checkpoint committed in the same transaction as the rows already applies
// every statement exactly once: a resume cannot replay a row. There the loader sends
// plain INSERT.
//
// A conflict can still come from elsewhere: several source tables merged into one
// target table with overlapping keys, a dump without a consistent snapshot, a target
// table with a unique key the source lacks. Then the INSERT fails with a duplicate-key
// error, the batch's transaction (rows and checkpoint) rolls back, and the batch is
// replayed with REPLACE — as is the rest of that file and every later file of the table.
// The result is therefore REPLACE's in every case; plain INSERT is only the fast path.

// plainVerb is the statement head of the fast path.
const plainVerb = "INSERT INTO "

// dupErrors are the duplicate-key errors that send a batch back to REPLACE.
var dupErrors = []uint16{errDupEntry, 1022 /* ER_DUP_KEY */, 1586 /* ER_DUP_ENTRY_WITH_KEY_NAME */}

// isDuplicate reports whether err is a duplicate-key error.
func isDuplicate(err error) bool {
	for _, n := range dupErrors {
		if isMySQLError(err, n) {
			return true
		}
	}
	return false
}

// plainFirst reports whether j's rows may be sent as plain INSERT: on_duplicate is
// replace and the target table is the load's own (created by it, per its created-table
// checkpoint row, or empty when this process first loads into it). The answer is kept
// per table for the process, so a table that was empty stays on the fast path while its
// own files fill it; a restarted process sees the rows and uses REPLACE.
func (l *Loader) plainFirst(ctx context.Context, q querier, j *job) (bool, error) {
	if l.cfg.OnDuplicate != OnDuplicateReplace || l.cfg.NoPlainInsert {
		return false, nil
	}
	// Held across the queries: no file of the table loads before its answer is known.
	l.plainMu.Lock()
	defer l.plainMu.Unlock()
	if ok, known := l.plain[j.target]; known {
		return ok, nil
	}
	ts, tt := j.target[0], j.target[1]
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+l.cpTable+" WHERE id = ? AND filename = ?",
		l.cfg.Source, createdPrefix+ts+"."+tt).Scan(&n); err != nil {
		return false, fmt.Errorf("read checkpoints: %w", err)
	}
	ok := n > 0
	if !ok {
		var one int
		err := q.QueryRowContext(ctx, "SELECT 1 FROM "+sqlq.QuoteTable(ts, tt)+" LIMIT 1").Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ok = true
		case err != nil && !isMySQLError(err, errNoSuchTable):
			return false, fmt.Errorf("check whether %s is empty: %w", sqlq.QuoteTable(ts, tt), err)
		}
	}
	l.plain[j.target] = ok
	if ok {
		l.log.Debug("loading with plain INSERT: the table is the load's own", "schema", ts, "table", tt)
	}
	return ok, nil
}

// noPlain takes a table off the fast path for the rest of the process.
func (l *Loader) noPlain(target [2]string) {
	l.plainMu.Lock()
	l.plain[target] = false
	l.plainMu.Unlock()
}

// plainPrefix is j's statement head on the fast path.
func plainPrefix(j *job) []byte {
	return []byte(plainVerb + sqlq.QuoteTable(j.target[0], j.target[1]))
}
