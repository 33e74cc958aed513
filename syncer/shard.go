package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/syncer/tracker"
)

// ShardDDL is one shard's arrival at a DDL of a merged target table (pessimistic shard
// mode): the source table, its target, the routed target statements and where the DDL
// ends in the source's binlog (unique per DDL of a source).
type ShardDDL struct {
	Source, Schema, Table     string
	TargetSchema, TargetTable string
	DDLs                      []string
	Location                  Location
	// Create marks a CREATE TABLE of a shard: while its group has an open pessimistic
	// lock the new table waits too (its rows may have the lock's new schema already).
	Create bool
}

// ShardAction is what a shard does with a DDL it reached.
type ShardAction int

const (
	// ShardWait: other shards have not reached the DDL yet. The table's events are held
	// (skipped, then re-read from the DDL once Resolved is closed).
	ShardWait ShardAction = iota
	// ShardExecute: this arrival completed the group; run the DDL on the target, then
	// report it with Executed.
	ShardExecute
	// ShardSkip: the DDL was already resolved for this shard (a replay after a restart,
	// or an unlock): apply it to the schema tracker only.
	ShardSkip
)

// ShardDecision answers Arrive.
type ShardDecision struct {
	Action ShardAction
	// Resolved is closed when the lock is resolved (ShardWait only).
	Resolved <-chan struct{}
	// DDLs, for ShardExecute, replaces the statement to run on the target (optimistic
	// mode runs only the part of a DDL that changes the group's joined schema).
	DDLs []string
}

// ShardCoordinator coordinates the DDL of tables merged into one target table across the
// task's sources (DM's pessimistic shard DDL lock). The syncer never blocks in it: a
// waiting table's events are skipped and re-read after the lock resolves.
type ShardCoordinator interface {
	// Arrive records that d.Source's table reached the DDL and decides what to do.
	Arrive(ctx context.Context, d ShardDDL) (ShardDecision, error)
	// Executed reports that the DDL a ShardExecute decision asked for ran on the target.
	Executed(ctx context.Context, d ShardDDL) error
	// Left reports that d's table was dropped upstream (d.DDLs is empty): it leaves its
	// merge group, and a lock only it was missing resolves.
	Left(ctx context.Context, d ShardDDL) error
}

// errRewind makes the read loop re-open the stream at the earliest resolved table's DDL.
var errRewind = errors.New("syncer: re-read the binlog for resolved shard tables")

// blockedTable is a table waiting at a shard DDL.
type blockedTable struct {
	start    Location // before the DDL: where its events must be re-read from
	snapshot []byte   // tracker snapshot at start (before the DDL)
	ddlEnd   position // the DDL itself (already applied to the tracker)
	resolved <-chan struct{}
}

// resyncState is a re-read of the binlog from the earliest resolved table: up to end only
// the listed tables' events after their DDL are applied (everything else was applied
// before the rewind).
type resyncState struct {
	tables map[[2]string]position
	end    position
}

// freezePoint caps the global checkpoint while tables are held: a restart must re-read
// from the first held DDL, with the tracker as it was there.
type freezePoint struct {
	loc      Location
	snapshot []byte
}

// shardState is the event loop's shard-DDL state (owned by the event loop; freeze is
// guarded by cpMu as the checkpoint writer reads it).
type shardState struct {
	blocked   map[[2]string]*blockedTable
	resync    *resyncState
	executing *ShardDDL
}

// shardCoordinated reports whether d is a DDL of a merged target that goes through the
// coordinator: a single table-altering statement on a table whose target is shared.
func (r *run) shardCoordinated(d *ddlStmt) bool {
	if r.cfg.Shard == nil || !d.execute || d.table == "" || !r.cfg.Shared(d.schema, d.table) {
		return false
	}
	switch d.node.(type) {
	case *ast.AlterTableStmt, *ast.CreateIndexStmt, *ast.DropIndexStmt:
		return true
	}
	return false
}

// shardSkipped reports whether events of schema.table at pos are not applied now: the
// table waits at a shard DDL, or a re-sync covers pos and the table's events there were
// applied before the rewind.
func (r *run) shardSkipped(schema, table string, pos position) bool {
	if len(r.sh.blocked) == 0 && r.sh.resync == nil {
		return false
	}
	key := [2]string{schema, table}
	if _, ok := r.sh.blocked[key]; ok {
		return true
	}
	if rs := r.sh.resync; rs != nil && pos.compare(rs.end) <= 0 {
		from, ok := rs.tables[key]
		return !ok || pos.compare(from) <= 0
	}
	return false
}

