package syncer

import (
	"testing"
)

// typeColumns covers every column type the syncer decodes, with edge values below.
const typeColumns = `
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d1 DECIMAL(65,30), d2 DECIMAL(10,2), f FLOAT, dbl DOUBLE,
  dt DATE, tm TIME(3), dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(3) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL, y YEAR,
  b1 BIT(1), b64 BIT(64), bn BINARY(4), vb VARBINARY(20), bl BLOB,
  vc VARCHAR(40) CHARACTER SET utf8mb4, l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT, ch CHAR(5),
  e ENUM('a','b','c'), st SET('x','y','z'), j JSON,
  g INT AS (i + 1) VIRTUAL, gs VARCHAR(50) AS (CONCAT(vc, '!')) STORED`

var typeRows = []string{
	`(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
	  '-12345678901234567890123456789.123456789012345678901234567891', -99999999.99, -3.4e38, -1.7976931348623157e308,
	  '1000-01-01', '-838:59:59.000', '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1970-01-01 00:00:01.000', '1970-01-01 00:00:01', 1901,
	  0, 0, X'00', X'', X'',
	  '', '', '', '', 'a', '', '{}')`,
	`(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
	  '12345678901234567890123456789.123456789012345678901234567891', 99999999.99, 3.4e38, 1.7976931348623157e308,
	  '9999-12-31', '838:59:59.999', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '2038-01-19 03:14:07.999', '2038-01-19 03:14:07', 2155,
	  1, 18446744073709551615, X'01020000', X'00275C220D0A1AFF', X'DEADBEEF00',
	  'emoji 😀 ünï ''quoted'' \\ back', 'caf\xe9 na\xefve', 'line1\nline2\ttab', 'ab', 'c', 'x,z', '{"a": [1, 2.5, "s"], "b": null, "c": {"d": true}}')`,
	`(3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
	  0.5, 0.01, 1.1, 0.1,
	  '0000-00-00', '00:00:00.001', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '2001-02-03 04:05:06.789', '2001-02-03 04:05:06', 0,
	  1, 5, X'FF', X'41', X'00',
	  'plain', 'abc', '', 'x', 'b', 'x,y,z', '[1, "two", 3.0]')`,
	`(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

func TestTypes(t *testing.T) {
	const db = "s_types"
	setupSchema(t, db,
		"CREATE TABLE pk (id INT PRIMARY KEY,"+typeColumns+")",
		"CREATE TABLE nopk (id INT,"+typeColumns+")",
	)
	r, stop := startSyncer(t, newTask(t, "types", db))
	// A non-UTC session time zone exercises TIMESTAMP conversion; an empty sql_mode
	// allows zero dates.
	session := "USE " + db + "; SET time_zone='+05:30'; SET sql_mode='';"
	for _, tbl := range []string{"pk", "nopk"} {
		for _, row := range typeRows {
			src.Exec(t, session+"INSERT INTO "+tbl+" (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d1, d2, f, dbl, dt, tm, dtm, dtm0, ts, ts0, y, b1, b64, bn, vb, bl, vc, l1, tx, ch, e, st, j) VALUES "+row)
		}
	}
	waitSynced(t, r, db)
	// Updates and deletes find the rows by every column (nopk) or the key (pk).
	for _, tbl := range []string{"pk", "nopk"} {
		src.Exec(t, session+"UPDATE "+tbl+" SET vc = CONCAT(COALESCE(vc,''), '+') WHERE id IN (1,2,3,4)")
		src.Exec(t, session+"UPDATE "+tbl+" SET f = 2.5, ts = '2020-06-01 12:00:00.5' WHERE id = 3")
		src.Exec(t, session+"DELETE FROM "+tbl+" WHERE id = 1")
	}
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Spot checks on the target, beyond the checksums.
	dstDB := dst.DB(t)
	for q, want := range map[string]string{
		"SELECT COUNT(*) FROM " + db + ".nopk":                                                 "3",
		"SELECT biu FROM " + db + ".pk WHERE id = 2":                                           "18446744073709551615",
		"SELECT HEX(b64) FROM " + db + ".pk WHERE id = 2":                                      "FFFFFFFFFFFFFFFF",
		"SELECT HEX(bn) FROM " + db + ".pk WHERE id = 3":                                       "FF000000",
		"SELECT HEX(vb) FROM " + db + ".nopk WHERE id = 2":                                     "00275C220D0A1AFF",
		"SELECT vc FROM " + db + ".pk WHERE id = 2":                                            "emoji 😀 ünï 'quoted' \\ back+",
		"SELECT CONVERT_TZ(ts, @@session.time_zone, '+00:00') FROM " + db + ".pk WHERE id = 3": "2020-06-01 06:30:00.500",
		"SELECT st FROM " + db + ".pk WHERE id = 3":                                            "x,y,z",
		"SELECT tm FROM " + db + ".pk WHERE id = 3":                                            "00:00:00.001",
	} {
		got := queryString(t, dstDB, q)
		if got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
}
