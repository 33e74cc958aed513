package binlogpos

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name    string
		row     map[string]string
		want    Status
		wantErr bool
	}{
		{"mariadb", map[string]string{"file": "mysql-bin.000003", "position": "1234", "binlog_do_db": "", "binlog_ignore_db": "x,y"},
			Status{File: "mysql-bin.000003", Pos: 1234, IgnoreDB: "x,y"}, false},
		{"mysql with gtid", map[string]string{"file": "binlog.000010", "position": "4", "binlog_do_db": "a", "executed_gtid_set": "u1:1-5,\nu2:1-3"},
			Status{File: "binlog.000010", Pos: 4, DoDB: "a", ExecutedGTIDSet: "u1:1-5,u2:1-3"}, false},
		{"max position", map[string]string{"file": "f.000001", "position": "4294967295"}, Status{File: "f.000001", Pos: 4294967295}, false},
		{"position too large", map[string]string{"file": "f.000001", "position": "4294967296"}, Status{}, true},
		{"position not a number", map[string]string{"file": "f.000001", "position": "x"}, Status{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statusOf(tt.row)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// scripted answers each statement with an error, or hands it (or its rewrite) to db.
type scripted struct {
	db      *sql.DB
	errs    map[string]error
	rewrite map[string]string
	ran     []string
}

func (s *scripted) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s.ran = append(s.ran, query)
	if err, ok := s.errs[query]; ok {
		return nil, err
	}
	if s.db == nil {
		return nil, errors.New("no server")
	}
	if r, ok := s.rewrite[query]; ok {
		query = r
	}
	return s.db.QueryContext(ctx, query, args...)
}

func TestReadStatusFallback(t *testing.T) {
	syntax := &mysql.MySQLError{Number: 1064, Message: "You have an error in your SQL syntax"}
	denied := &mysql.MySQLError{Number: 1227, Message: "Access denied"}
	tests := []struct {
		name    string
		errs    map[string]error
		wantRan []string
		wantErr error
	}{
		{"no fallback on other errors", map[string]error{"SHOW MASTER STATUS": denied},
			[]string{"SHOW MASTER STATUS"}, denied},
		{"fallback on syntax error, its error returned", map[string]error{"SHOW MASTER STATUS": syntax, "SHOW BINARY LOG STATUS": denied},
			[]string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"}, denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &scripted{errs: tt.errs}
			_, err := ReadStatus(t.Context(), q)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(q.ran, tt.wantRan) {
				t.Errorf("ran %q, want %q", q.ran, tt.wantRan)
			}
		})
	}
}
