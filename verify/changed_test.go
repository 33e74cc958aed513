package verify

import (
	"testing"
)

func TestChangedBetween(t *testing.T) {
	freshSchema(t, "changed")
	onBoth(t, "changed", "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)")
	v := newVerifier(t, Config{Threads: 1})
	pos := func() Position {
		sp, err := v.SnapshotSource(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		return sp.Pos
	}
	from := pos()
	src.Exec(t, "INSERT INTO changed.a VALUES (1)")
	to := pos()
	src.Exec(t, "INSERT INTO changed.b VALUES (1)") // after to: not reported
	ch, err := ChangedBetween(t.Context(), src.DBConfig(), "mariadb", 4242, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Touched("changed", "a") || ch.Touched("changed", "b") {
		t.Errorf("changes %s..%s = %+v, want table a only", from, to, ch)
	}
	src.Exec(t, "ALTER TABLE changed.b ADD COLUMN v INT")
	ddl, err := ChangedBetween(t.Context(), src.DBConfig(), "mariadb", 4242, to, pos())
	if err != nil {
		t.Fatal(err)
	}
	if !ddl.Touched("changed", "b") || !ddl.Touched("changed", "a") {
		t.Errorf("a DDL in the schema must mark it touched: %+v", ddl)
	}
	none, err := ChangedBetween(t.Context(), src.DBConfig(), "mariadb", 4242, from, from)
	if err != nil || none.Touched("changed", "a") {
		t.Errorf("empty range: %+v, %v", none, err)
	}
}
