package dm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Flavors a source may have.
const (
	flavorMySQL   = "mysql"
	flavorMariaDB = "mariadb"
)

// Sentinels wrapped by probeSource's errors, so callers can map them to
// error codes with errors.Is.
var (
	errBadFlavor     = errors.New("flavor not supported")
	errGTIDModeOff   = errors.New("GTID_MODE is not ON")
	errSourceConnect = errors.New("cannot connect to source")
)

// sourceProbe is what probeSource learns about a live source server.
type sourceProbe struct {
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

// sourceCheckError reports source settings that rule out replication.
// Setting names the first offending variable; Msg names every problem and
// its fix.
type sourceCheckError struct {
	Setting string
	Msg     string
	err     error // a sentinel (errGTIDModeOff) when one applies
}

func (e *sourceCheckError) Error() string { return e.Msg }
func (e *sourceCheckError) Unwrap() error { return e.err }

// probeSource connects to a source, reads its flavor, version and binlog
// settings and checks that binlog replication can work: log_bin ON,
// binlog_format ROW, binlog_row_image FULL, a non-zero server_id and, with
// enableGTID on MySQL, gtid_mode ON. flavor, if non-empty, must be "mysql"
// or "mariadb". The probe is returned whenever the server could be read,
// even alongside a *sourceCheckError.
func probeSource(ctx context.Context, cfg dbconn.Config, flavor string, enableGTID bool) (*sourceProbe, error) {
	db, err := dbconn.Open(ctx, cfg, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSourceConnect, err)
	}
	defer db.Close()
	addr := cfg.Addr()
	if flavor != "" && flavor != flavorMySQL && flavor != flavorMariaDB {
		return nil, fmt.Errorf("%w: flavor %q (use %q or %q, or leave it empty to detect it)", errBadFlavor, flavor, flavorMySQL, flavorMariaDB)
	}

	p := &sourceProbe{}
	var comment, logBin string
	var serverID uint64
	if err := db.QueryRowContext(ctx,
		"SELECT @@version, @@version_comment, @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image, @@lower_case_table_names",
	).Scan(&p.Version, &comment, &serverID, &logBin, &p.BinlogFormat, &p.BinlogRowImage, &p.LowerCaseTableNames); err != nil {
		return nil, fmt.Errorf("source %s: read server variables: %w", addr, err)
	}
	p.ServerID = uint32(serverID)
	p.LogBin = logBin == "1" || strings.EqualFold(logBin, "ON")
	isMariaDB := strings.Contains(strings.ToLower(p.Version+" "+comment), "mariadb")
	p.Flavor = flavor
	if p.Flavor == "" {
		p.Flavor = flavorMySQL
		if isMariaDB {
			p.Flavor = flavorMariaDB
		}
	}

	var gtidMode string
	if isMariaDB {
		var domainID uint64
		if err := db.QueryRowContext(ctx, "SELECT @@gtid_domain_id").Scan(&domainID); err != nil {
			return nil, fmt.Errorf("source %s: read gtid_domain_id: %w", addr, err)
		}
		p.GTIDMode = true // MariaDB always writes GTIDs
		p.ServerUUID = strconv.FormatUint(domainID, 10) + "-" + strconv.FormatUint(serverID, 10)
	} else {
		if err := db.QueryRowContext(ctx, "SELECT @@gtid_mode, @@server_uuid").Scan(&gtidMode, &p.ServerUUID); err != nil {
			return nil, fmt.Errorf("source %s: read gtid_mode and server_uuid: %w", addr, err)
		}
		p.GTIDMode = strings.EqualFold(gtidMode, "ON")
	}

	var problems []*sourceCheckError
	add := func(setting, msg string, sentinel error) {
		problems = append(problems, &sourceCheckError{Setting: setting, Msg: msg, err: sentinel})
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
	if enableGTID && !isMariaDB && !p.GTIDMode {
		add("gtid_mode", fmt.Sprintf("%s has GTID_MODE = %s instead of ON; set gtid_mode=ON and enforce_gtid_consistency=ON, or set enable_gtid=false", addr, gtidMode), errGTIDModeOff)
	}
	if len(problems) == 0 {
		return p, nil
	}
	combined := &sourceCheckError{Setting: problems[0].Setting}
	msgs := make([]string, len(problems))
	for i, pr := range problems {
		msgs[i] = pr.Msg
		if pr.err != nil {
			combined.err = pr.err
		}
	}
	combined.Msg = "source " + addr + ": " + strings.Join(msgs, ". ")
	return p, combined
}

// listSchemas returns every schema of the server, system schemas included.
func listSchemas(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		return nil, fmt.Errorf("SHOW DATABASES: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("SHOW DATABASES: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW DATABASES: %w", err)
	}
	return out, nil
}

// listBaseTables returns the base tables of schema; views are left out.
func listBaseTables(ctx context.Context, db *sql.DB, schema string) ([]string, error) {
	q := "SHOW FULL TABLES FROM " + sqlq.QuoteName(schema) + " WHERE Table_type = 'BASE TABLE'"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
	}
	return out, nil
}
