// Command verifytime times dmkit's verification of one schema, for scripts/bench.sh
// (mode verify): source and target snapshotted at one point (the target must be quiescent,
// e.g. right after a full copy), every base table compared by chunk checksums with the
// verify package — the code a task's `verify: checksum` runs. It prints one line per run:
//
//	verify: 4 tables, 1000000 rows, 100 chunks, 12.34 s, 81037 rows/s, equal
//
//	go run ./scripts/bench/verifytime -src 127.0.0.1:3306 -dst 127.0.0.1:3307 -user u -password p \
//	    -schema sbtest -threads 4 -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/verify"
)

func main() {
	src := flag.String("src", "", "source `host:port`")
	dst := flag.String("dst", "", "target `host:port`")
	user := flag.String("user", "root", "user on both servers")
	password := flag.String("password", "", "password on both servers")
	schema := flag.String("schema", "sbtest", "schema to compare (same name on both sides)")
	threads := flag.Int("threads", 4, "chunks compared at once")
	chunk := flag.Int("chunk-rows", 0, "rows per chunk (0: the verify default)")
	runs := flag.Int("runs", 1, "comparisons to time")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *src, *dst, *user, *password, *schema, *threads, *chunk, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "verifytime:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, srcAddr, dstAddr, user, password, schema string, threads, chunk, runs int) error {
	if srcAddr == "" || dstAddr == "" {
		return fmt.Errorf("-src and -dst are required")
	}
	src, err := dbconn.ParseAddr(srcAddr, user, password)
	if err != nil {
		return err
	}
	dst, err := dbconn.ParseAddr(dstAddr, user, password)
	if err != nil {
		return err
	}
	db, err := dbconn.Open(ctx, src, "")
	if err != nil {
		return err
	}
	defer db.Close()
	var tables []string
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", schema)
	if err != nil {
		return err
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if len(tables) == 0 {
		return fmt.Errorf("schema %s has no tables", schema)
	}
	v, err := verify.New(ctx, verify.Config{Source: src, Target: dst, Threads: threads, ChunkRows: chunk})
	if err != nil {
		return err
	}
	defer v.Close()
	for range runs {
		if err := once(ctx, v, schema, tables); err != nil {
			return err
		}
	}
	return nil
}

func once(ctx context.Context, v *verify.Verifier, schema string, tables []string) error {
	t0 := time.Now()
	sp, err := v.SnapshotSource(ctx)
	if err != nil {
		return err
	}
	defer sp.Close()
	tp, err := v.SnapshotTarget(ctx)
	if err != nil {
		return err
	}
	defer tp.Close()
	var rows int64
	var chunks int
	equal := "equal"
	for _, t := range tables {
		res, err := v.TableAt(ctx, verify.Point{Source: sp, Target: tp}, schema, t, schema, t)
		if err != nil {
			return err
		}
		rows += res.SourceRows
		chunks += res.Chunks
		if !res.Equal {
			equal = fmt.Sprintf("DIFFERENT (%s: %d rows)", t, len(res.Diffs))
		}
	}
	s := time.Since(t0).Seconds()
	fmt.Printf("verify: %d tables, %d rows, %d chunks, %.2f s, %.0f rows/s, %s\n", len(tables), rows, chunks, s, float64(rows)/s, equal)
	if equal != "equal" {
		return fmt.Errorf("the target differs from the source")
	}
	return nil
}
