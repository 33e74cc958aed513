package dbconn

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
)

func myErr(n uint16) error { return &mysql.MySQLError{Number: n, Message: "test"} }

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name                string
		err                 error
		connLost, retryable bool
		number              uint16
	}{
		{"nil", nil, false, false, 0},
		{"plain", errors.New("boom"), false, false, 0},
		{"canceled", context.Canceled, false, false, 0},
		{"wrapped canceled", fmt.Errorf("x: %w", context.Canceled), false, false, 0},
		{"deadline (a net.Error timeout)", context.DeadlineExceeded, true, true, 0},
		{"bad conn", driver.ErrBadConn, true, true, 0},
		{"invalid conn", fmt.Errorf("exec: %w", mysql.ErrInvalidConn), true, true, 0},
		{"eof", io.EOF, true, true, 0},
		{"unexpected eof", io.ErrUnexpectedEOF, true, true, 0},
		{"refused", syscall.ECONNREFUSED, true, true, 0},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true, true, 0},
		{"pipe", syscall.EPIPE, true, true, 0},
		{"net op", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route")}, true, true, 0},
		{"1040 too many connections", myErr(1040), false, true, 1040},
		{"1053 server shutdown", myErr(1053), true, true, 1053},
		{"1158 net read", myErr(1158), true, true, 1158},
		{"1159 net read timeout", myErr(1159), true, true, 1159},
		{"1160 net write", myErr(1160), true, true, 1160},
		{"1161 net write timeout", myErr(1161), true, true, 1161},
		{"1205 lock wait timeout", myErr(1205), false, true, 1205},
		{"1213 deadlock", fmt.Errorf("commit: %w", myErr(1213)), false, true, 1213},
		{"1317 query interrupted", myErr(1317), true, true, 1317},
		{"1927 connection killed", myErr(1927), true, true, 1927},
		{"2006 gone away", myErr(2006), true, true, 2006},
		{"2013 lost", myErr(2013), true, true, 2013},
		{"1062 duplicate", myErr(1062), false, false, 1062},
		{"1146 no such table", myErr(1146), false, false, 1146},
		{"go-mysql 2013", &gomysql.MyError{Code: 2013, Message: "lost"}, true, true, 2013},
		{"go-mysql 1236", &gomysql.MyError{Code: 1236, Message: "purged"}, false, false, 1236},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsConnLost(tt.err); got != tt.connLost {
				t.Errorf("IsConnLost = %v, want %v", got, tt.connLost)
			}
			if got := IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := ErrorNumber(tt.err); got != tt.number {
				t.Errorf("ErrorNumber = %d, want %d", got, tt.number)
			}
		})
	}
}
