package syncer

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// OnlineDDLTableName is the table in the meta schema holding a task's captured online
// schema changes (DM's `<task>_onlineddl`).
func OnlineDDLTableName(task string) string { return task + "_onlineddl" }

func onlineDDLTable(metaSchema, task string) string {
	return sqlq.QuoteTable(metaSchema, OnlineDDLTableName(task))
}

// createOnlineDDLSQL is DM's table: one row per (source, ghost table), the record as
// JSON in ddls.
const createOnlineDDLSQL = `CREATE TABLE IF NOT EXISTS %s (
  id VARCHAR(32) NOT NULL COMMENT 'source name',
  ghost_schema VARCHAR(128) NOT NULL,
  ghost_table VARCHAR(128) NOT NULL,
  ddls MEDIUMTEXT COMMENT 'JSON: the real table, the ALTERs run on the ghost table and their binlog positions',
  update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY uk_id_schema_table (id, ghost_schema, ghost_table)
) DEFAULT CHARSET=utf8mb4`

// onlineRecord is what one ghost table's migration has done so far. The JSON keeps DM's
// keys (schema, table, ddls) and adds the positions dmkit needs to replay exactly.
type onlineRecord struct {
	Schema string   `json:"schema"` // the real table (source names)
	Table  string   `json:"table"`
	DDLs   []string `json:"ddls"`
	// Positions holds the binlog position ("file:pos") of each DDL: a DDL replayed after
	// a restart is recognised by its position and not captured twice.
	Positions []string `json:"positions,omitempty"`
	// Partial is set when the record was started by an ALTER, not by the ghost table's
	// CREATE: earlier ALTERs may have been missed (the migration began before the task).
	Partial bool `json:"partial,omitempty"`
	// Cutover is the position of the cut-over RENAME once its ALTERs are about to reach
	// the target; a record whose cut-over the checkpoint has passed is finished.
	Cutover string `json:"cutover,omitempty"`
}

// onlineStore persists the records of one (task, source) in the target's meta schema.
// Writes are immediate; replays after a restart are idempotent through the positions.
// The event loop uses it, and the checkpoint writer finishes pending cut-overs: mu guards
// the maps and orders the writes. A record is never modified in place (put replaces it).
type onlineStore struct {
	db     *sql.DB
	table  string
	source string
	fold   bool // case-insensitive names: keys are lower-cased
	budget time.Duration

	mu      sync.Mutex
	records map[[2]string]*onlineRecord // ghost (schema, table) → record
	// pending are ghost tables whose cut-over ran; their records go once the persisted
	// global checkpoint is at or past the cut-over.
	pending [][2]string
}

func fmtPos(p position) string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

func parsePos(s string) (position, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return position{}, false
	}
	var n uint32
	if _, err := fmt.Sscanf(s[i+1:], "%d", &n); err != nil {
		return position{}, false
	}
	return position{s[:i], n}, true
}

// openOnlineStore creates the table if needed, loads the source's records and deletes
// those whose cut-over the checkpoint (at, zero for a fresh start) has already passed.
func openOnlineStore(ctx context.Context, db *sql.DB, metaSchema, task, source string, fold bool, budget time.Duration, at position) (*onlineStore, error) {
	s := &onlineStore{db: db, table: onlineDDLTable(metaSchema, task), source: source, fold: fold, budget: budget, records: map[[2]string]*onlineRecord{}}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(createOnlineDDLSQL, s.table)); err != nil {
		return nil, maybeTemporary(fmt.Errorf("create online DDL table %s on the target: %w", s.table, err))
	}
	rows, err := db.QueryContext(ctx, "SELECT ghost_schema, ghost_table, ddls FROM "+s.table+" WHERE id = ?", source)
	if err != nil {
		return nil, maybeTemporary(fmt.Errorf("read online DDL records from %s: %w", s.table, err))
	}
	defer rows.Close()
	var done [][2]string
	for rows.Next() {
		var gs, gt string
		var text sql.NullString
		if err := rows.Scan(&gs, &gt, &text); err != nil {
			return nil, fmt.Errorf("read online DDL records from %s: %w", s.table, err)
		}
		rec := &onlineRecord{}
		if err := json.Unmarshal([]byte(text.String), rec); err != nil {
			return nil, fmt.Errorf("online DDL record of %s in %s is not valid JSON (%v); delete that row to restart the migration's tracking", sqlq.QuoteTable(gs, gt), s.table, err)
		}
		if p, ok := parsePos(rec.Cutover); ok && at.File != "" && p.compare(at) <= 0 {
			done = append(done, [2]string{gs, gt})
		}
		s.records[s.key(gs, gt)] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, maybeTemporary(fmt.Errorf("read online DDL records from %s: %w", s.table, err))
	}
	for _, g := range done {
		if err := s.removeLocked(ctx, g[0], g[1]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *onlineStore) key(schema, table string) [2]string {
	if s.fold {
		return [2]string{strings.ToLower(schema), strings.ToLower(table)}
	}
	return [2]string{schema, table}
}

func (s *onlineStore) get(schema, table string) *onlineRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[s.key(schema, table)]
}

