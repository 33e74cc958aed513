package dumper

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// src is the server every test dumps; dst is where dumps are loaded to be compared.
var src, dst *mysqltest.Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if src, err = mysqltest.Start(mysqltest.Options{Name: "dumper-src"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	if dst, err = mysqltest.Start(mysqltest.Options{Name: "dumper-dst", SkipLogBin: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer dst.Stop()
	return m.Run()
}

// loadDump is a naive loader: it runs the schema files, then every data file, statement
// by statement (a statement ends on a line ending with ';'), on one connection set up
// the way the dump format asks (UTC, NO_AUTO_VALUE_ON_ZERO, no strict mode). With
// skipNames it drops the files' SET NAMES statements, as a loader that keeps its
// utf8mb4 session would.
func loadDump(t *testing.T, dir string, skipNames bool) {
	t.Helper()
	ctx := t.Context()
	db := dst.DB(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("load: %.200s: %v", q, err)
		}
	}
	exec("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
	exec("SET SESSION time_zone = '+00:00'")

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []dumpfile.Name
	paths := map[dumpfile.Name]string{}
	for _, e := range entries {
		n, err := dumpfile.Parse(e.Name())
		if err != nil {
			t.Fatalf("unexpected file %s in dump: %v", e.Name(), err)
		}
		if n.Kind == dumpfile.KindMetadata || n.Kind == dumpfile.KindManifest {
			continue
		}
		files = append(files, n)
		paths[n] = filepath.Join(dir, e.Name())
	}
	slices.SortStableFunc(files, func(a, b dumpfile.Name) int { return int(a.Kind) - int(b.Kind) })
	for _, n := range files {
		exec("SET NAMES utf8mb4")
		if n.Kind != dumpfile.KindSchemaCreate {
			exec("USE " + sqlq.QuoteName(n.Schema))
		}
		f, err := os.Open(paths[n])
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		var stmt strings.Builder
		for sc.Scan() {
			stmt.WriteString(sc.Text())
			stmt.WriteByte('\n')
			if !strings.HasSuffix(sc.Text(), ";") {
				continue
			}
			q := stmt.String()
			stmt.Reset()
			if skipNames && strings.HasPrefix(q, "/*!40101 SET NAMES") {
				continue
			}
			exec(q)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stmt.String()) != "" {
			t.Fatalf("%s ends with an unterminated statement: %.200q", paths[n], stmt.String())
		}
	}
}

// compareTables fails t unless every base table of the schemas that match selects has
// the same rows on src and dst, and dst has no other table.
func compareTables(t *testing.T, match func(schema, table string) bool, schemas ...string) {
	t.Helper()
	ctx := t.Context()
	srcDB, dstDB := src.DB(t), dst.DB(t)
	for _, s := range schemas {
		tables := func(db *sql.DB) []string {
			rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", s)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					t.Fatal(err)
				}
				if match(s, name) {
					out = append(out, name)
				}
			}
			return out
		}
		want, got := tables(srcDB), tables(dstDB)
		if !slices.Equal(want, got) {
			t.Errorf("schema %s: target has tables %q, want %q", s, got, want)
		}
		for _, tbl := range want {
			if err := mysqltest.CompareTables(ctx, srcDB, s, tbl, dstDB, s, tbl); err != nil {
				t.Errorf("after load: %v", err)
			}
		}
	}
}

// masterStatus reads the source's binlog position and GTID.
func masterStatus(t *testing.T) dumpfile.Location {
	t.Helper()
	db := src.DB(t)
	var loc dumpfile.Location
	var ignore1, ignore2 sql.NullString
	if err := db.QueryRowContext(t.Context(), "SHOW MASTER STATUS").Scan(&loc.File, &loc.Pos, &ignore1, &ignore2); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(t.Context(), "SELECT @@global.gtid_binlog_pos").Scan(&loc.GTID); err != nil {
		t.Fatal(err)
	}
	return loc
}

// newDumper builds a Dumper against src for cfg (Source filled in).
func newDumper(t testing.TB, cfg Config) *Dumper {
	t.Helper()
	cfg.Source = src.DBConfig()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// inSchemas selects the tables of the given schemas.
func inSchemas(schemas ...string) func(string, string) bool {
	return func(schema, _ string) bool { return slices.Contains(schemas, schema) }
}

// noTmpFiles fails t if dir holds a temporary file.
func noTmpFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), tmpSuffix) || strings.HasPrefix(e.Name(), ".metadata-") {
			t.Errorf("temporary file %s left in the dump directory", e.Name())
		}
	}
}
