package relay

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/binlogpos"
)

// serverIdentity names the upstream server: @@server_uuid on MySQL; MariaDB has none, so
// `<gtid_domain_id>-<server_id>` as DM does.
func serverIdentity(ctx context.Context, db *sql.DB, flavor string) (string, error) {
	var id string
	var err error
	if flavor == mysql.MariaDBFlavor {
		err = db.QueryRowContext(ctx, "SELECT CONCAT(@@global.gtid_domain_id, '-', @@global.server_id)").Scan(&id)
	} else {
		err = db.QueryRowContext(ctx, "SELECT @@global.server_uuid").Scan(&id)
	}
	if err != nil {
		return "", fmt.Errorf("read the source's server identity: %w", err)
	}
	return id, nil
}

// masterLocation is the source's binlog end (file, position, GTID set).
func masterLocation(ctx context.Context, db *sql.DB, flavor string) (Location, error) {
	st, err := binlogpos.ReadStatus(ctx, db)
	if err != nil {
		return Location{}, fmt.Errorf("SHOW MASTER STATUS on the source: %w", err)
	}
	if !st.Enabled() {
		return Location{}, fmt.Errorf("the source has binary logging disabled; enable log_bin with binlog_format=ROW")
	}
	loc := Location{File: st.File, Pos: st.Pos, GTID: st.ExecutedGTIDSet}
	if flavor == mysql.MariaDBFlavor {
		if g, err := binlogpos.GTIDSet(ctx, db, true); err == nil {
			loc.GTID = g
		}
	}
	return loc, nil
}

// startPoint decides where a new sub-directory starts: always a whole upstream file.
// prevGTID is the GTID set the previous sub-directory ended at (an upstream switch).
func (r *Relay) startPoint(ctx context.Context, db *sql.DB, first bool, prevGTID string) (file, gtid string, err error) {
	c := r.cfg
	switch {
	case !first && c.EnableGTID && prevGTID != "":
		return r.fileForGTID(ctx, db, prevGTID)
	case first && c.StartGTID != "":
		return r.fileForGTID(ctx, db, c.StartGTID)
	case first && c.StartFile != "":
		return c.StartFile, "", nil
	}
	if first && c.Needed != nil {
		if loc, ok := c.Needed(); ok {
			if c.EnableGTID && loc.GTID != "" {
				return r.fileForGTID(ctx, db, loc.GTID)
			}
			if loc.File != "" {
				return loc.File, "", nil
			}
		}
	}
	m, err := masterLocation(ctx, db, c.Flavor)
	if err != nil {
		return "", "", err
	}
	return m.File, "", nil
}

// fileForGTID finds the newest upstream file whose starting GTID set (GTID list /
// Previous-GTIDs event) is contained in want: reading it whole from offset 4 covers
// every transaction after want.
func (r *Relay) fileForGTID(ctx context.Context, db *sql.DB, want string) (string, string, error) {
	wantSet, err := mysql.ParseGTIDSet(r.cfg.Flavor, want)
	if err != nil {
		return "", "", fmt.Errorf("GTID set %q: %w", want, err)
	}
	files, err := binlogpos.BinaryLogs(ctx, db)
	if err != nil {
		return "", "", fmt.Errorf("SHOW BINARY LOGS on the source: %w", err)
	}
	for i := len(files) - 1; i >= 0; i-- {
		start, err := r.fileStartGTID(ctx, files[i].Name)
		if err != nil {
			return "", "", err
		}
		set, err := mysql.ParseGTIDSet(r.cfg.Flavor, start)
		if err != nil {
			return "", "", fmt.Errorf("GTID set at the start of %s: %w", files[i].Name, err)
		}
		if wantSet.Contain(set) {
			return files[i].Name, start, nil
		}
	}
	return "", "", fmt.Errorf("the source no longer has the binlog holding GTID set %s (purged); start relay from a later relay_binlog_gtid", want)
}

// fileStartGTID reads the GTID set an upstream file starts with.
func (r *Relay) fileStartGTID(ctx context.Context, file string) (string, error) {
	bs := replication.NewBinlogSyncer(r.syncerConfig())
	defer bs.Close()
	st, err := bs.StartSync(mysql.Position{Name: file, Pos: 4})
	if err != nil {
		return "", fmt.Errorf("read the start of %s: %w", file, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return "", fmt.Errorf("read the start of %s: %w", file, err)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDListEvent:
			return mariaList(e), nil
		case *replication.PreviousGTIDsEvent:
			return e.GTIDSets, nil
		case *replication.MariadbGTIDEvent, *replication.GTIDEvent, *replication.QueryEvent, *replication.XIDEvent:
			return "", nil // a file without a GTID list starts at the empty set
		}
	}
}

// syncerConfig is the go-mysql replica configuration of one dump connection: a fresh
// random server id each time, rows never decoded (the relay copies bytes), go-mysql's
// own retry off (the relay resumes from its files).
func (r *Relay) syncerConfig() replication.BinlogSyncerConfig {
	c := r.cfg.SourceDB
	host, port := c.Host, c.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 3306
	}
	id := r.cfg.ServerID
	if id == 0 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = 1<<31 | binary.LittleEndian.Uint32(b[:])&(1<<30-1)
	}
	tlsCfg, _ := c.ClientTLS() // checked by Run before connecting
	cfg := replication.BinlogSyncerConfig{
		ServerID: id, Flavor: r.cfg.Flavor, Host: host, Port: uint16(port), User: c.User, Password: c.Password,
		TLSConfig: tlsCfg, HeartbeatPeriod: 5 * time.Second, ReadTimeout: 30 * time.Second,
		DisableRetrySync: true, VerifyChecksum: true, Logger: quiet(r.log),
		RowsEventDecodeFunc: func(*replication.RowsEvent, []byte) error { return nil },
		EventCacheCount:     1024,
	}
	if r.cfg.Flavor == mysql.MariaDBFlavor {
		// Annotate-rows events are in the upstream file: ask for them so that the copy
		// stays byte-identical.
		cfg.DumpCommandFlag |= replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}
	return cfg
}
