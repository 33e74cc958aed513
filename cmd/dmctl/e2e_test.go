package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/tlsconfig/tlstest"
)

// The end-to-end test builds the real dm-server binary, starts it against real MariaDB
// servers and drives a migration with dmctl's commands (run in-process: the same code as
// the binary, talking HTTP to the server).

var (
	e2eSrc, e2eDst *mysqltest.Server
	serverBin      string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dmctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "dm-server")
	if out, err := exec.Command("go", "build", "-o", serverBin, "../dm-server").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build dm-server: %v\n%s", err, out)
		return 1
	}
	var servers mysqltest.Shared
	defer servers.StopAll()
	var ok bool
	if e2eSrc, e2eDst, ok = servers.StartPair("dmctl"); !ok {
		return 1
	}
	return m.Run()
}

// startServer runs dm-server and returns its address (scheme://host:port).
func startServer(t *testing.T, extra ...string) string {
	t.Helper()
	dataDir := t.TempDir()
	cmd := exec.Command(serverBin, append([]string{"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--workers", "1", "--log-level", "warn"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "dm-server listening on "); ok {
				addr <- s
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-done:
		t.Fatalf("dm-server exited: %s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dm-server did not start: %s", stderr.String())
	}
	return ""
}

// dmctl runs one command and returns its standard output.
func dmctl(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"--master-addr", addr}, args...), &out, &errOut)
	return out.String(), err
}

