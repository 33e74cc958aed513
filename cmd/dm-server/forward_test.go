package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/httpapi"
)

func testFront(t *testing.T) (*front, *httptest.Server) {
	t.Helper()
	f := newFront("m1", newRegistry(), nil, slog.New(slog.DiscardHandler))
	f.leaderWait = 300 * time.Millisecond
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// wantNoLeader checks a 503 in the unified error body with code 38043.
func wantNoLeader(t *testing.T, status int, body string) {
	t.Helper()
	var e struct {
		Msg  string `json:"error_msg"`
		Code int    `json:"error_code"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if status != http.StatusServiceUnavailable || e.Code != dm.CodeMasterNoLeader || !strings.Contains(e.Msg, "no dm-master leader") || !strings.Contains(e.Msg, "retry") {
		t.Fatalf("got %d %+v, want 503 with code %d saying no dm-master leader, retry", status, e, dm.CodeMasterNoLeader)
	}
}

// TestFrontNoLeader: with no leader known, an API request waits leaderWait and gets 503
// with 38043; /readyz is 503, /healthz and /metrics stay local and answer.
func TestFrontNoLeader(t *testing.T) {
	_, srv := testFront(t)
	start := time.Now()
	status, hdr, body := do(t, "POST", srv.URL+"/api/v1/sources", `{"source_name":"x"}`, nil)
	wantNoLeader(t, status, body)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("answered after %s, before waiting for a leader", waited)
	}
	if hdr.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	status, _, body = do(t, "GET", srv.URL+"/readyz", "", nil)
	wantNoLeader(t, status, body)
	for _, p := range []string{"/healthz", "/metrics"} {
		if status, _, body := do(t, "GET", srv.URL+p, "", nil); status != 200 {
			t.Errorf("GET %s = %d %s", p, status, body)
		}
	}
}

// TestFrontWaitsForLeader: a request that arrives during an election is served once a
// leader is known, not refused.
func TestFrontWaitsForLeader(t *testing.T) {
	f, srv := testFront(t)
	f.leaderWait = 10 * time.Second
	c, err := dm.Open(context.Background(), dm.Config{Store: dm.MemoryStore(), Name: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.setTerm(&term{api: httpapi.New(c, httpapi.Options{}), reg: prometheus.NewRegistry()})
	}()
	if status, _, body := do(t, "GET", srv.URL+"/api/v1/cluster/masters", "", nil); status != 200 || !strings.Contains(body, `"leader": true`) {
		t.Fatalf("GET masters during the election = %d %s", status, body)
	}
	if status, _, body := do(t, "GET", srv.URL+"/readyz", "", nil); status != 200 || !strings.Contains(body, `"leader":"m1"`) {
		t.Fatalf("readyz while leading = %d %s", status, body)
	}
}

// TestFrontForwards: a follower proxies the whole request (method, path, query, body)
// to the leader's advertised URL, marked as forwarded, and relays the answer; a request
// another master already forwarded is not forwarded again; an unreachable leader is 503.
func TestFrontForwards(t *testing.T) {
	f, srv := testFront(t)
	var got struct{ method, uri, body, by string }
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.uri, got.body, got.by = r.Method, r.URL.RequestURI(), string(b), r.Header.Get(forwardedHeader)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"from":"leader"}`)
	}))
	defer leader.Close()
	f.setLeader(&dm.MasterInfo{Name: "m2", APIURL: leader.URL})
	status, _, body := do(t, "PUT", srv.URL+"/api/v1/sources/s1?force=true", `{"a":1}`, nil)
	if status != 201 || body != `{"from":"leader"}` {
		t.Fatalf("forwarded answer = %d %s", status, body)
	}
	if got.method != "PUT" || got.uri != "/api/v1/sources/s1?force=true" || got.body != `{"a":1}` || got.by != "m1" {
		t.Fatalf("the leader got %+v", got)
	}
	if status, _, body := do(t, "GET", srv.URL+"/readyz", "", nil); status != 200 || !strings.Contains(body, `"leader":"m2"`) {
		t.Fatalf("readyz as a follower = %d %s", status, body)
	}

	status, _, body = do(t, "GET", srv.URL+"/api/v1/sources", "", map[string]string{forwardedHeader: "m3"})
	wantNoLeader(t, status, body)
	if !strings.Contains(body, "m3 forwarded this request here") {
		t.Errorf("a re-forward refusal should name who forwarded: %s", body)
	}

	// A leader that cannot be dialled (killed, its election key not expired yet): the
	// request waits for the next leader and goes there, body and all.
	leader.Close()
	f2, srv2 := testFront(t)
	f2.leaderWait = 10 * time.Second
	f2.setLeader(&dm.MasterInfo{Name: "m2", APIURL: leader.URL})
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(201)
		io.WriteString(w, "next got "+string(b))
	}))
	defer next.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.setLeader(&dm.MasterInfo{Name: "m3", APIURL: next.URL}) // for the check below
		f2.setLeader(&dm.MasterInfo{Name: "m3", APIURL: next.URL})
	}()
	status, _, body = do(t, "POST", srv2.URL+"/api/v1/sources", `{"b":2}`, nil)
	if status != 201 || body != `next got {"b":2}` {
		t.Fatalf("after the leader died = %d %s, want the next leader's answer", status, body)
	}
	next.Close()
	status, _, body = do(t, "GET", srv.URL+"/api/v1/sources", "", nil)
	wantNoLeader(t, status, body)
	if !strings.Contains(body, "m3 at "+next.URL+", does not answer") {
		t.Errorf("an unreachable leader's 503 should name it: %s", body)
	}
}

// TestFrontMetricsAcrossTerms: each term's Cluster registers into a fresh registry, so
// a master that leads again (a new Cluster) registers without a duplicate error, and
// /metrics shows the current term's metrics next to the process's.
func TestFrontMetricsAcrossTerms(t *testing.T) {
	f, srv := testFront(t)
	for range 2 {
		reg := prometheus.NewRegistry()
		c, err := dm.Open(context.Background(), dm.Config{Store: dm.MemoryStore(), Name: "m1", Metrics: reg})
		if err != nil {
			t.Fatal(err)
		}
		f.setTerm(&term{api: httpapi.New(c, httpapi.Options{}), reg: reg})
		_, _, body := do(t, "GET", srv.URL+"/metrics", "", nil)
		if !strings.Contains(body, "dmkit_worker_bound") || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "dmkit_master_leader 1") {
			t.Fatalf("/metrics while leading lacks the cluster's or the process's metrics")
		}
		f.setTerm(nil)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, body := do(t, "GET", srv.URL+"/metrics", "", nil); strings.Contains(body, "dmkit_worker_bound") || !strings.Contains(body, "dmkit_master_leader 0") {
			t.Fatalf("/metrics after the term still shows the closed cluster's metrics")
		}
	}
}
