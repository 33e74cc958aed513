package binlogpos

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// src writes a binary log (ROW, GTID); nolog does not.
var src, nolog *mysqltest.Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if src, err = mysqltest.Start(mysqltest.Options{Name: "binlogpos-src"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	if nolog, err = mysqltest.Start(mysqltest.Options{Name: "binlogpos-nolog", SkipLogBin: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nolog.Stop()
	return m.Run()
}

func TestServer(t *testing.T) {
	ctx := t.Context()
	db := src.DB(t)
	src.Exec(t, "CREATE DATABASE IF NOT EXISTS binlogpos_t")
	src.Exec(t, "CREATE TABLE IF NOT EXISTS binlogpos_t.t (id INT PRIMARY KEY)")
	src.Exec(t, "FLUSH BINARY LOGS")
	src.Exec(t, "INSERT INTO binlogpos_t.t VALUES (1) ON DUPLICATE KEY UPDATE id = id")

	st, err := ReadStatus(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enabled() || st.Pos <= 4 || st.ExecutedGTIDSet != "" {
		t.Fatalf("status %+v: want a file, a position past the header and no Executed_Gtid_Set on MariaDB", st)
	}
	gtid, err := GTIDSet(ctx, db, true)
	if err != nil || !strings.Contains(gtid, "-") {
		t.Fatalf("GTIDSet = %q, %v; want a MariaDB GTID list", gtid, err)
	}

	files, err := BinaryLogs(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 || files[len(files)-1].Name != st.File || files[len(files)-1].Size != int64(st.Pos) {
		t.Fatalf("binary logs %+v: want at least two, the last being %s of size %d", files, st.File, st.Pos)
	}

	// The 8.4 path: SHOW MASTER STATUS rejected as a syntax error, SHOW BINARY LOG STATUS
	// answers (MariaDB does not know it: the script answers it with SHOW MASTER STATUS).
	q := &scripted{db: db,
		errs:    map[string]error{"SHOW MASTER STATUS": &mysql.MySQLError{Number: 1064, Message: "syntax"}},
		rewrite: map[string]string{"SHOW BINARY LOG STATUS": "SHOW MASTER STATUS"}}
	st2, err := ReadStatus(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if st2 != st || !slices.Equal(q.ran, []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"}) {
		t.Errorf("fallback: status %+v after %q, want %+v", st2, q.ran, st)
	}

	// Through a *sql.Conn too.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if st3, err := ReadStatus(ctx, conn); err != nil || st3 != st {
		t.Errorf("on a Conn: %+v, %v; want %+v", st3, err, st)
	}
}

func TestServerWithoutBinlog(t *testing.T) {
	ctx := t.Context()
	db := nolog.DB(t)
	st, err := ReadStatus(ctx, db)
	if err != nil || st.Enabled() || st != (Status{}) {
		t.Fatalf("ReadStatus = %+v, %v; want the zero Status", st, err)
	}
	_, err = BinaryLogs(ctx, db)
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("BinaryLogs = %v; want the server's error (binary logging is off)", err)
	}
}
