package loader

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// The LOAD DATA path (issue 13): a REPLACE statement whose every value is NULL, a number
// or a plain quoted string is sent as LOAD DATA LOCAL INFILE … REPLACE from the statement's
// own tuples (go-sql-driver's reader handler: no temp file), which the target parses much
// more cheaply than INSERT text. The tuple text is passed as it is: with
// FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\'' ESCAPED BY '\\', a dump tuple line
// `1,'a\'b',NULL` reads exactly as the INSERT would (same escapes, unquoted NULL is NULL,
// CHARACTER SET binary as the session's SET NAMES binary). Anything else — hex and
// charset-introduced literals, other verbs — takes the INSERT path. See README.md.

// loadDataSeq names the reader handlers, one per statement.
var loadDataSeq atomic.Uint64

// errLoadDataFallback says a LOAD DATA statement failed or left warnings: the batch is
// rolled back and the file goes on with INSERT statements, which give the exact result
// (or the exact error) the INSERT path always gave.
var errLoadDataFallback = errors.New("LOAD DATA left warnings or failed")

// loadDataPiece translates p (a REPLACE piece) into the LOAD DATA statement and its data.
// ok is false when some value is not a number, NULL or a plain quoted string, or the
// piece is not in the dump's layout (header line ending in VALUES, one tuple per line).
func loadDataPiece(p []byte, prefix []byte, data []byte) (stmt string, out []byte, ok bool) {
	out = data[:0]
	if !bytes.HasPrefix(p, prefix) || !bytes.HasPrefix(prefix, []byte("REPLACE INTO ")) {
		return "", out, false
	}
	nl := bytes.IndexByte(p, '\n')
	if nl < 0 {
		return "", out, false
	}
	head := bytes.TrimSpace(p[len(prefix):nl])
	if !hasSuffixFold(head, "VALUES") {
		return "", out, false
	}
	cols := bytes.TrimSpace(head[:len(head)-len("VALUES")])
	if len(cols) < 2 || cols[0] != '(' || cols[len(cols)-1] != ')' || bytes.ContainsAny(cols, "'\"\\") {
		return "", out, false
	}
	for rest := p[nl+1:]; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(trimEOL(line), []byte(","))
		if len(line) < 2 || line[0] != '(' || line[len(line)-1] != ')' {
			return "", out, false
		}
		inner := line[1 : len(line)-1]
		if !plainFields(inner) {
			return "", out, false
		}
		out = append(out, inner...)
		out = append(out, '\n')
	}
	if len(out) == 0 {
		return "", out, false
	}
	table := prefix[len("REPLACE INTO "):]
	stmt = "LOAD DATA LOCAL INFILE 'Reader::%s' REPLACE INTO TABLE " + string(table) +
		` CHARACTER SET binary FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\'' ESCAPED BY '\\'` +
		` LINES TERMINATED BY '\n' ` + string(cols)
	return stmt, out, true
}

// plainFields reports whether a tuple's inside is a comma-separated list of NULL,
// numbers and single-quoted strings with backslash escapes (and nothing that LOAD DATA
// would read differently from INSERT).
func plainFields(s []byte) bool {
	i := 0
	for {
		if i >= len(s) {
			return false // empty field
		}
		switch c := s[i]; {
		case c == '\'':
			i++
			for {
				if i >= len(s) {
					return false
				}
				if s[i] == '\\' {
					// Only the escapes the dumper writes: both read them alike. (\% and \_
					// keep their backslash in SQL, not in LOAD DATA.)
					if i+1 >= len(s) || bytes.IndexByte([]byte(`0nr\\'"Z`), s[i+1]) < 0 {
						return false
					}
					i += 2
					continue
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i += 2 // a doubled quote, the same in both
						continue
					}
					i++
					break
				}
				if s[i] == '\n' || s[i] == '\r' {
					return false
				}
				i++
			}
		case bytes.HasPrefix(s[i:], []byte("NULL")):
			i += 4
		case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '-' || s[j] == '+' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			if s[i] == '0' && j < len(s) && (s[j] == 'x' || s[j] == 'b') {
				return false // 0x… / 0b… literals
			}
			if s[i] == '-' && !bytes.ContainsAny(mantissa(s[i:j]), "123456789") {
				return false // -0: INSERT reads an integer 0, LOAD DATA a negative zero
			}
			i = j
		default:
			return false
		}
		if i == len(s) {
			return true
		}
		if s[i] != ',' {
			return false
		}
		i++
	}
}

// mantissa is a number literal without its exponent.
func mantissa(n []byte) []byte {
	if i := bytes.IndexAny(n, "eE"); i >= 0 {
		return n[:i]
	}
	return n
}

// execLoadData runs one LOAD DATA statement inside tx and checks it left no warning
// (with LOCAL the server turns errors it would raise for INSERT into warnings).
func execLoadData(ctx context.Context, tx *sql.Tx, stmt string, data []byte) error {
	name := "dmkit-load-" + strconv.FormatUint(loadDataSeq.Add(1), 10)
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(stmt, name)); err != nil {
		return fmt.Errorf("%w: %w", errLoadDataFallback, err)
	}
	var warnings int
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return err
	}
	if warnings > 0 {
		return fmt.Errorf("%w: %d warnings", errLoadDataFallback, warnings)
	}
	return nil
}
