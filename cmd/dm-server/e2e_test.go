package main

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// End-to-end tests run dm-server as a real child process (the test binary re-executed
// with childArgsEnv set), so that it can be killed with SIGKILL, and drive it over HTTP
// with the user doc's requests against real MariaDB servers.

const childArgsEnv = "DMKIT_E2E_SERVER_ARGS"

var (
	e2eSrc *mysqltest.Server
	e2eDst *mysqltest.Server
)

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(runE2E(m))
}

func runE2E(m *testing.M) int {
	var err error
	if e2eSrc, err = mysqltest.Start(mysqltest.Options{Name: "e2e-src"}); err != nil {
		fmt.Fprintln(os.Stderr, "start source MariaDB:", err)
		return 1
	}
	defer e2eSrc.Stop()
	if e2eDst, err = mysqltest.Start(mysqltest.Options{Name: "e2e-dst"}); err != nil {
		fmt.Fprintln(os.Stderr, "start target MariaDB:", err)
		return 1
	}
	defer e2eDst.Stop()
	defer etcds.StopAll()
	return m.Run()
}

// child is a dm-server process.
type child struct {
	cmd    *exec.Cmd
	base   string
	done   chan struct{}
	stderr *lockedWriter
}

// startChild starts dm-server in its own process and waits until it listens.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\x1f"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	lw := &lockedWriter{w: &stderr}
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{}), stderr: lw}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "dm-server listening on "); ok {
				addr <- s
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	select {
	case c.base = <-addr:
		c.base += "/api/v1"
	case <-c.done:
		t.Fatalf("dm-server exited before listening: %s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dm-server did not start: %s", stderr.String())
	}
	return c
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// kill9 kills the server without any chance to clean up.
func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.stderr.mu.Lock()
		out := c.stderr.w.(*strings.Builder).String()
		c.stderr.mu.Unlock()
		t.Fatalf("kill dm-server: %v (it exited by itself; its stderr:\n%s)", err, out)
	}
	<-c.done
}

// call sends one request and returns the status and body.
func (c *child) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// expect sends a request and checks the status; it decodes a JSON answer into out.
func (c *child) expect(t *testing.T, method, path, body string, status int, out any) {
	t.Helper()
	got, b := c.call(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, got, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer is not the expected JSON: %v: %s", method, path, err, b)
		}
	}
}

// expectError checks a failure's status, unified body and code.
func (c *child) expectError(t *testing.T, method, path, body string, status, code int) {
	t.Helper()
	var e struct {
		Msg  string `json:"error_msg"`
		Code *int   `json:"error_code"`
	}
	c.expect(t, method, path, body, status, &e)
	if e.Msg == "" || e.Code == nil || *e.Code != code {
		t.Fatalf("%s %s: error body %+v, want code %d", method, path, e, code)
	}
}

// docBody substitutes the test servers into one of the user doc's request bodies.
func docBody(body string) string {
	r := strings.NewReplacer(
		`"port": 3306, "user": "root", "password": "123456"`,
		fmt.Sprintf(`"port": %d, "user": %q, "password": %q`, e2eSrc.Port, e2eSrc.User, e2eSrc.Password),
		`TARGET`, fmt.Sprintf(`"host": "127.0.0.1", "port": %d, "user": %q, "password": %q`, e2eDst.Port, e2eDst.User, e2eDst.Password),
	)
	return r.Replace(body)
}

