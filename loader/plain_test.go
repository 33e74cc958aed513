package loader

import (
	"log/slog"
	"testing"
)

// comReplace is the target's count of REPLACE statements so far (the tests run one at a
// time, so a difference is this load's).
func comReplace(t *testing.T) int64 {
	t.Helper()
	var name string
	var n int64
	if err := openDB(t, tgt).QueryRowContext(t.Context(), "SHOW GLOBAL STATUS LIKE 'Com_replace'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPlainInsertFirst checks which statements on_duplicate "replace" sends: plain INSERT
// into a table the load created or found empty, REPLACE into a populated one — and that
// a conflict met on the fast path still ends with REPLACE's rows.
func TestPlainInsertFirst(t *testing.T) {
	cleanSlate(t, "plain", "plain_src", "plain_shard1", "plain_shard2")
	src.Exec(t, "CREATE DATABASE plain_src; CREATE TABLE plain_src.t (id INT PRIMARY KEY, v VARCHAR(10)); "+
		"INSERT INTO plain_src.t SELECT seq, 'new' FROM mysql.seq_1_to_300")
	// Two shards whose keys overlap on 101..200: merged with REPLACE, shard2's rows win
	// there (files load in name order with one thread).
	src.Exec(t, "CREATE DATABASE plain_shard1; CREATE TABLE plain_shard1.t (id INT PRIMARY KEY, v VARCHAR(10)); "+
		"INSERT INTO plain_shard1.t SELECT seq, 'shard1' FROM mysql.seq_1_to_200; "+
		"CREATE DATABASE plain_shard2; CREATE TABLE plain_shard2.t (id INT PRIMARY KEY, v VARCHAR(10)); "+
		"INSERT INTO plain_shard2.t SELECT seq, 'shard2' FROM mysql.seq_101_to_300")
	single, merged := t.TempDir(), t.TempDir()
	dumpTable(t, openDB(t, src), single, "plain_src", "t", dumpOpts{rowsPerStmt: 25, stmtsPerFile: 4})
	for _, sh := range []string{"plain_shard1", "plain_shard2"} {
		dumpTable(t, openDB(t, src), merged, sh, "t", dumpOpts{rowsPerStmt: 25, stmtsPerFile: 4})
	}

	tests := []struct {
		name      string
		dir       string
		onDup     string
		setup     string // run on the target before the load (schema plain_<name> exists)
		want      string // v by id range, as "count:v" groups ordered by id
		replaces  bool   // REPLACE statements expected
		conflicts int    // fallbacks to REPLACE expected (at least)
	}{
		{name: "created", dir: single, onDup: "replace", want: "300:new"},
		{name: "empty", dir: single, onDup: "replace", setup: "CREATE TABLE plain_empty.t (id INT PRIMARY KEY, v VARCHAR(10))", want: "300:new"},
		{name: "populated", dir: single, onDup: "replace", replaces: true,
			setup: "CREATE TABLE plain_populated.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO plain_populated.t VALUES (2, 'old'), (900, 'old')",
			want:  "300:new,1:old"},
		{name: "merged", dir: merged, onDup: "replace", replaces: true, conflicts: 1, want: "100:shard1,200:shard2"},
		{name: "ignore", dir: single, onDup: "ignore",
			setup: "CREATE TABLE plain_ignore.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO plain_ignore.t VALUES (2, 'old')",
			want:  "1:new,1:old,298:new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "plain_" + tt.name
			task := "plain_" + tt.name
			cleanSlate(t, task, target)
			if tt.setup != "" {
				tgt.Exec(t, "CREATE DATABASE "+target+"; "+tt.setup)
			}
			rec := &logRecorder{}
			cfg := testConfig(tt.dir, task)
			cfg.Threads = 1
			cfg.OnDuplicate = tt.onDup
			cfg.Logger = slog.New(rec)
			cfg.Route = func(schema, table string) (string, string, error) { return target, table, nil }
			before := comReplace(t)
			if err := newLoader(t, cfg).LoadDir(t.Context()); err != nil {
				t.Fatal(err)
			}
			replaces := comReplace(t) - before
			if tt.replaces != (replaces > 0) {
				t.Errorf("%d REPLACE statements; want REPLACE: %v", replaces, tt.replaces)
			}
			if n := rec.count("plain INSERT met an existing key; loading the table with REPLACE from here"); n < tt.conflicts || (tt.conflicts == 0 && n > 0) {
				t.Errorf("%d fallbacks to REPLACE, want %d", n, tt.conflicts)
			}
			got := ""
			rows, err := openDB(t, tgt).QueryContext(t.Context(), "SELECT v FROM "+target+".t ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			prev, run := "", 0
			flush := func() {
				if run > 0 {
					if got != "" {
						got += ","
					}
					got += itoa(int64(run)) + ":" + prev
				}
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if v != prev {
					flush()
					prev, run = v, 0
				}
				run++
			}
			flush()
			if got != tt.want {
				t.Errorf("rows = %s, want %s", got, tt.want)
			}
			if tt.name == "created" || tt.name == "empty" {
				compareTables(t, "plain_src", "t", target, "t")
			}
		})
	}
}
