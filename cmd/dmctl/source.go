package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dmkit/dmkit/dm"
)

// sourceFile is the subset of DM's source configuration file (source.yaml) that maps onto
// the OpenAPI source. Unknown keys are refused, so nothing in a file is silently dropped.
type sourceFile struct {
	SourceID        string `yaml:"source-id"`
	EnableGTID      bool   `yaml:"enable-gtid"`
	EnableRelay     bool   `yaml:"enable-relay"`
	RelayBinlogName string `yaml:"relay-binlog-name"`
	RelayBinlogGTID string `yaml:"relay-binlog-gtid"`
	RelayDir        string `yaml:"relay-dir"`
	Flavor          string `yaml:"flavor"`
	From            struct {
		Host     string `yaml:"host"`
		Port     int    `yaml:"port"`
		User     string `yaml:"user"`
		Password string `yaml:"password"`
		Security *struct {
			SSLCA         string   `yaml:"ssl-ca"`
			SSLCert       string   `yaml:"ssl-cert"`
			SSLKey        string   `yaml:"ssl-key"`
			CertAllowedCN []string `yaml:"cert-allowed-cn"`
		} `yaml:"security"`
	} `yaml:"from"`
	Purge *struct {
		Interval    *int64 `yaml:"interval"`
		Expires     *int64 `yaml:"expires"`
		RemainSpace *int64 `yaml:"remain-space"`
	} `yaml:"purge"`
}

// readSource reads a source definition: the OpenAPI JSON body (a Source, or DM's
// {"source": …} wrapper) or DM's source.yaml.
func readSource(path string) (*dm.Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read source file: %w", err)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var wrapped struct {
			Source *dm.Source `json:"source"`
		}
		if json.Unmarshal(t, &wrapped) == nil && wrapped.Source != nil {
			return wrapped.Source, nil
		}
		var s dm.Source
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, fmt.Errorf("%s: not a valid source JSON body: %w", path, err)
		}
		return &s, nil
	}
	return sourceFromYAML(path, data)
}

func sourceFromYAML(path string, data []byte) (*dm.Source, error) {
	var f sourceFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is empty", path)
		}
		return nil, fmt.Errorf("%s: %w (dmctl reads source-id, enable-gtid, enable-relay, relay-*, flavor, from, purge)", path, err)
	}
	if f.SourceID == "" {
		return nil, fmt.Errorf("%s: source-id is required", path)
	}
	pw := f.From.Password
	s := &dm.Source{
		SourceName: f.SourceID, Host: f.From.Host, Port: f.From.Port, User: f.From.User,
		Password: &pw, EnableGTID: f.EnableGTID, Flavor: f.Flavor,
	}
	if sec := f.From.Security; sec != nil {
		s.Security = &dm.Security{CertAllowedCN: sec.CertAllowedCN}
		for _, m := range []struct {
			file string
			dst  *string
		}{{sec.SSLCA, &s.Security.SSLCAContent}, {sec.SSLCert, &s.Security.SSLCertContent}, {sec.SSLKey, &s.Security.SSLKeyContent}} {
			if m.file == "" {
				continue
			}
			p := m.file
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("%s: security: %w", path, err)
			}
			*m.dst = string(b)
		}
	}
	if p := f.Purge; p != nil {
		s.Purge = &dm.Purge{Interval: p.Interval, Expires: p.Expires, RemainSpace: p.RemainSpace}
	}
	if f.EnableRelay || f.RelayBinlogName != "" || f.RelayBinlogGTID != "" || f.RelayDir != "" {
		rc := &dm.RelayConfig{EnableRelay: f.EnableRelay}
		for _, m := range []struct {
			v   string
			dst **string
		}{{f.RelayBinlogName, &rc.RelayBinlogName}, {f.RelayBinlogGTID, &rc.RelayBinlogGTID}, {f.RelayDir, &rc.RelayDir}} {
			if m.v != "" {
				v := m.v
				*m.dst = &v
			}
		}
		s.RelayConfig = rc
	}
	return s, nil
}

func operateSource(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return errors.New("operate-source needs create, show or stop")
	}
	op, rest := args[0], args[1:]
	fs := newFlags(e, "operate-source "+op)
	var sources sourceList
	fs.Var(&sources, "s", "source name (repeatable)")
	force := fs.Bool("force", false, "stop: remove the source even if tasks use it (their subtasks stop)")
	pos, err := parseArgs(fs, rest)
	if err != nil {
		return err
	}
	switch op {
	case "create":
		if err := exactly(pos, 1, "one source file"); err != nil {
			return err
		}
		s, err := readSource(pos[0])
		if err != nil {
			return err
		}
		var out json.RawMessage
		if err := e.c.do(ctx, "POST", apiPath("sources"), map[string]any{"source": s}, &out); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.out, out)
		}
		fmt.Fprintf(e.out, "source %s created\n", s.SourceName)
		return nil
	case "show":
		sources = append(sources, pos...)
		return showSources(ctx, e, sources)
	case "stop":
		if err := exactly(pos, 1, "one source name or source file"); err != nil {
			return err
		}
		name := pos[0]
		if _, err := os.Stat(name); err == nil {
			s, err := readSource(name)
			if err != nil {
				return err
			}
			name = s.SourceName
		}
		q := ""
		if *force {
			q = "?force=true"
		}
		if err := e.c.do(ctx, "DELETE", apiPath("sources", name)+q, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "source %s removed\n", name)
		return nil
	}
	return fmt.Errorf("operate-source %s: unknown operation; use create, show or stop", op)
}

func showSources(ctx context.Context, e *env, names []string) error {
	var list dm.List[dm.Source]
	var raw json.RawMessage
	if err := e.c.do(ctx, "GET", apiPath("sources")+"?with_status=true", nil, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode source list: %w", err)
	}
	keep := func(n string) bool {
		if len(names) == 0 {
			return true
		}
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
	var shown []dm.Source
	for _, s := range list.Data {
		if keep(s.SourceName) {
			shown = append(shown, s)
		}
	}
	if len(names) > 0 && len(shown) < len(names) {
		return fmt.Errorf("no source named %s", strings.Join(missing(names, shown), ", "))
	}
	if e.json {
		return printJSON(e.out, dm.List[dm.Source]{Total: len(shown), Data: shown})
	}
	return renderSources(e.out, shown)
}

func missing(names []string, got []dm.Source) []string {
	have := map[string]bool{}
	for _, s := range got {
		have[s.SourceName] = true
	}
	var out []string
	for _, n := range names {
		if !have[n] {
			out = append(out, n)
		}
	}
	return out
}

// sourceQuery encodes source_name_list query parameters.
func sourceQuery(sources []string) string {
	if len(sources) == 0 {
		return ""
	}
	v := url.Values{}
	for _, s := range sources {
		v.Add("source_name_list", s)
	}
	return "?" + v.Encode()
}
