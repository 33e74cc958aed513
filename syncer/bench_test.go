package syncer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkApply replays a generated backlog (multi-row inserts, single-row updates and
// deletes on a keyed table, inserts on a table without keys) into an empty target and
// reports row events per second. It asserts nothing about speed.
func BenchmarkApply(b *testing.B) {
	const db = "s_bench"
	const rows = 20000
	setupSchema(b, db,
		"CREATE TABLE t (id INT PRIMARY KEY, v INT, s VARCHAR(64), KEY (v))",
		"CREATE TABLE n (a INT, b VARCHAR(32))",
		"CREATE TABLE done (id INT PRIMARY KEY)")
	start := masterLoc(b)
	conn, err := src.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	events := 0
	for i := 0; i < rows; i += 100 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO t VALUES ")
		for j := i; j < i+100; j++ {
			if j > i {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, %d, 'row %d padding padding')", j, j, j)
		}
		if _, err := conn.Exec(sb.String()); err != nil {
			b.Fatal(err)
		}
		events += 100
	}
	for i := 0; i < rows/2; i++ {
		if _, err := conn.Exec(fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d", i*2)); err != nil {
			b.Fatal(err)
		}
		events++
	}
	if _, err := conn.Exec("DELETE FROM t WHERE id % 10 = 1"); err != nil {
		b.Fatal(err)
	}
	events += rows / 10
	for i := 0; i < rows/4; i += 50 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO n VALUES ")
		for j := i; j < i+50; j++ {
			if j > i {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d, 'nokey %d')", j, j)
		}
		if _, err := conn.Exec(sb.String()); err != nil {
			b.Fatal(err)
		}
		events += 50
	}
	if _, err := conn.Exec("INSERT INTO done VALUES (1)"); err != nil {
		b.Fatal(err)
	}
	dstDB := dst.DB(b)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst.Exec(b, "USE "+db+"; TRUNCATE t; TRUNCATE n; TRUNCATE done")
		if err := DropCheckpoints(context.Background(), dstDB, "", "bench"); err != nil {
			b.Fatal(err)
		}
		cfg := baseConfig(b, "bench", db)
		cfg.Start, cfg.Workers, cfg.Batch = start, DefaultWorkers, DefaultBatch
		cfg.checkpointInterval = time.Second
		b.StartTimer()
		began := time.Now()
		r, stop := startSyncer(b, cfg)
		for queryString(b, dstDB, "SELECT COUNT(*) FROM "+db+".done") != "1" {
			select {
			case err := <-r.done:
				b.Fatalf("syncer stopped: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		total += time.Since(began)
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(events)*float64(b.N)/total.Seconds(), "events/s")
}
