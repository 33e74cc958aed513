// Command dm-server runs a whole DM deployment in one process (--role all, the default):
// the master's OpenAPI (/api/v1/...) on --listen, in-process workers, and a durable store
// in --data-dir (or in etcd with --etcd-endpoints).
//
//	dm-server --listen 127.0.0.1:8261 --data-dir ./dm-data --workers 2
//
// With --role master it is one of several dm-masters: an embedded etcd member
// (--etcd-peer-urls, --etcd-advertise-peer-urls, --etcd-client-urls, --initial-cluster,
// --etcd-data-dir) or an external etcd (--etcd-endpoints), leader election with a session
// of --election-ttl, the Cluster on the leader only, and every other master forwarding
// the API to the leader's --advertise-addr (503 with code 38043 while none is known).
//
//	dm-server --role master --name m1 --listen 10.0.0.1:8261 --secret-key-path key \
//	  --etcd-peer-urls http://10.0.0.1:8291 --etcd-client-urls http://10.0.0.1:2379 \
//	  --initial-cluster m1=http://10.0.0.1:8291,m2=http://10.0.0.2:8291,m3=http://10.0.0.3:8291
//
// With --role worker it is a dm-worker of such a cluster: it registers in the masters'
// etcd (--etcd-endpoints) under a lease of --keepalive-ttl, runs the subtasks of the
// source the leader binds to it, and serves the leader's calls on --listen
// (--advertise-addr).
//
//	dm-server --role worker --name w1 --listen 10.0.0.11:8262 --secret-key-path key \
//	  --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379
//
// SIGINT or SIGTERM stops it gracefully: in-flight requests finish, running subtasks stop
// at a safe point and resume from their checkpoints on the next start.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/internal/tlsconfig"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module
// version from the build info is shown.
var version = ""

const shutdownTimeout = 15 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dm-server:", err)
		}
		stop()
		os.Exit(2)
	}
}

// config is the parsed command line.
type config struct {
	listen, dataDir, name string
	workers               []string
	dataDirRoots          []string
	logLevel              slog.Level
	logFormat             string
	showVersion           bool

	tls           tlsconfig.Files // --ssl-ca, --ssl-cert, --ssl-key
	certAllowedCN []string
	secretKeyPath string
	limits        httpLimits
	etcd          etcdFlags
	role          role
	master        masterFlags // --role master
	worker        workerFlags // --role worker
}

// httpLimits bound what a client can make the server hold.
type httpLimits struct {
	readHeader, read, idle time.Duration
	maxHeaderBytes         int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dm-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roleFlag := fs.String("role", string(roleAll), "what this process runs: `all` (the API and in-process workers, one process), master (one of several dm-masters electing a leader over etcd) or worker")
	registerMasterFlags(fs, &cfg.master)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8261", "`address` the OpenAPI listens on")
	fs.StringVar(&cfg.dataDir, "data-dir", "./dm-data", "`directory` of the durable state and of relative task data dirs")
	fs.StringVar(&cfg.name, "name", "master1", "this master's `name`")
	fs.Func("allow-data-dir-root", "also allow task data_dir inside this `directory` (repeatable); by default a data_dir must lie inside --data-dir",
		func(v string) error {
			if v == "" {
				return fmt.Errorf("empty directory")
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			cfg.dataDirRoots = append(cfg.dataDirRoots, abs)
			return nil
		})
	workers := fs.String("workers", "2", "in-process workers: a `list` of names (worker1,worker2) or a count N meaning worker1..workerN")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log `format` on stderr: text or json")
	fs.BoolVar(&cfg.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&cfg.tls.CA, "ssl-ca", "", "PEM `file` of the CA that client certificates must chain to (with it, clients must present one)")
	fs.StringVar(&cfg.tls.Cert, "ssl-cert", "", "PEM `file` of the API's TLS certificate (serves HTTPS)")
	fs.StringVar(&cfg.tls.Key, "ssl-key", "", "PEM `file` of the API's TLS key")
	fs.Func("cert-allowed-cn", "client certificate common `names` allowed (comma separated, repeatable); needs --ssl-ca",
		func(v string) error {
			for _, cn := range strings.Split(v, ",") {
				if cn = strings.TrimSpace(cn); cn != "" {
					cfg.certAllowedCN = append(cfg.certAllowedCN, cn)
				}
			}
			return nil
		})
	fs.StringVar(&cfg.secretKeyPath, "secret-key-path", "", "`file` with the 64-hex-digit key that encrypts stored passwords (default: <data-dir>/store/secret.key, created on first start; with --etcd-endpoints a server started on another host needs this same key)")
	fs.Func("etcd-endpoints", "etcd client `URLs` (comma separated): keep the control-plane state in etcd instead of --data-dir (one dm-server per --etcd-prefix)",
		func(v string) (err error) {
			cfg.etcd.endpoints, err = parseEndpoints(v)
			return err
		})
	fs.StringVar(&cfg.etcd.prefix, "etcd-prefix", "/dmkit", "etcd key `prefix` of this cluster's state (with --etcd-endpoints)")
	fs.DurationVar(&cfg.etcd.lockWait, "etcd-lock-wait", 15*time.Second, "how long to wait for another dm-server's lock on --etcd-prefix to be released (a dead server's lease expires within 10s)")
	fs.StringVar(&cfg.etcd.tls.CA, "etcd-ssl-ca", "", "PEM `file` of the CA that etcd's certificate must chain to")
	fs.StringVar(&cfg.etcd.tls.Cert, "etcd-ssl-cert", "", "PEM `file` of the client certificate presented to etcd")
	fs.StringVar(&cfg.etcd.tls.Key, "etcd-ssl-key", "", "PEM `file` of the client key presented to etcd")
	fs.DurationVar(&cfg.limits.readHeader, "read-header-timeout", 10*time.Second, "how long a client may take to send the request headers")
	fs.DurationVar(&cfg.limits.read, "read-timeout", time.Minute, "how long a client may take to send a whole request (headers and body)")
	fs.DurationVar(&cfg.limits.idle, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&cfg.limits.maxHeaderBytes, "max-header-bytes", 64<<10, "largest request line plus headers, in `bytes`")
	addWorkerFlags(fs, &cfg.worker)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; every setting is a flag, see --help", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if cfg.role, err = parseRole(*roleFlag); err != nil {
		return cfg, err
	}
	if err := checkRoleFlags(&cfg, set); err != nil {
		return cfg, err
	}
	if cfg.workers, err = parseWorkers(*workers); err != nil {
		return cfg, err
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level %q: use debug, info, warn or error", *level)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, fmt.Errorf("--log-format %q: use text or json", cfg.logFormat)
	}
	for name, d := range map[string]time.Duration{"--read-header-timeout": cfg.limits.readHeader, "--read-timeout": cfg.limits.read, "--idle-timeout": cfg.limits.idle} {
		if d <= 0 {
			return cfg, fmt.Errorf("%s %s: give a positive duration such as 30s", name, d)
		}
	}
	if len(cfg.etcd.endpoints) == 0 && cfg.role != roleMaster { // a master's embedded etcd: checkRoleFlags
		var stray []string
		fs.Visit(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "etcd-") && !slices.Contains(embeddedEtcdFlags, f.Name) {
				stray = append(stray, "--"+f.Name)
			}
		})
		if len(stray) > 0 {
			return cfg, fmt.Errorf("%s only act with --etcd-endpoints: set it or drop them", strings.Join(stray, ", "))
		}
	}
	if cfg.etcd.lockWait < 0 {
		return cfg, fmt.Errorf("--etcd-lock-wait %s: give 0 (refuse at once) or a positive duration", cfg.etcd.lockWait)
	}
	if cfg.limits.maxHeaderBytes < 4096 {
		return cfg, fmt.Errorf("--max-header-bytes %d: give at least 4096", cfg.limits.maxHeaderBytes)
	}
	return cfg, nil
}

