package dbconn

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
)

// Server and client error numbers that mean the connection broke: whatever statement was
// in flight may or may not have been executed.
const (
	ErServerShutdown   = 1053 // ER_SERVER_SHUTDOWN: the server is shutting down
	ErNetReadError     = 1158 // ER_NET_READ_ERROR: the server failed reading from the connection
	ErNetReadTimeout   = 1159 // ER_NET_READ_INTERRUPTED: the server timed out reading from it
	ErNetWriteError    = 1160 // ER_NET_ERROR_ON_WRITE: the server failed writing to it
	ErNetWriteTimeout  = 1161 // ER_NET_WRITE_INTERRUPTED: the server timed out writing to it
	ErQueryInterrupted = 1317 // ER_QUERY_INTERRUPTED: the query was killed (a shutdown kills running queries)
	ErConnKilled       = 1927 // ER_CONNECTION_KILLED (MariaDB): the connection was killed
	CrServerGone       = 2006 // CR_SERVER_GONE_ERROR: the server went away
	CrServerLost       = 2013 // CR_SERVER_LOST: the connection was lost during a query
)

// Error numbers that fail a statement without breaking the connection, and that go away
// when the transaction is simply run again.
const (
	ErTooManyConns    = 1040 // ER_CON_COUNT_ERROR: max_connections reached; nothing ran
	ErLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT: InnoDB gave up waiting for a row lock
	ErLockDeadlock    = 1213 // ER_LOCK_DEADLOCK: InnoDB chose this transaction as deadlock victim
)

// ErrorNumber returns the MySQL error number err carries (from go-sql-driver/mysql or from
// go-mysql-org/go-mysql, which the binlog stream uses), 0 if it carries none.
func ErrorNumber(err error) uint16 {
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

// IsConnLost reports whether err means the connection broke (driver or network failure,
// or one of the connection error numbers above): the statement in flight may or may not
// have been executed, and the next attempt needs a fresh connection.
func IsConnLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error // includes *net.OpError and timeouts
	if errors.As(err, &ne) {
		return true
	}
	switch ErrorNumber(err) {
	case ErServerShutdown, ErNetReadError, ErNetReadTimeout, ErNetWriteError, ErNetWriteTimeout,
		ErQueryInterrupted, ErConnKilled, CrServerGone, CrServerLost:
		return true
	}
	return false
}

// IsRetryable reports whether a failed statement or transaction may succeed when run
// again: the connection broke (IsConnLost), or the server refused it for a reason that
// passes (too many connections, lock wait timeout, deadlock). A cancelled context is
// never retryable. context.DeadlineExceeded counts as a network timeout (it is a
// net.Error); a caller whose own deadline has passed checks its context first.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch ErrorNumber(err) {
	case ErTooManyConns, ErLockWaitTimeout, ErLockDeadlock:
		return true
	}
	return IsConnLost(err)
}
