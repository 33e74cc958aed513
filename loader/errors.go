package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// MySQL/MariaDB error numbers the loader treats specially (connection and retry classes
// are dbconn's).
const (
	errDupEntry    = 1062 // ER_DUP_ENTRY
	errNoSuchTable = 1146 // ER_NO_SUCH_TABLE
	// errLocalInfileOff (MariaDB, MySQL 5.7) / errLocalInfileOffMySQL (MySQL 8): the
	// server does not allow LOAD DATA LOCAL.
	errLocalInfileOff      = 1148
	errLocalInfileOffMySQL = 3948
	errBadDB               = 1049 // ER_BAD_DB_ERROR
)

// isTransient reports whether err is worth retrying on a fresh connection: the
// connection or the server went away, or InnoDB chose this transaction as a deadlock
// victim or timed it out waiting for a lock (dbconn.IsRetryable). Because every data
// transaction carries its checkpoint, a retry re-reads the committed offset and cannot
// apply a statement twice. An expired context is not transient here.
func isTransient(err error) bool {
	return !errors.Is(err, context.DeadlineExceeded) && dbconn.IsRetryable(err)
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
