package syncer

import (
	"errors"
	"fmt"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// TemporaryError wraps a failure that is expected to clear by itself (target or source
// restarting, network trouble, lock contention outlasting the retries). Its Temporary
// method returns true so the caller can resume the task automatically.
type TemporaryError struct{ Err error }

func (e *TemporaryError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary reports true: retrying later is expected to succeed.
func (e *TemporaryError) Temporary() bool { return true }

func temporary(err error) error {
	var t *TemporaryError
	if errors.As(err, &t) {
		return err
	}
	return &TemporaryError{Err: err}
}

// maybeTemporary marks err temporary when it is a connection failure.
func maybeTemporary(err error) error {
	if dbconn.IsConnLost(err) {
		return temporary(err)
	}
	return err
}

// MySQL error numbers the syncer reacts to (connection and retry classes are dbconn's).
const (
	erDBCreateExists   = 1007
	erDBDropExists     = 1008
	erBadFieldError    = 1054
	erTableExists      = 1050
	erBadTable         = 1051
	erDupFieldName     = 1060
	erDupKeyName       = 1061
	erMultiplePriKey   = 1068
	erCantDropFieldKey = 1091
	erNoSuchTable      = 1146
	erBadDB            = 1049
)

// errNumber returns the MySQL error number of err, 0 if it carries none.
func errNumber(err error) uint16 { return dbconn.ErrorNumber(err) }

// ddlAlreadyDone reports whether a target error for a replayed DDL means the DDL had
// already been applied: the object it creates exists, or the one it drops or renames
// is gone.
func ddlAlreadyDone(err error) bool {
	switch errNumber(err) {
	case erDBCreateExists, erDBDropExists, erTableExists, erBadTable, erNoSuchTable,
		erDupFieldName, erDupKeyName, erMultiplePriKey, erCantDropFieldKey, erBadFieldError:
		return true
	}
	return false
}

// applyError is a permanent failure to apply a change to the target.
type applyError struct {
	op    string // statement kind, e.g. "INSERT"
	table string
	loc   changePos
	stmt  string
	err   error
}

func (e *applyError) Error() string {
	stmt := e.stmt
	if len(stmt) > 256 {
		stmt = stmt[:256] + "..."
	}
	return fmt.Sprintf("apply %s on %s for binlog (%s, %d) row %d: %v (statement: %s)",
		e.op, e.table, e.loc.File, e.loc.Pos, e.loc.Row, e.err, stmt)
}

func (e *applyError) Unwrap() error { return e.err }