func mustDmctl(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, err := dmctl(t, addr, args...)
	if err != nil {
		t.Fatalf("dmctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDmctlDrivesAMigration(t *testing.T) {
	addr := startServer(t)
	e2eSrc.Exec(t, "CREATE DATABASE dmctl_db")
	e2eSrc.Exec(t, "CREATE TABLE dmctl_db.t (id INT PRIMARY KEY, v VARCHAR(40))")
	for i := 0; i < 20; i++ {
		e2eSrc.Exec(t, fmt.Sprintf("INSERT INTO dmctl_db.t VALUES (%d, 'row-%d')", i, i))
	}

	sourceYAML := writeFile(t, "source.yaml", fmt.Sprintf(`source-id: mysql-01
enable-gtid: true
from:
  host: %s
  port: %d
  user: %s
  password: %s
`, e2eSrc.Host, e2eSrc.Port, e2eSrc.User, e2eSrc.Password))
	if out := mustDmctl(t, addr, "operate-source", "create", sourceYAML); !strings.Contains(out, "source mysql-01 created") {
		t.Fatalf("create source: %q", out)
	}
	if out := mustDmctl(t, addr, "operate-source", "show"); !strings.Contains(out, "mysql-01") || !strings.Contains(out, "WORKER") {
		t.Fatalf("show sources: %q", out)
	}
	badSource := writeFile(t, "bad.yaml", "source-id: x\nno-such-key: 1\n")
	if _, err := dmctl(t, addr, "operate-source", "create", badSource); err == nil || !strings.Contains(err.Error(), "no-such-key") {
		t.Fatalf("unknown source key: %v", err)
	}

	taskYAML := writeFile(t, "task.yaml", fmt.Sprintf(`name: dmctl-task
task-mode: all
target-database: {host: %s, port: %d, user: %s, password: %s}
mysql-instances:
  - source-id: mysql-01
    block-allow-list: ba
block-allow-list:
  ba:
    do-dbs: [dmctl_db]
`, e2eDst.Host, e2eDst.Port, e2eDst.User, e2eDst.Password))
	if out := mustDmctl(t, addr, "check-task", taskYAML); !strings.Contains(out, "check passed") {
		t.Fatalf("check-task: %q", out)
	}
	if out := mustDmctl(t, addr, "query-status"); strings.Contains(out, "dmctl-task") {
		t.Fatalf("check-task created the task: %q", out)
	}
	if out := mustDmctl(t, addr, "start-task", taskYAML, "--wait", "--wait-timeout", "2m"); !strings.Contains(out, "full copy done") {
		t.Fatalf("start-task --wait: %q", out)
	}
	if out := mustDmctl(t, addr, "query-status", "dmctl-task"); !strings.Contains(out, "mysql-01") || !strings.Contains(out, "Sync") {
		t.Fatalf("query-status: %q", out)
	}
	var status struct {
		Total int `json:"total"`
		Data  []struct {
			Stage string `json:"stage"`
			Unit  string `json:"unit"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(mustDmctl(t, addr, "--json", "query-status", "dmctl-task")), &status); err != nil || status.Total != 1 || status.Data[0].Unit != "Sync" {
		t.Fatalf("query-status --json: %+v %v", status, err)
	}

	// Replication through pause and resume.
	e2eSrc.Exec(t, "INSERT INTO dmctl_db.t VALUES (100, 'while running')")
	mustDmctl(t, addr, "pause-task", "dmctl-task")
	waitStatus(t, addr, "dmctl-task", "Paused")
	e2eSrc.Exec(t, "UPDATE dmctl_db.t SET v = 'while paused' WHERE id < 5")
	mustDmctl(t, addr, "resume-task", "dmctl-task")
	waitStatus(t, addr, "dmctl-task", "Running")
	waitSame(t, "dmctl_db", "t")

	if out := mustDmctl(t, addr, "config", "task", "dmctl-task"); !strings.Contains(out, "name: dmctl-task") || !strings.Contains(out, "dmctl_db") {
		t.Fatalf("config task: %q", out)
	}
	if out := mustDmctl(t, addr, "get-config", "source", "mysql-01"); !strings.Contains(out, `"password": "******"`) || !strings.Contains(out, `"source_name": "mysql-01"`) {
		t.Fatalf("get-config source: %q", out)
	}

	// Errors come back with dm-server's message and code.
	if _, err := dmctl(t, addr, "query-status", "nosuch"); err == nil || !strings.Contains(err.Error(), "code 46018") && !strings.Contains(err.Error(), "not exist") {
		t.Fatalf("query-status of an unknown task: %v", err)
	}
	if _, err := dmctl(t, addr, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}

	if out := mustDmctl(t, addr, "stop-task", "dmctl-task"); !strings.Contains(out, "removed") {
		t.Fatalf("stop-task: %q", out)
	}
	if out := mustDmctl(t, addr, "query-status"); strings.Contains(out, "dmctl-task") {
		t.Fatalf("task still listed after stop-task: %q", out)
	}
	mustDmctl(t, addr, "operate-source", "stop", "mysql-01")
	if out := mustDmctl(t, addr, "operate-source", "show"); strings.Contains(out, "mysql-01") {
		t.Fatalf("source still listed: %q", out)
	}
}

func waitStatus(t *testing.T, addr, task, stage string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := mustDmctl(t, addr, "query-status", task)
		if strings.Contains(out, stage) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never reached %s:\n%s", task, stage, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSame waits until the target table equals the source table (counts and checksums).
func waitSame(t *testing.T, schema, table string) {
	t.Helper()
	if err := mysqltest.WaitEqual(context.Background(), e2eSrc.DB(t), schema, table, e2eDst.DB(t), schema, table, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestDmctlOverTLS: dmctl's --ssl-* flags reach a dm-server that requires client
// certificates; without them it is refused.
func TestDmctlOverTLS(t *testing.T) {
	pki := tlstest.PKI(t, t.TempDir(), "dmctl")
	srv, cl := pki["server"], pki["dmctl"]
	addr := startServer(t, "--ssl-ca", srv.CA, "--ssl-cert", srv.Cert, "--ssl-key", srv.Key, "--cert-allowed-cn", "dmctl")
	hostPort := strings.TrimPrefix(addr, "https://")
	if out := mustDmctl(t, hostPort, "--ssl-ca", cl.CA, "--ssl-cert", cl.Cert, "--ssl-key", cl.Key, "operate-source", "show"); !strings.Contains(out, "SOURCE") {
		t.Fatalf("show over TLS: %q", out)
	}
	if _, err := dmctl(t, hostPort, "--ssl-ca", cl.CA, "query-status"); err == nil {
		t.Fatal("dmctl without a client certificate was served")
	}
	if _, err := dmctl(t, "http://"+hostPort, "--ssl-ca", cl.CA, "query-status"); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("http:// with TLS flags: %v", err)
	}
}