// The user doc's bodies, with its trailing-comma typos fixed (API.md decision 9).
const (
	docCreateSource = `{"source_name": "mysql-01", "host": "127.0.0.1", "port": 3306, "user": "root", "password": "123456",
  "enable": true, "enable_gtid": false,
  "security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]},
  "purge": {"interval": 3600, "expires": 0, "remain_space": 15}}`
	docUpdateSource = `{"source": {"source_name": "mysql-01", "host": "127.0.0.1", "port": 3306, "user": "root", "password": "123456",
  "enable_gtid": false, "enable": false, "flavor": "mysql", "task_name_list": ["task1"],
  "security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]},
  "purge": {"interval": 3600, "expires": 0, "remain_space": 15},
  "relay_config": {"enable_relay": false, "relay_binlog_name": "mysql-bin.000002", "relay_dir": "./relay_log"}}}`
	docTask = `{"task": {"name": "task-1", "task_mode": "all", "shard_mode": "pessimistic", "meta_schema": "dm-meta",
  "enhance_online_schema_change": true, "on_duplicate": "overwrite",
  "target_config": {TARGET, "security": {"ssl_ca_content": "", "ssl_cert_content": "", "ssl_key_content": "", "cert_allowed_cn": ["string"]}},
  "binlog_filter_rule": {"rule-1": {"ignore_event": ["all dml"], "ignore_sql": ["^Drop"]},
    "rule-2": {"ignore_event": ["all dml"], "ignore_sql": ["^Drop"]}, "rule-3": {"ignore_event": ["all dml"], "ignore_sql": ["^Drop"]}},
  "table_migrate_rule": [{"source": {"source_name": "source-1", "schema": "db-*", "table": "tb-*"},
    "target": {"schema": "db1", "table": "tb1"}, "binlog_filter_rule": ["rule-1", "rule-2", "rule-3"]}],
  "source_config": {"full_migrate_conf": {"export_threads": 4, "import_threads": 16, "data_dir": "./exported_data", "consistency": "auto"},
    "incr_migrate_conf": {"repl_threads": 16, "repl_batch": 100},
    "source_conf": [{"source_name": "source-1"}]}}}`
)

