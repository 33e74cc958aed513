package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/dmkit/dmkit/internal/binlogpos"
	"github.com/dmkit/dmkit/internal/dbconn"
)

// Position is a source binlog position: file, offset and (when known) the GTID set of
// everything committed before it.
type Position struct {
	File string
	Pos  uint32
	GTID string
}

func (p Position) String() string { return fmt.Sprintf("(%s, %d)", p.File, p.Pos) }

// Snapshot is one server seen at one point: Threads connections, each inside a
// REPEATABLE READ snapshot transaction, all seeing the same committed data. A comparison
// reads every row through them, so writes made after the snapshot are invisible to it.
// Close it when done (it rolls the transactions back and closes its connections).
type Snapshot struct {
	// Pos is the source's binlog position of the view (zero for a target snapshot or a
	// source without a binary log).
	Pos Position
	// How says how the snapshots were made to coincide.
	How string

	db    *sql.DB
	all   []*sql.Conn
	conns chan *sql.Conn
}

// Point is what TableAt compares: a snapshot of each side; a nil one reads that side live.
type Point struct {
	Source, Target *Snapshot
}

// snapshotAttempts is how often a lock-free MariaDB snapshot is tried before
// FLUSH TABLES WITH READ LOCK.
const snapshotAttempts = 5

// SnapshotSource opens a consistent view of the source and the binlog position it
// corresponds to, the way the dumper does: on MariaDB lock-free when every connection's
// binlog_snapshot position agrees (MariaDB takes read view and position atomically),
// else FLUSH TABLES WITH READ LOCK held only while the transactions start (needs RELOAD);
// when that is refused, one connection (always self-consistent) — slower, not wrong.
func (v *Verifier) SnapshotSource(ctx context.Context) (*Snapshot, error) {
	s, err := openSnapshot(ctx, v.cfg.Source, v.cfg.Threads)
	if err != nil {
		return nil, fmt.Errorf("verify: source snapshot: %w", err)
	}
	if err := s.establishSource(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("verify: source snapshot: %w", err)
	}
	return s, nil
}

// SnapshotTarget opens a consistent view of the target. The target has no binlog
// position to agree on, so the caller guarantees that nothing writes the compared tables
// while it runs (a held syncer, a finished load); it takes milliseconds, after which
// writes may resume.
func (v *Verifier) SnapshotTarget(ctx context.Context) (*Snapshot, error) {
	s, err := openSnapshot(ctx, v.cfg.Target, v.cfg.Threads)
	if err != nil {
		return nil, fmt.Errorf("verify: target snapshot: %w", err)
	}
	for _, c := range s.all {
		if err := startSnapshot(ctx, c); err != nil {
			s.Close()
			return nil, fmt.Errorf("verify: target snapshot: %w", err)
		}
	}
	s.How = "snapshot transactions while the target was quiescent"
	s.ready()
	return s, nil
}

