package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// writeLoad runs n small transactions against db's tables t (keyed) and n (no key).
func writeLoad(t *testing.T, db string, from, n int) {
	t.Helper()
	conn, err := src.Open(db)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	for i := from; i < from+n; i++ {
		q := fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", i, i)
		if _, err := conn.Exec(q); err != nil {
			t.Error(err)
			return
		}
		if _, err := conn.Exec(fmt.Sprintf("INSERT INTO n VALUES (%d)", i)); err != nil {
			t.Error(err)
			return
		}
		if i%5 == 0 {
			if _, err := conn.Exec(fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d", i-2)); err != nil {
				t.Error(err)
				return
			}
		}
	}
}

func TestTargetRestartUnderLoad(t *testing.T) {
	const db = "s_tgt_restart"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	r, stop := startSyncer(t, newTask(t, "tgt_restart", db))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); writeLoad(t, db, 0, 1500) }()
	time.Sleep(200 * time.Millisecond)
	if err := dst.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestTargetDownIsTemporary(t *testing.T) {
	const db = "s_tgt_down"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	cfg := newTask(t, "tgt_down", db)
	cfg.retryBudget = 2 * time.Second
	r, _ := startSyncer(t, cfg)
	writeLoad(t, db, 0, 10)
	waitSynced(t, r, db)
	if err := dst.Kill(); err != nil {
		t.Fatal(err)
	}
	writeLoad(t, db, 10, 10)
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not give up while the target was down")
	}
	if restartErr := dst.Restart(); restartErr != nil {
		t.Fatal(restartErr)
	}
	var tmp interface{ Temporary() bool }
	if !errors.As(err, &tmp) || !tmp.Temporary() {
		t.Fatalf("Run returned %v; want a Temporary error", err)
	}
	// Running again resumes.
	r2, stop2 := startSyncer(t, cfg)
	waitSynced(t, r2, db)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

func TestSourceRestart(t *testing.T) {
	const db = "s_src_restart"
	setupSchema(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE n (v INT)")
	r, stop := startSyncer(t, newTask(t, "src_restart", db))
	writeLoad(t, db, 0, 200)
	// Connected and streaming first: a source that restarts while Run is still opening
	// its connections ends Run with a temporary error, which is dm's to retry.
	waitSynced(t, r, db)
	if err := src.Restart(); err != nil {
		t.Fatal(err)
	}
	writeLoad(t, db, 200, 200)
	waitSynced(t, r, db)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_ = context.Background
}
