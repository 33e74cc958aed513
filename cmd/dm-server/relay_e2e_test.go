package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// TestKillNineWithRelay runs relay (enable_relay on the source) and an incremental task
// reading it under a write load, and kills dm-server with SIGKILL several times. After
// the restarts the relay files are byte-identical to the source's binlog files (no gap,
// no duplicate event) and the target is identical to the source.
func TestKillNineWithRelay(t *testing.T) {
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS relaykill")
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS relaykill")
	e2eSrc.Exec(t, "FLUSH BINARY LOGS")
	var file string
	var pos int64
	var dodb, ignoredb any
	if err := e2eSrc.DB(t).QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &dodb, &ignoredb); err != nil {
		t.Fatal(err)
	}
	e2eSrc.Exec(t, "CREATE DATABASE relaykill")
	e2eSrc.Exec(t, "CREATE TABLE relaykill.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT, s VARCHAR(200))")

	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir)
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "rk", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q,
		"relay_config": {"enable_relay": true, "relay_binlog_name": %q}}`, e2eSrc.Port, e2eSrc.User, e2eSrc.Password, file), 201, nil)
	c.expect(t, "POST", "/tasks", fmt.Sprintf(`{"task": {"name": "rk", "task_mode": "incremental", "on_duplicate": "replace",
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [{"source": {"source_name": "rk", "schema": "relaykill", "table": ""}}],
		"source_config": {"incr_migrate_conf": {"repl_threads": 4, "repl_batch": 50},
		"source_conf": [{"source_name": "rk", "binlog_name": %q, "binlog_pos": %d}]}}}`,
		e2eDst.Port, e2eDst.User, e2eDst.Password, file, pos), 201, nil)
	c.expect(t, "POST", "/tasks/rk/start", "", 200, nil)

	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	go func() {
		db, err := e2eSrc.Open("relaykill")
		if err != nil {
			loadDone <- err
			return
		}
		defer db.Close()
		for i := 0; ctx.Err() == nil; i++ {
			var err error
			switch i % 4 {
			case 0, 1:
				_, err = db.Exec("INSERT INTO t (v, s) VALUES (?, REPEAT('x', ?))", i, i%200)
			case 2:
				_, err = db.Exec("UPDATE t SET v = v + 1 WHERE id = ?", 1+i/3)
			case 3:
				if i%400 == 3 {
					_, err = db.Exec("FLUSH BINARY LOGS")
				} else {
					_, err = db.Exec("DELETE FROM t WHERE id = ?", i/5)
				}
			}
			if err != nil {
				loadDone <- err
				return
			}
		}
		loadDone <- nil
	}()

	for i := range 3 {
		time.Sleep(time.Duration(400+300*i) * time.Millisecond)
		c.kill9(t)
		c = startChild(t, "--data-dir", dir)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("write load: %v", err)
	}

	// The relay catches up; its files are the source's, byte for byte.
	var subdir string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var st struct {
			Data []struct {
				RelayStatus *struct {
					CatchUp bool   `json:"relay_catch_up_master"`
					Dir     string `json:"relay_dir"`
					Stage   string `json:"stage"`
				} `json:"relay_status"`
				ErrorMsg string `json:"error_msg"`
			} `json:"data"`
		}
		_, b := c.call(t, "GET", "/sources/rk/status", "")
		if json.Unmarshal(b, &st) == nil && len(st.Data) > 0 && st.Data[0].RelayStatus != nil && st.Data[0].RelayStatus.CatchUp {
			subdir = st.Data[0].RelayStatus.Dir
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay never caught up: %s", b)
		}
	}
	rdir := filepath.Join(dir, "relay-dir", "rk", "worker1", subdir)
	files, err := filepath.Glob(filepath.Join(rdir, "mysql-bin.*"))
	if err != nil || len(files) < 2 {
		t.Fatalf("relay files in %s: %v %v", rdir, files, err)
	}
	if filepath.Base(files[0]) != file {
		t.Fatalf("relay starts at %s, want relay_binlog_name %s", filepath.Base(files[0]), file)
	}
	for _, f := range files {
		got, _ := os.ReadFile(f)
		want, err := os.ReadFile(filepath.Join(e2eSrc.Dir, "binlog", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		clearInUse(got)
		clearInUse(want)
		if !bytes.Equal(got, want) {
			t.Fatalf("relay %s (%d bytes) differs from the source's (%d bytes)", filepath.Base(f), len(got), len(want))
		}
	}

	srcDB, dstDB := e2eSrc.DB(t), e2eDst.DB(t)
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = mysqltest.CompareSchemas(context.Background(), srcDB, "relaykill", dstDB, "relaykill"); last == nil {
			break
		}
	}
	if last != nil {
		_, status := c.call(t, "GET", "/tasks/rk/status", "")
		t.Fatalf("target never converged after the kills: %v\nstatus: %s", last, status)
	}
	_, b := c.call(t, "GET", "/tasks/rk/status", "")
	if !strings.Contains(string(b), `"binlog_type": "local"`) {
		t.Fatalf("the task does not read the relay: %s", b)
	}
}

// clearInUse clears the in-use flag of a binlog file's format description and its
// checksum, which differ while the upstream file is open.
func clearInUse(b []byte) {
	const hdr = 19
	if len(b) < 4+hdr {
		return
	}
	b[4+17] &^= 0x01
	size := int(uint32(b[4+9]) | uint32(b[4+10])<<8 | uint32(b[4+11])<<16 | uint32(b[4+12])<<24)
	if 4+size <= len(b) {
		copy(b[4+size-4:4+size], []byte{0, 0, 0, 0})
	}
}
