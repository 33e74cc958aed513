package dumper

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dumpfile"
)

// fixture creates the schemas TestDumpAndLoad dumps: every column type, odd names,
// tables with and without split keys, an empty table, a view, a generated column.
const fixture = `
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
DROP DATABASE IF EXISTS dmp_types; DROP DATABASE IF EXISTS ` + "`we-ird`" + `; DROP DATABASE IF EXISTS dmp_empty;
CREATE DATABASE dmp_types; CREATE DATABASE ` + "`we-ird`" + ` CHARACTER SET latin1; CREATE DATABASE dmp_empty; USE dmp_types;
CREATE TABLE dmp_types.all_types (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(65,30), dec2 DECIMAL(10,2) UNSIGNED, f FLOAT, f2 FLOAT(7,3), d DOUBLE,
  dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, yr YEAR,
  b1 BIT(1), b64 BIT(64), bin BINARY(8), vbin VARBINARY(64), bl BLOB, lbl LONGBLOB,
  txt TEXT, vc VARCHAR(100), ch CHAR(10),
  lat VARCHAR(50) CHARACTER SET latin1, latenum ENUM('é','ü','x') CHARACTER SET latin1 DEFAULT 'é',
  e ENUM('a','b','c d'), st SET('x','y','z'), j JSON, g GEOMETRY, u UUID, ip INET6,
  gen INT AS (i * 2) VIRTUAL, gens VARCHAR(120) AS (CONCAT(vc, '!')) STORED
);
INSERT INTO dmp_types.all_types (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, dec2, f, f2, d,
  dt, tm, dtm, ts, yr, b1, b64, bin, vbin, bl, lbl, txt, vc, ch, lat, latenum, e, st, j, g, u, ip) VALUES
 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 0.00, -3.4028234e38, -9999.999, -1.7976931348623157e308,
  '0000-00-00', '-838:59:59.000000', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', 0,
  b'0', b'0', UNHEX('00'), UNHEX(''), UNHEX('000A0D275C1A2200FF'), '', '', '', '', '', 'x', '', '', '[]',
  ST_GeomFromText('POINT(1 2)'), '00000000-0000-0000-0000-000000000000', '::'),
 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  '12345678901234567890123456789012345.123456789012345678901234567890', 99999999.99, 1.2345678, 1234.5678, 0.30000000000000004,
  '9999-12-31', '838:59:59.000000', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', 2155,
  b'1', b'1111111111111111111111111111111111111111111111111111111111111111', UNHEX('FFFEFD0A0D5C2700'), UNHEX('5C'),
  UNHEX('0A'), REPEAT(UNHEX('00FF0A27'), 5000),
  CONCAT('quote '' dq " bs \\ nl \n cr \r nul ', CHAR(0), ' ctrlz ', CHAR(26), ' tab \t emoji 😀 ', _utf8mb4 X'F09F8E89'),
  'ünïcødé 🚀', 'pad  ', 'àéîõüß ÿ', 'ü', 'c d', 'x,z', '{"a": "x\\ny", "b": [1, 2.5, null], "c": "😀"}',
  ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2001:db8::1'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '2024-00-00', '00:00:00.000001', '2024-02-29 12:34:56.789012', '1970-01-01 00:00:01.000', 1901,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0.000000000000000000000000000001, 0.01, 0.1, 0.001, 5e-324,
  '2000-01-01', '-00:00:00.5', '2000-01-01 00:00:00', '2000-06-15 12:00:00.5', 2000,
  b'1', b'101', 'abc', 'abc', 'abc', 'abc', '', NULL, 'x', 'plain', 'x', 'a', '', 'null',
  NULL, NULL, NULL);
INSERT INTO dmp_types.all_types (id, i, f, d, vc, txt, bl, dtm, ts, lat, j)
  SELECT seq, CAST(seq AS SIGNED) * 7 - 1000, seq / 3, seq / 7, CONCAT('row ', seq, ' ''q'' \\'), REPEAT('long text ', seq % 50),
    UNHEX(REPEAT(HEX(seq), seq % 20)), '2020-01-01' + INTERVAL seq MINUTE, '2021-03-28 00:30:00' + INTERVAL seq MINUTE,
    CONCAT('naïve ', seq), JSON_OBJECT('n', seq, 's', CONCAT('v', seq))
  FROM seq_10_to_400;
CREATE TABLE dmp_types.composite (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b));
INSERT INTO dmp_types.composite SELECT seq % 7, CONCAT('k', seq), seq FROM seq_1_to_60;
CREATE TABLE dmp_types.nopk (x INT, y TEXT);
INSERT INTO dmp_types.nopk SELECT seq % 5, IF(seq % 3 = 0, NULL, 'same') FROM seq_1_to_40;
CREATE TABLE dmp_types.empty (id INT PRIMARY KEY, v TEXT);
CREATE TABLE dmp_types.ukey (id BIGINT UNSIGNED NOT NULL, v INT, UNIQUE KEY uk (id));
INSERT INTO dmp_types.ukey SELECT 18446744073709551615 - seq * 1000000000000000, seq FROM seq_0_to_150;
CREATE TABLE dmp_types.negpk (id BIGINT PRIMARY KEY, v INT);
INSERT INTO dmp_types.negpk VALUES (-9223372036854775808, 0), (9223372036854775807, 1);
INSERT INTO dmp_types.negpk SELECT CAST(seq AS SIGNED) - 100, seq FROM seq_0_to_200;
CREATE TABLE dmp_types.autoinc (id INT AUTO_INCREMENT PRIMARY KEY, v INT);
INSERT INTO dmp_types.autoinc VALUES (0, 0), (5, 5);
CREATE TABLE dmp_types.skipme (id INT PRIMARY KEY);
INSERT INTO dmp_types.skipme VALUES (1);
CREATE VIEW dmp_types.v AS SELECT id FROM dmp_types.all_types;
CREATE TABLE ` + "`we-ird`.`ta ble`" + ` (` + "`co``l`" + ` INT PRIMARY KEY, ` + "`sp ace`" + ` VARCHAR(20), ` + "`dot.ted`" + ` CHAR(3));
INSERT INTO ` + "`we-ird`.`ta ble`" + ` VALUES (1, 'ä', 'x.y'), (2, 'ø', NULL), (3, '', '%');
`

