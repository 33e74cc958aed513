package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// Credentials of the account every server is given for tests.
const (
	User     = "dmkit"
	Password = "dmkit"
)

const (
	readyTimeout    = 60 * time.Second // how long a starting server may take
	shutdownTimeout = 2 * time.Minute  // graceful shutdown before SIGKILL
	startAttempts   = 5                // retries on port collisions
	maxSocketPath   = 100              // sun_path is 108 bytes on Linux
)

// Options configures a server. The zero value gives a binlog-enabled,
// ROW-format server with a unique server_id.
type Options struct {
	// Name labels the server in its temp dir name and in errors.
	Name string
	// ServerID is the server_id; 0 picks one unique to this process.
	ServerID uint32
	// SkipLogBin turns binary logging off (as does "--skip-log-bin" in
	// ExtraArgs).
	SkipLogBin bool
	// BinlogFormat is binlog_format; empty means ROW.
	BinlogFormat string
	// GTIDStrictMode sets gtid_strict_mode=ON.
	GTIDStrictMode bool
	// ExtraArgs are appended to the mariadbd command line and so override
	// the defaults, e.g. "--binlog-format=STATEMENT".
	ExtraArgs []string
}

// Server is one running (or stopped) mariadbd process. Host, Port, User and
// Password are for TCP clients; root is reachable through Socket.
type Server struct {
	Name     string
	Host     string
	Port     int
	User     string
	Password string
	Dir      string // temp dir holding data, binlogs, socket and error.log
	Socket   string
	ServerID uint32

	mariadbd string
	args     []string

	mu    sync.Mutex
	proc  *process // nil when not running
	admin *sql.DB  // root over the socket; nil when not running
}

// process is a started mariadbd; done is closed once it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, valid after done is closed
}

// serverSeq numbers the servers of this process for unique server_ids.
var serverSeq atomic.Uint32

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// Start initialises a fresh data directory and starts mariadbd on a free
// port, then creates the dmkit@% account. The caller must Stop it.
func Start(opts Options) (*Server, error) {
	mariadbd, err := findBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := findBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = "server"
	}
	dir, err := os.MkdirTemp("", "mysqltest-"+safeName(name)+"-")
	if err != nil {
		return nil, fmt.Errorf("mysqltest %s: create temp dir: %w", name, err)
	}
	s := &Server{
		Name:     name,
		Host:     "127.0.0.1",
		User:     User,
		Password: Password,
		Dir:      dir,
		Socket:   filepath.Join(dir, "sock"),
		ServerID: opts.ServerID,
		mariadbd: mariadbd,
	}
	if s.ServerID == 0 {
		s.ServerID = uint32(os.Getpid()%4_000_000)*1000 + 1 + serverSeq.Add(1)%999
	}
	if err := s.init(installDB, opts); err != nil {
		s.Stop()
		return nil, fmt.Errorf("mysqltest %s: %w", name, err)
	}
	return s, nil
}

// init creates the data directory, starts the server and the account.
func (s *Server) init(installDB string, opts Options) error {
	if len(s.Socket) > maxSocketPath {
		return fmt.Errorf("socket path %s is too long for a unix socket; set TMPDIR to a shorter directory", s.Socket)
	}
	data := filepath.Join(s.Dir, "data")
	if err := os.Mkdir(filepath.Join(s.Dir, "binlog"), 0o755); err != nil {
		return err
	}
	// Each server gets its own tmpdir: servers sharing /tmp can trip over each other's
	// internal temporary files.
	tmp := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("create tmpdir: %w", err)
	}
	common := []string{
		"--tmpdir=" + tmp,
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M",
	}
	if os.Geteuid() == 0 {
		common = append(common, "--user=root") // mariadbd refuses to run as root otherwise
	}
	install := append([]string{
		"--no-defaults",
		"--auth-root-authentication-method=normal",
		"--datadir=" + data,
		"--skip-test-db",
		"--skip-name-resolve",
	}, common...)
	if out, err := exec.Command(installDB, install...).CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db: %w\n%s", err, tail(string(out), 20))
	}
	s.args = append([]string{
		"--no-defaults",
		"--datadir=" + data,
		"--socket=" + s.Socket,
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.Dir, "mariadbd.pid"),
		"--log-error=" + s.errorLogPath(),
		"--server-id=" + strconv.FormatUint(uint64(s.ServerID), 10),
		"--skip-name-resolve",
		"--max-connections=500",
		"--max-allowed-packet=64M",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--innodb-flush-log-at-trx-commit=2", // durable across process kills, which is what tests do
		"--gtid-domain-id=0",
	}, common...)
	format := opts.BinlogFormat
	if format == "" {
		format = "ROW"
	}
	s.args = append(s.args, "--binlog-format="+format, "--binlog-row-image=FULL")
	if !opts.SkipLogBin && !slices.Contains(opts.ExtraArgs, "--skip-log-bin") {
		s.args = append(s.args,
			"--log-bin="+filepath.Join(s.Dir, "binlog", "mysql-bin"),
			"--log-slave-updates",
		)
	}
	if opts.GTIDStrictMode {
		s.args = append(s.args, "--gtid-strict-mode=ON")
	}
	s.args = append(s.args, opts.ExtraArgs...)

	var err error
	for range startAttempts {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err = s.start(); !errors.Is(err, errPortInUse) {
			break
		}
	}
	if err != nil {
		return err
	}
	return s.createUser()
}

