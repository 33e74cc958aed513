package loader

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

func TestDeferrableIndexes(t *testing.T) {
	const head = "CREATE TABLE IF NOT EXISTS `d`.`t` (\n"
	const tail = "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	for _, tc := range []struct {
		name       string
		body, tail string
		wantBody   string // "" = unchanged
		wantAdds   []string
	}{
		{
			name:     "sysbench",
			body:     "  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `k` int(11) NOT NULL DEFAULT 0,\n  PRIMARY KEY (`id`),\n  KEY `k_1` (`k`)",
			wantBody: "  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `k` int(11) NOT NULL DEFAULT 0,\n  PRIMARY KEY (`id`)",
			wantAdds: []string{"ADD KEY `k_1` (`k`)"},
		},
		{
			name: "unique, fulltext and options stay; plain keys with options move in order",
			body: "  `a` int(11) DEFAULT NULL,\n  `b` varchar(20) DEFAULT NULL,\n  UNIQUE KEY `u` (`a`),\n" +
				"  KEY `b``x` (`b`(5)) COMMENT 'it''s',\n  KEY `ab` (`a`,`b`) USING BTREE,\n  FULLTEXT KEY `f` (`b`)",
			wantBody: "  `a` int(11) DEFAULT NULL,\n  `b` varchar(20) DEFAULT NULL,\n  UNIQUE KEY `u` (`a`),\n  FULLTEXT KEY `f` (`b`)",
			wantAdds: []string{"ADD KEY `b``x` (`b`(5)) COMMENT 'it''s'", "ADD KEY `ab` (`a`,`b`) USING BTREE"},
		},
		{
			name: "a foreign key keeps everything",
			body: "  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`),\n  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`id`)",
		},
		{
			name: "partitioned tables are left alone",
			body: "  `a` int(11) NOT NULL,\n  KEY `a` (`a`)",
			tail: "\n) ENGINE=InnoDB\n PARTITION BY HASH (`a`)\nPARTITIONS 4",
		},
		{
			name: "an identifier with a newline is left alone",
			body: "  `a\n  KEY x` int(11) DEFAULT NULL,\n  KEY `a` (`a\n  KEY x`)",
		},
		{name: "no plain key", body: "  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)"},
		{name: "only a key", body: "  KEY `a` (`a`)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := tail
			if tc.tail != "" {
				tl = tc.tail
			}
			in := head + tc.body + tl
			base, keys := deferrableIndexes(in)
			var adds []string
			for _, k := range keys {
				adds = append(adds, "ADD "+k.def)
				if !strings.HasPrefix(k.def, "KEY `"+strings.ReplaceAll(k.name, "`", "``")+"` (") {
					t.Errorf("index name %q does not match its definition %q", k.name, k.def)
				}
			}
			want := in
			if tc.wantBody != "" {
				want = head + tc.wantBody + tl
			}
			if base != want {
				t.Errorf("base =\n%s\nwant\n%s", base, want)
			}
			if !slices.Equal(adds, tc.wantAdds) {
				t.Errorf("adds = %q, want %q", adds, tc.wantAdds)
			}
		})
	}
	if _, keys := deferrableIndexes(head + "  `b` int,\n  KEY `b``x` (`b`)" + tail); len(keys) != 1 || keys[0].name != "b`x" {
		t.Errorf("keys = %q, want one named b`x", keys)
	}
}

