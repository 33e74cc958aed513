package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"time"

	tmysql "github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// openValidationDB opens the checker's pool on the target, with the apply's session
// settings (UTC TIMESTAMPs, the same sql_mode), so literals read as they were written.
func openValidationDB(ctx context.Context, cfg Config) (*sql.DB, error) {
	tcfg := cfg.Target
	tcfg.Params = maps.Clone(tcfg.Params)
	if tcfg.Params == nil {
		tcfg.Params = map[string]string{}
	}
	tcfg.Params["time_zone"] = "'+00:00'"
	tcfg.Params["sql_mode"] = targetSQLMode
	db, err := dbconn.Open(ctx, tcfg, "")
	if err != nil {
		return nil, fmt.Errorf("syncer: validation: target: %w", err)
	}
	db.SetMaxOpenConns(2)
	return db, nil
}

// checkLoop checks settled rows every interval until ctx ends. A failing pass (the
// target restarting) is logged and retried; rows stay pending.
func (s *Syncer) checkLoop(ctx context.Context, db *sql.DB) error {
	interval := s.cfg.validateInterval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := s.checkPass(ctx, db, interval); err != nil && ctx.Err() == nil && time.Since(lastWarn) > 10*time.Second {
			lastWarn = time.Now()
			s.cfg.Logger.Warn("validation pass failed; will retry", "error", err)
		}
	}
}

// checkItem is one row to read back.
type checkItem struct {
	key string
	p   pendingRow
}

// checkPass compares up to validationBatch rows that have not changed for settle.
func (s *Syncer) checkPass(ctx context.Context, db *sql.DB, settle time.Duration) error {
	v := &s.val
	now := time.Now()
	v.mu.Lock()
	mode := v.mode
	var items []checkItem
	for k, p := range v.keys {
		if now.Sub(p.seen) >= settle {
			items = append(items, checkItem{k, *p})
			if len(items) == validationBatch {
				break
			}
		}
	}
	v.mu.Unlock()
	for _, it := range items {
		kind, err := checkRow(ctx, db, mode, &it.p)
		if n := dbconn.ErrorNumber(err); n == erBadFieldError || n == erNoSuchTable {
			// A DDL since the change dropped the column or the table: the row as the
			// change wrote it can no longer be read, so it is not validated.
			v.mu.Lock()
			if p := v.keys[it.key]; p != nil && p.seq == it.p.seq {
				v.forget(it.key)
				v.dropped.Add(1)
			}
			v.mu.Unlock()
			continue
		}
		if err != nil {
			return err
		}
		v.mu.Lock()
		p := v.keys[it.key]
		if p == nil || p.seq != it.p.seq {
			v.mu.Unlock() // changed again meanwhile: its new image is checked later
			continue
		}
		switch {
		case kind == "":
			v.forget(it.key)
			v.checked.Add(1)
		case p.fails+1 >= validationRounds:
			v.forget(it.key)
			v.errors.Add(1)
			if len(v.errs) < maxValidationErrors {
				v.errs = append(v.errs, validationError(&it.p, kind, p.fails+1))
			}
		default:
			p.fails++
			p.seen = time.Now()
		}
		v.mu.Unlock()
	}
	return nil
}

// checkRow reads p's row from the target; kind is "" when it is as expected, else
// missing, extra or changed.
func checkRow(ctx context.Context, db *sql.DB, mode string, p *pendingRow) (string, error) {
	t := p.table
	where, err := appendWhere(nil, t, p.img)
	if err != nil {
		return "", err
	}
	q := "SELECT COUNT(*), 1 FROM " + t.target + " WHERE " + string(where)
	if mode == ValidationFull && p.row != nil {
		cond, err := matchCondition(t, p.row)
		if err != nil {
			return "", err
		}
		q = "SELECT COUNT(*), COALESCE(SUM(" + cond + "), 0) FROM " + t.target + " WHERE " + string(where)
	}
	var n, match int64
	if err := db.QueryRowContext(ctx, q).Scan(&n, &match); err != nil {
		return "", fmt.Errorf("validate a row of %s: %w", t.target, err)
	}
	switch {
	case p.row == nil && n > 0:
		return "extra", nil
	case p.row == nil:
		return "", nil
	case n == 0:
		return "missing", nil
	case match == 0:
		return "changed", nil
	}
	return "", nil
}

// matchCondition is true for a target row equal to row in every written column: null-safe
// equality with the literal the apply wrote; FLOAT columns within float precision (the
// column holds a float32, the literal is its shortest decimal, which reads as a double).
func matchCondition(t *tableInfo, row []any) (string, error) {
	conds := make([]string, 0, len(t.writable))
	for _, ci := range t.writable {
		c := &t.cols[ci]
		lit, err := appendLiteral(nil, row[ci], c)
		if err != nil {
			return "", err
		}
		l := string(lit)
		if c.tp == tmysql.TypeFloat && row[ci] != nil {
			conds = append(conds, "("+c.quoted+" <=> "+l+" OR ABS("+c.quoted+" - "+l+") <= 1e-6 * ABS("+l+"))")
			continue
		}
		conds = append(conds, c.quoted+" <=> "+l)
	}
	return strings.Join(conds, " AND "), nil
}

func validationError(p *pendingRow, kind string, rounds int) ValidationError {
	where, _ := appendWhere(nil, p.table, p.img)
	e := ValidationError{Table: p.table.target, Key: string(where), Kind: kind, At: time.Now(), Rounds: rounds}
	if p.row != nil {
		if b, err := appendRow(nil, p.table, p.row); err == nil {
			e.Expected = string(b)
		}
	}
	return e
}
