package loader

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL/MariaDB error numbers the loader treats specially.
const (
	errDupEntry         = 1062 // ER_DUP_ENTRY
	errLockWaitTimeout  = 1205 // ER_LOCK_WAIT_TIMEOUT
	errDeadlock         = 1213 // ER_LOCK_DEADLOCK
	errTooManyConns     = 1040 // ER_CON_COUNT_ERROR
	errServerShutdown   = 1053 // ER_SERVER_SHUTDOWN
	errNetReadTimeout   = 1159 // ER_NET_READ_INTERRUPTED
	errNetRead          = 1158 // ER_NET_READ_ERROR
	errNetWrite         = 1160 // ER_NET_ERROR_ON_WRITE
	errNetWriteTimeout  = 1161 // ER_NET_WRITE_INTERRUPTED
	errConnKilled       = 1927 // ER_CONNECTION_KILLED (MariaDB)
	errGoneAway         = 2006 // CR_SERVER_GONE_ERROR
	errLostConn         = 2013 // CR_SERVER_LOST
	errNoSuchTable      = 1146 // ER_NO_SUCH_TABLE
	errBadDB            = 1049 // ER_BAD_DB_ERROR
	errQueryInterrupted = 1317 // ER_QUERY_INTERRUPTED (server shutdown kills running queries)
)

// isTransient reports whether err is worth retrying on a fresh connection: the
// connection or the server went away, or InnoDB chose this transaction as a deadlock
// victim or timed it out waiting for a lock. Because every data transaction carries its
// checkpoint, a retry re-reads the committed offset and cannot apply a statement twice.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errLockWaitTimeout, errDeadlock, errTooManyConns, errServerShutdown, errNetRead, errNetReadTimeout,
			errNetWrite, errNetWriteTimeout, errConnKilled, errGoneAway, errLostConn, errQueryInterrupted:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// isMySQLError reports whether err is the server error number.
func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// temporaryError is returned when transient failures persisted through every retry: the
// load can simply be run again later and resumes from its checkpoints.
type temporaryError struct {
	attempts int
	err      error
}

func (e *temporaryError) Error() string {
	return fmt.Sprintf("%v (still failing after %d attempts; the target looks unavailable — run the load again when it is back, it resumes from its checkpoints)", e.err, e.attempts)
}

func (e *temporaryError) Unwrap() error { return e.err }

// Temporary marks the error as retryable later (DM's auto-resume checks for it).
func (e *temporaryError) Temporary() bool { return true }

// retry runs fn until it succeeds, fails permanently, or transient failures exceed
// cfg.MaxRetries consecutive attempts without progress; then it returns a
// temporaryError. fn reports whether it made durable progress, which resets the count.
func (l *Loader) retry(ctx context.Context, what string, fn func() (progressed bool, err error)) error {
	failures := 0
	backoff := l.cfg.RetryBackoff
	for {
		progressed, err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if !isTransient(err) {
			return err
		}
		if progressed {
			failures, backoff = 0, l.cfg.RetryBackoff
		}
		failures++
		if failures > l.cfg.MaxRetries {
			return &temporaryError{attempts: failures, err: err}
		}
		l.log.Warn("transient error; retrying", "what", what, "attempt", failures, "backoff", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// maxBackoff caps the exponential backoff between retries.
const maxBackoff = 10 * time.Second
