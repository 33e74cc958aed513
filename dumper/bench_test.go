package dumper

import (
	"testing"
	"time"
)

// BenchmarkDump dumps a generated 200 000-row table (~40 MB of SQL) with the default
// threads, file and statement sizes, and reports the output rate.
func BenchmarkDump(b *testing.B) {
	src.Exec(b, `DROP DATABASE IF EXISTS dmp_bench; CREATE DATABASE dmp_bench; USE dmp_bench;
		CREATE TABLE bench (id BIGINT PRIMARY KEY, n INT, name VARCHAR(64), created DATETIME(6),
			amount DECIMAL(12,2), ratio DOUBLE, note TEXT, blob_col VARBINARY(32));
		INSERT INTO bench SELECT seq, seq % 1000, CONCAT('name-', seq, '-', MD5(seq)),
			'2020-01-01' + INTERVAL seq SECOND, seq / 100, seq / 7,
			REPEAT('note with ''quotes'' and \\backslashes ', 3), UNHEX(MD5(seq))
		FROM seq_1_to_200000;
		ANALYZE TABLE bench`)
	var bytes, secs float64
	for b.Loop() {
		d := newDumper(b, Config{Tables: inSchemas("dmp_bench"), Dir: b.TempDir(), ChunkRows: 50_000})
		start := time.Now()
		if _, err := d.Run(b.Context()); err != nil {
			b.Fatal(err)
		}
		secs += time.Since(start).Seconds()
		p := d.Progress()
		bytes += p.FinishedBytes
		b.SetBytes(int64(p.FinishedBytes))
	}
	b.ReportMetric(bytes/secs/1e6, "MB/s")
	b.ReportMetric(float64(200_000*b.N)/secs, "rows/s")
}
