package syncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/binlogpos"
)

// Binlog stream settings.
const (
	heartbeatPeriod = 5 * time.Second
	streamTimeout   = 30 * time.Second // no packet for this long (heartbeats included) → reconnect
)

// streamConfig builds the go-mysql replica configuration. go-mysql's own reconnect is off:
// the syncer restarts the stream itself from the last fully dispatched transaction.
func streamConfig(cfg Config, serverID uint32, decode func(*replication.RowsEvent, []byte) error, log *slog.Logger) (replication.BinlogSyncerConfig, error) {
	host := cfg.SourceDB.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := cfg.SourceDB.Port
	if port == 0 {
		port = 3306
	}
	// go-mysql needs a *tls.Config built from the same material as the SQL connections.
	tlsCfg, err := cfg.SourceDB.ClientTLS()
	if err != nil {
		return replication.BinlogSyncerConfig{}, fmt.Errorf("source TLS: %w", err)
	}
	return replication.BinlogSyncerConfig{
		ServerID:                serverID,
		Flavor:                  cfg.Flavor,
		Host:                    host,
		Port:                    uint16(port),
		User:                    cfg.SourceDB.User,
		Password:                cfg.SourceDB.Password,
		TLSConfig:               tlsCfg,
		ParseTime:               false,
		TimestampStringLocation: cfg.tzLoc,
		UseDecimal:              false, // DECIMAL as exact strings
		HeartbeatPeriod:         heartbeatPeriod,
		ReadTimeout:             streamTimeout,
		DisableRetrySync:        true,
		VerifyChecksum:          true,
		RowsEventDecodeFunc:     decode,
		Logger:                  log,
		EventCacheCount:         1024,
	}, nil
}

// openStream starts a binlog dump at loc: by GTID set when useGTID and loc has one, else
// by file and position.
func openStream(cfg replication.BinlogSyncerConfig, flavor string, loc Location, useGTID bool) (*replication.BinlogSyncer, *replication.BinlogStreamer, error) {
	bs := replication.NewBinlogSyncer(cfg)
	var (
		st  *replication.BinlogStreamer
		err error
	)
	if useGTID && loc.GTID != "" {
		var set mysql.GTIDSet
		set, err = mysql.ParseGTIDSet(flavor, loc.GTID)
		if err != nil {
			bs.Close()
			return nil, nil, fmt.Errorf("start GTID set %q: %w", loc.GTID, err)
		}
		st, err = bs.StartSyncGTID(set)
	} else {
		st, err = bs.StartSync(mysql.Position{Name: loc.File, Pos: max(loc.Pos, 4)})
	}
	if err != nil {
		bs.Close()
		return nil, nil, fmt.Errorf("start binlog stream at %s: %w", loc, err)
	}
	return bs, st, nil
}

// isPermanentStreamError reports source errors that retrying cannot fix: purged or
// missing binlog, access denied, a replica id clash.
func isPermanentStreamError(err error) bool {
	switch errNumber(err) {
	case 1236, 1045, 1227, 1044:
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "Could not find first log file") ||
		strings.Contains(msg, "purged binary logs") ||
		strings.Contains(msg, "Access denied")
}

// masterStatus reads the source's current binlog end (SHOW MASTER STATUS, or SHOW BINARY
// LOG STATUS on MySQL 8.4+).
func masterStatus(ctx context.Context, db *sql.DB, flavor string) (Location, error) {
	st, err := binlogpos.ReadStatus(ctx, db)
	if err != nil {
		return Location{}, fmt.Errorf("SHOW MASTER STATUS on the source: %w", err)
	}
	if !st.Enabled() {
		return Location{}, errors.New("the source has binary logging disabled; enable log_bin with binlog_format=ROW")
	}
	loc := Location{File: st.File, Pos: st.Pos, GTID: st.ExecutedGTIDSet}
	if flavor == mysql.MariaDBFlavor {
		if g, err := binlogpos.GTIDSet(ctx, db, true); err == nil {
			loc.GTID = g
		}
	}
	return loc, nil
}

// binlogFiles lists the source's binary logs with their sizes.
func binlogFiles(ctx context.Context, db *sql.DB) ([]Location, error) {
	files, err := binlogpos.BinaryLogs(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("SHOW BINARY LOGS on the source: %w", err)
	}
	out := make([]Location, 0, len(files))
	for _, f := range files {
		out = append(out, Location{File: f.Name, Pos: uint32(min(f.Size, math.MaxUint32))})
	}
	return out, nil
}