// TestUserDocExamples walks the user doc's examples in order against a real server.
func TestUserDocExamples(t *testing.T) {
	e2eSrc.Exec(t, "CREATE DATABASE IF NOT EXISTS `db-a`")
	e2eSrc.Exec(t, "CREATE TABLE IF NOT EXISTS `db-a`.`tb-1` (id INT PRIMARY KEY, v VARCHAR(20))")
	e2eSrc.Exec(t, "CREATE TABLE IF NOT EXISTS `db-a`.`tb-2` (id INT PRIMARY KEY, v VARCHAR(20))")
	c := startChild(t, "--data-dir", t.TempDir(), "--workers", "worker-1,worker-2,worker-3")

	var list struct {
		Total int               `json:"total"`
		Data  []json.RawMessage `json:"data"`
	}
	c.expect(t, "GET", "/cluster/masters", "", 200, &list)
	if list.Total != 1 {
		t.Fatalf("masters: %+v", list)
	}
	c.expect(t, "GET", "/cluster/workers", "", 200, &list)
	if list.Total != 3 {
		t.Fatalf("workers: %+v", list)
	}

	// Sources: the doc's flat create body, then DM's wrapped one for a second source.
	var src map[string]any
	c.expect(t, "POST", "/sources", docBody(docCreateSource), 201, &src)
	if src["password"] != "******" || src["source_name"] != "mysql-01" {
		t.Fatalf("create source answered %v", src)
	}
	c.expect(t, "POST", "/sources", docBody(`{"source": `+strings.Replace(docCreateSource, "mysql-01", "source-1", 1)+`, "worker_name": "worker-3"}`), 201, nil)
	c.expectError(t, "POST", "/sources", docBody(docCreateSource), 400, 46007)
	c.expect(t, "GET", "/sources/mysql-01?with_status=true", "", 200, &src)
	if src["password"] != "******" || src["status_list"] == nil || src["task_name_list"] == nil || src["flavor"] != "mariadb" {
		t.Fatalf("get source: %v", src)
	}
	c.expect(t, "GET", "/sources?with_status=true", "", 200, &list)
	if list.Total != 2 {
		t.Fatalf("sources: %+v", list)
	}
	c.expectError(t, "GET", "/sources/nope", "", 404, 46008)
	c.expect(t, "PUT", "/sources/mysql-01", docBody(docUpdateSource), 200, &src)
	if src["enable"] != false {
		t.Fatalf("update source: %v", src)
	}
	c.expect(t, "POST", "/sources/mysql-01/enable", "", 200, nil)
	c.expect(t, "POST", "/sources/mysql-01/disable", "", 200, nil)
	c.expect(t, "POST", "/sources/mysql-01/enable", "", 200, nil)
	c.expect(t, "GET", "/sources/mysql-01/status", "", 200, &list)
	c.expect(t, "POST", "/sources/mysql-01/transfer", `{"worker_name": "worker-2"}`, 200, nil)
	c.expect(t, "POST", "/sources/mysql-01/relay/enable", `{"worker_name_list": ["worker-2"], "relay_binlog_name": "mysql-bin.000002", "relay_dir": "./relay_log"}`, 200, nil)
	c.expect(t, "POST", "/sources/mysql-01/relay/purge", `{"relay_binlog_name": "mysql-bin.000002", "relay_dir": "string"}`, 200, nil)
	c.expect(t, "POST", "/sources/mysql-01/relay/disable", `{"worker_name_list": ["worker-2"]}`, 200, nil)
	var names []string
	c.expect(t, "GET", "/sources/source-1/schemas", "", 200, &names)
	if !contains(names, "db-a") {
		t.Fatalf("schemas: %v", names)
	}
	c.expect(t, "GET", "/sources/source-1/schemas/db-a", "", 200, &names)
	if !contains(names, "tb-1") {
		t.Fatalf("tables: %v", names)
	}

	// Tasks.
	var created struct {
		Task        map[string]any `json:"task"`
		CheckResult string         `json:"check_result"`
	}
	c.expect(t, "POST", "/tasks", docBody(docTask), 201, &created)
	if created.Task["name"] != "task-1" || created.CheckResult == "" {
		t.Fatalf("create task: %+v", created)
	}
	if tc := created.Task["target_config"].(map[string]any); tc["password"] != "******" {
		t.Fatalf("task target password not masked: %v", tc)
	}
	var task map[string]any
	c.expect(t, "GET", "/tasks/task-1?with_status=true", "", 200, &task)
	if task["status_list"] == nil {
		t.Fatalf("get task: %v", task)
	}
	c.expect(t, "PUT", "/tasks/task-1", docBody(strings.Replace(docTask, `"repl_threads": 16`, `"repl_threads": 8`, 1)), 200, nil)
	var targets struct {
		Total int `json:"total"`
		Data  []struct {
			SourceSchema string `json:"source_schema"`
			TargetTable  string `json:"target_table"`
		} `json:"data"`
	}
	c.expect(t, "GET", "/tasks/task-1/sources/source-1/migrate_targets", "", 200, &targets)
	if targets.Total != 2 || targets.Data[0].TargetTable != "tb1" {
		t.Fatalf("migrate targets: %+v", targets)
	}
	c.expect(t, "GET", "/tasks/task-1/sources/source-1/schemas", "", 200, &names)
	c.expect(t, "GET", "/tasks/task-1/sources/source-1/schemas/db-a", "", 200, &names)
	var ts struct {
		SQL string `json:"schema_create_sql"`
	}
	c.expect(t, "GET", "/tasks/task-1/sources/source-1/schemas/db-a/tb-1", "", 200, &ts)
	if !strings.Contains(ts.SQL, "CREATE TABLE") {
		t.Fatalf("table structure: %+v", ts)
	}
	c.expect(t, "POST", "/tasks/task-1/sources/source-1/schemas/db-a/tb-1", `{"sql_content": "CREATE TABLE x (id INT PRIMARY KEY, v VARCHAR(30))"}`, 200, nil)
	c.expect(t, "DELETE", "/tasks/task-1/sources/source-1/schemas/db-a/tb-1", "", 204, nil)
	c.expect(t, "GET", "/tasks", "", 200, &list)
	if list.Total != 1 {
		t.Fatalf("tasks: %+v", list)
	}
	c.expect(t, "POST", "/tasks/task-1/start", "", 200, nil)
	c.expect(t, "GET", "/tasks/task-1/status?stage=running", "", 200, &list)
	if list.Total != 1 {
		t.Fatalf("status: %+v", list)
	}
	c.expect(t, "POST", "/tasks/task-1/stop", "", 200, nil)
	c.expectError(t, "GET", "/tasks/nope", "", 400, 46018)
	c.expect(t, "DELETE", "/tasks/task-1?force=true", "", 204, nil)

	c.expect(t, "DELETE", "/sources/mysql-01?force=true", "", 204, nil)
	c.expectError(t, "DELETE", "/cluster/workers/worker-1", "", 400, 46005)
	c.expectError(t, "DELETE", "/cluster/masters/master9", "", 400, 38048)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKillNineKeepsState creates 100 sources and 100 tasks, kills the server with SIGKILL
// and checks that a restarted server has all of them.
func TestKillNineKeepsState(t *testing.T) {
	const n = 100
	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir, "--workers", fmt.Sprint(n))
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			src := fmt.Sprintf(`{"source_name": "src-%03d", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
				i, e2eSrc.Port, e2eSrc.User, e2eSrc.Password)
			if code, b := c.call(t, "POST", "/sources", src); code != 201 {
				errs <- fmt.Sprintf("source %d: %d %s", i, code, b)
				return
			}
			task := fmt.Sprintf(`{"task": {"name": "task-%03d", "task_mode": "full", "on_duplicate": "replace",
				"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
				"table_migrate_rule": [], "ignore_checking_items": ["all"],
				"source_config": {"source_conf": [{"source_name": "src-%03d"}]}}}`, i, e2eDst.Port, e2eDst.User, e2eDst.Password, i)
			if code, b := c.call(t, "POST", "/tasks", task); code != 201 {
				errs <- fmt.Sprintf("task %d: %d %s", i, code, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	c.kill9(t)

	c = startChild(t, "--data-dir", dir, "--workers", fmt.Sprint(n))
	var sources, tasks struct {
		Total int `json:"total"`
	}
	c.expect(t, "GET", "/sources", "", 200, &sources)
	c.expect(t, "GET", "/tasks", "", 200, &tasks)
	if sources.Total != n || tasks.Total != n {
		t.Fatalf("after kill -9 and restart: %d sources and %d tasks, want %d of each", sources.Total, tasks.Total, n)
	}
	var workers struct {
		Data []struct {
			BoundStage string `json:"bound_stage"`
		} `json:"data"`
	}
	c.expect(t, "GET", "/cluster/workers", "", 200, &workers)
	for _, w := range workers.Data {
		if w.BoundStage != "bound" {
			t.Fatalf("a worker lost its binding across the restart: %+v", workers.Data)
		}
	}
}

// TestKillNineDuringFullMigration kills dm-server while a full task dumps and again while
// it loads; after each restart the task resumes, and the target ends identical to the
// source with nothing lost or duplicated (a table without a key would show duplicates).
func TestKillNineDuringFullMigration(t *testing.T) {
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS crashdb")
	e2eSrc.Exec(t, "CREATE DATABASE crashdb")
	e2eSrc.Exec(t, "CREATE TABLE crashdb.pk (id INT PRIMARY KEY, v VARCHAR(100), n BIGINT)")
	e2eSrc.Exec(t, "CREATE TABLE crashdb.nopk (a INT, v VARCHAR(100))")
	for _, tbl := range []string{"pk", "nopk"} {
		e2eSrc.Exec(t, "INSERT INTO crashdb."+tbl+" SELECT seq, REPEAT(CHAR(65 + seq % 26), 80)"+
			map[string]string{"pk": ", seq * 7", "nopk": ""}[tbl]+" FROM crashdb.seq_1_to_150000")
	}
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS crashdb")
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS dm_meta")

	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir)
	src := fmt.Sprintf(`{"source_name": "crash-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password)
	c.expect(t, "POST", "/sources", src, 201, nil)
	task := fmt.Sprintf(`{"task": {"name": "crash", "task_mode": "full", "on_duplicate": "error",
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [{"source": {"source_name": "crash-src", "schema": "crashdb", "table": ""}}],
		"source_config": {"full_migrate_conf": {"export_threads": 1, "import_threads": 1},
		"source_conf": [{"source_name": "crash-src"}]}}}`, e2eDst.Port, e2eDst.User, e2eDst.Password)
	c.expect(t, "POST", "/tasks", task, 201, nil)
	c.expect(t, "POST", "/tasks/crash/start", "", 200, nil)

	type status struct {
		Data []struct {
			Stage      string `json:"stage"`
			Unit       string `json:"unit"`
			ErrorMsg   string `json:"error_msg"`
			DumpStatus *struct {
				FinishedRows float64 `json:"finished_rows"`
			} `json:"dump_status"`
			LoadStatus *struct {
				FinishedBytes int64 `json:"finished_bytes"`
				TotalBytes    int64 `json:"total_bytes"`
			} `json:"load_status"`
		} `json:"data"`
	}
	// waitUntil polls the task status until cond holds; it reports whether it did.
	waitUntil := func(c *child, cond func(stage, unit string, st status) bool) bool {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			var st status
			if code, b := c.call(t, "GET", "/tasks/crash/status", ""); code == 200 {
				if err := json.Unmarshal(b, &st); err == nil && len(st.Data) == 1 {
					d := st.Data[0]
					if d.Stage == "Paused" && d.ErrorMsg != "" {
						t.Fatalf("task paused: %s", d.ErrorMsg)
					}
					if cond(d.Stage, d.Unit, st) {
						return true
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	killedInDump := waitUntil(c, func(stage, unit string, st status) bool {
		d := st.Data[0]
		return stage == "Running" && unit == "Dump" && d.DumpStatus != nil && d.DumpStatus.FinishedRows > 0
	})
	if !killedInDump {
		t.Fatal("never saw the dump running")
	}
	c.kill9(t)

	c = startChild(t, "--data-dir", dir)
	killedInLoad := waitUntil(c, func(stage, unit string, st status) bool {
		d := st.Data[0]
		return stage == "Finished" || (unit == "Load" && d.LoadStatus != nil && d.LoadStatus.FinishedBytes > 0 &&
			d.LoadStatus.FinishedBytes < d.LoadStatus.TotalBytes)
	})
	if !killedInLoad {
		t.Fatal("the restarted task neither loaded nor finished")
	}
	c.kill9(t)

	c = startChild(t, "--data-dir", dir)
	if !waitUntil(c, func(stage, unit string, st status) bool { return stage == "Finished" }) {
		t.Fatal("the task did not finish after the restarts")
	}
	srcDB, dstDB := e2eSrc.DB(t), e2eDst.DB(t)
	if err := mysqltest.CompareSchemas(context.Background(), srcDB, "crashdb", dstDB, "crashdb"); err != nil {
		t.Fatal(err)
	}
}

// pkLoad runs write k (0 insert-or-bump, 1 update, 2 delete) of a write load's step i on
// table pk (id INT PRIMARY KEY, v INT, s VARCHAR(40)) seeded with ids 1..5000.
func pkLoad(db *sql.DB, k, i int) error {
	var err error
	switch k {
	case 0:
		_, err = db.Exec("INSERT INTO pk (id, v, s) VALUES (?, ?, 'load') ON DUPLICATE KEY UPDATE v = v + 1", 10000+i, i)
	case 1:
		_, err = db.Exec("UPDATE pk SET v = v + 1, s = CONCAT('u', ?) WHERE id = ?", i, 1+i%5000)
	case 2:
		_, err = db.Exec("DELETE FROM pk WHERE id = ?", 1+(i*7)%5000)
	}
	return err
}

// TestKillNineDuringReplication runs an all-mode task under a continuous write load
// (inserts, updates and deletes on a keyed and a keyless table, plus DDL) and kills
// dm-server with SIGKILL several times; the target then converges to the source with
// nothing lost or duplicated.
func TestKillNineDuringReplication(t *testing.T) {
	e2eSrc.Exec(t, "DROP DATABASE IF EXISTS repldb")
	e2eDst.Exec(t, "DROP DATABASE IF EXISTS repldb")
	e2eSrc.Exec(t, "CREATE DATABASE repldb")
	e2eSrc.Exec(t, "CREATE TABLE repldb.pk (id INT PRIMARY KEY, v INT, s VARCHAR(40))")
	e2eSrc.Exec(t, "CREATE TABLE repldb.nopk (a INT, b VARCHAR(40))")
	e2eSrc.Exec(t, "INSERT INTO repldb.pk SELECT seq, seq, 'seed' FROM repldb.seq_1_to_5000")

	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir)
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "repl-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)
	c.expect(t, "POST", "/tasks", fmt.Sprintf(`{"task": {"name": "repl", "task_mode": "all", "on_duplicate": "replace",
		"target_config": {"host": "127.0.0.1", "port": %d, "user": %q, "password": %q},
		"table_migrate_rule": [{"source": {"source_name": "repl-src", "schema": "repldb", "table": ""}}],
		"source_config": {"full_migrate_conf": {"consistency": %q}, "incr_migrate_conf": {"repl_threads": 4, "repl_batch": 50},
		"source_conf": [{"source_name": "repl-src"}]}}}`,
		e2eDst.Port, e2eDst.User, e2eDst.Password, cmp.Or(os.Getenv("DMKIT_E2E_CONSISTENCY"), "auto")), 201, nil)
	c.expect(t, "POST", "/tasks/repl/start", "", 200, nil)

	// The write load runs until stopped; every statement is its own transaction.
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	startLoad := make(chan struct{})
	if os.Getenv("DMKIT_E2E_LOAD_AFTER_SYNC") == "" {
		close(startLoad)
	}
	go func() {
		<-startLoad
		db, err := e2eSrc.Open("repldb")
		if err != nil {
			loadDone <- err
			return
		}
		defer db.Close()
		for i := 0; ctx.Err() == nil; i++ {
			var err error
			switch i % 5 {
			case 0, 1, 2:
				err = pkLoad(db, i%5, i)
			case 3:
				_, err = db.Exec("INSERT INTO nopk VALUES (?, 'x'), (?, 'y')", i, i)
			case 4:
				_, err = db.Exec("DELETE FROM nopk WHERE a = ? LIMIT 1", i-10)
			}
			if err != nil {
				loadDone <- err
				return
			}
			if i == 1500 {
				if _, err := db.Exec("ALTER TABLE pk ADD COLUMN extra INT DEFAULT 7"); err != nil {
					loadDone <- err
					return
				}
			}
		}
		loadDone <- nil
	}()

	waitSync := func(c *child) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var st struct {
				Data []struct {
					Stage    string `json:"stage"`
					Unit     string `json:"unit"`
					ErrorMsg string `json:"error_msg"`
				} `json:"data"`
			}
			_, b := c.call(t, "GET", "/tasks/repl/status", "")
			if json.Unmarshal(b, &st) == nil && len(st.Data) == 1 {
				if d := st.Data[0]; d.Unit == "Sync" && d.Stage == "Running" {
					return
				} else if d.Stage == "Paused" && d.ErrorMsg != "" {
					t.Fatalf("task paused: %s", d.ErrorMsg)
				}
			}
		}
		t.Fatal("the task never reached the sync unit")
	}
	waitSync(c)
	select {
	case <-startLoad:
	default:
		close(startLoad)
	}
	kills := 3
	if v := os.Getenv("DMKIT_E2E_KILLS"); v != "" {
		fmt.Sscan(v, &kills)
	}
	for i := range kills {
		time.Sleep(time.Duration(300+200*i) * time.Millisecond)
		c.kill9(t)
		c = startChild(t, "--data-dir", dir)
		waitSync(c)
	}
	time.Sleep(time.Second)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("write load: %v", err)
	}
	srcDB, dstDB := e2eSrc.DB(t), e2eDst.DB(t)
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = mysqltest.CompareSchemas(context.Background(), srcDB, "repldb", dstDB, "repldb"); last == nil {
			return
		}
	}
	_, status := c.call(t, "GET", "/tasks/repl/status", "")
	t.Fatalf("target never converged after the kills: %v\nstatus: %s", last, status)
}
