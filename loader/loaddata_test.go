package loader

import (
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestLoadDataPiece: which statements go the LOAD DATA way, and the data they send.
func TestLoadDataPiece(t *testing.T) {
	prefix := []byte("REPLACE INTO `d`.`t`")
	for _, tc := range []struct {
		name, piece string
		want        string // data sent; "" = INSERT path
	}{
		{"plain", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,'x'),\n(-2.5e3,NULL),\n(3,'it\\'s \\\\ \\0 \\n \\Z \\\" , ) (')", "1,'x'\n-2.5e3,NULL\n3,'it\\'s \\\\ \\0 \\n \\Z \\\" , ) ('\n"},
		{"hex literal", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,0x00ff)", ""},
		{"charset introducer", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,_latin1 0xe9)", ""},
		{"utf8mb4 introducer", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,_utf8mb4'{}')", ""},
		{"negative zero", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,-0)", ""},
		{"negative zero float", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,-0.0e0)", ""},
		{"LIKE escape keeps its backslash in SQL", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,'a\\%b')", ""},
		{"no column list", "REPLACE INTO `d`.`t` VALUES\n(1,'x')", ""},
		{"tuples on the header line", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES (1,'x')", ""},
		{"INSERT verb", "INSERT INTO `d`.`t` (`a`,`b`) VALUES\n(1,'x')", ""},
		{"NULL word glued", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,NULLx)", ""},
		{"expression", "REPLACE INTO `d`.`t` (`a`,`b`) VALUES\n(1,NOW())", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, data, ok := loadDataPiece([]byte(tc.piece), prefix, nil)
			if got := string(data); (tc.want == "") == ok || (ok && got != tc.want) {
				t.Errorf("ok=%v data=%q; want %q", ok, got, tc.want)
			}
		})
	}
}

// TestLoadDataIdentity: on real MariaDB, REPLACE files whose values are plain go through
// LOAD DATA (the target's Com_load counts them) and the target ends identical to the
// source, for awkward strings, numbers, dates and NULLs; statements with hex or charset
// literals in the same file take the INSERT path.
func TestLoadDataIdentity(t *testing.T) {
	cleanSlate(t, "loaddata", "ldata")
	src.Exec(t, `SET SESSION sql_mode = '';
CREATE DATABASE ldata DEFAULT CHARSET utf8mb4;
CREATE TABLE ldata.plain (
  id INT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED, neg INT, d DECIMAL(30,10), f DOUBLE, fl FLOAT,
  s VARCHAR(200), c CHAR(20), tx TEXT, da DATE, dt DATETIME(6), ti TIME, y YEAR,
  e ENUM('a','b'), st SET('x','y'), n INT NULL, z VARCHAR(10) NOT NULL DEFAULT ''
);
INSERT INTO ldata.plain SELECT seq, seq * 1000003, 18446744073709551615 - seq, -seq, seq / 7, seq / 3, seq / 9,
  CONCAT('it''s \\ "q" ,;', seq, '\n),(\r\0', CHAR(26), '€ tab\there NULL \\N \\% _'), IF(seq % 3, 'c', ''),
  REPEAT('long text, ', seq % 20), '2024-02-29', '2024-02-29 12:34:56.123456', '-12:00:01', 2024,
  IF(seq % 2, 'a', 'b'), 'x,y', IF(seq % 4, NULL, seq), IF(seq % 5, 'NULL', '')
FROM mysql.seq_1_to_700;
CREATE TABLE ldata.mixed (id INT PRIMARY KEY, b VARBINARY(10), l VARCHAR(10) CHARACTER SET latin1);
INSERT INTO ldata.mixed SELECT seq, IF(seq % 2, UNHEX('00FF'), ''), IF(seq % 3, CONCAT('caf', CHAR(0xE9)), 'plain') FROM mysql.seq_1_to_200;`)
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, "ldata", "plain", dumpOpts{rowsPerStmt: 50, stmtsPerFile: 4})
	dumpTable(t, openDB(t, src), dir, "ldata", "mixed", dumpOpts{rowsPerStmt: 1, stmtsPerFile: 50})
	tdb := openDB(t, tgt)
	load0 := queryInt(t, tdb, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_LOAD'")
	l := newLoader(t, testConfig(dir, "loaddata"))
	if err := l.LoadDir(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := mysqltest.CompareSchemas(t.Context(), openDB(t, src), "ldata", tdb, "ldata"); err != nil {
		t.Error(err)
	}
	// plain: 700 rows / 50 per statement; mixed (one row per statement): the hex rows (odd
	// ids) are INSERTs, the even ones (empty binary; this test's dumper writes latin1 text as
	// raw quoted bytes) LOAD DATA.
	loads := queryInt(t, tdb, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_LOAD'") - load0
	if want := int64(14 + 100); loads != want {
		t.Errorf("Com_load grew by %d; want %d (every plain statement as LOAD DATA)", loads, want)
	}
}

// TestLoadDataFallback: a value the target cannot store is an error on the INSERT path
// (strict mode); LOAD DATA LOCAL would only warn, so the batch is rolled back and the file
// is loaded with INSERTs, which fail exactly as before, naming the value's problem.
func TestLoadDataFallback(t *testing.T) {
	cleanSlate(t, "ldfall", "ldfall")
	src.Exec(t, `CREATE DATABASE ldfall; CREATE TABLE ldfall.t (id INT PRIMARY KEY, s VARCHAR(20));
INSERT INTO ldfall.t SELECT seq, IF(seq = 40, 'far too long', 'ok') FROM mysql.seq_1_to_60`)
	tgt.Exec(t, `CREATE DATABASE ldfall; CREATE TABLE ldfall.t (id INT PRIMARY KEY, s VARCHAR(5))`)
	dir := t.TempDir()
	dumpTable(t, openDB(t, src), dir, "ldfall", "t", dumpOpts{rowsPerStmt: 10, stmtsPerFile: 10})
	l := newLoader(t, testConfig(dir, "ldfall"))
	err := l.LoadDir(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Data too long") {
		t.Fatalf("LoadDir = %v; want the INSERT path's strict-mode error (Data too long)", err)
	}
	// Nothing of the failing batch is in the target; the checkpoint agrees with the rows.
	if n := queryInt(t, openDB(t, tgt), "SELECT COUNT(*) FROM ldfall.t WHERE id >= 31 AND id <= 40"); n != 0 {
		t.Errorf("%d rows of the failed statement are in the target", n)
	}
}
