// Command embedded shows dmkit used as a library: an in-memory cluster, a source created
// from the environment, and the OpenAPI mounted on your own mux.
//
//	DM_SOURCE_HOST=127.0.0.1 DM_SOURCE_PORT=3306 DM_SOURCE_USER=root DM_SOURCE_PASSWORD=secret \
//	    go run ./examples/embedded
//
// Without DM_SOURCE_HOST it skips creating the source. It then serves the API on
// 127.0.0.1:8261 until interrupted; with dm-server's TLS flags (-ssl-ca, -ssl-cert,
// -ssl-key, -cert-allowed-cn) it serves HTTPS and checks client certificates the same way.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/httpapi"
	"github.com/dmkit/dmkit/internal/tlsconfig"
)

func main() {
	var tf tlsconfig.Files
	flag.StringVar(&tf.CA, "ssl-ca", "", "CA `file` client certificates must chain to")
	flag.StringVar(&tf.Cert, "ssl-cert", "", "TLS certificate `file` (serves HTTPS)")
	flag.StringVar(&tf.Key, "ssl-key", "", "TLS key `file`")
	allowedCN := flag.String("cert-allowed-cn", "", "allowed client certificate common `names`, comma separated")
	flag.Parse()
	var cns []string
	if *allowedCN != "" {
		cns = strings.Split(*allowedCN, ",")
	}
	tlsCfg, err := tlsconfig.Server(tf, cns)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, tlsCfg); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, tlsCfg *tls.Config) error {
	// A throwaway cluster: state lives in memory; use dm.OpenFileStore(dir) to keep it.
	cluster, err := dm.Open(ctx, dm.Config{Store: dm.MemoryStore(), Workers: []string{"worker1", "worker2"}})
	if err != nil {
		return err
	}
	defer cluster.Close()

	workers, err := cluster.ListWorkers(ctx)
	if err != nil {
		return err
	}
	for _, w := range workers.Data {
		fmt.Printf("worker %s: %s\n", w.Name, w.BoundStage)
	}

	if err := createSource(ctx, cluster); err != nil {
		// *dm.Error carries DM's code and a message that says what to fix.
		var de *dm.Error
		if errors.As(err, &de) {
			return fmt.Errorf("create source (code %d): %w", de.Code, err)
		}
		return err
	}

	sources, err := cluster.ListSources(ctx, dm.ListSourcesOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("%d source(s)\n", sources.Total)
	for _, s := range sources.Data {
		fmt.Printf("source %s at %s:%d (password %s)\n", s.SourceName, s.Host, s.Port, deref(s.Password))
	}

	// The OpenAPI is an http.Handler: mount it next to your own routes.
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", httpapi.New(cluster, httpapi.Options{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: "127.0.0.1:8261", Handler: mux, TLSConfig: tlsCfg,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	serve, scheme := srv.ListenAndServe, "http"
	if tlsCfg != nil {
		serve, scheme = func() error { return srv.ListenAndServeTLS("", "") }, "https"
	}
	fmt.Printf("serving %s://127.0.0.1:8261/api/v1/docs; Ctrl-C to stop\n", scheme)
	if err := serve(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// createSource creates the source described by DM_SOURCE_* environment variables.
func createSource(ctx context.Context, cluster *dm.Cluster) error {
	host := os.Getenv("DM_SOURCE_HOST")
	if host == "" {
		fmt.Println("DM_SOURCE_HOST is not set; skipping source creation")
		return nil
	}
	port := 3306
	if p := os.Getenv("DM_SOURCE_PORT"); p != "" {
		var err error
		if port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("DM_SOURCE_PORT %q is not a port number", p)
		}
	}
	user := os.Getenv("DM_SOURCE_USER")
	if user == "" {
		user = "root"
	}
	password := os.Getenv("DM_SOURCE_PASSWORD")
	src, err := cluster.CreateSource(ctx, dm.CreateSourceRequest{Source: &dm.Source{
		SourceName: "mysql-01", Host: host, Port: port, User: user, Password: &password,
	}})
	if err != nil {
		return err
	}
	fmt.Printf("created source %s\n", src.SourceName)
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
