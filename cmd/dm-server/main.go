// Command dm-server runs a whole DM deployment in one process: the master's OpenAPI
// (/api/v1/...) on --listen, in-process workers, and a durable store in --data-dir.
//
//	dm-server --listen 127.0.0.1:8261 --data-dir ./dm-data --workers 2
//
// SIGINT or SIGTERM stops it gracefully: in-flight requests finish, running subtasks stop
// at a safe point and resume from their checkpoints on the next start.
package main

import (
	"context"
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dmkit/dmkit/dm"
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
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("dm-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; every setting is a flag, see --help", fs.Arg(0))
	}
	var err error
	if cfg.workers, err = parseWorkers(*workers); err != nil {
		return cfg, err
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level %q: use debug, info, warn or error", *level)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, fmt.Errorf("--log-format %q: use text or json", cfg.logFormat)
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

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; choose another --listen address", cfg.listen, err)
	}
	defer ln.Close()

	store, err := dm.OpenFileStore(filepath.Join(cfg.dataDir, "store"))
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

	h, err := newHandler(cluster, reg, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("dm-server started", "version", versionString(), "listen", ln.Addr().String(),
		"data_dir", cfg.dataDir, "name", cfg.name, "workers", strings.Join(cfg.workers, ","))
	fmt.Fprintf(stdout, "dm-server listening on http://%s\n", ln.Addr())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	h.stopping.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("HTTP shutdown did not finish in time; closing connections", "error", err)
		_ = srv.Close()
	}
	<-serveErr // http.ErrServerClosed
	return nil
}