// TestDeferredIndexes loads tables with DeferIndexes: the target table ends with the
// source's definition (CompareSchemas compares SHOW CREATE TABLE) and rows; a load cut
// short by a bad row leaves the table without its plain indexes and the mark in the
// checkpoints, and the resumed load adds them. A table with a foreign key, and a table
// that existed before the load, keep their definitions throughout.
func TestDeferredIndexes(t *testing.T) {
	cleanSlate(t, "defer", "defx")
	src.Exec(t, `CREATE DATABASE defx DEFAULT CHARSET utf8mb4;
CREATE TABLE defx.sb (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(30) NOT NULL DEFAULT '',
  u INT, PRIMARY KEY (id), UNIQUE KEY uq (u), KEY k_1 (k), KEY kc (k, c(10)) COMMENT 'two ''cols''');
INSERT INTO defx.sb (k, c, u) SELECT seq % 97, CONCAT('row ', seq), seq FROM mysql.seq_1_to_3000;
CREATE TABLE defx.parent (id INT PRIMARY KEY, v INT, KEY v (v));
INSERT INTO defx.parent SELECT seq, seq FROM mysql.seq_1_to_50;
CREATE TABLE defx.child (id INT PRIMARY KEY, p INT, KEY p (p), CONSTRAINT fk FOREIGN KEY (p) REFERENCES defx.parent (id));
INSERT INTO defx.child SELECT seq, seq % 50 + 1 FROM mysql.seq_1_to_200;
CREATE TABLE defx.pre (id INT PRIMARY KEY, v INT, KEY v (v));
INSERT INTO defx.pre SELECT seq, seq FROM mysql.seq_1_to_100;`)
	dir := t.TempDir()
	var sbFiles []string
	for _, tb := range []string{"sb", "parent", "child", "pre"} {
		f := dumpTable(t, openDB(t, src), dir, "defx", tb, dumpOpts{rowsPerStmt: 100, stmtsPerFile: 5})
		if tb == "sb" {
			sbFiles = f
		}
	}
	// defx.pre exists on the target before the load, with another index: not the load's.
	tgt.Exec(t, "CREATE DATABASE defx DEFAULT CHARSET utf8mb4; CREATE TABLE defx.pre (id INT PRIMARY KEY, v INT, KEY other (v, id))")
	preBefore := showCreate(t, "defx", "pre")

	// A row the target refuses in sb's last file stops the load before the ALTER.
	last := filepath.Join(dir, sbFiles[len(sbFiles)-1])
	good, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), "VALUES\n(", "VALUES\n('not a number',", 1)
	if err := os.WriteFile(last, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir, "defer")
	cfg.DeferIndexes = true
	cfg.MaxRetries = 1
	ctx := t.Context()
	if err := newLoader(t, cfg).LoadDir(ctx); err == nil {
		t.Fatal("load with a bad row succeeded")
	}
	tg := openDB(t, tgt)
	indexes := func(table string) []string {
		t.Helper()
		return mysqltest.QueryStrings(t, tg, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'defx' AND TABLE_NAME = ?", table)
	}
	if got := indexes("sb"); !slices.Equal(got, []string{"PRIMARY", "uq"}) {
		t.Errorf("indexes of sb during the load = %q, want PRIMARY and uq only (k_1, kc deferred)", got)
	}
	if got := indexes("child"); !slices.Equal(got, []string{"PRIMARY", "p"}) {
		t.Errorf("indexes of child (foreign key) = %q, want PRIMARY and p", got)
	}
	if n := queryInt(t, tg, "SELECT COUNT(*) FROM dm_meta.defer_loader_checkpoint WHERE filename LIKE 'deferred-index:%'"); n != 2 {
		t.Errorf("%d deferred-index marks, want 2 (sb, parent)", n)
	}
	l := newLoader(t, cfg)
	if done, err := l.Done(ctx); err != nil || done {
		t.Errorf("Done with indexes pending = %v, %v; want false", done, err)
	}
	if err := l.ResetForRedo(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, tg, "SELECT COUNT(*) FROM dm_meta.defer_loader_checkpoint WHERE filename LIKE 'deferred-index:%'"); n != 2 {
		t.Errorf("%d deferred-index marks after ResetForRedo, want 2", n)
	}

	// Resumed with the good file, the load adds the indexes.
	if err := os.WriteFile(last, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.LoadDir(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"sb", "parent", "child"} {
		if got, want := showCreate(t, "defx", tb), showCreateOn(t, openDB(t, src), "defx", tb); got != want {
			t.Errorf("target %s =\n%s\nwant the source's\n%s", tb, got, want)
		}
		compareTables(t, "defx", tb, "defx", tb)
	}
	if got := showCreate(t, "defx", "pre"); got != preBefore {
		t.Errorf("pre-existing table changed:\n%s\nwas\n%s", got, preBefore)
	}
	if n := queryInt(t, tg, "SELECT COUNT(*) FROM dm_meta.defer_loader_checkpoint WHERE filename LIKE 'deferred-index:%'"); n != 0 {
		t.Errorf("%d deferred-index marks after the load, want 0", n)
	}
	if done, err := l.Done(ctx); err != nil || !done {
		t.Errorf("Done after the load = %v, %v; want true", done, err)
	}
}

// showCreate is SHOW CREATE TABLE on the target.
func showCreate(t testing.TB, schema, table string) string {
	t.Helper()
	return showCreateOn(t, openDB(t, tgt), schema, table)
}

// showCreateOn is SHOW CREATE TABLE of schema.table on db.
func showCreateOn(t testing.TB, db *sql.DB, schema, table string) string {
	t.Helper()
	var n, create string
	if err := db.QueryRow("SHOW CREATE TABLE "+sqlq.QuoteTable(schema, table)).Scan(&n, &create); err != nil {
		t.Fatal(err)
	}
	return create
}
