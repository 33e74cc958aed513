package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseWorkers(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "2", want: []string{"worker1", "worker2"}},
		{in: "1", want: []string{"worker1"}},
		{in: "w-a, w-b,,w-c", want: []string{"w-a", "w-b", "w-c"}},
		{in: "solo", want: []string{"solo"}},
		{in: "0", wantErr: true},
		{in: "-3", wantErr: true},
		{in: " , ", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseWorkers(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseWorkers(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseWorkers(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--log-level", "loud"},
		{"--log-format", "xml"},
		{"--workers", "0"},
		{"extra"},
		{"--no-such-flag"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if _, err := parseFlags([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: err = %v, want flag.ErrHelp", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "dm-server ") {
		t.Errorf("--version printed %q", out.String())
	}
}

// addrWriter captures the stdout of run and hands over the announced address.
type addrWriter struct {
	once sync.Once
	addr chan string
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if s, ok := strings.CutPrefix(strings.TrimSpace(string(p)), "dm-server listening on "); ok {
		w.once.Do(func() { w.addr <- s })
	}
	return len(p), nil
}

// startServer runs the binary's run in the background and returns its base URL and a stop
// function that shuts it down and returns run's error.
func startServer(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &addrWriter{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--log-level", "error"}, args...), out, io.Discard)
	}()
	select {
	case base := <-out.addr:
		return base, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("server exited before listening: %v", err)
	}
	return "", nil
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestServeAndRestart starts the server, stores something, stops it gracefully and starts
// it again on the same data dir.
func TestServeAndRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServer(t, "--data-dir", dir, "--workers", "alpha,beta,gamma", "--name", "m-test")

	var workers struct {
		Total int `json:"total"`
		Data  []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/cluster/workers", &workers)
	if workers.Total != 3 || workers.Data[0].Name != "alpha" {
		t.Errorf("workers = %+v, want alpha, beta, gamma", workers)
	}
	var masters struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/cluster/masters", &masters)
	if len(masters.Data) != 1 || masters.Data[0].Name != "m-test" {
		t.Errorf("masters = %+v, want m-test", masters)
	}

	req, err := http.NewRequest(http.MethodPut, base+"/api/v1/cluster/info",
		strings.NewReader(`{"master_topology_list": [{"name": "m-test", "host": "127.0.0.1", "port": 18261}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT cluster/info = %d", resp.StatusCode)
	}
	var info struct {
		ClusterID uint64          `json:"cluster_id"`
		Topology  json.RawMessage `json:"topology"`
	}
	getJSON(t, base+"/api/v1/cluster/info", &info)
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}

	base, stop = startServer(t, "--data-dir", dir, "--workers", "1")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	}()
	var again struct {
		ClusterID uint64          `json:"cluster_id"`
		Topology  json.RawMessage `json:"topology"`
	}
	getJSON(t, base+"/api/v1/cluster/info", &again)
	if again.ClusterID != info.ClusterID || len(again.Topology) == 0 {
		t.Errorf("after restart: cluster info %+v, want id %d and the stored topology", again, info.ClusterID)
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServer(t, "--data-dir", dir)
	defer stop()
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--data-dir", dir}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("a second server on the same data dir started")
	}
}

// --allow-data-dir-root is repeatable and made absolute; an empty value is refused. Its
// effect on tasks is tested in dm (TestOwnRefusedAtCreate, Config.DataDirRoots).
func TestParseFlagsDataDirRoots(t *testing.T) {
	cfg, err := parseFlags([]string{"--allow-data-dir-root", "/srv/dumps", "--allow-data-dir-root", "rel"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if diff := cmp.Diff([]string{"/srv/dumps", filepath.Join(wd, "rel")}, cfg.dataDirRoots); diff != "" {
		t.Errorf("dataDirRoots (-want +got):\n%s", diff)
	}
	if _, err := parseFlags([]string{"--allow-data-dir-root", ""}, io.Discard); err == nil {
		t.Error("an empty --allow-data-dir-root was accepted")
	}
}
