package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dbconn"
)

// crashChildEnv, when set, makes the test binary run one syncer (configured from the
// JSON in the variable) instead of the tests, so a test can kill it at any moment.
const crashChildEnv = "DMKIT_SYNCER_CRASH_CHILD"

// childConfig configures a crash child.
type childConfig struct {
	Task, Schema     string
	Source, Target   dbconn.Config
	Start            Location
	Workers, Batch   int
	CrashPoint       string // crash hook point to die at ("" for none)
	CrashAfter       int    // die at this occurrence of CrashPoint
	CheckpointMillis int
	OnlineDDL        bool // handle gh-ost / pt-osc tables
}

// crashChild runs the syncer of the child process until it is killed or fails.
func crashChild() int {
	var cc childConfig
	if err := json.Unmarshal([]byte(os.Getenv(crashChildEnv)), &cc); err != nil {
		fmt.Fprintln(os.Stderr, "crash child config:", err)
		return 2
	}
	ba, err := filter.NewBAList(filter.Rules{DoDBs: []string{cc.Schema}}, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var seen atomic.Int64
	cfg := Config{
		Task: cc.Task, Source: "src1", SourceDB: cc.Source, Flavor: "mariadb", Target: cc.Target,
		Start: cc.Start, Workers: cc.Workers, Batch: cc.Batch, Tables: ba.Match,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		checkpointInterval: time.Duration(cc.CheckpointMillis) * time.Millisecond,
		retryBudget:        20 * time.Second,
	}
	if cc.OnlineDDL {
		cfg.OnlineDDL = filter.DefaultOnlineDDL()
	}
	if cc.CrashPoint != "" {
		cfg.crashHook = func(point string) {
			if point == cc.CrashPoint && seen.Add(1) == int64(cc.CrashAfter) {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "syncer:", err)
		return 1
	}
	return 0
}

// child is a running crash child.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(t *testing.T, cc childConfig) *child {
	t.Helper()
	b, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
	c.done <- errors.New("killed")
}

// killedBySignal reports whether the child died of SIGKILL (its crash hook fired).
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return ws.Signaled()
		}
	}
	return false
}

// crashWorkload writes transactions to t (keyed, with a unique key), n (no key) and log
// (no key, one row per transaction, recording each transaction's GTID sequence).
type crashWorkload struct {
	db     string
	txns   int
	ddlAt  int
	mu     sync.Mutex
	logSeq map[int]uint64 // log id → GTID sequence number of its transaction
	err    error
}

func (w *crashWorkload) run(ctx context.Context) {
	db, err := src.Open("")
	if err != nil {
		w.setErr(err)
		return
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		w.setErr(err)
		return
	}
	defer conn.Close()
	exec := func(q string) bool {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			w.setErr(fmt.Errorf("%s: %w", q, err))
			return false
		}
		return true
	}
	if !exec("USE " + w.db) {
		return
	}
	for i := 1; i <= w.txns && ctx.Err() == nil; i++ {
		stmts := []string{"BEGIN",
			fmt.Sprintf("INSERT INTO t (id, v, u) VALUES (%d, %d, %d)", i, i, i),
			fmt.Sprintf("UPDATE t SET v = v + 1 WHERE id = %d", i/2+1),
			fmt.Sprintf("INSERT INTO n (a, b) VALUES (%d, 'x%d')", i%50, i),
			fmt.Sprintf("INSERT INTO log VALUES (%d)", i),
			// p has its primary key as only unique key: its updates are written as upserts.
			fmt.Sprintf("INSERT INTO p VALUES (%d, 0, 'p%d')", i, i),
			fmt.Sprintf("UPDATE p SET v = v + 1 WHERE id = %d", i/2+1),
			fmt.Sprintf("UPDATE p SET v = v + 1, w = 'q%d' WHERE id = %d", i, i/3+1),
		}
		if i%13 == 0 && i > 20 {
			stmts = append(stmts, fmt.Sprintf("UPDATE p SET id = id + 100000 WHERE id = %d", i-5))
		}
		if i%7 == 0 {
			stmts = append(stmts,
				fmt.Sprintf("DELETE FROM t WHERE id = %d", i-3),
				fmt.Sprintf("DELETE FROM n WHERE a = %d LIMIT 1", (i+7)%50),
				fmt.Sprintf("UPDATE n SET b = 'y%d' WHERE a = %d LIMIT 2", i, (i+3)%50))
		}
		if i%11 == 0 && i > 20 {
			// Swap the unique values of two rows through a temporary value.
			a, b := i-1, i-2
			stmts = append(stmts,
				fmt.Sprintf("UPDATE t SET u = -1 WHERE id = %d", a),
				fmt.Sprintf("UPDATE t SET u = %d WHERE id = %d", a, b),
				fmt.Sprintf("UPDATE t SET u = %d WHERE id = %d", b, a))
		}
		stmts = append(stmts, "COMMIT")
		for _, s := range stmts {
			if !exec(s) {
				return
			}
		}
		var g string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&g); err != nil {
			w.setErr(err)
			return
		}
		w.mu.Lock()
		w.logSeq[i] = gtidSeq(g)
		w.mu.Unlock()
		if i == w.ddlAt {
			if !exec("ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7") || !exec("ALTER TABLE n ADD COLUMN c INT") {
				return
			}
		}
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // spread the load over the kills
		}
	}
}