// parseWorkers reads --workers: a positive count N (worker1..workerN) or a comma list.
func parseWorkers(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 1024 {
			return nil, fmt.Errorf("--workers %d: use a count between 1 and 1024, or a list of names", n)
		}
		names := make([]string, n)
		for i := range names {
			names[i] = "worker" + strconv.Itoa(i+1)
		}
		return names, nil
	}
	var names []string
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("--workers is empty: give a count (2) or names (worker1,worker2)")
	}
	return names, nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// run serves until ctx is done, then shuts down gracefully. It prints the listen address
// on stdout once the server accepts connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.showVersion {
		fmt.Fprintln(stdout, "dm-server", versionString())
		return nil
	}
	hopts := &slog.HandlerOptions{Level: cfg.logLevel}
	var handler slog.Handler = slog.NewTextHandler(stderr, hopts)
	if cfg.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(handler)
	if cfg.role == roleWorker {
		return runWorker(ctx, cfg, log, handler, stdout)
	}

	tlsCfg, err := tlsconfig.Server(cfg.tls, cfg.certAllowedCN)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; choose another --listen address", cfg.listen, err)
	}
	defer ln.Close()
	scheme := "http"
	var apiLn net.Listener = ln
	if tlsCfg != nil {
		apiLn, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	// Outside TLS' wrapper, so the plain-text answers net/http writes itself are seen
	// before encryption.
	apiLn = jsonErrorListener{apiLn}

	var (
		h        http.Handler
		stopping *atomic.Bool
		fatal    <-chan error // a part of the process failed for good
		started  []any        // start-up log fields
	)
	if cfg.role == roleMaster {
		mp, err := startMaster(cfg, ln.Addr(), scheme, log)
		if err != nil {
			return err
		}
		defer mp.stop()
		h, stopping, fatal = mp.front, &mp.front.stopping, mp.fatal
		started = []any{"role", cfg.role, "advertise", mp.info.APIURL, "etcd", mp.etcdDesc}
	} else {
		store, where, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		reg := newRegistry()
		cluster, err := dm.Open(ctx, dm.Config{
			Store: store, Workers: cfg.workers, Name: cfg.name, Addr: ln.Addr().String(),
			DataDir: cfg.dataDir, DataDirRoots: cfg.dataDirRoots, Logger: log, Metrics: reg,
		})
		if err != nil {
			_ = store.Close()
			return err
		}
		defer func() {
			if err := cluster.Close(); err != nil {
				log.Error("close cluster", "error", err)
			}
		}()
		sh, err := newHandler(cluster, reg, log)
		if err != nil {
			return err
		}
		h, stopping = sh, &sh.stopping
		started = []any{"state", where, "workers", strings.Join(cfg.workers, ",")}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.limits.readHeader,
		ReadTimeout:       cfg.limits.read,
		IdleTimeout:       cfg.limits.idle,
		MaxHeaderBytes:    cfg.limits.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(apiLn) }()
	log.Info("dm-server started", append([]any{"version", versionString(), "listen", ln.Addr().String(),
		"data_dir", cfg.dataDir, "name", cfg.name}, started...)...)
	fmt.Fprintf(stdout, "dm-server listening on %s://%s\n", scheme, ln.Addr())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case err := <-fatal:
		_ = srv.Close()
		<-serveErr
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopping.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("HTTP shutdown did not finish in time; closing connections", "error", err)
		_ = srv.Close()
	}
	<-serveErr // http.ErrServerClosed
	return nil
}