var fixtureSchemas = []string{"dmp_types", "we-ird", "dmp_empty"}

// fixtureTables selects the fixture's tables except skipme, and the empty database.
func fixtureTables(schema, table string) bool {
	for _, s := range fixtureSchemas {
		if schema == s {
			return table != "skipme"
		}
	}
	return false
}

// recorder collects OnFile calls.
type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) onFile(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = append(r.order, filepath.Base(path))
}

// logCapture records the "consistency" attribute of log records.
type logCapture struct {
	mu   sync.Mutex
	mode string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "consistency" {
			l.mu.Lock()
			l.mode = a.Value.String()
			l.mu.Unlock()
		}
		return true
	})
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

func TestDumpAndLoad(t *testing.T) {
	src.Exec(t, fixture)
	const stmtSize, fileSize = 600, 4000
	for _, tc := range []struct {
		consistency string
		wantMode    string // the mode the log reports
	}{
		{"auto", "snapshot without lock (MariaDB binlog_snapshot)"}, // the server is idle
		{"flush", "flush"},
		{"lock", "lock"},
		{"none", "none"},
	} {
		t.Run(tc.consistency, func(t *testing.T) {
			dir := t.TempDir()
			rec := &recorder{}
			logs := &logCapture{}
			d := newDumper(t, Config{
				Tables: fixtureTables, Dir: dir, Threads: 3, Consistency: tc.consistency,
				ChunkRows: 25, FileSize: fileSize, StatementSize: stmtSize,
				OnFile: rec.onFile, Logger: slog.New(logs),
			})
			md, err := d.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			after := masterStatus(t)
			if logs.mode != tc.wantMode {
				t.Errorf("consistency used = %q, want %q", logs.mode, tc.wantMode)
			}

			// Metadata: the snapshot is the current position (nothing was written since).
			if md.Snapshot != after {
				t.Errorf("metadata snapshot %+v, SHOW MASTER STATUS right after %+v", md.Snapshot, after)
			}
			if tc.consistency == "none" {
				if md.After == nil || *md.After != after {
					t.Errorf("metadata After = %+v, want %+v", md.After, after)
				}
			} else if md.After != nil {
				t.Errorf("metadata After = %+v, want none", md.After)
			}
			onDisk, err := dumpfile.ReadMetadata(dir)
			if err != nil {
				t.Fatal(err)
			}
			if onDisk.Finished.IsZero() || onDisk.Snapshot != md.Snapshot {
				t.Errorf("metadata file %+v, Run returned %+v", onDisk, md)
			}

			checkFiles(t, dir, rec.order, stmtSize, fileSize)

			p := d.Progress()
			if p.TotalTables != 8 || p.CompletedTables != 8 {
				t.Errorf("progress tables %d/%v, want 8/8", p.TotalTables, p.CompletedTables)
			}
			if want := float64(395 + 60 + 40 + 151 + 203 + 2 + 3); p.FinishedRows != want {
				t.Errorf("progress rows %v, want %v", p.FinishedRows, want)
			}
			if p.FinishedBytes <= 0 || p.EstimateTotalRows <= 0 || p.Bps <= 0 {
				t.Errorf("progress %+v has zero counters", p)
			}

			for _, skipNames := range []bool{false, true} {
				for _, s := range fixtureSchemas {
					dst.Exec(t, "DROP DATABASE IF EXISTS `"+s+"`")
				}
				loadDump(t, dir, skipNames)
				compareTables(t, fixtureTables, fixtureSchemas...)
			}
		})
	}
}

