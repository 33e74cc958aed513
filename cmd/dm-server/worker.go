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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/internal/tlsconfig"
)

// workerFlags are the flags of --role worker (its --advertise-addr is the masters').
type workerFlags struct {
	keepAliveTTL time.Duration
}

func addWorkerFlags(fs *flag.FlagSet, wf *workerFlags) {
	fs.DurationVar(&wf.keepAliveTTL, "keepalive-ttl", 10*time.Second, "with --role worker: lifetime of the worker's registration lease; a worker silent this long is offline and its source goes to another worker")
}

// checkWorkerRoleFlags refuses the flags a worker process does nothing with.
func checkWorkerRoleFlags(cfg *config, given func(names ...string) []string) error {
	if stray := given("workers", "etcd-lock-wait"); len(stray) > 0 {
		return fmt.Errorf("--role worker: %s act in another role only; drop them", strings.Join(stray, ", "))
	}
	return checkWorkerFlags(cfg)
}

// checkWorkerFlags validates the worker role's flags.
func checkWorkerFlags(cfg *config) error {
	switch {
	case len(cfg.etcd.endpoints) == 0:
		return errors.New("--role worker needs --etcd-endpoints: the etcd of the masters (their --etcd-client-urls)")
	case cfg.secretKeyPath == "":
		return errors.New("--role worker needs --secret-key-path: the masters' secret key file (it opens the passwords of the stored sources and tasks)")
	case cfg.worker.keepAliveTTL < 2*time.Second:
		return fmt.Errorf("--keepalive-ttl %s: give 2s or more", cfg.worker.keepAliveTTL)
	}
	return nil
}

// runWorker runs a worker process: it registers in the masters' etcd, runs the subtasks
// of the source the leader binds to it, and serves the masters' calls (and /healthz,
// /metrics) on --listen.
func runWorker(ctx context.Context, cfg config, log *slog.Logger, handler slog.Handler, stdout io.Writer) error {
	key, err := dm.LoadSecretKey(cfg.secretKeyPath, "")
	if err != nil {
		return err
	}
	srvTLS, err := tlsconfig.Server(cfg.tls, cfg.certAllowedCN)
	if err != nil {
		return err
	}
	// Calls to the leader (shard DDL coordination) trust --ssl-ca and present --ssl-cert.
	clientTLS, err := tlsconfig.Client(cfg.tls)
	if err != nil {
		return err
	}
	etcdTLS, err := tlsconfig.Client(cfg.etcd.tls)
	if err != nil {
		return fmt.Errorf("etcd TLS: %w; check --etcd-ssl-ca, --etcd-ssl-cert and --etcd-ssl-key", err)
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; choose another --listen address", cfg.listen, err)
	}
	defer ln.Close()
	addr := cfg.master.advertiseAddr
	if addr == "" {
		addr = ln.Addr().String()
		if host, _, _ := net.SplitHostPort(addr); host == "" || net.ParseIP(host).IsUnspecified() {
			return fmt.Errorf("--listen %s names no host masters can reach: set --advertise-addr", cfg.listen)
		}
	}
	scheme := "http"
	var rpcLn net.Listener = ln
	if srvTLS != nil {
		rpcLn, scheme = tls.NewListener(ln, srvTLS), "https"
	}
	rpcLn = jsonErrorListener{rpcLn}

	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.etcd.endpoints, DialTimeout: 5 * time.Second, TLS: etcdTLS, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("connect to etcd at %s: %w; check --etcd-endpoints", strings.Join(cfg.etcd.endpoints, ","), err)
	}
	defer cli.Close()
	reg := newRegistry()
	p, err := dm.StartWorkerProcess(ctx, dm.WorkerProcessConfig{
		Name: cfg.name, Addr: addr, URL: scheme + "://" + addr, Client: cli, Prefix: cfg.etcd.prefix,
		KeepAliveTTL: cfg.worker.keepAliveTTL, SecretKey: key, DataDir: cfg.dataDir, DataDirRoots: cfg.dataDirRoots,
		Logger: log, Metrics: reg,
		Leader: func(ctx context.Context) (string, error) { return dm.EtcdLeaderURL(ctx, cli, cfg.etcd.prefix) },
		TLS:    clientTLS,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	mux := http.NewServeMux()
	mux.Handle("/dmkit/worker/v1/", p.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(handler, slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "role": "worker"})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: cfg.limits.readHeader, ReadTimeout: cfg.limits.read,
		IdleTimeout: cfg.limits.idle, MaxHeaderBytes: cfg.limits.maxHeaderBytes, ErrorLog: slog.NewLogLogger(handler, slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(rpcLn) }()
	log.Info("dm-server worker started", "version", versionString(), "listen", ln.Addr().String(), "advertise", addr,
		"name", cfg.name, "etcd", strings.Join(cfg.etcd.endpoints, ","), "prefix", cfg.etcd.prefix)
	fmt.Fprintf(stdout, "dm-server listening on %s://%s\n", scheme, ln.Addr())

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	<-serveErr
	return nil
}
