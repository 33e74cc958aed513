package relay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// relayFiles lists (sub-directory, file) of every relay file in order.
func relayFiles(t *testing.T, dir string) [][2]string {
	t.Helper()
	subs, err := readIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, s := range subs {
		fs, err := listFiles(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			out = append(out, [2]string{s, f})
		}
	}
	return out
}

// assertCopy checks that every relay file of sub-directory sub is byte-identical to the
// upstream file of the same name (the active upstream file: up to the relay's size,
// ignoring the in-use flag of its format description).
func assertCopy(t *testing.T, s *mysqltest.Server, dir string) {
	t.Helper()
	files := relayFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("relay has no files")
	}
	for _, sf := range files {
		got, err := os.ReadFile(filepath.Join(dir, sf[0], sf[1]))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(s.Dir, "binlog", sf[1]))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(want) {
			t.Fatalf("relay %s is %d bytes, upstream only %d: duplicate events", sf[1], len(got), len(want))
		}
		if len(got) < len(want) {
			t.Fatalf("relay %s is %d bytes, upstream %d: a gap", sf[1], len(got), len(want))
		}
		// The format description's flags differ while the upstream file is open.
		clearInUse(got)
		clearInUse(want)
		if !bytes.Equal(got, want) {
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("relay %s differs from upstream at byte %d", sf[1], i)
				}
			}
		}
	}
}

// clearInUse clears LOG_EVENT_BINLOG_IN_USE_F in the file's format description and
// zeroes its checksum (which covers the flag).
func clearInUse(b []byte) {
	if len(b) < 4+replication.EventHeaderSize {
		return
	}
	b[4+17] &^= 0x01
	size := int(uint32(b[4+9]) | uint32(b[4+10])<<8 | uint32(b[4+11])<<16 | uint32(b[4+12])<<24)
	if 4+size <= len(b) {
		copy(b[4+size-4:4+size], []byte{0, 0, 0, 0})
	}
}

// TestRelayCatchUp pulls the source under a write load across a binlog rotation: the
// relay catches up and holds byte-identical copies of the upstream files.
func TestRelayCatchUp(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rcatch")
	r := newRelay(t, src, "", nil)
	runRelay(t, r)
	waitCatchUp(t, r) // connected at the source's current file before the load rotates it
	done := make(chan struct{})
	go func() {
		defer close(done)
		load(t, db, "rcatch", 0, 500)
		if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
			t.Error(err)
		}
		load(t, db, "rcatch", 500, 500)
	}()
	<-done
	st := waitCatchUp(t, r)
	if st.Subdir == "" || st.MasterBinlog == "" || st.RelayBinlogGTID == "" {
		t.Fatalf("status incomplete: %+v", st)
	}
	if len(relayFiles(t, r.Dir())) < 2 {
		t.Fatalf("expected the rotation in the relay, files: %v", relayFiles(t, r.Dir()))
	}
	// Catch-up is judged against the source position the relay last polled; once the
	// load is over the relay's GTID set reaches the source's own.
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := masterLocation(context.Background(), db, "mariadb")
		if err != nil {
			t.Fatal(err)
		}
		if st = r.Status(); st.CatchUp && st.RelayBinlogGTID == m.GTID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay GTID %q, source %q", st.RelayBinlogGTID, m.GTID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	assertCopy(t, src, r.Dir())
}

// TestRelayTornTail cuts the newest relay file in the middle of an event (what kill -9
// of the writer leaves) and a meta behind it: the restarted relay truncates to the last
// complete transaction and re-pulls, with no gap and no duplicate.
func TestRelayTornTail(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rtorn")
	dir := t.TempDir()
	r := newRelay(t, src, dir, nil)
	stop := runRelay(t, r)
	load(t, db, "rtorn", 0, 300)
	waitCatchUp(t, r)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := relayFiles(t, dir)
	last := filepath.Join(dir, files[len(files)-1][0], files[len(files)-1][1])
	st, _ := os.Stat(last)
	for _, cut := range []int64{st.Size() - 7, st.Size() - 200} {
		if err := os.Truncate(last, cut); err != nil {
			t.Fatal(err)
		}
		r2 := newRelay(t, src, dir, nil)
		stop2 := runRelay(t, r2)
		load(t, db, "rtorn", int(cut)*1000, 50)
		waitCatchUp(t, r2)
		if err := stop2(); err != nil {
			t.Fatal(err)
		}
		assertCopy(t, src, dir)
		st, _ = os.Stat(last)
	}
	if n := len(relayFiles(t, dir)); n != len(files) {
		t.Fatalf("relay files %d after restarts, %d before", n, len(files))
	}
}

// events collects (type, end position) of n delivered events.
type evKey struct {
	typ replication.EventType
	pos uint32
}

