package dumper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dumpfile"
)

// Issue 11: the task timezone is the dump session's zone, as in DM: TIMESTAMP values are
// written in it, and each data file says so for whoever loads it.
func TestTimeZone(t *testing.T) {
	src.Exec(t, `DROP DATABASE IF EXISTS dmp_tz; CREATE DATABASE dmp_tz;
		CREATE TABLE dmp_tz.t (id INT PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME);
		SET time_zone = '+00:00';
		INSERT INTO dmp_tz.t VALUES (1, '2026-03-01 00:00:00', '2026-03-01 00:00:00'), (2, '2026-10-25 01:30:00', '2026-10-25 01:30:00'), (3, NULL, NULL);
		SET time_zone = DEFAULT`)
	dir := t.TempDir()
	d := newDumper(t, Config{Tables: inSchemas("dmp_tz"), Dir: dir, TimeZone: "+08:00"})
	if _, err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, dumpfile.DataName("dmp_tz", "t", 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/*!40103 SET TIME_ZONE='+08:00'*/;", "'2026-03-01 08:00:00','2026-03-01 00:00:00'", "'2026-10-25 09:30:00','2026-10-25 01:30:00'"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("data file lacks %q:\n%s", want, b)
		}
	}
	// Loaded by a session that starts in UTC, the file's own SET keeps the instants.
	dst.Exec(t, "DROP DATABASE IF EXISTS dmp_tz")
	loadDump(t, dir, false)
	compareTables(t, inSchemas("dmp_tz"), "dmp_tz")

	if _, err := New(Config{Dir: t.TempDir(), TimeZone: "Asia/Shanghai"}); err == nil {
		t.Error("a named time zone was accepted")
	}
}
