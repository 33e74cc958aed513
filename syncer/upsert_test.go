package syncer

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestUpsertBuild shows which UPDATEs become upserts and how a batch is grouped per
// table: only handle-keeping updates of tables whose handle is their only unique key, and
// regrouping only when every op touches a different row.
func TestUpsertBuild(t *testing.T) {
	a := testTable(true)
	b := testTable(true)
	b.target = "`d`.`b`"
	uk := testTable(false) // a second unique key: not compactable, never an upsert
	uk.target = "`d`.`uk`"
	row := func(id int32, v string) []any { return []any{id, v} }
	upd := func(ti *tableInfo, id int32, o, n string) *change {
		return &change{kind: kindUpdate, table: ti, old: row(id, o), new: row(id, n)}
	}
	move := func(ti *tableInfo, from, to int32) *change {
		return &change{kind: kindUpdate, table: ti, old: row(from, "m"), new: row(to, "m")}
	}
	ins := func(ti *tableInfo, id int32) *change { return &change{kind: kindInsert, table: ti, new: row(id, "i")} }
	del := func(ti *tableInfo, id int32) *change { return &change{kind: kindDelete, table: ti, old: row(id, "d")} }
	const upsA = "INSERT INTO `d`.`t` (`id`,`v`) VALUES "
	const tail = " ON DUPLICATE KEY UPDATE `v`=VALUES(`v`)"
	for _, tc := range []struct {
		name    string
		batch   []*change
		regroup bool
		want    []string
	}{
		{"updates become one upsert", []*change{upd(a, 1, "a", "b"), upd(a, 2, "a", "c")}, true,
			[]string{upsA + "(1,'b'),(2,'c')" + tail}},
		{"a handle change stays an UPDATE", []*change{move(a, 1, 5)}, true,
			[]string{"UPDATE `d`.`t` SET `id`=5,`v`='m' WHERE `id`=1"}},
		{"a second unique key keeps UPDATEs", []*change{upd(uk, 1, "a", "b"), upd(uk, 2, "a", "c")}, true,
			[]string{"UPDATE `d`.`uk` SET `id`=1,`v`='b' WHERE `id`=1", "UPDATE `d`.`uk` SET `id`=2,`v`='c' WHERE `id`=2"}},
		{"distinct rows regroup per table and kind", []*change{
			upd(a, 1, "a", "b"), upd(b, 7, "a", "b"), ins(a, 3), upd(a, 2, "a", "c"), del(b, 8), ins(a, 4), upd(b, 9, "a", "c")}, true,
			[]string{upsA + "(1,'b'),(2,'c')" + tail,
				"INSERT INTO `d`.`b` (`id`,`v`) VALUES (7,'b'),(9,'c') ON DUPLICATE KEY UPDATE `v`=VALUES(`v`)",
				"INSERT INTO `d`.`t` (`id`,`v`) VALUES (3,'i'),(4,'i')",
				"DELETE FROM `d`.`b` WHERE `id` IN (8)"}},
		{"no regrouping with foreign key checks", []*change{upd(a, 1, "a", "b"), ins(a, 3), upd(a, 2, "a", "c")}, false,
			[]string{upsA + "(1,'b')" + tail, "INSERT INTO `d`.`t` (`id`,`v`) VALUES (3,'i')", upsA + "(2,'c')" + tail}},
		{"a row touched twice keeps the order", []*change{upd(a, 1, "a", "b"), move(a, 3, 1), upd(a, 2, "a", "c")}, true,
			[]string{upsA + "(1,'b')" + tail, "UPDATE `d`.`t` SET `id`=1,`v`='m' WHERE `id`=3", upsA + "(2,'c')" + tail}},
		{"a table that is not compactable keeps the order", []*change{upd(a, 1, "a", "b"), ins(uk, 3), upd(a, 2, "a", "c")}, true,
			[]string{upsA + "(1,'b')" + tail, "INSERT INTO `d`.`uk` (`id`,`v`) VALUES (3,'i')", upsA + "(2,'c')" + tail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bld := sqlBuilder{onDuplicate: OnDuplicateError, upsert: true, regroup: tc.regroup}
			stmts, err := bld.build(tc.batch, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range stmts {
				got = append(got, s.sql)
				if s.op == opUpsert && s.upserts != strings.Count(s.sql, "),(")+1 {
					t.Errorf("%s: upserts = %d", s.sql, s.upserts)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestUpsertable: the conditions under which a table's UPDATEs may be upserts.
func TestUpsertable(t *testing.T) {
	onlyKey := testTable(true)
	onlyKey.cols = onlyKey.cols[:1]
	onlyKey.writable = []int{0}
	genKey := testTable(true)
	genKey.writable = []int{1}
	for _, tc := range []struct {
		name string
		ti   *tableInfo
		want bool
	}{
		{"primary key only unique key", testTable(true), true},
		{"second unique key", testTable(false), false},
		{"nothing but the key", onlyKey, false},
		{"generated key column", genKey, false},
	} {
		if got := tc.ti.upsertable(); got != tc.want {
			t.Errorf("%s: upsertable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestUpsertEquivalence: on real MariaDB, batches whose UPDATEs are written as upserts
// (and regrouped per table) leave the target exactly as the source, including primary-key
// moves, a second unique key, repeated updates of one row and shard-like interleaving of
// tables; and a row missing on the target stays missing (the batch falls back to plain
// UPDATEs, as DM leaves it), a row already equal to the new image stays right.
func TestUpsertEquivalence(t *testing.T) {
	type step struct{ src, dst string } // dst: a change made on the target alone first
	for _, tc := range []struct {
		name  string
		steps []step
		// missing: ids of t the target must lack at the end (else target = source)
		missing string
		// upsertsOnly: the target ran no UPDATE statement (Com_update unchanged)
		upsertsOnly bool
	}{
		{name: "updates", steps: []step{{src: bulk(func(i int) string {
			return fmt.Sprintf("UPDATE t SET v='u%d', k=k+1 WHERE id=%d; UPDATE o SET w=w+%d WHERE id=%d", i, i%40+1, i, i%30+1)
		})}}},
		{name: "pk-only-updates", upsertsOnly: true, steps: []step{{src: bulk(func(i int) string {
			return fmt.Sprintf("UPDATE t SET v='u%d', k=k+1 WHERE id=%d; UPDATE t SET k=k+2 WHERE id=%d", i, i%40+1, (i+7)%40+1)
		})}}},
		{name: "moves-and-mixed", steps: []step{{src: bulk(func(i int) string {
			switch i % 4 {
			case 0:
				return fmt.Sprintf("UPDATE t SET id=id+1000 WHERE id=%d", i/4+1)
			case 1:
				return fmt.Sprintf("UPDATE t SET v='m%d' WHERE id=%d", i, i/4+2)
			case 2:
				return fmt.Sprintf("DELETE FROM t WHERE id=%d; INSERT INTO t VALUES (%d, 'n', 0)", i/4+20, i/4+20)
			}
			return fmt.Sprintf("UPDATE o SET u=u+500, w=%d WHERE id=%d", i, i%30+1)
		})}}},
		{name: "same-row-twice", steps: []step{{src: bulk(func(i int) string {
			return fmt.Sprintf("UPDATE t SET v='a%d' WHERE id=3; UPDATE t SET k=%d WHERE id=3; UPDATE t SET v='b%d' WHERE id=%d", i, i, i, i%40+1)
		})}}},
		{name: "missing-row", steps: []step{{dst: "DELETE FROM t WHERE id=5",
			src: "BEGIN; UPDATE t SET v='x' WHERE id=4; UPDATE t SET v='x' WHERE id=5; UPDATE t SET v='x' WHERE id=6; COMMIT"}},
			missing: "5"},
		{name: "row-already-new", steps: []step{{dst: "UPDATE t SET v='x' WHERE id=8",
			src: "BEGIN; UPDATE t SET v='x' WHERE id=7; UPDATE t SET v='x' WHERE id=8; UPDATE t SET v='x' WHERE id=9; COMMIT"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_upsert_" + strings.ReplaceAll(tc.name, "-", "_")
			var seed strings.Builder
			for i := 1; i <= 40; i++ {
				fmt.Fprintf(&seed, "INSERT INTO t VALUES (%d, 'v%d', %d);", i, i, i)
				if i <= 30 {
					fmt.Fprintf(&seed, "INSERT INTO o VALUES (%d, %d, %d);", i, i, i)
				}
			}
			setupSchema(t, db,
				"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), k INT, KEY (k))",
				"CREATE TABLE o (id INT PRIMARY KEY, u INT, w INT, UNIQUE KEY (u))",
				strings.TrimSuffix(seed.String(), ";"))
			cfg := newTask(t, "upsert_"+strings.ReplaceAll(tc.name, "-", "_"), db)
			cfg.Workers, cfg.Batch = 2, 100
			srcDB, dstDB := src.DB(t), dst.DB(t)
			comUpdate := func() string {
				var name, v string
				if err := dstDB.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_update'").Scan(&name, &v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			updates0 := comUpdate()
			r, stop := startSyncer(t, cfg)
			for _, s := range tc.steps {
				if s.dst != "" {
					dst.Exec(t, "USE "+db+"; "+s.dst)
				}
				src.Exec(t, "USE "+db+"; "+s.src)
			}
			if tc.missing == "" {
				waitSynced(t, r, db)
				if got := comUpdate(); tc.upsertsOnly && got != updates0 {
					t.Errorf("the target ran UPDATE statements (Com_update %s -> %s); want upserts only", updates0, got)
				}
			} else {
				// The target lacks the rows; everything else equals the source.
				q := "SELECT GROUP_CONCAT(id, v, k ORDER BY id) FROM " + db + ".t WHERE id NOT IN (" + tc.missing + ")"
				waitFor(t, r, func() error { return equal(queryString(t, dstDB, q), queryString(t, srcDB, q)) })
				if got := queryString(t, dstDB, "SELECT COUNT(*) FROM "+db+".t WHERE id IN ("+tc.missing+")"); got != "0" {
					t.Errorf("rows %s were inserted on the target (%s); an UPDATE of a missing row must leave it missing", tc.missing, got)
				}
				if err := mysqltest.CompareTables(context.Background(), srcDB, db, "o", dstDB, db, "o"); err != nil {
					t.Error(err)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// bulk is 30 source transactions of the statements f renders, each transaction 3 of them.
func bulk(f func(i int) string) string {
	var sb strings.Builder
	for i := 0; i < 90; i++ {
		if i%3 == 0 {
			sb.WriteString("BEGIN;")
		}
		sb.WriteString(f(i) + ";")
		if i%3 == 2 {
			sb.WriteString("COMMIT;")
		}
	}
	return sb.String()
}