// createUser adds the test account without writing it to the binlog, so
// replication tests see only their own events. It uses its own pool so the
// session's sql_log_bin=0 never leaks into admin connections.
func (s *Server) createUser() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	db, err := sql.Open("mysql", s.adminDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("create test account: %w", err)
	}
	defer conn.Close()
	for _, st := range []struct {
		query string
		args  []any
	}{
		{"SET SESSION sql_log_bin = 0", nil},
		{"CREATE USER ?@'%' IDENTIFIED BY ?", []any{s.User, s.Password}},
		{"GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", []any{s.User}},
	} {
		if _, err := conn.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("create test account: %w", err)
		}
	}
	return nil
}

// start launches mariadbd with s.args on s.Port and waits until root can
// connect through the socket.
func (s *Server) start() error {
	logOffset := fileSize(s.errorLogPath())
	console, err := os.OpenFile(filepath.Join(s.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.mariadbd, append(slices.Clone(s.args), "--port="+strconv.Itoa(s.Port))...)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	admin, err := s.waitReady(p)
	if err != nil {
		p.kill()
		log := s.errorLogSince(logOffset)
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("%w: %d", errPortInUse, s.Port)
		}
		return fmt.Errorf("%w; %s (last lines):\n%s", err, s.errorLogPath(), tail(log, 25))
	}
	s.mu.Lock()
	s.proc, s.admin = p, admin
	s.mu.Unlock()
	return nil
}

// adminDSN is root over the unix socket; multi-statement so Exec can run
// scripts.
func (s *Server) adminDSN() string {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "unix"
	cfg.Addr = s.Socket
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// waitReady polls the socket until root can connect or p exits.
func (s *Server) waitReady(p *process) (*sql.DB, error) {
	db, err := sql.Open("mysql", s.adminDSN())
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return db, nil
		}
		select {
		case <-p.done:
			db.Close()
			return nil, fmt.Errorf("mariadbd exited during start-up (%v)", p.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			db.Close()
			return nil, fmt.Errorf("mariadbd not ready after %s: %w", readyTimeout, err)
		}
	}
}

// Stop shuts the server down gracefully (SIGKILL if that takes too long)
// and removes its temp dir. It is safe to call more than once.
func (s *Server) Stop() error {
	err := s.shutdown()
	if rmErr := os.RemoveAll(s.Dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// Kill sends SIGKILL, simulating a crash; the data directory is kept so
// Restart can recover it.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeAdmin()
	if s.proc == nil {
		return nil
	}
	s.proc.kill()
	s.proc = nil
	return nil
}

// Restart stops the server if it is running (gracefully) and starts it
// again on the same data directory and port.
func (s *Server) Restart() error {
	if err := s.shutdown(); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return fmt.Errorf("mysqltest %s: restart: %w", s.Name, err)
	}
	return nil
}

// shutdown stops a running server with SIGTERM, falling back to SIGKILL.
func (s *Server) shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeAdmin()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.kill()
		return fmt.Errorf("mysqltest %s: SIGTERM: %w", s.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(shutdownTimeout):
		p.kill()
		return fmt.Errorf("mysqltest %s: no clean shutdown within %s; killed it", s.Name, shutdownTimeout)
	}
}

func (s *Server) closeAdmin() {
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // fails only if it already exited
	<-p.done
}

// DBConfig returns the TCP connection settings of the test account.
func (s *Server) DBConfig() dbconn.Config {
	return dbconn.Config{Host: s.Host, Port: s.Port, User: s.User, Password: s.Password}
}

// DSN returns a go-sql-driver/mysql DSN for the test account and database
// (which may be empty).
func (s *Server) DSN(database string) string {
	dsn, err := s.DBConfig().DSN(database)
	if err != nil {
		// Without TLS or params DSN cannot fail.
		panic(fmt.Sprintf("mysqltest: %v", err))
	}
	return dsn
}

// Open opens and pings a pool for the test account on database (which may
// be empty). The caller closes it.
func (s *Server) Open(database string) (*sql.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return dbconn.Open(ctx, s.DBConfig(), database)
}

// DB opens a pool for the test account with no default database; it is
// closed when t's test ends.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := s.Open("")
	if err != nil {
		t.Fatalf("mysqltest %s: %v", s.Name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs query (several statements separated by ';' are allowed) as
// root and fails t on error.
func (s *Server) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	s.mu.Lock()
	db := s.admin
	s.mu.Unlock()
	if db == nil {
		t.Fatalf("mysqltest %s: Exec on a server that is not running", s.Name)
	}
	// Not t.Context(): Exec is often used in t.Cleanup, after it is done.
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("mysqltest %s: %s: %v", s.Name, query, err)
	}
}

func (s *Server) errorLogPath() string { return filepath.Join(s.Dir, "error.log") }

// errorLogSince returns the error log written after offset.
func (s *Server) errorLogSince(offset int64) string {
	b, err := os.ReadFile(s.errorLogPath())
	if err != nil {
		return fmt.Sprintf("(cannot read error log: %v)", err)
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	return string(b[offset:])
}

// findBinary looks for name in PATH, then /usr/sbin and /usr/bin.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found; install it with `sudo apt-get install -y mariadb-server` or run scripts/install-deps.sh", name)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// safeName makes name usable in a file name and keeps it short.
func safeName(name string) string {
	name = unsafeNameChars.ReplaceAllString(name, "_")
	if len(name) > 20 {
		name = name[:20]
	}
	return name
}
