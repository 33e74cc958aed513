package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dmkit/dmkit/dm"
)

func TestParseArgsMixesFlagsAndArguments(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		pos        []string
		removeMeta bool
	}{
		{[]string{"task.yaml"}, []string{"task.yaml"}, false},
		{[]string{"task.yaml", "--remove-meta"}, []string{"task.yaml"}, true},
		{[]string{"--remove-meta", "task.yaml"}, []string{"task.yaml"}, true},
		{[]string{"a", "--remove-meta", "b"}, []string{"a", "b"}, true},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		rm := fs.Bool("remove-meta", false, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || *rm != tc.removeMeta {
			t.Errorf("%v: pos %v remove-meta %v err %v", tc.args, pos, *rm, err)
		}
	}
}

func TestSourceFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("CA PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, s any, err error)
	}{
		{"dm yaml", "source-id: s1\nenable-gtid: true\nenable-relay: true\nrelay-dir: ./r\nfrom:\n  host: h\n  port: 3307\n  user: u\n  password: p\n  security:\n    ssl-ca: ca.pem\npurge:\n  expires: 24\n",
			func(t *testing.T, v any, err error) {
				s := v.(*sourceResult)
				if err != nil || s.SourceName != "s1" || s.Host != "h" || s.Port != 3307 || *s.Password != "p" || !s.EnableGTID ||
					s.Security == nil || s.Security.SSLCAContent != "CA PEM" || s.RelayConfig == nil || !s.RelayConfig.EnableRelay ||
					*s.RelayConfig.RelayDir != "./r" || s.Purge == nil || *s.Purge.Expires != 24 {
					t.Errorf("got %+v, %v", s, err)
				}
			}},
		{"openapi json", `{"source_name": "s2", "host": "h", "port": 1, "user": "u"}`,
			func(t *testing.T, v any, err error) {
				if s := v.(*sourceResult); err != nil || s.SourceName != "s2" {
					t.Errorf("got %+v, %v", s, err)
				}
			}},
		{"wrapped json", `{"source": {"source_name": "s3", "host": "h", "port": 1, "user": "u"}, "worker_name": "w"}`,
			func(t *testing.T, v any, err error) {
				if s := v.(*sourceResult); err != nil || s.SourceName != "s3" {
					t.Errorf("got %+v, %v", s, err)
				}
			}},
		{"unknown key", "source-id: s\nchecker: {}\n", func(t *testing.T, _ any, err error) {
			if err == nil {
				t.Error("an unknown key was accepted")
			}
		}},
		{"no id", "from: {host: h}\n", func(t *testing.T, _ any, err error) {
			if err == nil {
				t.Error("a file without source-id was accepted")
			}
		}},
		{"missing cert", "source-id: s\nfrom:\n  security: {ssl-ca: nope.pem}\n", func(t *testing.T, _ any, err error) {
			if err == nil {
				t.Error("a missing CA file was accepted")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "src")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := readSource(p)
			tc.check(t, (*sourceResult)(s), err)
		})
	}
}

type sourceResult = dm.Source