// put writes the record of ghost table schema.table.
func (s *onlineStore) put(ctx context.Context, schema, table string, rec *onlineRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.exec(ctx, "REPLACE INTO "+s.table+" (id, ghost_schema, ghost_table, ddls) VALUES (?, ?, ?, ?)", s.source, schema, table, string(b))
	if err != nil {
		return fmt.Errorf("save online DDL record of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	s.records[s.key(schema, table)] = rec
	return nil
}

// remove deletes the record of ghost table schema.table (the row of this source only).
func (s *onlineStore) remove(ctx context.Context, schema, table string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeLocked(ctx, schema, table)
}

func (s *onlineStore) removeLocked(ctx context.Context, schema, table string) error {
	k := s.key(schema, table)
	if err := s.exec(ctx, "DELETE FROM "+s.table+" WHERE id = ? AND ghost_schema = ? AND ghost_table = ?", s.source, schema, table); err != nil {
		return fmt.Errorf("delete online DDL record of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	delete(s.records, k)
	return nil
}

// exec runs one statement, retrying lost connections and lock waits within the budget.
func (s *onlineStore) exec(ctx context.Context, q string, args ...any) error {
	deadline := time.Now().Add(s.budget)
	backoff := 200 * time.Millisecond
	for {
		_, err := s.db.ExecContext(ctx, q, args...)
		if err == nil || !dbconn.IsRetryable(err) {
			return err
		}
		if time.Now().After(deadline) {
			return temporary(err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// openOnline opens the online DDL records when the feature is on; st is the checkpoint
// the run resumes from (nil for a fresh start).
func (r *run) openOnline(ctx context.Context, st *savedState) error {
	if r.cfg.OnlineDDL == nil {
		return nil
	}
	var at position
	if st != nil {
		at = posOf(st.global)
	}
	s, err := openOnlineStore(ctx, r.target, r.cfg.MetaSchema, r.cfg.Task, r.cfg.Source, !r.cfg.CaseSensitive, r.cfg.retryBudget, at)
	if err != nil {
		return err
	}
	r.online = s
	return nil
}

// finish adds the ghost tables of cut-overs that ran to the pending ones and deletes the
// records of every pending cut-over at or before cp, the persisted global checkpoint:
// neither a restart nor a re-read of the stream reaches those RENAMEs again. hook, when
// set, is the tests' crash hook.
func (s *onlineStore) finish(ctx context.Context, done [][2]string, cp position, hook func(string)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, done...)
	keep := s.pending[:0]
	var err error
	for _, g := range s.pending {
		rec := s.records[s.key(g[0], g[1])]
		if rec == nil || err != nil {
			if err != nil {
				keep = append(keep, g)
			}
			continue // gone already
		}
		p, ok := parsePos(rec.Cutover)
		switch {
		case !ok:
			// Reset by a new CREATE of the ghost table: a new migration, nothing to finish.
		case p.compare(cp) > 0 || cp.File == "":
			keep = append(keep, g)
		default:
			if hook != nil {
				hook("before-online-finish")
			}
			if err = s.removeLocked(ctx, g[0], g[1]); err != nil {
				keep = append(keep, g)
			}
		}
	}
	s.pending = keep
	return err
}
