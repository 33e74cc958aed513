package precheck

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// globalVariable reads one global variable; ok is false when the server has no such variable.
func globalVariable(ctx context.Context, db *sql.DB, name string) (value string, ok bool, err error) {
	// name is always one of our constants; SHOW ... LIKE cannot take a placeholder everywhere.
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'")
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return "", false, fmt.Errorf("read %s: %w", name, err)
		}
		if strings.EqualFold(n, name) {
			value, ok = v, true
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("read %s: %w", name, err)
	}
	return value, ok, nil
}

// version is a parsed x.y.z server version.
type version [3]uint

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

func (v version) less(o version) bool { return slices.Compare(v[:], o[:]) < 0 }

// parseVersion reads the x.y.z prefix of a version string such as 10.11.6-MariaDB-log.
func parseVersion(s string) (version, error) {
	var v version
	num, _, _ := strings.Cut(s, "-")
	parts := strings.Split(num, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("MySQL version %s not valid", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return v, fmt.Errorf("MySQL version %s not valid", s)
		}
		v[i] = uint(n)
	}
	return v, nil
}

// Supported source versions: MySQL [5.6.0, 8.5.0) as DM, MariaDB from 10.1.2 (dmkit
// supports MariaDB sources fully; DM warns on every MariaDB).
var (
	minMySQL      = version{5, 6, 0}
	maxMySQL      = version{8, 5, 0}
	minMariaDB    = version{10, 1, 2}
	rowImageSince = version{5, 6, 2}
)

// versionCheck warns on a source version dmkit does not support.
func (s *source) versionCheck(ctx context.Context) *Result {
	r := &Result{Name: "mysql_version", Desc: "check whether mysql version is satisfied",
		State: Success, Extra: s.extra()}
	raw, _, err := globalVariable(ctx, s.DB, "version")
	if err != nil {
		return markError(r, err)
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "tidb") {
		r.warn("Not support migrate from TiDB")
		return r
	}
	v, err := parseVersion(raw)
	if err != nil {
		return markError(r, err)
	}
	lo, hi := minMySQL, maxMySQL
	if strings.Contains(lower, "mariadb") || s.Flavor == FlavorMariaDB {
		lo, hi = minMariaDB, version{}
	}
	switch {
	case v.less(lo):
		r.warn("version suggested at least %v but got %v", lo, v)
	case hi != version{} && !v.less(hi):
		r.warn("version suggested less than %v but got %v", hi, v)
	}
	if r.State == Warning {
		r.Instruction = "Please use a supported MySQL (5.6 to 8.4) or MariaDB (10.1.2 or later) version."
	}
	return r
}

// serverIDCheck fails when the source's server_id is unset or 0.
func (s *source) serverIDCheck(ctx context.Context) *Result {
	r := &Result{Name: "mysql_server_id", Desc: "check whether mysql server_id has been greater than 0",
		State: Success, Extra: s.extra()}
	v, ok, err := globalVariable(ctx, s.DB, "server_id")
	switch {
	case err != nil:
		return markError(r, err)
	case !ok:
		r.fail("server_id not set")
		r.Instruction = "please set server_id in your database"
	case v == "0":
		r.fail("server_id is 0")
		r.Instruction = "please set server_id greater than 0"
	}
	return r
}

// variableCheck fails unless a global variable has the wanted value (case-insensitive).
func (s *source) variableCheck(name, desc, variable, want, instruction string) check {
	return func(ctx context.Context) *Result {
		r := &Result{Name: name, Desc: desc, State: Success, Extra: s.extra()}
		if variable == "binlog_row_image" {
			// binlog_row_image exists since MySQL 5.6.2; older servers always log full rows.
			raw, _, err := globalVariable(ctx, s.DB, "version")
			if err != nil {
				return markError(r, err)
			}
			v, err := parseVersion(raw)
			if err != nil {
				return markError(r, err)
			}
			if v.less(rowImageSince) {
				return r
			}
		}
		v, _, err := globalVariable(ctx, s.DB, variable)
		if err != nil {
			return markError(r, err)
		}
		if !strings.EqualFold(v, want) {
			r.fail("%s is %s, and should be %s", variable, v, want)
			r.Instruction = instruction
		}
		return r
	}
}

// binlogDBCheck warns when binlog_do_db / binlog_ignore_db keep a migrated schema out of
// the binlog.
func (s *source) binlogDBCheck(ctx context.Context) *Result {
	r := &Result{Name: "binlog_do_db/binlog_ignore_db check",
		Desc: "check whether migrated dbs are in binlog_do_db/binlog_ignore_db", State: Success, Extra: s.extra()}
	doDB, ignoreDB, err := binlogFilters(ctx, s.DB)
	if err != nil {
		return markError(r, err)
	}
	schemas := schemasOf(s.tables)
	// The server applies binlog_do_db when set and binlog_ignore_db only otherwise.
	if do := splitDBList(doDB); len(do) > 0 {
		var missing []string
		for _, sc := range schemas {
			if !listedDB(do, sc) {
				missing = append(missing, sc)
			}
		}
		if len(missing) > 0 {
			r.warn("these dbs [%s] are not in binlog_do_db[%s]", strings.Join(missing, ","), doDB)
			r.Instruction = "Ensure that the do_dbs contains the dbs you want to migrate"
		}
		return r
	}
	ignore := splitDBList(ignoreDB)
	var ignored []string
	for _, sc := range schemas {
		if listedDB(ignore, sc) {
			ignored = append(ignored, sc)
		}
	}
	if len(ignored) > 0 {
		r.warn("these dbs [%s] are in binlog_ignore_db[%s]", strings.Join(ignored, ","), ignoreDB)
		r.Instruction = "Ensure that the ignore_dbs does not contain the dbs you want to migrate"
	}
	return r
}

// splitDBList splits a binlog_do_db / binlog_ignore_db value.
func splitDBList(list string) []string {
	var out []string
	for _, x := range strings.Split(list, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func listedDB(list []string, schema string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, schema) })
}

// metaPositionCheck verifies that the binlog file an incremental task starts from still
// exists on the source and that the position lies within it.
func (s *source) metaPositionCheck(ctx context.Context) *Result {
	r := &Result{Name: "meta position check", Desc: "check whether meta position is valid for db",
		State: Success, Extra: s.extra()}
	names, sizes, err := binaryLogs(ctx, s.DB)
	if err != nil {
		return markError(r, err)
	}
	name := s.BinlogName
	size, ok := sizes[name]
	switch {
	case !ok:
		available := "none"
		if len(names) > 0 {
			available = names[0] + " to " + names[len(names)-1]
		}
		r.fail("binlog file %s does not exist on the source (available: %s)", name, available)
		r.Instruction = "Please set binlog_name and binlog_pos in source_conf to a position that still exists on the source."
	case s.BinlogPos != nil && *s.BinlogPos > size:
		r.fail("binlog position (%s, %d) is beyond the end of the file (size %d)", name, *s.BinlogPos, size)
		r.Instruction = "Please set binlog_pos in source_conf to a position inside the binlog file."
	}
	return r
}