// checkFiles checks the dump directory against the format and the OnFile calls.
func checkFiles(t *testing.T, dir string, onFile []string, stmtSize, fileSize int) {
	t.Helper()
	noTmpFiles(t, dir)
	pos := map[string]int{}
	for i, name := range onFile {
		if _, dup := pos[name]; dup {
			t.Errorf("OnFile(%s) called twice", name)
		}
		pos[name] = i
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	maxChunk := map[string]int{}
	maxPart := 0
	for _, e := range entries {
		name := e.Name()
		n, err := dumpfile.Parse(name)
		if err != nil {
			t.Errorf("unexpected file %s: %v", name, err)
			continue
		}
		if n.Kind == dumpfile.KindMetadata || n.Kind == dumpfile.KindManifest {
			continue
		}
		at, ok := pos[name]
		if !ok {
			t.Errorf("no OnFile call for %s", name)
		}
		switch n.Kind {
		case dumpfile.KindTableSchema:
			if c, ok := pos[dumpfile.SchemaCreateName(n.Schema)]; !ok || c > at {
				t.Errorf("%s reported before its database's schema-create file", name)
			}
		case dumpfile.KindData:
			if s, ok := pos[dumpfile.TableSchemaName(n.Schema, n.Table)]; !ok || s > at {
				t.Errorf("%s reported before its table's schema file", name)
			}
			maxChunk[n.Table] = max(maxChunk[n.Table], n.Chunk)
			maxPart = max(maxPart, n.Part)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(fileHeader)) {
			t.Errorf("%s does not start with the SQL header: %.100q", name, b)
		}
		if n.Kind == dumpfile.KindData {
			checkDataFile(t, name, b, stmtSize, fileSize)
		}
	}
	// Every file but the metadata and the manifest is reported.
	if len(pos) != len(entries)-2 {
		t.Errorf("%d OnFile calls for %d files", len(pos), len(entries)-2)
	}
	for _, name := range []string{
		dumpfile.SchemaCreateName("dmp_empty"), dumpfile.TableSchemaName("dmp_types", "empty"),
		dumpfile.TableSchemaName("we-ird", "ta ble"), dumpfile.DataName("we-ird", "ta ble", 0, 0),
	} {
		if _, ok := pos[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	for _, name := range []string{dumpfile.TableSchemaName("dmp_types", "skipme"), dumpfile.TableSchemaName("dmp_types", "v"), dumpfile.DataName("dmp_types", "empty", 0, 0)} {
		if _, ok := pos[name]; ok {
			t.Errorf("unexpected %s", name)
		}
	}
	// Split-key tables are chunked; the others are one chunk.
	for table, chunked := range map[string]bool{"all_types": true, "ukey": true, "negpk": true, "composite": false, "nopk": false} {
		if got := maxChunk[table] > 0; got != chunked {
			t.Errorf("table %s: last chunk index %d, want chunked=%v", table, maxChunk[table], chunked)
		}
	}
	if maxPart == 0 {
		t.Errorf("no chunk was split into several files (FileSize %d)", fileSize)
	}
}

// checkDataFile checks the statement layout: header line, one tuple per line, ';' at
// the end of a statement, sizes within the limits unless a single row needs more.
func checkDataFile(t *testing.T, name string, b []byte, stmtSize, fileSize int) {
	t.Helper()
	lines := strings.SplitAfter(strings.TrimPrefix(string(b), fileHeader), "\n")
	if last := lines[len(lines)-1]; last != "" {
		t.Errorf("%s does not end with a newline", name)
	}
	lines = lines[:len(lines)-1]
	stmtLen, stmtRows, stmts := 0, 0, 0
	for i, line := range lines {
		stmtLen += len(line)
		switch {
		case strings.HasPrefix(line, "INSERT INTO `"):
			if stmtLen != len(line) || !strings.HasSuffix(line, ") VALUES\n") {
				t.Fatalf("%s line %d: misplaced statement header %q", name, i, line)
			}
		case strings.HasPrefix(line, "(") && strings.HasSuffix(line, "),\n"):
			stmtRows++
		case strings.HasPrefix(line, "(") && strings.HasSuffix(line, ");\n"):
			stmtRows++
			stmts++
			if stmtLen > stmtSize && stmtRows > 1 {
				t.Errorf("%s: statement of %d bytes and %d rows exceeds StatementSize %d", name, stmtLen, stmtRows, stmtSize)
			}
			stmtLen, stmtRows = 0, 0
		default:
			t.Fatalf("%s line %d: not a statement header or tuple: %.200q", name, i, line)
		}
	}
	if stmtLen != 0 || stmts == 0 {
		t.Errorf("%s: unterminated or no statement", name)
	}
	if len(b) > fileSize && stmts > 1 {
		t.Errorf("%s: %d bytes in %d statements exceeds FileSize %d", name, len(b), stmts, fileSize)
	}
}

// TestConsistentUnderWrites dumps while a writer commits transactions that each add
// one row at the low end and one at the high end of the key range: the rows land in the
// first and last chunks, exported by different workers. The dump must hold exactly the
// transactions committed before the recorded snapshot position — counted by GTID.
func TestConsistentUnderWrites(t *testing.T) {
	src.Exec(t, `DROP DATABASE IF EXISTS dmp_hot; CREATE DATABASE dmp_hot; USE dmp_hot;
		CREATE TABLE dmp_hot.hot (id BIGINT PRIMARY KEY, v INT);
		INSERT INTO dmp_hot.hot SELECT CAST(seq AS SIGNED) - 1000, seq FROM seq_0_to_2000`)
	for _, consistency := range []string{"auto", "flush", "lock"} {
		t.Run(consistency, func(t *testing.T) {
			src.Exec(t, "DELETE FROM dmp_hot.hot WHERE id < -1000 OR id > 1000")
			db := src.DB(t)
			start := gtidSeq(t, masterStatus(t).GTID)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			running := make(chan struct{}) // closed after the writer's first commits
			writerErr := make(chan error, 1)
			go func() {
				var err error
				for k := 1; ctx.Err() == nil; k++ {
					if _, err = db.ExecContext(ctx, "INSERT INTO dmp_hot.hot VALUES (?, 0), (?, 0)", -1000-k, 1000+k); err != nil {
						break
					}
					if k == 20 {
						close(running)
					}
				}
				if ctx.Err() != nil {
					err = nil
				}
				writerErr <- err
			}()
			select {
			case <-running:
			case err := <-writerErr:
				t.Fatalf("writer stopped: %v", err)
			}
			dir := t.TempDir()
			logs := &logCapture{}
			d := newDumper(t, Config{Tables: inSchemas("dmp_hot"), Dir: dir, Threads: 4, Consistency: consistency, ChunkRows: 100, Logger: slog.New(logs)})
			md, err := d.Run(t.Context())
			cancel()
			if werr := <-writerErr; werr != nil {
				t.Fatal(werr)
			}
			if err != nil {
				t.Fatal(err)
			}
			committed := gtidSeq(t, md.Snapshot.GTID) - start
			low, high := dumpedIDs(t, dir)
			if int64(len(low)) != committed || int64(len(high)) != committed {
				t.Fatalf("dump holds %d low and %d high writer rows; %d writer transactions committed before the snapshot",
					len(low), len(high), committed)
			}
			t.Logf("consistency %s: %d writer transactions before the snapshot", logs.mode, committed)
		})
	}
}

// gtidSeq returns the sequence number of a single-domain MariaDB GTID position.
func gtidSeq(t *testing.T, gtid string) int64 {
	t.Helper()
	i := strings.LastIndexByte(gtid, '-')
	n, err := strconv.ParseInt(gtid[i+1:], 10, 64)
	if err != nil || strings.Contains(gtid, ",") {
		t.Fatalf("GTID %q: want one domain", gtid)
	}
	return n
}

// dumpedIDs returns the ids of the writer's rows in the dump of dmp_hot.hot.
func dumpedIDs(t *testing.T, dir string) (low, high []int64) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "dmp_hot.hot.*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if !strings.HasPrefix(line, "(") {
				continue
			}
			id, err := strconv.ParseInt(line[1:strings.IndexByte(line, ',')], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", p, line, err)
			}
			switch {
			case id < -1000:
				low = append(low, id)
			case id > 1000:
				high = append(high, id)
			}
		}
	}
	return low, high
}

