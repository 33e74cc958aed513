package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keyShapes are the ways the test table can be keyed; each gets its own comparison path.
var keyShapes = []struct {
	name    string
	clause  string   // appended to the column list
	key     []string // the Key the result must report
	chunked bool
}{
	{"int-pk", ", PRIMARY KEY (id)", []string{"id"}, true},
	{"int-unique", ", UNIQUE KEY uk (id)", []string{"id"}, true},
	{"varchar-pk", ", PRIMARY KEY (code)", []string{"code"}, false},
	{"composite-pk", ", PRIMARY KEY (id, code)", []string{"id", "code"}, false},
	{"keyless", "", nil, false},
}

// richColumns covers utf8mb4 text, NULL vs empty string, FLOAT/DOUBLE, JSON, BLOB, BIT and
// TIMESTAMP. id and code are NOT NULL so that either can be the key.
const richColumns = "id INT NOT NULL, code VARCHAR(20) NOT NULL, txt VARCHAR(100), nul VARCHAR(10), " +
	"f FLOAT, d DOUBLE, j JSON, b BLOB, bits BIT(8), ts TIMESTAMP NULL"

const richRows = "INSERT INTO t (id, code, txt, nul, f, d, j, b, bits, ts) VALUES " +
	"(1, 'c1', 'héllo wörld 🌍', NULL, 1.5, 0.1, '{\"a\": 1}', 0x00FF00, b'1010', '2024-01-01 10:00:00')," +
	"(2, 'c2', '', '', 3.25, 1e300, '[1, 2]', '', b'0', NULL)," +
	"(3, 'c3', 'Straße', 'x', NULL, -2.5, NULL, NULL, NULL, '2038-01-19 03:14:07')," +
	"(4, 'c4', NULL, 'y', -0.125, NULL, '\"s\"', 0x00, b'11111111', '1970-01-01 00:00:01')," +
	"(5, 'c5', 'plain', NULL, 7, 7, '{}', 'blob', b'1', NULL)"

// want is an expected diff by the row's id.
type want struct {
	kind DiffKind
	id   string
}

func TestIdenticalTables(t *testing.T) {
	v := newVerifier(t, Config{ChunkRows: 2})
	for _, ks := range keyShapes {
		t.Run(ks.name, func(t *testing.T) {
			schema := "ident_" + strings.ReplaceAll(ks.name, "-", "_")
			freshSchema(t, schema)
			onBoth(t, schema, "CREATE TABLE t ("+richColumns+ks.clause+")", richRows)
			res, err := v.Table(t.Context(), schema, "t", schema, "t")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Equal || len(res.Diffs) != 0 || res.MismatchedChunks != 0 {
				t.Fatalf("identical tables differ: %+v", res)
			}
			if res.SourceRows != 5 || res.TargetRows != 5 {
				t.Errorf("rows = %d/%d, want 5/5", res.SourceRows, res.TargetRows)
			}
			if !slices.Equal(res.Key, ks.key) || res.Chunked != ks.chunked {
				t.Errorf("key = %q chunked = %v, want %q %v", res.Key, res.Chunked, ks.key, ks.chunked)
			}
			if ks.chunked && res.Chunks < 2 {
				t.Errorf("chunks = %d, want several with ChunkRows 2", res.Chunks)
			}
			if !ks.chunked && res.Chunks != 1 {
				t.Errorf("chunks = %d, want 1 (compared whole)", res.Chunks)
			}
		})
	}
}

