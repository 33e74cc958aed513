package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client talks to one dm-server over its OpenAPI; it is the only way dmctl reaches the
// cluster.
type client struct {
	base string // http://host:port
	http *http.Client
}

// apiError is dm-server's unified error body.
type apiError struct {
	Status int    `json:"-"`
	Msg    string `json:"error_msg"`
	Code   int    `json:"error_code"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("dm-server answered %d: %s (code %d)", e.Status, e.Msg, e.Code)
}

// newClient reaches addr (host:port or a URL); with tlsCfg, over HTTPS.
func newClient(addr string, timeout time.Duration, tlsCfg *tls.Config) (*client, error) {
	if addr == "" {
		return nil, fmt.Errorf("no dm-server address; pass --master-addr host:port")
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
		if tlsCfg != nil {
			base = "https://" + addr
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--master-addr %q is not host:port or a URL", addr)
	}
	if tlsCfg != nil && u.Scheme != "https" {
		return nil, fmt.Errorf("--master-addr %q is plain HTTP but TLS flags are set; use https:// or host:port", addr)
	}
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: timeout,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}}, nil
}

// do sends body (JSON-encoded when not nil) and decodes a 2xx answer into out (when not
// nil). A non-2xx answer is returned as *apiError.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w; is dm-server running at %s?", method, path, err, c.base)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(data))
		}
		return e
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// path joins escaped segments under /api/v1.
func apiPath(segs ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
