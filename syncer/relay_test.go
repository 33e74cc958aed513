package syncer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/relay"
)

// relayOpener serves the syncer from rl while on is set, declining otherwise or when
// the relay does not have the location.
func relayOpener(rl *relay.Relay, on *atomic.Bool) RelayOpener {
	return func(loc Location, useGTID bool, cfg replication.BinlogSyncerConfig) (Stream, error) {
		if !on.Load() {
			return nil, nil
		}
		rd, err := rl.NewReader(relay.Start{File: loc.File, Pos: loc.Pos, GTID: loc.GTID, UseGTID: useGTID}, cfg)
		if errors.As(err, new(*relay.NotInRelayError)) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return rd, nil
	}
}

// startRelay runs a relay of the test source from file in the background.
func startRelay(t *testing.T, file string) *relay.Relay {
	t.Helper()
	rl, err := relay.New(relay.Config{Dir: t.TempDir(), SourceDB: src.DBConfig(), Flavor: "mariadb", StartFile: file, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := rl.Run(ctx); err != nil {
				t.Logf("relay: %v", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; rl.Close() })
	return rl
}

func waitRelayCaughtUp(t *testing.T, rl *relay.Relay) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !rl.Status().CatchUp {
		if time.Now().After(deadline) {
			t.Fatalf("relay did not catch up: %+v", rl.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSyncFromRelayAfterSourcePurge: the source purges the binlogs past a task's start
// position; the task, started afterwards, replicates everything from the relay, by
// position and by GTID.
func TestSyncFromRelayAfterSourcePurge(t *testing.T) {
	for _, gtid := range []bool{false, true} {
		name := map[bool]string{false: "position", true: "gtid"}[gtid]
		t.Run(name, func(t *testing.T) {
			schema := "relaypurge_" + name
			setupSchema(t, schema, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
			start := masterLoc(t)
			rl := startRelay(t, start.File)
			writeLoad(t, schema, 0, 300)
			src.Exec(t, "FLUSH BINARY LOGS")
			writeLoad(t, schema, 300, 300)
			src.Exec(t, "FLUSH BINARY LOGS")
			waitRelayCaughtUp(t, rl)
			now := masterLoc(t)
			src.Exec(t, "PURGE BINARY LOGS TO '"+now.File+"'")

			var on atomic.Bool
			on.Store(true)
			cfg := baseConfig(t, schema, schema)
			cfg.Start = start
			cfg.EnableGTID = gtid
			cfg.Relay = relayOpener(rl, &on)
			r, stop := startSyncer(t, cfg)
			writeLoad(t, schema, 600, 100)
			waitSynced(t, r, schema)
			if bt := r.s.Status().BinlogType; bt != BinlogLocal {
				t.Fatalf("binlog_type %q, want local", bt)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRelaySwitchUnderLoad turns relay on and off under a running syncer and a write
// load: the syncer switches streams at transaction boundaries and the target ends
// identical.
func TestRelaySwitchUnderLoad(t *testing.T) {
	setupSchema(t, "relayswitch", "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	start := masterLoc(t)
	rl := startRelay(t, start.File)
	var on atomic.Bool
	cfg := baseConfig(t, "relayswitch", "relayswitch")
	cfg.Relay = relayOpener(rl, &on)
	r, stop := startSyncer(t, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); writeLoad(t, "relayswitch", 0, 1500) }()
	kinds := map[string]bool{}
	for i := range 6 {
		time.Sleep(150 * time.Millisecond)
		on.Store(i%2 == 0)
		r.s.SwitchStream()
		time.Sleep(150 * time.Millisecond)
		kinds[r.s.Status().BinlogType] = true
	}
	wg.Wait()
	waitSynced(t, r, "relayswitch")
	if !kinds[BinlogLocal] || !kinds[BinlogRemote] {
		t.Fatalf("the syncer should have read both the relay and the source, saw %v", kinds)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
