package binlogpos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Querier is what *sql.DB, *sql.Conn and *sql.Tx have in common and all this package needs.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// erParseError is ER_PARSE_ERROR, MySQL 8.4's answer to SHOW MASTER STATUS.
const erParseError = 1064

// Status is the row of SHOW MASTER STATUS. The zero Status (File == "") means binary
// logging is off.
type Status struct {
	File string // File
	Pos  uint32 // Position
	// DoDB and IgnoreDB are the server's binlog_do_db and binlog_ignore_db lists
	// (Binlog_Do_DB, Binlog_Ignore_DB), comma-separated.
	DoDB, IgnoreDB string
	// ExecutedGTIDSet is MySQL's Executed_Gtid_Set with its line breaks removed; MariaDB
	// has no such column (use GTIDSet).
	ExecutedGTIDSet string
}

// Enabled reports whether the server writes a binary log.
func (s Status) Enabled() bool { return s.File != "" }

// ReadStatus runs SHOW MASTER STATUS, or SHOW BINARY LOG STATUS when the server rejects
// the first as a syntax error (MySQL 8.4 removed it). With binary logging off the server
// returns no row, and ReadStatus the zero Status and no error. Columns are read by name.
func ReadStatus(ctx context.Context, q Querier) (Status, error) {
	rows, err := q.QueryContext(ctx, "SHOW MASTER STATUS")
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == erParseError {
		rows, err = q.QueryContext(ctx, "SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return Status{}, err
	}
	defer rows.Close()
	row, err := firstRow(rows)
	if err != nil || row == nil {
		return Status{}, err
	}
	return statusOf(row)
}

// statusOf maps a status row (lower-case column names) to a Status.
func statusOf(row map[string]string) (Status, error) {
	st := Status{
		File:            row["file"],
		DoDB:            row["binlog_do_db"],
		IgnoreDB:        row["binlog_ignore_db"],
		ExecutedGTIDSet: strings.ReplaceAll(row["executed_gtid_set"], "\n", ""),
	}
	if v, ok := row["position"]; ok {
		p, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Status{}, fmt.Errorf("bad binlog position %q", v)
		}
		st.Pos = uint32(p)
	}
	return st, nil
}

// firstRow scans the first row of rows into a map from lower-case column name to value
// (NULL as ""); nil when there is no row.
func firstRow(rows *sql.Rows) (map[string]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals, err := scanStrings(rows, len(cols))
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cols))
	for i, c := range cols {
		out[strings.ToLower(c)] = vals[i]
	}
	return out, rows.Close()
}

// scanStrings scans the current row's n columns as strings, NULL as "".
func scanStrings(rows *sql.Rows, n int) ([]string, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, v := range vals {
		out[i] = v.String
	}
	return out, nil
}

// GTIDSet reads the server's executed GTID set: @@global.gtid_binlog_pos on MariaDB,
// @@global.gtid_executed otherwise, with line breaks and spaces removed.
func GTIDSet(ctx context.Context, q Querier, mariaDB bool) (string, error) {
	v := "@@global.gtid_executed"
	if mariaDB {
		v = "@@global.gtid_binlog_pos"
	}
	rows, err := q.QueryContext(ctx, "SELECT "+v)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", v, err)
	}
	defer rows.Close()
	var g sql.NullString
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("read %s: %w", v, err)
		}
		return "", fmt.Errorf("read %s: %w", v, sql.ErrNoRows)
	}
	if err := rows.Scan(&g); err != nil {
		return "", fmt.Errorf("read %s: %w", v, err)
	}
	if err := rows.Close(); err != nil {
		return "", fmt.Errorf("read %s: %w", v, err)
	}
	return strings.ReplaceAll(strings.ReplaceAll(g.String, "\n", ""), " ", ""), nil
}

// File is one row of SHOW BINARY LOGS.
type File struct {
	Name string // Log_name
	Size int64  // File_size
}

// BinaryLogs runs SHOW BINARY LOGS: the server's binary log files, oldest first.
func BinaryLogs(ctx context.Context, q Querier) ([]File, error) {
	rows, err := q.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if len(cols) < 2 {
		return nil, fmt.Errorf("SHOW BINARY LOGS returned %d columns, want Log_name and File_size", len(cols))
	}
	var out []File
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(vals[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SHOW BINARY LOGS: bad size %q of %s", vals[1], vals[0])
		}
		out = append(out, File{Name: vals[0], Size: size})
	}
	return out, rows.Err()
}

// SnapshotPosition reads MariaDB's binlog position of the session's consistent snapshot
// (binlog_snapshot_file/_position, set by START TRANSACTION WITH CONSISTENT SNAPSHOT):
// the point the snapshot sees, without a lock. q must be the snapshot's own connection.
func SnapshotPosition(ctx context.Context, q Querier) (file string, pos uint32, err error) {
	rows, err := q.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, fmt.Errorf("read binlog_snapshot status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", 0, fmt.Errorf("read binlog_snapshot status: %w", err)
		}
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			file = value
		case "binlog_snapshot_position":
			p, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return "", 0, fmt.Errorf("read binlog_snapshot status: bad position %q", value)
			}
			pos = uint32(p)
		}
	}
	if err := rows.Err(); err != nil {
		return "", 0, fmt.Errorf("read binlog_snapshot status: %w", err)
	}
	return file, pos, nil
}
