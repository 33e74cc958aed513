package precheck

// The source probe of CreateSource: can dmkit read this server's binlog at all?

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// Flavors a source may have.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// Sentinels wrapped by ProbeSource's errors, so callers can map them to error codes with
// errors.Is.
var (
	ErrBadFlavor     = errors.New("flavor not supported")
	ErrGTIDModeOff   = errors.New("GTID_MODE is not ON")
	ErrSourceConnect = errors.New("cannot connect to source")
)

// SourceProbe is what ProbeSource learns about a live source server.
type SourceProbe struct {
	Flavor              string // the requested flavor, else the detected one: "mysql" or "mariadb"
	Version             string // @@version
	ServerID            uint32
	GTIDMode            bool   // MySQL gtid_mode=ON; always true on MariaDB
	ServerUUID          string // MySQL @@server_uuid; MariaDB "<gtid_domain_id>-<server_id>", as DM
	LowerCaseTableNames int
	LogBin              bool
	BinlogFormat        string
	BinlogRowImage      string
}

// SourceCheckError reports source settings that rule out replication. Setting names the
// first offending variable; Msg names every problem and its fix.
type SourceCheckError struct {
	Setting string
	Msg     string
	err     error // a sentinel (ErrGTIDModeOff) when one applies
}

func (e *SourceCheckError) Error() string { return e.Msg }
func (e *SourceCheckError) Unwrap() error { return e.err }

// ProbeSource connects to a source, reads its flavor, version and binlog settings and
// checks that binlog replication can work: log_bin ON, binlog_format ROW, binlog_row_image
// FULL, a non-zero server_id and, with enableGTID on MySQL, gtid_mode ON. flavor, if
// non-empty, must be "mysql" or "mariadb". The probe is returned whenever the server could
// be read, even alongside a *SourceCheckError.
func ProbeSource(ctx context.Context, cfg dbconn.Config, flavor string, enableGTID bool) (*SourceProbe, error) {
	db, err := dbconn.Open(ctx, cfg, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSourceConnect, err)
	}
	defer db.Close()
	if flavor != "" && flavor != FlavorMySQL && flavor != FlavorMariaDB {
		return nil, fmt.Errorf("%w: flavor %q (use %q or %q, or leave it empty to detect it)", ErrBadFlavor, flavor, FlavorMySQL, FlavorMariaDB)
	}
	addr := cfg.Addr()
	p, gtidMode, isMariaDB, err := readProbe(ctx, db, addr, flavor)
	if err != nil {
		return nil, err
	}
	if err := p.problems(addr, gtidMode, enableGTID && !isMariaDB); err != nil {
		return p, err
	}
	return p, nil
}

// readProbe reads the server's settings; gtidMode is MySQL's raw gtid_mode.
func readProbe(ctx context.Context, db *sql.DB, addr, flavor string) (p *SourceProbe, gtidMode string, isMariaDB bool, err error) {
	p = &SourceProbe{}
	var comment, logBin string
	var serverID uint64
	if err := db.QueryRowContext(ctx,
		"SELECT @@version, @@version_comment, @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image, @@lower_case_table_names",
	).Scan(&p.Version, &comment, &serverID, &logBin, &p.BinlogFormat, &p.BinlogRowImage, &p.LowerCaseTableNames); err != nil {
		return nil, "", false, fmt.Errorf("source %s: read server variables: %w", addr, err)
	}
	p.ServerID = uint32(serverID)
	p.LogBin = logBin == "1" || strings.EqualFold(logBin, "ON")
	isMariaDB = strings.Contains(strings.ToLower(p.Version+" "+comment), "mariadb")
	p.Flavor = flavor
	if p.Flavor == "" {
		p.Flavor = FlavorMySQL
		if isMariaDB {
			p.Flavor = FlavorMariaDB
		}
	}
	if isMariaDB {
		var domainID uint64
		if err := db.QueryRowContext(ctx, "SELECT @@gtid_domain_id").Scan(&domainID); err != nil {
			return nil, "", false, fmt.Errorf("source %s: read gtid_domain_id: %w", addr, err)
		}
		p.GTIDMode = true // MariaDB always writes GTIDs
		p.ServerUUID = strconv.FormatUint(domainID, 10) + "-" + strconv.FormatUint(serverID, 10)
		return p, "", true, nil
	}
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_mode, @@server_uuid").Scan(&gtidMode, &p.ServerUUID); err != nil {
		return nil, "", false, fmt.Errorf("source %s: read gtid_mode and server_uuid: %w", addr, err)
	}
	p.GTIDMode = strings.EqualFold(gtidMode, "ON")
	return p, gtidMode, false, nil
}

// problems returns a *SourceCheckError naming every setting that rules out replication, or
// nil. needGTID asks for MySQL's gtid_mode=ON.
func (p *SourceProbe) problems(addr, gtidMode string, needGTID bool) error {
	var problems []*SourceCheckError
	add := func(setting, msg string, sentinel error) {
		problems = append(problems, &SourceCheckError{Setting: setting, Msg: msg, err: sentinel})
	}
	if !p.LogBin {
		add("log_bin", "log_bin is OFF; enable binary logging (log_bin=ON, e.g. --log-bin in my.cnf) and restart the server", nil)
	}
	if !strings.EqualFold(p.BinlogFormat, "ROW") {
		add("binlog_format", fmt.Sprintf("binlog_format is %s; set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in my.cnf)", p.BinlogFormat), nil)
	}
	if !strings.EqualFold(p.BinlogRowImage, "FULL") {
		add("binlog_row_image", fmt.Sprintf("binlog_row_image is %s; set binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in my.cnf)", p.BinlogRowImage), nil)
	}
	if p.ServerID == 0 {
		add("server_id", "server_id is 0; set a non-zero server_id (server_id=N in my.cnf) and restart the server", nil)
	}
	if needGTID && !p.GTIDMode {
		add("gtid_mode", fmt.Sprintf("%s has GTID_MODE = %s instead of ON; set gtid_mode=ON and enforce_gtid_consistency=ON, or set enable_gtid=false", addr, gtidMode), ErrGTIDModeOff)
	}
	if len(problems) == 0 {
		return nil
	}
	combined := &SourceCheckError{Setting: problems[0].Setting}
	msgs := make([]string, len(problems))
	for i, pr := range problems {
		msgs[i] = pr.Msg
		if pr.err != nil {
			combined.err = pr.err
		}
	}
	combined.Msg = "source " + addr + ": " + strings.Join(msgs, ". ")
	return combined
}