func collect(t *testing.T, get func(context.Context) (*replication.BinlogEvent, error), until func(*replication.BinlogEvent) bool) []evKey {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []evKey
	for {
		ev, err := get(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		if ev.Header.LogPos != 0 && ev.Header.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 {
			out = append(out, evKey{ev.Header.EventType, ev.Header.LogPos})
		}
		if until(ev) {
			return out
		}
	}
}

// TestReaderFollows reads the relay while it grows: the reader waits for the writer,
// crosses a rotation and delivers the same events as the source does, by position and
// by GTID (transactions in the start set skipped).
func TestReaderFollows(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rfollow")
	start, err := masterLocation(context.Background(), db, "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, src, "", func(c *Config) { c.StartFile = start.File })
	runRelay(t, r)
	load(t, db, "rfollow", 0, 20)
	mid, _ := masterLocation(context.Background(), db, "mariadb")
	waitCatchUp(t, r)
	cfg := replication.BinlogSyncerConfig{Flavor: "mariadb", VerifyChecksum: true}
	byPos, err := r.NewReader(Start{File: start.File, Pos: start.Pos}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer byPos.Close()
	byGTID, err := r.NewReader(Start{GTID: mid.GTID, UseGTID: true}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer byGTID.Close()
	go func() {
		time.Sleep(300 * time.Millisecond) // the readers wait at the relay's end first
		load(t, db, "rfollow", 100, 100)
		if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
			t.Error(err)
		}
		load(t, db, "rfollow", 1000, 100)
		if _, err := db.Exec("CREATE TABLE rfollow.done (id INT)"); err != nil {
			t.Error(err)
		}
	}()
	isDone := func(ev *replication.BinlogEvent) bool {
		q, ok := ev.Event.(*replication.QueryEvent)
		return ok && bytes.Contains(q.Query, []byte("rfollow.done"))
	}
	gotPos := collect(t, byPos.GetEvent, isDone)

	// The source's own stream from the same start.
	bs := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 4242, Flavor: "mariadb", Host: src.Host, Port: uint16(src.Port),
		User: src.User, Password: src.Password, DumpCommandFlag: replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT})
	defer bs.Close()
	st, err := bs.StartSync(mysql.Position{Name: start.File, Pos: start.Pos})
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, st.GetEvent, isDone)
	if len(gotPos) != len(want) {
		t.Fatalf("relay reader delivered %d events, source %d", len(gotPos), len(want))
	}
	for i := range want {
		if gotPos[i] != want[i] {
			t.Fatalf("event %d: relay %+v, source %+v", i, gotPos[i], want[i])
		}
	}

	// By GTID: exactly the transactions after mid.
	rows := 0
	collect(t, byGTID.GetEvent, func(ev *replication.BinlogEvent) bool {
		if re, ok := ev.Event.(*replication.RowsEvent); ok {
			rows += len(re.Rows)
		}
		return isDone(ev)
	})
	if rows != 200 {
		t.Fatalf("GTID reader delivered %d rows after %s, want 200", rows, mid.GTID)
	}
}

// TestReaderNotInRelay: a position older than the relay is a clear error.
func TestReaderNotInRelay(t *testing.T) {
	db := src.DB(t)
	if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, src, "", nil)
	runRelay(t, r)
	waitCatchUp(t, r)
	_, err := r.NewReader(Start{File: "mysql-bin.000001", Pos: 4}, replication.BinlogSyncerConfig{})
	var nir *NotInRelayError
	if !errors.As(err, &nir) {
		t.Fatalf("want NotInRelayError, got %v", err)
	}
	_, err = r.NewReader(Start{GTID: "0-1-1", UseGTID: true}, replication.BinlogSyncerConfig{})
	if !errors.As(err, &nir) {
		t.Fatalf("want NotInRelayError for an old GTID, got %v", err)
	}
}

// TestStartAtGTID: relay_binlog_gtid starts the relay at the whole upstream file that
// holds the set.
func TestStartAtGTID(t *testing.T) {
	db := src.DB(t)
	setupSchema(t, db, "rgtid")
	if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	load(t, db, "rgtid", 0, 10)
	mid, err := masterLocation(context.Background(), db, "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	load(t, db, "rgtid", 10, 10)
	if _, err := db.Exec("FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	load(t, db, "rgtid", 20, 10)
	r := newRelay(t, src, "", func(c *Config) { c.StartGTID = mid.GTID })
	runRelay(t, r)
	waitCatchUp(t, r)
	files := relayFiles(t, r.Dir())
	if len(files) != 2 || files[0][1] != mid.File {
		t.Fatalf("relay from GTID %s (in %s) holds %v", mid.GTID, mid.File, files)
	}
	assertCopy(t, src, r.Dir())
}