// mutations are changes made on the target behind the tool's back, with the rows (by id)
// each one must be reported for. changed is reported as Changed with a key and as a
// Missing/Extra pair without one.
var mutations = []struct {
	name                    string
	stmts                   []string
	changed, missing, extra []string
}{
	{name: "utf8mb4 text", stmts: []string{"UPDATE t SET txt = 'héllo wörld 🌎' WHERE id = 1"}, changed: []string{"1"}},
	{name: "NULL to empty string", stmts: []string{"UPDATE t SET nul = '' WHERE id = 1"}, changed: []string{"1"}},
	{name: "empty string to NULL", stmts: []string{"UPDATE t SET nul = NULL WHERE id = 2"}, changed: []string{"2"}},
	{name: "case only", stmts: []string{"UPDATE t SET nul = 'X' WHERE id = 3"}, changed: []string{"3"}},
	{name: "trailing space", stmts: []string{"UPDATE t SET nul = 'x ' WHERE id = 3"}, changed: []string{"3"}},
	{name: "float low bits", stmts: []string{"UPDATE t SET f = 1.5000001 WHERE id = 1"}, changed: []string{"1"}},
	{name: "double", stmts: []string{"UPDATE t SET d = 0.1000000000000001 WHERE id = 1"}, changed: []string{"1"}},
	{name: "json", stmts: []string{"UPDATE t SET j = '{\"a\": 2}' WHERE id = 1"}, changed: []string{"1"}},
	{name: "blob", stmts: []string{"UPDATE t SET b = 0x00FF01 WHERE id = 1"}, changed: []string{"1"}},
	{name: "empty blob to NULL", stmts: []string{"UPDATE t SET b = NULL WHERE id = 2"}, changed: []string{"2"}},
	{name: "bit", stmts: []string{"UPDATE t SET bits = b'1011' WHERE id = 1"}, changed: []string{"1"}},
	{name: "timestamp", stmts: []string{"UPDATE t SET ts = '2024-01-01 10:00:01' WHERE id = 1"}, changed: []string{"1"}},
	{name: "delete", stmts: []string{"DELETE FROM t WHERE id = 3"}, missing: []string{"3"}},
	{name: "extra insert", stmts: []string{"INSERT INTO t (id, code, txt) VALUES (10, 'c10', 'new')"}, extra: []string{"10"}},
	{name: "insert below the range", stmts: []string{"INSERT INTO t (id, code, txt) VALUES (-7, 'c-7', 'new')"}, extra: []string{"-7"}},
	{name: "several", stmts: []string{
		"UPDATE t SET txt = 'changed' WHERE id = 5", "DELETE FROM t WHERE id = 2",
		"INSERT INTO t (id, code) VALUES (6, 'c6')",
	}, changed: []string{"5"}, missing: []string{"2"}, extra: []string{"6"}},
}

func TestFindsChangedRows(t *testing.T) {
	v := newVerifier(t, Config{ChunkRows: 2, DiffRows: 1})
	for _, ks := range keyShapes {
		for _, m := range mutations {
			t.Run(ks.name+"/"+m.name, func(t *testing.T) {
				schema := "diff_" + strings.ReplaceAll(ks.name, "-", "_")
				freshSchema(t, schema)
				onBoth(t, schema, "CREATE TABLE t ("+richColumns+ks.clause+")", richRows)
				onTarget(t, schema, m.stmts...)
				res, err := v.Table(t.Context(), schema, "t", schema, "t")
				if err != nil {
					t.Fatal(err)
				}
				var wants []want
				for _, id := range m.changed {
					if ks.key == nil {
						wants = append(wants, want{Missing, id}, want{Extra, id})
					} else {
						wants = append(wants, want{Changed, id})
					}
				}
				for _, id := range m.missing {
					wants = append(wants, want{Missing, id})
				}
				for _, id := range m.extra {
					wants = append(wants, want{Extra, id})
				}
				checkDiffs(t, res, ks.key, wants)
			})
		}
	}
}

