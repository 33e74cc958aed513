package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP counts API requests by operation (the OpenAPI operationId, or "unknown" for
// paths outside the document) and status.
type HTTP struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewHTTP registers the HTTP request metrics on reg.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dmkit_http_requests_total", Help: "API requests by operation and HTTP status.",
		}, []string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dmkit_http_request_duration_seconds", Help: "API request latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"operation"}),
	}
	for _, c := range []prometheus.Collector{h.requests, h.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Observe records one request; it is httpapi.Options.Observe.
func (h *HTTP) Observe(operation string, status int, d time.Duration) {
	if operation == "" {
		operation = "unknown"
	}
	h.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	h.latency.WithLabelValues(operation).Observe(d.Seconds())
}
