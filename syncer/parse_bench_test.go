package syncer

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkTargetStatementForms measures what the target's CPU pays per updated row for
// the statement forms issue 13 weighs (sysbench-like rows, updates of existing rows, one
// connection, 100 rows per transaction): per-row UPDATE text (the syncer before the
// upserts), multi-row INSERT … ON DUPLICATE KEY UPDATE text (upsert.go), and the same two
// shapes as server-side prepared statements reused across transactions. It reports the
// target mariadbd's CPU µs per row (from /proc) and asserts nothing about speed; each form
// must leave the rows it wrote (checked at the end).
func BenchmarkTargetStatementForms(b *testing.B) {
	const db, rows, group = "s_forms", 20000, 10
	setupSchema(b, db, "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY (k))")
	dstDB := dst.DB(b)
	pid := serverPID(b, dstDB)
	var seed strings.Builder
	for i := 1; i <= rows; i++ {
		if seed.Len() > 0 {
			seed.WriteByte(',')
		}
		fmt.Fprintf(&seed, "(%d,%d,'%0120d','%060d')", i, i, i, i)
		if i%1000 == 0 {
			dst.Exec(b, "SET sql_log_bin=0; INSERT INTO "+db+".t VALUES "+seed.String())
			seed.Reset()
		}
	}
	ctx := context.Background()
	conn, err := dstDB.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	row := func(round, id int) (int, string) { return id + round, fmt.Sprintf("%0120d", id*7+round) }
	textUpdate := func(round int, ids []int) error {
		for _, id := range ids {
			k, c := row(round, id)
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s.t SET id=%d,k=%d,c='%s',pad='%060d' WHERE id=%d", db, id, k, c, id, id)); err != nil {
				return err
			}
		}
		return nil
	}
	upsertSQL := func(n int) string {
		return "INSERT INTO " + db + ".t (id,k,c,pad) VALUES (?,?,?,?)" + strings.Repeat(",(?,?,?,?)", n-1) +
			" ON DUPLICATE KEY UPDATE k=VALUES(k),c=VALUES(c),pad=VALUES(pad)"
	}
	textUpsert := func(round int, ids []int) error {
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + db + ".t (id,k,c,pad) VALUES ")
		for i, id := range ids {
			if i > 0 {
				sb.WriteByte(',')
			}
			k, c := row(round, id)
			fmt.Fprintf(&sb, "(%d,%d,'%s','%060d')", id, k, c, id)
		}
		sb.WriteString(" ON DUPLICATE KEY UPDATE k=VALUES(k),c=VALUES(c),pad=VALUES(pad)")
		_, err := conn.ExecContext(ctx, sb.String())
		return err
	}
	var prepUpd, prepUps *sql.Stmt
	prepUpdate := func(round int, ids []int) error {
		for _, id := range ids {
			k, c := row(round, id)
			if _, err := prepUpd.ExecContext(ctx, id, k, c, fmt.Sprintf("%060d", id), id); err != nil {
				return err
			}
		}
		return nil
	}
	prepUpsert := func(round int, ids []int) error {
		args := make([]any, 0, 4*len(ids))
		for _, id := range ids {
			k, c := row(round, id)
			args = append(args, id, k, c, fmt.Sprintf("%060d", id))
		}
		_, err := prepUps.ExecContext(ctx, args...)
		return err
	}
	for _, f := range []struct {
		name string
		fn   func(round int, ids []int) error
	}{
		{"text-update", textUpdate},
		{"text-upsert", textUpsert},
		{"prepared-update", prepUpdate},
		{"prepared-upsert", prepUpsert},
	} {
		b.Run(f.name, func(b *testing.B) {
			var err error
			if prepUpd, err = conn.PrepareContext(ctx, "UPDATE "+db+".t SET id=?,k=?,c=?,pad=? WHERE id=?"); err != nil {
				b.Fatal(err)
			}
			defer prepUpd.Close()
			if prepUps, err = conn.PrepareContext(ctx, upsertSQL(group)); err != nil {
				b.Fatal(err)
			}
			defer prepUps.Close()
			cpu0 := procCPU(b, pid)
			updated := 0
			b.ResetTimer()
			for round := 0; round < b.N; round++ {
				if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
					b.Fatal(err)
				}
				for g := 0; g < 100; g += group {
					ids := make([]int, group)
					for i := range ids {
						ids[i] = (round*100+g+i)%rows + 1
					}
					if err := f.fn(round, ids); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
					b.Fatal(err)
				}
				updated += 100
			}
			b.StopTimer()
			b.ReportMetric(float64(procCPU(b, pid)-cpu0)*1e6/float64(updated), "target-cpu-µs/row")
			// The last round's rows hold what it wrote.
			last := b.N - 1
			id := (last*100)%rows + 1
			k, c := row(last, id)
			if got := queryString(b, dstDB, fmt.Sprintf("SELECT CONCAT(k, ',', c) FROM %s.t WHERE id=%d", db, id)); got != fmt.Sprintf("%d,%s", k, c) {
				b.Fatalf("%s: row %d = %s after the last round", f.name, id, got)
			}
		})
	}
}

// serverPID reads the target mariadbd's pid from its pid file.
func serverPID(b testing.TB, db *sql.DB) int {
	var file string
	if err := db.QueryRow("SELECT @@pid_file").Scan(&file); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// procCPU is the process's user+system CPU seconds.
func procCPU(b testing.TB, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	sys, _ := strconv.ParseFloat(f[12], 64)
	return (u + sys) / 100 // CLK_TCK is 100 on Linux
}