// shardGate runs the coordination of a shard DDL before applyDDL. handled reports that
// the statement is fully dealt with (the table now waits).
func (r *run) shardGate(ctx context.Context, h *replication.EventHeader, ddls []*ddlStmt) (handled bool, err error) {
	if err := r.shardLeave(ctx, h, ddls); err != nil {
		return false, err
	}
	if len(ddls) != 1 {
		return false, nil
	}
	d := ddls[0]
	create, err := r.shardCreate(d)
	if err != nil || (!create && !r.shardCoordinated(d)) {
		return false, err
	}
	ts, tt, err := r.cfg.Route(d.schema, d.table)
	if err != nil {
		return false, err
	}
	// Every shard renders the same routed, qualified text, so shards' DDLs compare.
	if d.sql, d.fallback, err = r.routeDDL(d, "", false); err != nil {
		return false, err
	}
	info := ShardDDL{Source: r.cfg.Source, Schema: d.schema, Table: d.table, TargetSchema: ts, TargetTable: tt,
		DDLs: []string{d.sql}, Location: Location{File: r.curFile, Pos: h.LogPos, GTID: r.gtid.String()}, Create: create}
	dec, err := r.cfg.Shard.Arrive(ctx, info)
	if err != nil {
		return false, fmt.Errorf("shard DDL of %s at %s: %w", d.schema+"."+d.table, position{r.curFile, h.LogPos}, err)
	}
	switch dec.Action {
	case ShardSkip:
		r.log.Info("shard DDL needs no change on the target (resolved already, or the joined schema has it); applying it to the schema tracker only", "ddl", truncate(d.sql, 200))
		d.execute = false
		return false, nil
	case ShardExecute:
		if len(dec.DDLs) > 0 {
			d.sql = dec.DDLs[0]
		}
		r.log.Info("executing shard DDL on the target", "ddl", truncate(d.sql, 200))
		r.sh.executing = &info
		return false, nil
	}
	return true, r.shardHold(ctx, h, d, dec.Resolved)
}

// shardLeave reports the shard tables a DROP TABLE removes from their merge groups.
func (r *run) shardLeave(ctx context.Context, h *replication.EventHeader, ddls []*ddlStmt) error {
	if r.cfg.Shard == nil {
		return nil
	}
	for _, d := range ddls {
		if _, ok := d.node.(*ast.DropTableStmt); !ok || d.table == "" || !r.cfg.Shared(d.schema, d.table) {
			continue
		}
		ts, tt, err := r.cfg.Route(d.schema, d.table)
		if err != nil {
			return err
		}
		info := ShardDDL{Source: r.cfg.Source, Schema: d.schema, Table: d.table, TargetSchema: ts, TargetTable: tt,
			Location: Location{File: r.curFile, Pos: h.LogPos}}
		if err := r.cfg.Shard.Left(ctx, info); err != nil {
			return fmt.Errorf("shard table %s.%s dropped: %w", d.schema, d.table, err)
		}
	}
	return nil
}

// shardCreate makes a CREATE TABLE of a merged target IF NOT EXISTS (the first shard
// creates the target, a shard created later joins it) and reports it for coordination.
func (r *run) shardCreate(d *ddlStmt) (bool, error) {
	n, ok := d.node.(*ast.CreateTableStmt)
	if !ok || r.cfg.Shard == nil || !d.execute || !r.cfg.Shared(d.schema, d.table) {
		return false, nil
	}
	n.IfNotExists = true
	return true, nil
}

// shardHold makes d's table wait: everything before the DDL is committed, the global
// checkpoint stays at the point before it, the tracker learns the DDL (the table's later
// rows have the new schema), and the table's events are skipped until the lock resolves.
func (r *run) shardHold(ctx context.Context, h *replication.EventHeader, d *ddlStmt, resolved <-chan struct{}) error {
	if err := r.drain(ctx); err != nil {
		return err
	}
	start := r.published.Load().loc
	if err := r.takeSnapshot(); err != nil {
		return err
	}
	r.cpMu.Lock()
	snap := r.snapshot
	if r.freeze == nil {
		r.freeze = &freezePoint{loc: start, snapshot: snap}
	}
	r.cpMu.Unlock()
	if err := r.flushGlobal(ctx, true); err != nil {
		return err
	}
	if _, err := r.trackDDL(d.schema, d); err != nil && !tracker.IsIgnorable(err) {
		r.log.Warn("schema tracker could not apply shard DDL; will re-read the table from the target", "ddl", truncate(d.sql, 200), "error", err)
		r.tr.DropTable(d.schema, d.table)
	}
	delete(r.tables, [2]string{d.schema, d.table})
	if err := r.takeSnapshot(); err != nil {
		return err
	}
	if r.sh.blocked == nil {
		r.sh.blocked = map[[2]string]*blockedTable{}
	}
	r.sh.blocked[[2]string{d.schema, d.table}] = &blockedTable{start: start, snapshot: snap,
		ddlEnd: position{r.curFile, h.LogPos}, resolved: resolved}
	r.log.Info("shard table waits at DDL until every shard reaches it", "table", d.schema+"."+d.table,
		"ddl", truncate(d.sql, 200), "at", position{r.curFile, h.LogPos})
	return nil
}