func openSnapshot(ctx context.Context, c dbconn.Config, threads int) (*Snapshot, error) {
	params := maps.Clone(sessionParams)
	maps.Copy(params, c.Params)
	c.Params = params
	db, err := dbconn.Open(ctx, c, "")
	if err != nil {
		return nil, err
	}
	s := &Snapshot{db: db}
	for range threads + 1 { // one spare: the control connection of FTWRL
		conn, err := db.Conn(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.all = append(s.all, conn)
		// A consistent snapshot needs REPEATABLE READ (the variable's name differs
		// between versions; the statement does not).
		if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// establishSource starts the snapshot transactions on all but the control connection.
func (s *Snapshot) establishSource(ctx context.Context) error {
	ctl, workers := s.all[0], s.all[1:]
	mariaDB, err := isMariaDB(ctx, ctl)
	if err != nil {
		return err
	}
	if mariaDB {
		for range snapshotAttempts {
			pos, ok, err := lockFree(ctx, workers)
			if err != nil {
				return err
			}
			if ok {
				s.Pos, s.How = pos, "lock-free (MariaDB binlog_snapshot positions agree)"
				return s.finish(ctx, ctl, mariaDB)
			}
		}
	}
	_, ftwrlErr := ctl.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK")
	if ftwrlErr == nil {
		err = startAll(ctx, workers)
		var st binlogpos.Status
		if err == nil {
			st, err = binlogpos.ReadStatus(ctx, ctl)
		}
		if _, uerr := ctl.ExecContext(ctx, "UNLOCK TABLES"); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
		s.Pos, s.How = Position{File: st.File, Pos: st.Pos, GTID: st.ExecutedGTIDSet}, "FLUSH TABLES WITH READ LOCK"
		if mariaDB && st.File != "" {
			s.Pos.GTID = ""
		}
		return s.finish(ctx, ctl, mariaDB)
	}
	if !mariaDB {
		return fmt.Errorf("FLUSH TABLES WITH READ LOCK (needed for a consistent point on MySQL; grant RELOAD): %w", ftwrlErr)
	}
	// No RELOAD: one connection is its own snapshot; MariaDB names its position.
	for _, c := range workers[1:] {
		c.Close()
	}
	s.all = s.all[:2]
	if err := startSnapshot(ctx, workers[0]); err != nil {
		return err
	}
	if s.Pos, err = snapshotPos(ctx, workers[0]); err != nil {
		return err
	}
	s.How = "one snapshot connection (FLUSH TABLES WITH READ LOCK refused: " + ftwrlErr.Error() + ")"
	return s.finish(ctx, ctl, mariaDB)
}

// finish fills in the GTID of a MariaDB position and hands the workers out.
func (s *Snapshot) finish(ctx context.Context, ctl *sql.Conn, mariaDB bool) error {
	if mariaDB && s.Pos.File != "" && s.Pos.GTID == "" {
		var g sql.NullString
		if err := ctl.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", s.Pos.File, s.Pos.Pos).Scan(&g); err != nil {
			return fmt.Errorf("GTID of binlog position %s: %w", s.Pos, err)
		}
		s.Pos.GTID = g.String
	}
	s.ready()
	return nil
}

// ready puts the snapshot connections (all but the control one, when there is more
// than one) into the pool that comparisons draw from.
func (s *Snapshot) ready() {
	conns := s.all
	if len(conns) > 1 {
		conns = conns[1:]
	}
	s.conns = make(chan *sql.Conn, len(conns))
	for _, c := range conns {
		s.conns <- c
	}
}

// lockFree starts a snapshot on every worker; ok when all report one binlog position.
func lockFree(ctx context.Context, workers []*sql.Conn) (Position, bool, error) {
	var first Position
	for i, w := range workers {
		if err := startSnapshot(ctx, w); err != nil {
			return first, false, err
		}
		pos, err := snapshotPos(ctx, w)
		if err != nil {
			return first, false, err
		}
		if pos.File == "" { // no binary log: nothing to agree on
			return first, false, rollbackAll(ctx, workers[:i+1])
		}
		if i == 0 {
			first = pos
		} else if pos != first {
			return first, false, rollbackAll(ctx, workers[:i+1])
		}
	}
	return first, true, nil
}

// Close ends the snapshot transactions and closes the connections.
func (s *Snapshot) Close() error {
	var errs []error
	for _, c := range s.all {
		_, _ = c.ExecContext(context.Background(), "ROLLBACK")
		errs = append(errs, c.Close())
	}
	s.all = nil
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// get takes a snapshot connection, waiting for one to be free.
func (s *Snapshot) get(ctx context.Context) (*sql.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Snapshot) put(c *sql.Conn) { s.conns <- c }

func isMariaDB(ctx context.Context, c *sql.Conn) (bool, error) {
	var v string
	if err := c.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return false, fmt.Errorf("server version: %w", err)
	}
	return strings.Contains(strings.ToLower(v), "mariadb"), nil
}

func startSnapshot(ctx context.Context, c *sql.Conn) error {
	if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fmt.Errorf("start snapshot transaction: %w", err)
	}
	return nil
}

func startAll(ctx context.Context, conns []*sql.Conn) error {
	for _, c := range conns {
		if err := startSnapshot(ctx, c); err != nil {
			return err
		}
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

// snapshotPos reads MariaDB's binlog position of the session's snapshot.
func snapshotPos(ctx context.Context, c *sql.Conn) (Position, error) {
	file, pos, err := binlogpos.SnapshotPosition(ctx, c)
	return Position{File: file, Pos: pos}, err
}
