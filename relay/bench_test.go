package relay

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// TestReadThroughput times reading a backlog from the relay and from the source
// (DMKIT_RELAY_THROUGHPUT=rows to run); both must deliver the same events.
func TestReadThroughput(t *testing.T) {
	var n int
	if _, err := fmt.Sscan(os.Getenv("DMKIT_RELAY_THROUGHPUT"), &n); err != nil || n <= 0 {
		t.Skip("set DMKIT_RELAY_THROUGHPUT=<rows> to measure")
	}
	db := src.DB(t)
	setupSchema(t, db, "rtput")
	start, _ := masterLocation(context.Background(), db, "mariadb")
	r := newRelay(t, src, "", func(c *Config) { c.StartFile = start.File })
	runRelay(t, r)
	for i := 0; i < n; i += 500 {
		q := "INSERT INTO rtput.t (id, v) VALUES "
		for j := i; j < i+500; j++ {
			if j > i {
				q += ","
			}
			q += fmt.Sprintf("(%d, REPEAT('y', %d))", j, j%200)
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("CREATE TABLE rtput.done (id INT)"); err != nil {
		t.Fatal(err)
	}
	end, _ := masterLocation(context.Background(), db, "mariadb")
	waitCatchUp(t, r)
	cfg := replication.BinlogSyncerConfig{Flavor: "mariadb", VerifyChecksum: true}
	count := func(get func(context.Context) (*replication.BinlogEvent, error)) (int, time.Duration) {
		t0 := time.Now()
		ctx := context.Background()
		k := 0
		for {
			ev, err := get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Header.LogPos == 0 || ev.Header.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0 {
				continue // fake rotate, format description re-sent at connect
			}
			k++
			if ev.Header.LogPos >= end.Pos {
				return k, time.Since(t0)
			}
		}
	}
	rd, err := r.NewReader(Start{File: start.File, Pos: start.Pos}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	kr, dr := count(rd.GetEvent)
	bs := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 4343, Flavor: "mariadb", Host: src.Host, Port: uint16(src.Port),
		User: src.User, Password: src.Password, VerifyChecksum: true, Logger: quiet(testLogger(t)),
		DumpCommandFlag: replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT})
	defer bs.Close()
	st, err := bs.StartSync(mysql.Position{Name: start.File, Pos: start.Pos})
	if err != nil {
		t.Fatal(err)
	}
	ks, ds := count(st.GetEvent)
	if kr != ks {
		t.Fatalf("relay reader delivered %d events, the source %d", kr, ks)
	}
	mb := float64(end.Pos-start.Pos) / (1 << 20)
	t.Logf("relay reader: %d events in %s (%.1f MiB/s); source stream: %d events in %s (%.1f MiB/s)", kr, dr, mb/dr.Seconds(), ks, ds, mb/ds.Seconds())
}
