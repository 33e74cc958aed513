package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/dmkit/dmkit/dm"
)

// net/http answers some malformed requests itself, before any handler runs (a bad request
// line, a header over the limit, HTTP/9.9), in text/plain. jsonErrors rewrites exactly
// those answers into the unified error body. They are recognisable: net/http writes each in
// one Write straight to the connection, with these headers in this order, which a handler's
// response (headers sorted, Connection first) never has.
var plainErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorConn{c}, nil
}

type jsonErrorConn struct{ net.Conn }

func (c jsonErrorConn) Write(p []byte) (int, error) {
	if out, ok := rewritePlainError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// rewritePlainError turns "HTTP/1.1 <code> <text><plain headers><body>" into the same
// status with a JSON body.
func rewritePlainError(p []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok {
		return nil, false
	}
	statusLine, body, ok := bytes.Cut(rest, plainErrorHeaders)
	if !ok || len(statusLine) < 3 {
		return nil, false
	}
	code, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || code < 400 {
		return nil, false
	}
	errCode := dm.CodeInvalidRequest
	if code == 431 || code == 413 || code == 414 {
		errCode = dm.CodeBodyTooLarge
	}
	msg := fmt.Sprintf("%s; the request could not be read as HTTP/1.1, fix the request line and headers (headers are limited to --max-header-bytes)", body)
	b, _ := json.Marshal(map[string]any{"error_msg": msg, "error_code": errCode})
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", statusLine, len(b))
	out.Write(b)
	return out.Bytes(), true
}
