package syncer

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
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
	if isConnError(err) {
		return temporary(err)
	}
	return err
}

// MySQL error numbers the syncer reacts to.
const (
	erDBCreateExists   = 1007
	erDBDropExists     = 1008
	erServerShutdown   = 1053
	erBadFieldError    = 1054
	erTableExists      = 1050
	erBadTable         = 1051
	erDupFieldName     = 1060
	erDupKeyName       = 1061
	erMultiplePriKey   = 1068
	erCantDropFieldKey = 1091
	erNoSuchTable      = 1146
	erLockWaitTimeout  = 1205
	erLockDeadlock     = 1213
	erBadDB            = 1049
	erQueryInterrupted = 1317
	erConnKilled       = 1927 // MariaDB ER_CONNECTION_KILLED
	crServerGone       = 2006
	crServerLost       = 2013
)

// errNumber returns the MySQL error number of err, 0 if it carries none.
func errNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	var ge *gomysql.MyError
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// isConnError reports whether err means the connection broke: the statement may or may
// not have been executed.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	switch errNumber(err) {
	case crServerGone, crServerLost, erServerShutdown, erConnKilled, erQueryInterrupted:
		return true
	}
	return false
}

// isRetryable reports whether a failed target transaction may succeed when run again.
func isRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch errNumber(err) {
	case erLockDeadlock, erLockWaitTimeout:
		return true
	}
	return isConnError(err)
}

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
