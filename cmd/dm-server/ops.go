package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dmkit/dmkit/console"
	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/httpapi"
	"github.com/dmkit/dmkit/metrics"
)

// handler serves the API under /api/v1 and the operator endpoints beside it: /metrics
// (Prometheus), /healthz (the process serves), /readyz (the cluster answers and the
// server is not shutting down) and the web console at /dashboard/.
type handler struct {
	mux      *http.ServeMux
	cluster  *dm.Cluster
	stopping atomic.Bool
}

// newRegistry is dm-server's metrics registry: Go runtime and process metrics; the
// cluster's and the API's are added by dm.Open and newHandler.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newHandler(c *dm.Cluster, reg *prometheus.Registry, log *slog.Logger) (*handler, error) {
	hm, err := metrics.NewHTTP(reg)
	if err != nil {
		return nil, err
	}
	h := &handler{mux: http.NewServeMux(), cluster: c}
	h.mux.Handle("/", httpapi.New(c, httpapi.Options{Logger: log, Observe: hm.Observe}))
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.HandleFunc("GET /readyz", h.ready)
	h.mux.Handle("/dashboard/", console.Handler())
	h.mux.Handle("/dashboard", console.Handler())
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// ready answers 200 when the cluster's state can be read, 503 with the unified error body
// while shutting down or when it cannot.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	if h.stopping.Load() {
		writeJSON(w, http.StatusServiceUnavailable, errorBody("dm-server is shutting down"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := h.cluster.ClusterInfo(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody("the cluster state cannot be read: "+err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func errorBody(msg string) map[string]any {
	return map[string]any{"error_msg": msg, "error_code": dm.CodeInternal}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
