package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/tlsconfig"
	"github.com/dmkit/dmkit/internal/tlsconfig/tlstest"
)

func tlsGet(t *testing.T, url string, f tlsconfig.Files) (int, error) {
	t.Helper()
	cfg, err := tlsconfig.Client(f)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestTLS: the API over TLS; with a CA, a client certificate is required and its common
// name must be allowed.
func TestTLS(t *testing.T) {
	pki := tlstest.PKI(t, t.TempDir(), "good-client", "bad-client")
	srv := pki["server"]

	c := startChild(t, "--data-dir", t.TempDir(), "--ssl-ca", srv.CA, "--ssl-cert", srv.Cert, "--ssl-key", srv.Key, "--cert-allowed-cn", "good-client")
	if !strings.HasPrefix(c.base, "https://") {
		t.Fatalf("server address %s is not https", c.base)
	}
	if code, err := tlsGet(t, c.base+"/sources", pki["good-client"]); err != nil || code != 200 {
		t.Fatalf("allowed client: %d %v", code, err)
	}
	if _, err := tlsGet(t, c.base+"/sources", pki["bad-client"]); err == nil {
		t.Fatal("a client whose CN is not allowed got an answer")
	}
	if _, err := tlsGet(t, c.base+"/sources", tlsconfig.Files{CA: srv.CA}); err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
	if resp, err := http.Get(strings.Replace(c.base, "https://", "http://", 1) + "/sources"); err == nil && resp.StatusCode == 200 {
		resp.Body.Close()
		t.Fatal("plain HTTP was served")
	}

	// Server TLS only: any client that trusts the CA is served.
	c2 := startChild(t, "--data-dir", t.TempDir(), "--ssl-cert", srv.Cert, "--ssl-key", srv.Key)
	if code, err := tlsGet(t, c2.base+"/sources", tlsconfig.Files{CA: srv.CA}); err != nil || code != 200 {
		t.Fatalf("server-only TLS: %d %v", code, err)
	}
}

// rawRequest sends raw bytes and returns what the server answers until it closes (or
// within the deadline).
func rawRequest(t *testing.T, addr string, req []byte, deadline time.Duration) ([]byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(deadline))
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return b, time.Since(start)
}

// TestHTTPLimits: a client that never finishes its body is cut after --read-timeout, and
// every answer net/http makes on its own carries the unified error body.
func TestHTTPLimits(t *testing.T) {
	c := startChild(t, "--data-dir", t.TempDir(), "--read-timeout", "1s", "--read-header-timeout", "1s")
	addr := strings.TrimSuffix(strings.TrimPrefix(c.base, "http://"), "/api/v1")

	slow := "POST /api/v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sourc"
	_, took := rawRequest(t, addr, []byte(slow), 20*time.Second)
	if took > 10*time.Second {
		t.Fatalf("a request with a body that never arrives held the connection for %s", took)
	}

	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"NUL in path", "GET /api/v1/sou\x00rces HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"bad escape", "GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"huge query", "GET /api/v1/sources?q=" + strings.Repeat("a", 2<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
		{"HTTP/9.9", "GET /api/v1/sources HTTP/9.9\r\nHost: x\r\n\r\n", 505},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := rawRequest(t, addr, []byte(tc.req), 10*time.Second)
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
			if err != nil {
				t.Fatalf("answer %q: %v", b, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct {
				Msg  string `json:"error_msg"`
				Code int    `json:"error_code"`
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Msg == "" || e.Code == 0 {
				t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

// TestStoreHoldsNoPassword: after a source is created and updated and a task created
// through the server, its store file holds neither password in clear.
func TestStoreHoldsNoPassword(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, "--data-dir", dir)
	const pw1 = "First-Secret-9f2c"
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "sec-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, pw1), 400, nil) // wrong password: refused, nothing stored
	c.expect(t, "POST", "/sources", fmt.Sprintf(`{"source_name": "sec-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 201, nil)
	c.expect(t, "PUT", "/sources/sec-src", fmt.Sprintf(`{"source": {"source_name": "sec-src", "host": "127.0.0.1", "port": %d, "user": %q, "password": %q}}`,
		e2eSrc.Port, e2eSrc.User, e2eSrc.Password), 200, nil)
	c.kill9(t)
	data, err := os.ReadFile(filepath.Join(dir, "store", "dm.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pw1, `"password"`, "sec-src\""} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("the store file holds %q in clear", s)
		}
	}
	key, err := os.Stat(filepath.Join(dir, "store", "secret.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Fatalf("secret key: %v %v", key, err)
	}
	// It restarts on the same store and key.
	c = startChild(t, "--data-dir", dir)
	c.expect(t, "GET", "/sources/sec-src", "", 200, nil)
}