// parseStartTime turns StartTime into a Unix time: RFC 3339 or 'YYYY-MM-DD HH:MM:SS±hh:mm'
// directly, a bare 'YYYY-MM-DD HH:MM:SS' through the source's time zone.
func parseStartTime(ctx context.Context, db *sql.DB, s string) (int64, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	if _, err := time.Parse(time.DateTime, s); err != nil {
		return 0, fmt.Errorf("start time %q: use 'YYYY-MM-DD HH:MM:SS' or RFC 3339", s)
	}
	var ts sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(?)", s).Scan(&ts); err != nil {
		return 0, fmt.Errorf("start time %q in the source time zone: %w", s, err)
	}
	if !ts.Valid {
		return 0, fmt.Errorf("start time %q is not a valid time on the source", s)
	}
	return ts.Int64, nil
}

// findStartByTime returns the start of the first transaction whose binlog timestamp is at
// or after unix. Files are located by the timestamp of their first event, then scanned.
func findStartByTime(ctx context.Context, db *sql.DB, base replication.BinlogSyncerConfig, unix int64) (Location, error) {
	files, err := binlogFiles(ctx, db)
	if err != nil {
		return Location{}, err
	}
	if len(files) == 0 {
		return Location{}, errors.New("the source has no binary logs; enable log_bin")
	}
	first := 0
	for i, f := range files {
		ts, err := firstEventTime(ctx, base, f.File)
		if err != nil {
			return Location{}, err
		}
		if ts > 0 && int64(ts) <= unix {
			first = i
		}
	}
	for _, f := range files[first:] {
		loc, ok, err := scanFileForTime(ctx, base, f, unix)
		if err != nil {
			return Location{}, err
		}
		if ok {
			return loc, nil
		}
	}
	return Location{}, fmt.Errorf("no binlog event at or after %s; pick an earlier start time",
		time.Unix(unix, 0).UTC().Format(time.RFC3339))
}

// firstEventTime is the timestamp of a file's format description event.
func firstEventTime(ctx context.Context, base replication.BinlogSyncerConfig, file string) (uint32, error) {
	cfg := base
	cfg.RowsEventDecodeFunc = nil
	bs, st, err := openStream(cfg, cfg.Flavor, Location{File: file, Pos: 4}, false)
	if err != nil {
		return 0, err
	}
	defer bs.Close()
	ctx, cancel := context.WithTimeout(ctx, streamTimeout)
	defer cancel()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return 0, fmt.Errorf("read binlog %s: %w", file, err)
		}
		if _, ok := ev.Event.(*replication.FormatDescriptionEvent); ok {
			return ev.Header.Timestamp, nil
		}
	}
}

// scanFileForTime reads f up to its size at listing time and returns the start of the
// first transaction at or after unix.
func scanFileForTime(ctx context.Context, base replication.BinlogSyncerConfig, f Location, unix int64) (Location, bool, error) {
	cfg := base
	cfg.RowsEventDecodeFunc = func(*replication.RowsEvent, []byte) error { return nil } // skip row data
	bs, st, err := openStream(cfg, cfg.Flavor, Location{File: f.File, Pos: 4}, false)
	if err != nil {
		return Location{}, false, err
	}
	defer bs.Close()
	var last uint32 = 4 // end of the previous event
	afterGTID := false
	for last < f.Pos {
		ctx2, cancel := context.WithTimeout(ctx, streamTimeout)
		ev, err := st.GetEvent(ctx2)
		cancel()
		if err != nil {
			return Location{}, false, fmt.Errorf("read binlog %s: %w", f.File, err)
		}
		h := ev.Header
		if h.LogPos == 0 { // artificial events (fake rotate)
			continue
		}
		startsTxn := false
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			return Location{}, false, nil
		case *replication.GTIDEvent, *replication.MariadbGTIDEvent:
			startsTxn = true
		case *replication.QueryEvent:
			q := strings.ToUpper(strings.TrimSpace(string(e.Query)))
			startsTxn = !afterGTID && (q == "BEGIN" || isDDLText(q))
		}
		_, afterGTID = ev.Event.(*replication.GTIDEvent)
		if _, ok := ev.Event.(*replication.MariadbGTIDEvent); ok {
			afterGTID = true
		}
		if startsTxn && int64(h.Timestamp) >= unix {
			return Location{File: f.File, Pos: last}, true, nil
		}
		last = h.LogPos
	}
	return Location{}, false, nil
}

// isDDLText is a cheap guess used only by the time search.
func isDDLText(upper string) bool {
	for _, p := range []string{"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"} {
		if strings.HasPrefix(upper, p) {
			return true
		}
	}
	return false
}
