package syncer

import (
	"testing"

	"github.com/pingcap/tidb/pkg/parser"
	tmysql "github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/dmkit/dmkit/router"
)

func TestAppendLiteral(t *testing.T) {
	col := func(tp byte, unsigned bool, charset string, binary bool) *colInfo {
		return &colInfo{name: "c", tp: tp, unsigned: unsigned, charset: charset, binary: binary}
	}
	enum := &colInfo{tp: tmysql.TypeEnum, elems: []string{"a", "b"}, charset: "utf8mb4"}
	set := &colInfo{tp: tmysql.TypeSet, elems: []string{"x", "y", "z"}, charset: "utf8mb4"}
	for _, tc := range []struct {
		v    any
		c    *colInfo
		want string
	}{
		{nil, col(tmysql.TypeLong, false, "", false), "NULL"},
		{int8(-1), col(tmysql.TypeTiny, true, "", false), "255"},
		{int16(-1), col(tmysql.TypeShort, true, "", false), "65535"},
		{int32(-1), col(tmysql.TypeInt24, true, "", false), "16777215"},
		{int32(-1), col(tmysql.TypeLong, true, "", false), "4294967295"},
		{int64(-1), col(tmysql.TypeLonglong, true, "", false), "18446744073709551615"},
		{int64(-5), col(tmysql.TypeLonglong, false, "", false), "-5"},
		{int64(-1), col(tmysql.TypeBit, false, "", false), "18446744073709551615"},
		{float32(1.1), col(tmysql.TypeFloat, false, "", false), "1.100000023841858"},
		{float64(0.1), col(tmysql.TypeDouble, false, "", false), "0.1"},
		{"-12.50", col(tmysql.TypeNewDecimal, false, "", false), "-12.50"},
		{"it's \\ \x00\n", col(tmysql.TypeVarchar, false, "utf8mb4", false), `'it\'s \\ \0\n'`},
		{"caf\xe9", col(tmysql.TypeVarchar, false, "latin1", false), "_latin1 X'636166e9'"},
		{"\x01", col(tmysql.TypeString, false, "binary", true), "X'01'"}, // flen 0: no padding
		{[]byte{0xff, 0}, col(tmysql.TypeBlob, false, "", true), "X'ff00'"},
		{[]byte(""), col(tmysql.TypeBlob, false, "", true), "''"},
		{"2020-01-02 03:04:05.5", col(tmysql.TypeTimestamp, false, "", false), "'2020-01-02 03:04:05.5'"},
		{int64(2), enum, "'b'"},
		{int64(0), enum, "''"},
		{int64(5), set, "'x,z'"},
	} {
		got, err := appendLiteral(nil, tc.v, tc.c)
		if err != nil {
			t.Errorf("%#v: %v", tc.v, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%#v (type %d): got %s, want %s", tc.v, tc.c.tp, got, tc.want)
		}
	}
	padded := &colInfo{tp: tmysql.TypeString, binary: true, flen: 4}
	if got, _ := appendLiteral(nil, "\x01", padded); string(got) != "X'01000000'" {
		t.Errorf("BINARY(4) padding: got %s", got)
	}
}

func TestCompareLocations(t *testing.T) {
	for _, tc := range []struct {
		a, b position
		want int
	}{
		{position{"mysql-bin.000009", 100}, position{"mysql-bin.000010", 4}, -1},
		{position{"mysql-bin.000010", 100}, position{"mysql-bin.000010", 4}, 1},
		{position{"mysql-bin.000010", 4}, position{"mysql-bin.000010", 4}, 0},
		{position{"", 0}, position{"mysql-bin.000001", 4}, -1},
	} {
		if got := tc.a.compare(tc.b); got != tc.want {
			t.Errorf("%v vs %v: got %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if (changePos{"f.1", 10, 2}).compare(changePos{"f.1", 10, 3}) >= 0 {
		t.Error("row index not ordered")
	}
}

func TestGTIDState(t *testing.T) {
	g, err := newGTIDState("mariadb", "0-1-5,1-2-7")
	if err != nil {
		t.Fatal(err)
	}
	g.begin("0-1-6")
	if got := g.String(); got != "0-1-5,1-2-7" {
		t.Errorf("before commit: %s", got)
	}
	g.commit()
	g.begin("1-3-8")
	g.commit()
	if got := g.String(); got != "0-1-6,1-3-8" {
		t.Errorf("after commits: %s", got)
	}
	m, err := newGTIDState("mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
	if err != nil {
		t.Fatal(err)
	}
	m.begin("3e11fa47-71ca-11e1-9e33-c80aa9429562:6")
	m.commit()
	if got := m.String(); got != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6" {
		t.Errorf("mysql set: %s", got)
	}
}

func testTable(compactable bool) *tableInfo {
	ti := &tableInfo{
		target: "`d`.`t`",
		cols: []colInfo{
			{name: "id", quoted: "`id`", tp: tmysql.TypeLong},
			{name: "v", quoted: "`v`", tp: tmysql.TypeVarchar, charset: "utf8mb4"},
		},
		writable: []int{0, 1}, handle: []int{0}, uniqueHandle: true,
		keys: [][]int{{0}}, compactable: compactable, insertCols: "(`id`,`v`)",
	}
	return ti
}

func TestCompactAndBuild(t *testing.T) {
	ti := testTable(true)
	row := func(id int32, v string) []any { return []any{id, v} }
	ins := func(id int32, v string) *change { return &change{kind: kindInsert, table: ti, new: row(id, v)} }
	upd := func(id int32, o, n string) *change {
		return &change{kind: kindUpdate, table: ti, old: row(id, o), new: row(id, n)}
	}
	del := func(id int32, v string) *change { return &change{kind: kindDelete, table: ti, old: row(id, v)} }
	for _, tc := range []struct {
		name  string
		batch []*change
		safe  bool
		want  []string
	}{
		{"insert+update", []*change{ins(1, "a"), upd(1, "a", "b"), ins(2, "c")},
			false, []string{"INSERT INTO `d`.`t` (`id`,`v`) VALUES (1,'b'),(2,'c')"}},
		{"insert+delete", []*change{ins(1, "a"), del(1, "a")},
			false, []string{"DELETE FROM `d`.`t` WHERE `id` IN (1)"}},
		{"update+update", []*change{upd(1, "a", "b"), upd(1, "b", "c")},
			false, []string{"UPDATE `d`.`t` SET `id`=1,`v`='c' WHERE `id`=1"}},
		{"delete+insert", []*change{del(1, "a"), ins(1, "z")},
			false, []string{"REPLACE INTO `d`.`t` (`id`,`v`) VALUES (1,'z')"}},
		{"deletes", []*change{del(1, "a"), del(2, "b")},
			false, []string{"DELETE FROM `d`.`t` WHERE `id` IN (1,2)"}},
		{"safe update", []*change{{kind: kindUpdate, table: ti, old: row(1, "a"), new: row(2, "a")}},
			true, []string{"DELETE FROM `d`.`t` WHERE `id` IN (1)", "REPLACE INTO `d`.`t` (`id`,`v`) VALUES (2,'a')"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.batch {
				c.safe = tc.safe
			}
			compact(tc.batch, map[string]int{}, nil)
			b := sqlBuilder{onDuplicate: OnDuplicateError}
			stmts, err := b.build(tc.batch, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range stmts {
				got = append(got, s.sql)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("statement %d: got %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCausality(t *testing.T) {
	r := &run{}
	ws := []*worker{newWorker(r, 0, &pubLoc{}), newWorker(r, 1, &pubLoc{})}
	c := newCausality(ws)
	w1, wait := c.assign([]string{"a"}, 1, nil)
	if len(wait) != 0 {
		t.Fatal("unexpected wait")
	}
	other := 1 - w1
	// Bind "b" to the other worker explicitly, then a change touching a and b conflicts.
	c.bindings["b"] = binding{worker: other, seq: 2}
	w, wait := c.assign([]string{"a", "b"}, 3, nil)
	if w != w1 || len(wait) != 1 || wait[0].worker != other || wait[0].seq != 2 {
		t.Fatalf("conflict: worker %d wait %v", w, wait)
	}
	// Once the other worker committed seq 2, its binding no longer constrains.
	ws[other].appliedSeq.Store(2)
	c.bindings["c"] = binding{worker: other, seq: 2}
	if _, wait := c.assign([]string{"a", "c"}, 4, nil); len(wait) != 0 {
		t.Fatalf("stale binding caused a wait: %v", wait)
	}
}

func TestRouteDDL(t *testing.T) {
	rt, err := router.New([]router.Rule{{SchemaPattern: "src", TablePattern: "t_*", TargetSchema: "dst", TargetTable: "t"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: Config{Route: rt.Route}, parser: newTestParser()}
	for _, tc := range []struct {
		sql, def string
		want     []string
	}{
		{"ALTER TABLE t_1 ADD COLUMN c INT", "src", []string{"ALTER TABLE `dst`.`t` ADD COLUMN `c` INT"}},
		{"alter table other add column c int", "src", []string{"alter table other add column c int"}},
		{"DROP TABLE t_1, x", "src", []string{"DROP TABLE `dst`.`t`", "DROP TABLE `src`.`x`"}},
		{"RENAME TABLE a TO b, c TO d", "src", []string{"RENAME TABLE `src`.`a` TO `src`.`b`", "RENAME TABLE `src`.`c` TO `src`.`d`"}},
	} {
		stmts, _, err := r.parser.Parse(tc.sql, "", "")
		if err != nil {
			t.Fatal(err)
		}
		parts := splitDDL(stmts[0])
		if len(parts) != len(tc.want) {
			t.Fatalf("%s: %d parts", tc.sql, len(parts))
		}
		for i, p := range parts {
			qualify(p, tc.def)
			d := &ddlStmt{node: p}
			d.schema, d.table = ddlTarget(p)
			got, _, err := r.routeDDL(d, tc.sql, len(parts) == 1)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want[i] {
				t.Errorf("%s part %d: got %s, want %s", tc.sql, i, got, tc.want[i])
			}
		}
	}
}

func TestStatusTimeZone(t *testing.T) {
	// Q_FLAGS2 (4 bytes), Q_SQL_MODE (8), Q_CATALOG_NZ "std", Q_TIME_ZONE "+08:00".
	vars := []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 3, 's', 't', 'd', 5, 6, '+', '0', '8', ':', '0', '0'}
	if got := statusTimeZone(vars); got != "+08:00" {
		t.Errorf("got %q", got)
	}
	if got := statusTimeZone([]byte{0x80, 1, 2}); got != "" {
		t.Errorf("unknown code: got %q", got)
	}
}

func newTestParser() *parser.Parser { return parser.New() }
