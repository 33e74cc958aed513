package dumper

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/dmkit/dmkit/internal/binlogpos"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Consistency modes (DM's/dumpling's --consistency).
const (
	ConsistencyAuto     = "auto"
	ConsistencyFlush    = "flush"
	ConsistencySnapshot = "snapshot"
	ConsistencyLock     = "lock"
	ConsistencyNone     = "none"
)

// Flavors of source server.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// lockFreeAttempts is how often auto mode on MariaDB tries to open every worker
// snapshot at one binlog position before it falls back to FLUSH TABLES WITH READ LOCK.
const lockFreeAttempts = 3

// snapshotResult is what establishing consistency produced.
type snapshotResult struct {
	snapshot dumpfile.Location
	after    *dumpfile.Location
	mode     string // the mode actually used (auto resolved)
}

// establish opens a snapshot transaction on every worker connection according to the
// consistency mode and records the binlog location of the snapshot. ctl is the control
// connection (locks are taken and released on it); tables are the tables to lock in
// lock mode. On return no lock is held.
func (d *Dumper) establish(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn, tables []*tableInfo) (snapshotResult, error) {
	mode := d.cfg.Consistency
	if mode == ConsistencyAuto && d.flavor == FlavorMariaDB {
		res, ok, err := d.lockFree(ctx, workers)
		if err != nil || ok {
			return res, err
		}
		d.log.Info("worker snapshots did not meet at one binlog position; taking FLUSH TABLES WITH READ LOCK")
	}
	switch mode {
	case ConsistencyAuto, ConsistencyFlush:
		res, err := d.flushed(ctx, ctl, workers)
		var me *mysql.MySQLError
		if mode == ConsistencyAuto && errors.As(err, &me) && (me.Number == 1227 || me.Number == 1044 || me.Number == 1045) {
			// No RELOAD privilege (e.g. a managed service): lock the dumped tables instead.
			d.log.Warn("FLUSH TABLES WITH READ LOCK was refused; using LOCK TABLES on the dumped tables", "err", err)
			return d.locked(ctx, ctl, workers, tables)
		}
		return res, err
	case ConsistencyLock:
		return d.locked(ctx, ctl, workers, tables)
	case ConsistencyNone:
		return d.unlocked(ctx, ctl, workers)
	default:
		return snapshotResult{}, fmt.Errorf("consistency %q is not supported on %s; use flush, lock or none (auto picks flush)", mode, d.flavor)
	}
}

// lockFree is auto mode on MariaDB: every worker starts its snapshot with no lock, and
// the snapshots are one and the same when each reports the same binlog_snapshot
// position (MariaDB takes the InnoDB read view and the binlog position atomically, and
// commits in binlog order). ok is false when they differ after a few tries or binary
// logging is off (nothing to compare); the caller then takes the global lock.
func (d *Dumper) lockFree(ctx context.Context, workers []*sql.Conn) (snapshotResult, bool, error) {
	for range lockFreeAttempts {
		var first dumpfile.Location
		same := true
		for i, w := range workers {
			if err := startSnapshot(ctx, w); err != nil {
				return snapshotResult{}, false, err
			}
			loc, err := binlogSnapshotPos(ctx, w)
			if err != nil {
				return snapshotResult{}, false, err
			}
			if loc.File == "" {
				return snapshotResult{}, false, rollbackAll(ctx, workers)
			}
			if i == 0 {
				first = loc
			} else if loc != first {
				same = false
				break
			}
		}
		if same {
			var gtid sql.NullString
			if err := workers[0].QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", first.File, first.Pos).Scan(&gtid); err != nil {
				return snapshotResult{}, false, fmt.Errorf("GTID of binlog position %s: %w", first, err)
			}
			first.GTID = gtid.String
			return snapshotResult{snapshot: first, mode: "snapshot without lock (MariaDB binlog_snapshot)"}, true, nil
		}
		if err := rollbackAll(ctx, workers); err != nil {
			return snapshotResult{}, false, err
		}
	}
	return snapshotResult{}, false, nil
}

