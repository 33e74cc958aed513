package loader

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Servers shared by the package's tests: src holds the tables that are dumped, tgt
// receives the loads. Tests use distinct schemas and task names, and run one at a time.
var src, tgt *mysqltest.Server

// childEnv, when set, makes the test binary a loader child process (see crash_test.go)
// instead of running tests; its value is the JSON childConfig.
const childEnv = "DMKIT_LOADER_TEST_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	src, err = mysqltest.Start(mysqltest.Options{Name: "loader-src", SkipLogBin: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	tgt, err = mysqltest.Start(mysqltest.Options{Name: "loader-tgt", SkipLogBin: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer tgt.Stop()
	return m.Run()
}

// dumpOpts shapes the files dumpTable writes.
type dumpOpts struct {
	rowsPerStmt  int // tuples per INSERT; default 100
	stmtsPerFile int // INSERTs per data file; default 10
}

const preamble = "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"

// dumpTable writes schema.table of db into dir in DM's file format (the dumper package is
// deliberately not used): the schema-create file (once per schema), the -schema.sql file
// and data files of o.stmtsPerFile statements. It returns the data file names.
func dumpTable(t testing.TB, db *sql.DB, dir, schema, table string, o dumpOpts) []string {
	t.Helper()
	if o.rowsPerStmt == 0 {
		o.rowsPerStmt = 100
	}
	if o.stmtsPerFile == 0 {
		o.stmtsPerFile = 10
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET NAMES binary", "SET time_zone = '+00:00'"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, dumpfile.SchemaCreateName(schema))); os.IsNotExist(err) {
		var n, create string
		if err := conn.QueryRowContext(ctx, "SHOW CREATE DATABASE "+sqlq.QuoteName(schema)).Scan(&n, &create); err != nil {
			t.Fatal(err)
		}
		write(dumpfile.SchemaCreateName(schema), preamble+create+";\n")
	}
	var n, create string
	if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlq.QuoteTable(schema, table)).Scan(&n, &create); err != nil {
		t.Fatal(err)
	}
	write(dumpfile.TableSchemaName(schema, table), preamble+create+";\n")

	rows, err := conn.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION", schema, table)
	if err != nil {
		t.Fatal(err)
	}
	var cols, types []string
	for rows.Next() {
		var c, ty string
		if err := rows.Scan(&c, &ty); err != nil {
			t.Fatal(err)
		}
		cols, types = append(cols, sqlq.QuoteName(c)), append(types, strings.ToLower(ty))
	}
	rows.Close()
	header := "INSERT INTO " + sqlq.QuoteName(table) + " (" + strings.Join(cols, ",") + ") VALUES\n"

	data, err := conn.QueryContext(ctx, "SELECT "+strings.Join(cols, ",")+" FROM "+sqlq.QuoteTable(schema, table))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	var files []string
	var file, stmt strings.Builder
	stmtRows, fileStmts := 0, 0
	flushStmt := func() {
		if stmtRows == 0 {
			return
		}
		s := strings.TrimSuffix(stmt.String(), ",\n") + ";\n"
		file.WriteString(s)
		stmt.Reset()
		stmtRows = 0
		fileStmts++
	}
	flushFile := func() {
		flushStmt()
		if fileStmts == 0 {
			return
		}
		name := dumpfile.DataName(schema, table, 0, len(files))
		write(name, preamble+file.String())
		files = append(files, name)
		file.Reset()
		fileStmts = 0
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for data.Next() {
		if err := data.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if stmtRows == 0 {
			stmt.WriteString(header)
		}
		stmt.WriteByte('(')
		for i, v := range vals {
			if i > 0 {
				stmt.WriteByte(',')
			}
			stmt.WriteString(literal(types[i], v))
		}
		stmt.WriteString("),\n")
		stmtRows++
		if stmtRows == o.rowsPerStmt {
			flushStmt()
			if fileStmts == o.stmtsPerFile {
				flushFile()
			}
		}
	}
	if err := data.Err(); err != nil {
		t.Fatal(err)
	}
	flushFile()
	return files
}

// literal renders a value read with SET NAMES binary as the dumper does.
func literal(dataType string, v sql.RawBytes) string {
	if v == nil {
		return "NULL"
	}
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "double", "float", "year":
		return string(v)
	case "bit", "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob":
		if len(v) == 0 {
			return "''"
		}
		return "0x" + hex.EncodeToString(v)
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range []byte(v) {
		switch c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// testConfig is a loader config for the shared target.
func testConfig(dir, task string) Config {
	return Config{
		Target:       tgt.DBConfig(),
		Dir:          dir,
		Threads:      4,
		Task:         task,
		Source:       "mysql-01",
		RetryBackoff: 100 * time.Millisecond,
		MaxRetries:   50,
	}
}

// newLoader creates a loader closed at the end of the test.
func newLoader(t testing.TB, cfg Config) *Loader {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// openDB opens a pool on a server for the test's duration.
func openDB(t testing.TB, s *mysqltest.Server) *sql.DB {
	t.Helper()
	return s.DB(t)
}

// compareTables fails t unless the two tables hold the same rows.
func compareTables(t testing.TB, srcSchema, srcTable, dstSchema, dstTable string) {
	t.Helper()
	if err := mysqltest.CompareTables(t.Context(), openDB(t, src), srcSchema, srcTable, openDB(t, tgt), dstSchema, dstTable); err != nil {
		t.Error(err)
	}
}

// queryInt runs a one-value query on db.
func queryInt(t testing.TB, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

// logRecorder is a slog handler that keeps messages, to observe what the loader did.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// count returns how many messages equal msg.
func (h *logRecorder) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// childConfig is what a loader child process is told through childEnv.
type childConfig struct {
	Target      dbconn.Config
	Dir         string
	Task        string
	Source      string
	Threads     int
	OnDuplicate string
	BatchBytes  int
}

// runChild loads a directory in this process and exits; the parent kills it mid-way.
func runChild(raw string) int {
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l, err := New(Config{Target: c.Target, Dir: c.Dir, Task: c.Task, Source: c.Source, Threads: c.Threads,
		OnDuplicate: c.OnDuplicate, BatchBytes: c.BatchBytes})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer l.Close()
	if err := l.LoadDir(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// cleanSlate drops schemas on both servers and the task's checkpoints, so a test can be
// run again (go test -count) against the same servers.
func cleanSlate(t testing.TB, task string, schemas ...string) {
	t.Helper()
	for _, s := range schemas {
		src.Exec(t, "DROP DATABASE IF EXISTS "+sqlq.QuoteName(s))
		tgt.Exec(t, "DROP DATABASE IF EXISTS "+sqlq.QuoteName(s))
	}
	if err := DropCheckpoints(context.Background(), openDB(t, tgt), "dm_meta", task); err != nil {
		t.Fatal(err)
	}
}