func (w *crashWorkload) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// gtidSeq returns the sequence number of a MariaDB GTID ("domain-server-seq"), the
// highest one of a position with several domains.
func gtidSeq(g string) uint64 {
	var m uint64
	for part := range strings.SplitSeq(g, ",") {
		if i := strings.LastIndexByte(part, '-'); i >= 0 {
			if n, err := strconv.ParseUint(strings.TrimSpace(part[i+1:]), 10, 64); err == nil && n > m {
				m = n
			}
		}
	}
	return m
}

// checkCheckpointInvariant verifies, after a crash, that no checkpoint is ahead of the
// applied data: every log row of a transaction that ended before the global point, and
// before the point of the worker that owns the log table, is in the target. Unless
// requireCheckpoint, the task may have no checkpoint yet (a child killed during start-up,
// as happens on a slow machine), and then nothing may have been applied.
func checkCheckpointInvariant(t *testing.T, w *crashWorkload, task string, requireCheckpoint bool) {
	t.Helper()
	ctx := context.Background()
	dstDB, srcDB := dst.DB(t), src.DB(t)
	st, err := loadCheckpoint(ctx, dstDB, DefaultMetaSchema, task, "src1")
	if err != nil || (st == nil && requireCheckpoint) {
		t.Fatalf("load checkpoint: %v, %v", st, err)
	}
	have := map[int]bool{}
	rows, err := dstDB.Query("SELECT id FROM " + w.db + ".log")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	rows.Close()
	if st == nil {
		// The fresh start's global checkpoint is written before anything is applied.
		if len(have) > 0 {
			t.Fatalf("no checkpoint, but %d log rows were applied to the target", len(have))
		}
		t.Log("the child was killed before its first checkpoint")
		return
	}
	seqAt := func(file string, pos uint32) uint64 {
		if file == "" {
			return 0
		}
		return gtidSeq(queryString(t, srcDB, "SELECT BINLOG_GTID_POS(?, ?)", file, pos))
	}
	points := map[string]uint64{"global": seqAt(st.global.File, st.global.Pos)}
	owner := int(hashString("T"+"`"+w.db+"`.`log`") % uint32(st.workers))
	if row, ok := st.rows[owner]; ok {
		points[fmt.Sprintf("worker %d transaction point", owner)] = seqAt(row.txn.File, row.txn.Pos)
		// The applied point may be inside a transaction, whose GTID BINLOG_GTID_POS then
		// already counts: only the transactions before it are known complete.
		if seq := seqAt(row.applied.File, row.applied.Pos); seq > 0 {
			points[fmt.Sprintf("worker %d applied point", owner)] = seq - 1
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, seq := range points {
		for id, s := range w.logSeq {
			if s <= seq && !have[id] {
				t.Errorf("checkpoint ahead of data: %s covers GTID seq %d but log row %d (seq %d) is not in the target", name, seq, id, s)
				return
			}
		}
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	for _, tc := range []struct {
		name       string
		crashPoint string // "" kills from outside at random moments
		ddl        bool
	}{
		{name: "random-kill"},
		{name: "after-commit", crashPoint: "worker-committed"},
		{name: "before-ddl", crashPoint: "before-ddl", ddl: true},
		{name: "after-ddl", crashPoint: "after-ddl", ddl: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := "s_crash_" + strings.ReplaceAll(tc.name, "-", "_")
			task := "crash_" + strings.ReplaceAll(tc.name, "-", "_")
			setupSchema(t, db,
				"CREATE TABLE t (id INT PRIMARY KEY, v INT, u INT, UNIQUE KEY (u))",
				"CREATE TABLE n (a INT, b VARCHAR(20))",
				"CREATE TABLE log (id INT)",
				"CREATE TABLE p (id INT PRIMARY KEY, v INT, w VARCHAR(20))")
			_ = DropCheckpoints(context.Background(), dst.DB(t), "", task)
			w := &crashWorkload{db: db, txns: 1500, logSeq: map[int]uint64{}}
			if tc.ddl {
				w.ddlAt = 600
			}
			cc := childConfig{Task: task, Schema: db, Source: src.DBConfig(), Target: dst.DBConfig(),
				Start: masterLoc(t), Workers: 4, Batch: 20, CheckpointMillis: 30}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); w.run(ctx) }()

			for round := 0; round < 4; round++ {
				cc.CrashPoint, cc.CrashAfter = tc.crashPoint, 0
				if tc.crashPoint == "worker-committed" {
					cc.CrashAfter = 5 + rand.IntN(60)
				} else if tc.crashPoint != "" {
					cc.CrashAfter = 1
				}
				c := startChild(t, cc)
				wait := time.Duration(100+rand.IntN(500)) * time.Millisecond
				if tc.crashPoint != "" && (round == 0 || !tc.ddl) {
					wait = 60 * time.Second // until the crash point fires
				}
				select {
				case err := <-c.done:
					c.done <- err
					if tc.crashPoint == "" || !killedBySignal(err) {
						t.Fatalf("child exited on its own: %v", err)
					}
				case <-time.After(wait):
					if tc.crashPoint != "" && wait == 60*time.Second {
						t.Fatalf("child did not reach crash point %s", tc.crashPoint)
					}
					c.kill()
				}
				checkCheckpointInvariant(t, w, task, false)
			}
			wg.Wait()
			if w.err != nil {
				t.Fatal(w.err)
			}
			// Final run to completion, in process.
			cfg := baseConfig(t, task, db)
			cfg.Workers, cfg.Batch = 4, 20
			r, stop := startSyncer(t, cfg)
			waitSynced(t, r, db)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			checkCheckpointInvariant(t, w, task, true)
		})
	}
}