// flushed is flush mode: FLUSH TABLES WITH READ LOCK, worker snapshots, position,
// UNLOCK TABLES at once (DM's "transactional consistency").
func (d *Dumper) flushed(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn) (snapshotResult, error) {
	if _, err := ctl.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return snapshotResult{}, fmt.Errorf("FLUSH TABLES WITH READ LOCK (consistency flush needs the RELOAD privilege; grant it or use consistency lock or none): %w", err)
	}
	res, err := d.snapshotsUnderLock(ctx, ctl, workers)
	if uerr := unlock(ctx, ctl); err == nil {
		err = uerr
	}
	res.mode = ConsistencyFlush
	return res, err
}

// locked is lock mode: LOCK TABLES … READ on every dumped table while the worker
// snapshots start and the position is read.
func (d *Dumper) locked(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn, tables []*tableInfo) (snapshotResult, error) {
	if len(tables) > 0 {
		var b strings.Builder
		b.WriteString("LOCK TABLES ")
		for i, t := range tables {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(sqlq.QuoteTable(t.schema, t.name))
			b.WriteString(" READ")
		}
		if _, err := ctl.ExecContext(ctx, b.String()); err != nil {
			return snapshotResult{}, fmt.Errorf("LOCK TABLES (consistency lock needs the LOCK TABLES privilege; grant it or use consistency none): %w", err)
		}
	}
	res, err := d.snapshotsUnderLock(ctx, ctl, workers)
	if uerr := unlock(ctx, ctl); err == nil {
		err = uerr
	}
	res.mode = ConsistencyLock
	return res, err
}

// unlocked is none mode: position, worker snapshots (each consistent on its own), and
// a second position once all are open — the syncer's safe-mode exit point.
func (d *Dumper) unlocked(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn) (snapshotResult, error) {
	before, err := d.masterStatus(ctx, ctl)
	if err != nil {
		return snapshotResult{}, err
	}
	for _, w := range workers {
		if err := startSnapshot(ctx, w); err != nil {
			return snapshotResult{}, err
		}
	}
	after, err := d.masterStatus(ctx, ctl)
	if err != nil {
		return snapshotResult{}, err
	}
	return snapshotResult{snapshot: before, after: &after, mode: ConsistencyNone}, nil
}

func (d *Dumper) snapshotsUnderLock(ctx context.Context, ctl *sql.Conn, workers []*sql.Conn) (snapshotResult, error) {
	for _, w := range workers {
		if err := startSnapshot(ctx, w); err != nil {
			return snapshotResult{}, err
		}
	}
	loc, err := d.masterStatus(ctx, ctl)
	return snapshotResult{snapshot: loc}, err
}

func startSnapshot(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return fmt.Errorf("start snapshot transaction: %w", err)
	}
	return nil
}

func rollbackAll(ctx context.Context, conns []*sql.Conn) error {
	for _, c := range conns {
		if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
			return fmt.Errorf("roll back snapshot transaction: %w", err)
		}
	}
	return nil
}

func unlock(ctx context.Context, ctl *sql.Conn) error {
	if _, err := ctl.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		return fmt.Errorf("UNLOCK TABLES: %w", err)
	}
	return nil
}

// binlogSnapshotPos reads MariaDB's binlog position of the session's snapshot.
func binlogSnapshotPos(ctx context.Context, c *sql.Conn) (dumpfile.Location, error) {
	file, pos, err := binlogpos.SnapshotPosition(ctx, c)
	return dumpfile.Location{File: file, Pos: pos}, err
}

// masterStatus reads the current binlog position and GTID set; both stay empty when
// binary logging is off.
func (d *Dumper) masterStatus(ctx context.Context, c *sql.Conn) (dumpfile.Location, error) {
	st, err := binlogpos.ReadStatus(ctx, c)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return dumpfile.Location{}, fmt.Errorf("read binlog position (needs the REPLICATION CLIENT or BINLOG MONITOR privilege): %w", err)
		}
		return dumpfile.Location{}, fmt.Errorf("read binlog position: %w", err)
	}
	if !st.Enabled() {
		return dumpfile.Location{}, nil // binary logging is off
	}
	loc := dumpfile.Location{File: st.File, Pos: st.Pos}
	if loc.GTID, err = binlogpos.GTIDSet(ctx, c, d.flavor == FlavorMariaDB); err != nil {
		return loc, err
	}
	return loc, nil
}
