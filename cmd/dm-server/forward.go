package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	"github.com/dmkit/dmkit/httpapi"
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

// maxRetryBody is the largest request body kept for a second forward: the API refuses
// larger bodies anyway (httpapi.DefaultMaxBodyBytes), so a larger one is streamed once.
const maxRetryBody = httpapi.DefaultMaxBodyBytes

// api serves, forwards or refuses one API request. A leader that cannot be dialled (it
// died, and its election key has not expired yet) is skipped: the request waits for the
// next leader within leaderWait and is forwarded there, body and all.
func (f *front) api(w http.ResponseWriter, r *http.Request) {
	timeout := time.NewTimer(f.leaderWait)
	defer timeout.Stop()
	var (
		body        []byte
		buffered    bool
		retryable   = true
		unreachable string // the API URL of a leader that could not be dialled
	)
	for {
		t, leader, changed := f.snapshot()
		// A term whose election key another master's replaced (this process was paused
		// past its lease) is over: its Cluster's writes are fenced, so forward instead.
		if t != nil && (leader == nil || leader.Name == f.self) {
			if buffered {
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			t.api.ServeHTTP(w, r)
			return
		}
		if leader != nil && leader.Name != f.self && r.Header.Get(forwardedHeader) == "" && leader.APIURL != unreachable {
			if !buffered {
				body, retryable = bufferBody(r)
				buffered = true
			}
			if retryable {
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			if f.forward(w, r, leader, retryable) {
				return
			}
			unreachable = leader.APIURL
			continue
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-timeout.C:
			why := "the masters are electing one, or a majority of their etcd is down"
			switch {
			case unreachable != "":
				why = fmt.Sprintf("the last one, %s at %s, does not answer", leader.Name, unreachable)
			case leader != nil && leader.Name != f.self:
				why = fmt.Sprintf("%s forwarded this request here, but this master is not the leader (%s is)", r.Header.Get(forwardedHeader), leader.Name)
			}
			writeNoLeader(w, fmt.Sprintf("no dm-master leader is known within %s (%s); retry in a few seconds", f.leaderWait, why))
			return
		}
	}
}

// bufferBody reads a body of up to maxRetryBody so it can be sent again; a larger one
// is left to stream once (ok false).
func bufferBody(r *http.Request) (body []byte, ok bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if err != nil || len(b) > maxRetryBody {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		return nil, false
	}
	return b, true
}

// forward reverse-proxies the whole request to the leader's advertised API. With retry,
// a leader that cannot be dialled makes it return false having written nothing (the
// request was not sent); every other failure is answered 503.
func (f *front) forward(w http.ResponseWriter, r *http.Request, leader *dm.MasterInfo, retry bool) bool {
	target, err := url.Parse(leader.APIURL)
	if err != nil || target.Host == "" {
		writeNoLeader(w, fmt.Sprintf("the dm-master leader %s advertises %q, not a URL; restart it with a valid --advertise-addr, then retry", leader.Name, leader.APIURL))
		return true
	}
	f.log.Debug("forward to the dm-master leader", "leader", leader.Name, "url", r.URL.String())
	sent := true
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, f.self)
		},
		Transport: f.transport,
		ErrorLog:  slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var oe *net.OpError
			if retry && errors.As(err, &oe) && oe.Op == "dial" {
				sent = false
				return
			}
			writeNoLeader(w, fmt.Sprintf("no dm-master leader answers: forwarding to %s at %s failed (%v); retry in a few seconds, a new leader is elected within --election-ttl", leader.Name, leader.APIURL, err))
		},
	}
	p.ServeHTTP(w, r)
	return sent
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