func TestCancel(t *testing.T) {
	src.Exec(t, `DROP DATABASE IF EXISTS dmp_big; CREATE DATABASE dmp_big; USE dmp_big;
		CREATE TABLE dmp_big.big (id INT PRIMARY KEY, v VARCHAR(100));
		INSERT INTO dmp_big.big SELECT seq, REPEAT('x', 100) FROM seq_1_to_30000`)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var dataFiles atomic.Int64
	d := newDumper(t, Config{
		Tables: inSchemas("dmp_big"), Dir: dir, Threads: 2, ChunkRows: 500, FileSize: 8000, StatementSize: 1000,
		OnFile: func(path string) {
			if n, _ := dumpfile.Parse(filepath.Base(path)); n.Kind == dumpfile.KindData && dataFiles.Add(1) == 1 {
				cancel()
			}
		},
	})
	_, err := d.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	noTmpFiles(t, dir)
	md, err := dumpfile.ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Finished.IsZero() {
		t.Error("a cancelled dump wrote a finished metadata")
	}
	if p := d.Progress(); p.CompletedTables != 0 {
		t.Errorf("cancelled dump completed %v tables", p.CompletedTables)
	}
	// No lock is left behind: the table takes writes.
	src.Exec(t, "INSERT INTO dmp_big.big VALUES (0, 'after')")

	// An already cancelled context fails at once.
	d = newDumper(t, Config{Tables: inSchemas("dmp_big"), Dir: dir})
	if _, err := d.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestDirOwnership: a dump never overwrites or deletes files it did not write (issue 7).
// A non-empty directory without this owner's manifest is refused untouched; a redo by the
// same owner removes exactly the files the earlier attempt listed.
func TestDirOwnership(t *testing.T) {
	src.Exec(t, `DROP DATABASE IF EXISTS dmp_small; CREATE DATABASE dmp_small;
		CREATE TABLE dmp_small.t (id INT PRIMARY KEY); INSERT INTO dmp_small.t VALUES (1)`)
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := []string{"dmp_small.t.0000000000000.sql", "dmp_small-schema-create.sql", dumpfile.MetadataName, "keep.txt"}
	for _, name := range user {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("user data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := newDumper(t, Config{Tables: inSchemas("dmp_small"), Dir: dir, Owner: "task-a"}).Run(t.Context())
	if !errors.Is(err, dumpfile.ErrNotOwned) {
		t.Fatalf("dump into a directory of user files = %v, want ErrNotOwned", err)
	}
	for _, name := range user {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "user data" {
			t.Errorf("user file %s touched: %q, %v", name, b, err)
		}
	}

	own := filepath.Join(t.TempDir(), "own")
	if _, err := newDumper(t, Config{Tables: inSchemas("dmp_small"), Dir: own, Owner: "task-a"}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Another owner is refused; the same owner redoes the dump over its own files and
	// leaves a file someone added meanwhile alone.
	if _, err := newDumper(t, Config{Tables: inSchemas("dmp_small"), Dir: own, Owner: "task-b"}).Run(t.Context()); !errors.Is(err, dumpfile.ErrNotOwned) {
		t.Fatalf("dump into another owner's directory = %v, want ErrNotOwned", err)
	}
	if err := os.WriteFile(filepath.Join(own, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDumper(t, Config{Tables: inSchemas("dmp_small"), Dir: own, Owner: "task-a"})
	if _, err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(t.Context()); err == nil {
		t.Error("second Run of one Dumper succeeded")
	}
	info, err := dumpfile.ReadManifest(own)
	if err != nil || info.Owner != "task-a" || !slices.Contains(info.Files, dumpfile.MetadataName) || slices.Contains(info.Files, "keep.txt") {
		t.Fatalf("manifest = %+v, %v", info, err)
	}
	if err := dumpfile.RemoveOwned(own, "task-b", nil); !errors.Is(err, dumpfile.ErrNotOwned) {
		t.Fatalf("RemoveOwned by another owner = %v", err)
	}
	if err := dumpfile.RemoveOwned(own, "task-a", nil); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(own)
	if len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Fatalf("after RemoveOwned the directory holds %v, want only keep.txt", entries)
	}
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{Config{Dir: "x"}, ""},
		{Config{}, "Dir is empty"},
		{Config{Dir: "x", Consistency: "snapshot"}, "only on TiDB"},
		{Config{Dir: "x", Consistency: "bogus"}, "unknown"},
		{Config{Dir: "x", Flavor: "tidb"}, "not supported"},
		{Config{Dir: "x", Flavor: "MariaDB", Consistency: "FLUSH"}, ""},
	} {
		_, err := New(tc.cfg)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
	d, err := New(Config{Dir: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c := d.cfg
	if c.Threads != 4 || c.ChunkRows != 200_000 || c.FileSize != 64<<20 || c.StatementSize != 1<<20 || c.Consistency != "auto" {
		t.Errorf("defaults = %+v", c)
	}
	if c.Source.Params["readTimeout"] != readTimeout {
		t.Errorf("readTimeout param = %q", c.Source.Params["readTimeout"])
	}
}

// TestLockFreeSnapshots checks the premise of auto mode on MariaDB under writes: when
// lock-free worker snapshots report one binlog position they see the same data — exactly
// the transactions before that position — and when they do not, lockFree says so.
func TestLockFreeSnapshots(t *testing.T) {
	src.Exec(t, "DROP DATABASE IF EXISTS dmp_lf; CREATE DATABASE dmp_lf; CREATE TABLE dmp_lf.t (id INT AUTO_INCREMENT PRIMARY KEY)")
	d := newDumper(t, Config{Dir: t.TempDir()})
	d.flavor = FlavorMariaDB
	db := src.DB(t)
	ctx := t.Context()
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	start := gtidSeq(t, masterStatus(t).GTID)

	wctx, stop := context.WithCancel(ctx)
	writerErr := make(chan error, 1)
	go func() {
		for wctx.Err() == nil {
			if _, err := db.ExecContext(wctx, "INSERT INTO dmp_lf.t VALUES ()"); err != nil && wctx.Err() == nil {
				writerErr <- err
				return
			}
			time.Sleep(2 * time.Millisecond) // pace the writer so both outcomes occur
		}
		writerErr <- nil
	}()
	agreed, fellBack := 0, 0
	for range 40 {
		res, ok, err := d.lockFree(ctx, conns)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			fellBack++
			continue
		}
		agreed++
		want := gtidSeq(t, res.snapshot.GTID) - start
		for i, c := range conns {
			var n int64
			if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM dmp_lf.t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("worker %d sees %d rows; %d were committed before the snapshot position %s", i, n, want, res.snapshot)
			}
		}
		if err := rollbackAll(ctx, conns); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshots agreed %d times, fell back %d times", agreed, fellBack)
}

// TestBinlogOff dumps a server without binary logging: the location stays zero and the
// dump is still complete.
func TestBinlogOff(t *testing.T) {
	dst.Exec(t, `DROP DATABASE IF EXISTS dmp_nolog; CREATE DATABASE dmp_nolog;
		CREATE TABLE dmp_nolog.t (id INT PRIMARY KEY); INSERT INTO dmp_nolog.t VALUES (1), (2)`)
	for _, consistency := range []string{"auto", "flush", "none"} {
		t.Run(consistency, func(t *testing.T) {
			d, err := New(Config{Source: dst.DBConfig(), Tables: inSchemas("dmp_nolog"), Dir: t.TempDir(), Consistency: consistency})
			if err != nil {
				t.Fatal(err)
			}
			md, err := d.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !md.Snapshot.IsZero() || md.After != nil && !md.After.IsZero() {
				t.Errorf("metadata locations %+v / %+v, want zero", md.Snapshot, md.After)
			}
			if p := d.Progress(); p.FinishedRows != 2 {
				t.Errorf("dumped %v rows, want 2", p.FinishedRows)
			}
		})
	}
}

// TestPrivileges dumps as a user without RELOAD: flush fails naming the privilege,
// auto needs no global lock on MariaDB.
func TestPrivileges(t *testing.T) {
	src.Exec(t, `DROP USER IF EXISTS 'dmp_lim'@'%'; CREATE USER 'dmp_lim'@'%' IDENTIFIED BY 'lim';
		GRANT SELECT, LOCK TABLES, SHOW VIEW, BINLOG MONITOR ON *.* TO 'dmp_lim'@'%';
		DROP DATABASE IF EXISTS dmp_priv; CREATE DATABASE dmp_priv;
		CREATE TABLE dmp_priv.t (id INT PRIMARY KEY); INSERT INTO dmp_priv.t VALUES (1)`)
	t.Cleanup(func() { src.Exec(t, "DROP USER 'dmp_lim'@'%'") })
	for _, tc := range []struct {
		consistency, wantErr string
	}{
		{"flush", "RELOAD privilege"},
		{"auto", ""},
		{"lock", ""},
	} {
		t.Run(tc.consistency, func(t *testing.T) {
			cfg := src.DBConfig()
			cfg.User, cfg.Password = "dmp_lim", "lim"
			d, err := New(Config{Source: cfg, Tables: inSchemas("dmp_priv"), Dir: t.TempDir(), Consistency: tc.consistency})
			if err != nil {
				t.Fatal(err)
			}
			md, err := d.Run(t.Context())
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run = %v, want an error naming %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case md.Snapshot != masterStatus(t):
				t.Errorf("snapshot %+v, want %+v", md.Snapshot, masterStatus(t))
			}
		})
	}
}

// Issue 11: FinishedBytes is the data dumped (DM's finished_bytes): the size of the data
// files, not of schema files or the metadata.
func TestFinishedBytesCountsData(t *testing.T) {
	src.Exec(t, `DROP DATABASE IF EXISTS dmp_bytes; CREATE DATABASE dmp_bytes;
		CREATE TABLE dmp_bytes.empty (id INT PRIMARY KEY);
		CREATE TABLE dmp_bytes.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO dmp_bytes.t SELECT seq, 'x' FROM seq_1_to_500`)
	dir := t.TempDir()
	d := newDumper(t, Config{Tables: inSchemas("dmp_bytes"), Dir: dir})
	if _, err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var data int64
	for _, e := range entries {
		if n, err := dumpfile.Parse(e.Name()); err == nil && n.Kind == dumpfile.KindData {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			data += fi.Size()
		}
	}
	if got := int64(d.Progress().FinishedBytes); data == 0 || got != data {
		t.Fatalf("FinishedBytes = %d, data files hold %d bytes", got, data)
	}
}
