package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/dumpfile"
)

// writeBenchDump writes a sysbench-like table (about 190 bytes a row) of rows rows into
// dir: files of filesRows rows, statements of stmtRows rows. It returns the data bytes.
func writeBenchDump(b *testing.B, dir string, rows, fileRows, stmtRows int) int64 {
	b.Helper()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write(dumpfile.SchemaCreateName("bench"), preamble+"CREATE DATABASE `bench`;\n")
	write(dumpfile.TableSchemaName("bench", "sbtest"), preamble+"CREATE TABLE `sbtest` (\n  `id` int(11) NOT NULL,\n"+
		"  `k` int(11) NOT NULL DEFAULT 0,\n  `c` char(120) NOT NULL DEFAULT '',\n  `pad` char(60) NOT NULL DEFAULT '',\n"+
		"  `t` datetime NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `k_1` (`k`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
	var total int64
	var f strings.Builder
	header := "INSERT INTO `sbtest` (`id`,`k`,`c`,`pad`,`t`) VALUES\n"
	for file := 0; file*fileRows < rows; file++ {
		f.Reset()
		f.WriteString(preamble)
		for i := file * fileRows; i < min(rows, (file+1)*fileRows); i++ {
			if (i-file*fileRows)%stmtRows == 0 {
				f.WriteString(header)
			}
			fmt.Fprintf(&f, "(%d,%d,'%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d-%011d','%011d-%011d-%011d-%011d-%011d','2024-01-02 03:04:05')",
				i+1, (i*7919)%rows, i, i*3, i*5, i*7, i*11, i*13, i*17, i*19, i*23, i*29, i, i*31, i*37, i*41, i*43)
			if last := i+1 == min(rows, (file+1)*fileRows) || (i+1-file*fileRows)%stmtRows == 0; last {
				f.WriteString(";\n")
			} else {
				f.WriteString(",\n")
			}
		}
		write(dumpfile.DataName("bench", "sbtest", 0, file), f.String())
		total += int64(f.Len())
	}
	return total
}

// BenchmarkLoad loads a generated dump into the test target and reports MB/s and rows/s
// for DM's ~1 MB statements and for small statements at several batch sizes. Numbers
// depend on the throwaway target (32 MB buffer pool); they are for comparison only.
func BenchmarkLoad(b *testing.B) {
	const rows, fileRows = 100_000, 10_000
	cases := []struct {
		name       string
		stmtRows   int
		threads    int
		batchBytes int
		onDup      string
	}{
		{name: "stmt=1MB/threads=16", stmtRows: 5000, threads: 16},
		{name: "stmt=1MB/threads=4", stmtRows: 5000, threads: 4},
		{name: "stmt=1MB/threads=4/insert", stmtRows: 5000, threads: 4, onDup: OnDuplicateError},
		{name: "stmt=1MB/threads=1", stmtRows: 5000, threads: 1},
		{name: "stmt=4KB/batch=1stmt", stmtRows: 20, threads: 4, batchBytes: -1},
		{name: "stmt=4KB/batch=64KB", stmtRows: 20, threads: 4, batchBytes: 64 << 10},
		{name: "stmt=4KB/batch=1MB", stmtRows: 20, threads: 4, batchBytes: 1 << 20},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			size := writeBenchDump(b, dir, rows, fileRows, c.stmtRows)
			b.SetBytes(size)
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tgt.Exec(b, "DROP DATABASE IF EXISTS bench")
				if err := DropCheckpoints(b.Context(), openDB(b, tgt), "dm_meta", "bench"); err != nil {
					b.Fatal(err)
				}
				cfg := testConfig(dir, "bench")
				cfg.Threads, cfg.BatchBytes, cfg.OnDuplicate = c.threads, c.batchBytes, c.onDup
				l := newLoader(b, cfg)
				b.StartTimer()
				start := time.Now()
				if err := l.LoadDir(b.Context()); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
		})
	}
}