// checkDiffs fails t unless res reports exactly wants (in any order), each with its
// key values and the row images on the right sides.
func checkDiffs(t *testing.T, res *TableResult, key []string, wants []want) {
	t.Helper()
	if res.Equal || res.MismatchedChunks == 0 {
		t.Errorf("result is equal, want differences %v", wants)
	}
	idAt := slices.Index(res.Columns, "id")
	var got []want
	for _, d := range res.Diffs {
		img := d.image()
		got = append(got, want{d.Kind, *img[idAt]})
		if (d.Source == nil) != (d.Kind == Extra) || (d.Target == nil) != (d.Kind == Missing) {
			t.Errorf("%v diff has source %v, target %v", d.Kind, d.Source, d.Target)
		}
		if len(d.Key) != len(key) {
			t.Errorf("diff key %q, want values of %q", d.Key, key)
			continue
		}
		for i, k := range key {
			if at := slices.Index(res.Columns, k); d.Key[i] != *img[at] {
				t.Errorf("diff key %q does not match the row's %s %q", d.Key, k, *img[at])
			}
		}
	}
	cmp := func(a, b want) int {
		if a.id != b.id {
			return strings.Compare(a.id, b.id)
		}
		return int(a.kind - b.kind)
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(wants, cmp)
	if !slices.Equal(got, wants) {
		t.Errorf("diffs = %v, want %v\n%s", got, wants, describe(res))
	}
}

func describe(res *TableResult) string {
	var b strings.Builder
	for _, d := range res.Diffs {
		fmt.Fprintf(&b, "  %v key=%q source=%s target=%s\n", d.Kind, d.Key, show(d.Source), show(d.Target))
	}
	return b.String()
}

func show(r Row) string {
	if r == nil {
		return "nil"
	}
	parts := make([]string, len(r))
	for i, v := range r {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = fmt.Sprintf("%q", *v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func TestRowImages(t *testing.T) {
	v := newVerifier(t, Config{})
	freshSchema(t, "images")
	onBoth(t, "images", "CREATE TABLE t ("+richColumns+", PRIMARY KEY (id))", richRows)
	onTarget(t, "images", "UPDATE t SET nul = '', txt = 'héllo wörld 🌎', f = 1.5000001 WHERE id = 1")
	res, err := v.Table(t.Context(), "images", "t", "images", "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diffs) != 1 {
		t.Fatalf("diffs:\n%s", describe(res))
	}
	d := res.Diffs[0]
	at := func(col string) int { return slices.Index(res.Columns, col) }
	if d.Source[at("nul")] != nil || d.Target[at("nul")] == nil || *d.Target[at("nul")] != "" {
		t.Errorf("nul: source %v target %v, want NULL and empty", d.Source[at("nul")], d.Target[at("nul")])
	}
	if got := *d.Target[at("txt")]; got != "héllo wörld 🌎" {
		t.Errorf("target txt = %q, want the utf8mb4 text", got)
	}
	if got := *d.Source[at("b")]; got != "\x00\xff\x00" {
		t.Errorf("source blob = %q, want its raw bytes", got)
	}
	if *d.Source[at("f")] == *d.Target[at("f")] {
		t.Errorf("float images equal (%q): widening to DOUBLE lost the change", *d.Source[at("f")])
	}
	if got := *d.Source[at("ts")]; got != "2024-01-01 10:00:00" {
		t.Errorf("source ts = %q, want it as stored (UTC session)", got)
	}
}

func TestColumnOrder(t *testing.T) {
	v := newVerifier(t, Config{ChunkRows: 2})
	for _, ks := range keyShapes {
		t.Run(ks.name, func(t *testing.T) {
			schema := "order_" + strings.ReplaceAll(ks.name, "-", "_")
			freshSchema(t, schema)
			cols := strings.Split(richColumns, ", ")
			src.Exec(t, "USE "+schema+"; CREATE TABLE t ("+richColumns+ks.clause+")")
			slices.Reverse(cols)
			// The target also has a column the source lacks: it is not compared.
			tgt.Exec(t, "USE "+schema+"; CREATE TABLE t (extra_col INT DEFAULT 42, "+strings.Join(cols, ", ")+ks.clause+")")
			onBoth(t, schema, richRows)
			res, err := v.Table(t.Context(), schema, "t", schema, "t")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Equal {
				t.Fatalf("reordered target differs:\n%s", describe(res))
			}
			onTarget(t, schema, "UPDATE t SET txt = 'moved' WHERE id = 4")
			res, err = v.Table(t.Context(), schema, "t", schema, "t")
			if err != nil {
				t.Fatal(err)
			}
			wants := []want{{Changed, "4"}}
			if ks.key == nil {
				wants = []want{{Missing, "4"}, {Extra, "4"}}
			}
			checkDiffs(t, res, ks.key, wants)
			if d := res.Diffs[0]; d.Target != nil && len(d.Target) != len(res.Columns) {
				t.Errorf("target image has %d values, want %d in source column order", len(d.Target), len(res.Columns))
			}
		})
	}
}

func TestCharsetDiffers(t *testing.T) {
	// The same text in latin1 on the source and utf8mb4 on the target is equal.
	v := newVerifier(t, Config{})
	freshSchema(t, "charsets")
	src.Exec(t, "CREATE TABLE charsets.t (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET latin1)")
	tgt.Exec(t, "CREATE TABLE charsets.t (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET utf8mb4)")
	onBoth(t, "charsets", "INSERT INTO t VALUES (1, 'café'), (2, NULL), (3, '')")
	res, err := v.Table(t.Context(), "charsets", "t", "charsets", "t")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal {
		t.Fatalf("latin1 vs utf8mb4 differ:\n%s", describe(res))
	}
}

func TestBisection(t *testing.T) {
	var calls atomic.Int64 // one per pair of queries: chunk checksums, bisection steps, fetches
	v := newVerifier(t, Config{ChunkRows: 1000, Threads: 2, Throttle: func(context.Context) error { calls.Add(1); return nil }})
	freshSchema(t, "bisect")
	onBoth(t, "bisect",
		"CREATE TABLE big (id BIGINT PRIMARY KEY, s VARCHAR(40), n DOUBLE)",
		// Sparse keys (every third value) so ranges and row counts differ.
		"INSERT INTO big SELECT seq * 3, CONCAT('row ', seq), seq / 7 FROM seq_1_to_20000",
		"ANALYZE TABLE big")
	res, err := v.Table(t.Context(), "bisect", "big", "bisect", "big")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.SourceRows != 20000 || res.TargetRows != 20000 {
		t.Fatalf("identical big tables: equal=%v rows=%d/%d", res.Equal, res.SourceRows, res.TargetRows)
	}
	if res.Chunks < 10 {
		t.Errorf("chunks = %d, want about 20 for 20000 rows at ChunkRows 1000", res.Chunks)
	}

	onTarget(t, "bisect", "UPDATE big SET s = 'changed' WHERE id = 37035")
	calls.Store(0)
	res, err = v.Table(t.Context(), "bisect", "big", "bisect", "big")
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, res, []string{"id"}, []want{{Changed, "37035"}})
	if res.MismatchedChunks != 1 {
		t.Errorf("mismatched chunks = %d, want 1", res.MismatchedChunks)
	}
	// A ~1000-row chunk reaches 64 rows in about 4 halvings: more steps than chunks, and a
	// fetch of one small range rather than of the chunk.
	if steps := calls.Load() - int64(res.Chunks); steps < 4 {
		t.Errorf("%d query pairs beyond the %d chunk checksums, want bisection steps", steps, res.Chunks)
	}

	onTarget(t, "bisect", "DELETE FROM big WHERE id = 3", "INSERT INTO big VALUES (90000, 'beyond', 0)")
	res, err = v.Table(t.Context(), "bisect", "big", "bisect", "big")
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, res, []string{"id"}, []want{{Changed, "37035"}, {Missing, "3"}, {Extra, "90000"}})
}

func TestEdgeTables(t *testing.T) {
	v := newVerifier(t, Config{ChunkRows: 2, DiffRows: 2})
	tests := []struct {
		name   string
		create string
		both   []string // rows on both sides
		target []string // then on the target only
		wants  []want
		key    []string
	}{
		{name: "both empty", create: "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)"},
		{name: "both empty keyless", create: "CREATE TABLE t (id INT, s TEXT)"},
		{
			name: "source empty", create: "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)",
			target: []string{"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (9, 'c')"},
			wants:  []want{{Extra, "1"}, {Extra, "2"}, {Extra, "9"}}, key: []string{"id"},
		},
		{
			name: "target emptied", create: "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)",
			both: []string{"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (9, 'c')"}, target: []string{"DELETE FROM t"},
			wants: []want{{Missing, "1"}, {Missing, "2"}, {Missing, "9"}}, key: []string{"id"},
		},
		{
			name: "unsigned bigint extremes", create: "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, s TEXT)",
			both:   []string{"INSERT INTO t VALUES (0, 'a'), (1, 'b'), (18446744073709551614, 'c'), (18446744073709551615, 'd')"},
			target: []string{"UPDATE t SET s = 'x' WHERE id = 18446744073709551615"},
			wants:  []want{{Changed, "18446744073709551615"}}, key: []string{"id"},
		},
		{
			name: "signed bigint extremes", create: "CREATE TABLE t (id BIGINT PRIMARY KEY, s TEXT)",
			both:   []string{"INSERT INTO t VALUES (-9223372036854775808, 'a'), (0, 'b'), (9223372036854775807, 'c')"},
			target: []string{"DELETE FROM t WHERE id = -9223372036854775808"},
			wants:  []want{{Missing, "-9223372036854775808"}}, key: []string{"id"},
		},
		{
			name: "keyless duplicates", create: "CREATE TABLE t (id INT, s TEXT)",
			both:   []string{"INSERT INTO t VALUES (1, 'a'), (1, 'a'), (2, 'b')"},
			target: []string{"INSERT INTO t VALUES (1, 'a'), (1, 'a')"}, // 4 copies vs 2: XOR alone would agree
			wants:  []want{{Extra, "1"}, {Extra, "1"}},
		},
		{
			name: "keyless duplicate swapped", create: "CREATE TABLE t (id INT, s TEXT)",
			both:   []string{"INSERT INTO t VALUES (1, 'a'), (1, 'a'), (2, 'b')"},
			target: []string{"DELETE FROM t WHERE id = 1 LIMIT 1", "INSERT INTO t VALUES (2, 'b')"},
			wants:  []want{{Missing, "1"}, {Extra, "2"}},
		},
		{
			name: "separator in values", create: "CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b TEXT)",
			both:   []string{"INSERT INTO t VALUES (1, 'x#', 'y')"},
			target: []string{"UPDATE t SET a = 'x', b = '#y'"},
			wants:  []want{{Changed, "1"}}, key: []string{"id"},
		},
		{
			name: "null moves between columns", create: "CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b TEXT)",
			both:   []string{"INSERT INTO t VALUES (1, NULL, 'ab')"},
			target: []string{"UPDATE t SET a = 'ab', b = NULL"},
			wants:  []want{{Changed, "1"}}, key: []string{"id"},
		},
		{
			name: "generated column not compared", create: "CREATE TABLE t (id INT PRIMARY KEY, a INT, g INT AS (a * 2) VIRTUAL)",
			both: []string{"INSERT INTO t (id, a) VALUES (1, 1), (2, 2)"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := fmt.Sprintf("edge_%d", i)
			freshSchema(t, schema)
			onBoth(t, schema, tt.create)
			onBoth(t, schema, tt.both...)
			onTarget(t, schema, tt.target...)
			res, err := v.Table(t.Context(), schema, "t", schema, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.wants) == 0 {
				if !res.Equal || len(res.Diffs) != 0 {
					t.Fatalf("want equal, got:\n%s", describe(res))
				}
				return
			}
			checkDiffs(t, res, tt.key, tt.wants)
		})
	}
}

func TestLimits(t *testing.T) {
	freshSchema(t, "limits")
	onBoth(t, "limits",
		"CREATE TABLE keyed (id INT PRIMARY KEY, s TEXT)",
		"INSERT INTO keyed SELECT seq, seq FROM seq_1_to_100",
		"CREATE TABLE keyless (id INT, s TEXT)",
		"INSERT INTO keyless SELECT seq, seq FROM seq_1_to_100")
	onTarget(t, "limits", "DELETE FROM keyed WHERE id % 10 = 0", "UPDATE keyless SET s = 'x' WHERE id = 50")

	t.Run("MaxDiffs", func(t *testing.T) {
		v := newVerifier(t, Config{MaxDiffs: 3, ChunkRows: 10})
		res, err := v.Table(t.Context(), "limits", "keyed", "limits", "keyed")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diffs) != 3 || !res.Truncated || res.Note == "" || res.Equal {
			t.Errorf("diffs = %d truncated = %v note = %q, want 3 and truncated", len(res.Diffs), res.Truncated, res.Note)
		}
	})
	t.Run("WholeDiffRows", func(t *testing.T) {
		v := newVerifier(t, Config{WholeDiffRows: 50})
		res, err := v.Table(t.Context(), "limits", "keyless", "limits", "keyless")
		if err != nil {
			t.Fatal(err)
		}
		if res.Equal || !res.Truncated || len(res.Diffs) != 0 || !strings.Contains(res.Note, "WholeDiffRows") {
			t.Errorf("got equal=%v truncated=%v diffs=%d note=%q, want a table-level difference only", res.Equal, res.Truncated, len(res.Diffs), res.Note)
		}
	})
	t.Run("big keyless table", func(t *testing.T) {
		freshSchema(t, "bigkeyless")
		onBoth(t, "bigkeyless", "CREATE TABLE t (n INT, s TEXT)", "INSERT INTO t SELECT seq, seq FROM seq_1_to_20000")
		v := newVerifier(t, Config{})
		res, err := v.Table(t.Context(), "bigkeyless", "t", "bigkeyless", "t")
		if err != nil || !res.Equal || res.SourceRows != 20000 {
			t.Fatalf("identical: %+v, %v", res, err)
		}
		onTarget(t, "bigkeyless", "UPDATE t SET s = 'x' WHERE n = 12345")
		res, err = v.Table(t.Context(), "bigkeyless", "t", "bigkeyless", "t")
		if err != nil {
			t.Fatal(err)
		}
		if res.Equal || !res.Truncated {
			t.Errorf("one changed row in 20000 keyless: equal=%v truncated=%v", res.Equal, res.Truncated)
		}
	})
}

func TestErrors(t *testing.T) {
	freshSchema(t, "errs")
	src.Exec(t, "CREATE TABLE errs.t (id INT PRIMARY KEY, a INT, b INT)")
	tgt.Exec(t, "CREATE TABLE errs.t (id INT PRIMARY KEY, a INT)")
	onBoth(t, "errs", "CREATE TABLE ok (id INT PRIMARY KEY)", "INSERT INTO ok SELECT seq FROM seq_1_to_10")
	v := newVerifier(t, Config{ChunkRows: 1})

	tests := []struct {
		name     string
		table    string
		ctx      func() context.Context
		throttle error
		want     string
		wantErr  error
	}{
		{name: "missing target column", table: "t", want: "lacks the source column(s) [\"b\"]"},
		{name: "no such table", table: "nope", want: "does not exist"},
		{name: "canceled", table: "ok", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			_, err := v.Table(ctx, "errs", tt.table, "errs", tt.table)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
		})
	}

	t.Run("cancelled mid-run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var calls atomic.Int64
		v := newVerifier(t, Config{ChunkRows: 1, Threads: 2, Throttle: func(context.Context) error {
			if calls.Add(1) == 4 {
				cancel()
			}
			return nil
		}})
		if _, err := v.Table(ctx, "errs", "ok", "errs", "ok"); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
	t.Run("throttle", func(t *testing.T) {
		stop := errors.New("stop now")
		var calls int
		v := newVerifier(t, Config{ChunkRows: 1, Threads: 1, Throttle: func(context.Context) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		}})
		if _, err := v.Table(t.Context(), "errs", "ok", "errs", "ok"); !errors.Is(err, stop) {
			t.Errorf("error = %v, want the throttle's", err)
		}
	})
}

func TestConnectionsClosed(t *testing.T) {
	freshSchema(t, "conns")
	onBoth(t, "conns", "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)", "INSERT INTO t SELECT seq, seq FROM seq_1_to_500")
	onTarget(t, "conns", "UPDATE t SET s = 'x' WHERE id = 250")
	admin := tgt.DB(t)
	count := func() int64 {
		var n int64
		if err := admin.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB IS NULL AND INFO IS NULL AND USER = 'dmkit'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	v, err := New(t.Context(), Config{Source: src.DBConfig(), Target: tgt.DBConfig(), ChunkRows: 50, Threads: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Table(t.Context(), "conns", "t", "conns", "t")
	if err != nil || len(res.Diffs) != 1 {
		t.Fatalf("diffs %v, err %v", res, err)
	}
	if during := count(); during <= before {
		t.Fatalf("idle target connections %d during, %d before: the check sees nothing", during, before)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// The server drops a closed session asynchronously: poll (not a timing assertion).
	for i := 0; count() > before; i++ {
		if i == 100 {
			t.Fatalf("idle target connections %d after Close, %d before", count(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
