package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/dmkit/dmkit/console"
	"github.com/dmkit/dmkit/dm"
)

// forwardedHeader marks a request one master forwarded to the master it took for the
// leader; that master never forwards it again (two masters with stale views of the
// election would otherwise bounce it between them).
const forwardedHeader = "X-Dmkit-Forwarded-By"

// defaultLeaderWait is how long a request waits for a leader to be known.
const defaultLeaderWait = 5 * time.Second

// term is what this master serves while it leads: the API over its cluster, and the
// cluster's metrics registry (fresh each term, so a new Cluster registers again).
type term struct {
	api http.Handler
	reg *prometheus.Registry
}

// front is the HTTP handler of a --role master process. /api/v1/... (and every other
// path the API owns) is served by the term while this master leads, forwarded to the
// leader otherwise (as DM's reverseRequestToLeaderMW), and answered 503 with code 38043
// when no leader is known within leaderWait. /healthz, /readyz, /metrics and /dashboard
// are this process's own.
type front struct {
	self       string
	log        *slog.Logger
	leaderWait time.Duration
	transport  http.RoundTripper
	mux        *http.ServeMux
	stopping   atomic.Bool

	mu      sync.Mutex
	term    *term
	leader  *dm.MasterInfo
	changed chan struct{} // closed and replaced on every change of term or leader
}

// newFront builds the handler; base is the process registry (runtime and HTTP metrics)
// and clientTLS, when set, is used to reach an https leader.
func newFront(self string, base *prometheus.Registry, clientTLS *tls.Config, log *slog.Logger) *front {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = clientTLS
	f := &front{self: self, log: log, leaderWait: defaultLeaderWait, transport: tr, mux: http.NewServeMux(), changed: make(chan struct{})}
	base.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dmkit_master_leader", Help: "1 while this dm-master leads (runs the cluster), 0 otherwise.",
	}, func() float64 {
		if t, _, _ := f.snapshot(); t != nil {
			return 1
		}
		return 0
	}))
	gather := prometheus.Gatherers{base, prometheus.GathererFunc(f.gatherTerm)}
	f.mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	f.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	f.mux.HandleFunc("GET /readyz", f.ready)
	f.mux.Handle("/dashboard/", console.Handler())
	f.mux.Handle("/dashboard", console.Handler())
	f.mux.HandleFunc("/", f.api)
	return f
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

func (f *front) gatherTerm() ([]*dto.MetricFamily, error) {
	f.mu.Lock()
	t := f.term
	f.mu.Unlock()
	if t == nil {
		return nil, nil
	}
	return t.reg.Gather()
}

// setTerm starts (t != nil) or ends serving a term.
func (f *front) setTerm(t *term) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.term = t
	close(f.changed)
	f.changed = make(chan struct{})
}

// setLeader records the election's leader (nil: none known).
func (f *front) setLeader(mi *dm.MasterInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mi == nil && f.leader == nil || mi != nil && f.leader != nil && mi.Name == f.leader.Name && mi.APIURL == f.leader.APIURL {
		return
	}
	f.leader = mi
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *front) snapshot() (*term, *dm.MasterInfo, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term, f.leader, f.changed
}

// api serves, forwards or refuses one API request.
func (f *front) api(w http.ResponseWriter, r *http.Request) {
	timeout := time.NewTimer(f.leaderWait)
	defer timeout.Stop()
	for {
		t, leader, changed := f.snapshot()
		// A term whose election key another master's replaced (this process was paused
		// past its lease) is over: its Cluster's writes are fenced, so forward instead.
		if t != nil && (leader == nil || leader.Name == f.self) {
			t.api.ServeHTTP(w, r)
			return
		}
		if leader != nil && leader.Name != f.self && r.Header.Get(forwardedHeader) == "" {
			f.forward(w, r, leader)
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-timeout.C:
			why := "the masters are electing one, or a majority of their etcd is down"
			if leader != nil && leader.Name != f.self {
				why = fmt.Sprintf("%s forwarded this request here, but this master is not the leader (%s is)", r.Header.Get(forwardedHeader), leader.Name)
			}
			writeNoLeader(w, fmt.Sprintf("no dm-master leader is known within %s (%s); retry in a few seconds", f.leaderWait, why))
			return
		}
	}
}

// forward reverse-proxies the whole request to the leader's advertised API.
func (f *front) forward(w http.ResponseWriter, r *http.Request, leader *dm.MasterInfo) {
	target, err := url.Parse(leader.APIURL)
	if err != nil || target.Host == "" {
		writeNoLeader(w, fmt.Sprintf("the dm-master leader %s advertises %q, not a URL; restart it with a valid --advertise-addr, then retry", leader.Name, leader.APIURL))
		return
	}
	f.log.Debug("forward to the dm-master leader", "leader", leader.Name, "url", r.URL.String())
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, f.self)
		},
		Transport: f.transport,
		ErrorLog:  slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeNoLeader(w, fmt.Sprintf("no dm-master leader answers: forwarding to %s at %s failed (%v); retry in a few seconds, a new leader is elected within --election-ttl", leader.Name, leader.APIURL, err))
		},
	}
	p.ServeHTTP(w, r)
}

func writeNoLeader(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "2")
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error_msg": msg, "error_code": dm.CodeMasterNoLeader})
}

// ready answers 200 while a leader is known (this master or another), 503 otherwise or
// while shutting down.
func (f *front) ready(w http.ResponseWriter, _ *http.Request) {
	if f.stopping.Load() {
		writeJSON(w, http.StatusServiceUnavailable, errorBody("dm-server is shutting down"))
		return
	}
	t, leader, _ := f.snapshot()
	switch {
	case t != nil && (leader == nil || leader.Name == f.self):
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "leader": f.self})
	case leader != nil && leader.Name != f.self:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "leader": leader.Name})
	default:
		writeNoLeader(w, "no dm-master leader is known yet; retry in a few seconds")
	}
}