// shardExecuted reports a DDL that ShardExecute asked for once it ran on the target.
func (r *run) shardExecuted(ctx context.Context) error {
	info := r.sh.executing
	if info == nil {
		return nil
	}
	r.sh.executing = nil
	return r.cfg.Shard.Executed(ctx, *info)
}

// shardRewindDue reports whether a held table's lock resolved and the event loop is at a
// transaction boundary, outside a re-sync, so the stream can be re-opened.
func (r *run) shardRewindDue() bool {
	if r.inTxn || r.sh.resync != nil {
		return false
	}
	for _, b := range r.sh.blocked {
		select {
		case <-b.resolved:
			return true
		default:
		}
	}
	return false
}

// nextEvent reads the next event; while tables are held it wakes up regularly so that a
// resolved lock is noticed on an idle source, and returns errRewind when one is.
func (r *run) nextEvent(ctx context.Context, st Stream) (*replication.BinlogEvent, error) {
	for {
		if r.shardRewindDue() {
			return nil, errRewind
		}
		if len(r.sh.blocked) == 0 {
			return st.GetEvent(ctx)
		}
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		ev, err := st.GetEvent(tctx)
		cancel()
		if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			continue
		}
		return ev, err
	}
}

// rewind re-positions the stream at the earliest resolved table's DDL; up to the point
// read so far only the resolved tables' events are applied (in safe mode), then the
// stream continues as before.
func (r *run) rewind(ctx context.Context) error {
	if err := r.drain(ctx); err != nil {
		return err
	}
	rs := &resyncState{tables: map[[2]string]position{}, end: posOf(r.published.Load().loc)}
	var start *Location
	for key, b := range r.sh.blocked {
		select {
		case <-b.resolved:
		default:
			continue
		}
		rs.tables[key] = b.ddlEnd
		if start == nil || posOf(b.start).compare(posOf(*start)) < 0 {
			s := b.start
			start = &s
		}
		delete(r.sh.blocked, key)
	}
	if start == nil {
		return nil
	}
	// Everything dispatched so far is applied: the re-read writes idempotently up to
	// there, and a crash during it must still know that much was written.
	last := changePos{rs.end.File, rs.end.Pos, 0}
	if r.safeUntil == nil || r.safeUntil.compare(last) < 0 {
		r.safeUntil = &last
	}
	if r.floor == nil {
		r.floor = map[int]changePos{}
	}
	for _, w := range r.workers {
		if ap := w.lastApplied.Load(); ap != nil {
			if f, ok := r.floor[w.id]; !ok || f.compare(*ap) < 0 {
				r.floor[w.id] = *ap
			}
		}
	}
	g, err := newGTIDState(r.cfg.Flavor, start.GTID)
	if err != nil {
		return err
	}
	r.gtid = g
	r.sh.resync = rs
	r.curFile = start.File
	r.inTxn, r.explicitBegin, r.resumeSkip = false, false, nil
	r.lastRowsPos = position{}
	r.published.Store(&pubLoc{loc: *start})
	clear(r.tables)
	r.log.Info("shard DDL lock resolved; re-reading the held tables' events", "from", start.String(), "until", rs.end.String(), "tables", len(rs.tables))
	return nil
}

// shardProgress ends a re-sync once the stream is past its end: the checkpoint may then
// move on to the earliest table still held (or freely).
func (r *run) shardProgress(h *replication.EventHeader) {
	rs := r.sh.resync
	if rs == nil || h.LogPos == 0 || (position{r.curFile, h.LogPos}).compare(rs.end) <= 0 {
		return
	}
	r.sh.resync = nil
	var f *freezePoint
	for _, b := range r.sh.blocked {
		if f == nil || posOf(b.start).compare(posOf(f.loc)) < 0 {
			f = &freezePoint{loc: b.start, snapshot: b.snapshot}
		}
	}
	r.cpMu.Lock()
	r.freeze = f
	r.snapDirty = true
	r.cpMu.Unlock()
	r.log.Info("shard re-sync done", "at", position{r.curFile, h.LogPos}.String())
}

// capGlobal returns where the global checkpoint may be written and with which tracker
// snapshot (nil: the current one). Callers hold cpMu.
func (r *run) capGlobal(loc Location) (Location, []byte) {
	if f := r.freeze; f != nil && posOf(f.loc).compare(posOf(loc)) < 0 {
		return f.loc, f.snapshot
	}
	return loc, nil
}
