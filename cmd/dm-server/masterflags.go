package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
)

// masterFlags are the flags of --role master: DM's dm-master flags for its embedded etcd
// member, the election's TTL and the address the other masters forward requests to.
type masterFlags struct {
	advertiseAddr     string // host:port of this master's API for the other masters
	peerURLs          types.URLs
	advertisePeerURLs types.URLs
	clientURLs        types.URLs
	initialCluster    string
	etcdDataDir       string
	electionTTL       time.Duration
}

// embeddedEtcdFlags are the flags of the embedded etcd member; masterOnlyFlags all flags
// that act only with --role master.
var (
	embeddedEtcdFlags = []string{"etcd-peer-urls", "etcd-advertise-peer-urls", "etcd-client-urls", "initial-cluster", "etcd-data-dir"}
	masterOnlyFlags   = append([]string{"election-ttl"}, embeddedEtcdFlags...)
)

const (
	defaultPeerURL   = "http://127.0.0.1:8291"
	defaultClientURL = "http://127.0.0.1:2379"
)

func registerMasterFlags(fs *flag.FlagSet, m *masterFlags) {
	m.peerURLs, _ = types.NewURLs([]string{defaultPeerURL})
	m.clientURLs, _ = types.NewURLs([]string{defaultClientURL})
	fs.StringVar(&m.advertiseAddr, "advertise-addr", "", "with --role master or worker: `host:port` the others reach this process's --listen at — the masters forward requests to a master's, the leader calls a worker's (default: the --listen address)")
	urlsFlag := func(name string, dst *types.URLs, usage string) {
		fs.Func(name, usage, func(v string) (err error) {
			*dst, err = parseURLs(name, v)
			return err
		})
	}
	urlsFlag("etcd-peer-urls", &m.peerURLs, "with --role master: `URLs` the embedded etcd member listens on for its peers (default "+defaultPeerURL+")")
	urlsFlag("etcd-advertise-peer-urls", &m.advertisePeerURLs, "with --role master: peer `URLs` the other members reach this one at (default: --etcd-peer-urls)")
	urlsFlag("etcd-client-urls", &m.clientURLs, "with --role master: `URLs` the embedded etcd member serves clients on; dm-workers' --etcd-endpoints point here (default "+defaultClientURL+")")
	fs.StringVar(&m.initialCluster, "initial-cluster", "", "with --role master: every master's `name=peerURL` (comma separated), the same on every master (default: this master alone)")
	fs.StringVar(&m.etcdDataDir, "etcd-data-dir", "", "with --role master: `directory` of the embedded etcd member (default <data-dir>/etcd)")
	fs.DurationVar(&m.electionTTL, "election-ttl", 3*time.Second, "with --role master: TTL (whole seconds) of the leader's session: a dead leader is replaced after about this long")
}

// parseURLs reads a comma list of http(s)://host:port URLs.
func parseURLs(name, v string) (types.URLs, error) {
	var parts []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	u, err := types.NewURLs(parts)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %v; give http(s)://host:port URLs, comma separated", name, v, err)
	}
	return u, nil
}

// checkAdvertiseAddr checks --advertise-addr, when given, is a host:port.
func checkAdvertiseAddr(addr string) error {
	if addr == "" {
		return nil
	}
	if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" || port == "0" {
		return fmt.Errorf("--advertise-addr %q: give the host:port the other processes reach this one's --listen at", addr)
	}
	return nil
}

// checkRoleFlags refuses flags that do not act in the chosen role, and fills in the
// master defaults.
func checkRoleFlags(cfg *config, set map[string]bool) error {
	given := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if set[n] {
				out = append(out, "--"+n)
			}
		}
		return out
	}
	if cfg.role != roleMaster {
		if stray := given(masterOnlyFlags...); len(stray) > 0 {
			return fmt.Errorf("%s only act with --role master: set it or drop them", strings.Join(stray, ", "))
		}
		if cfg.role == roleWorker {
			if err := checkAdvertiseAddr(cfg.master.advertiseAddr); err != nil {
				return err
			}
			return checkWorkerRoleFlags(cfg, given)
		}
		if set["advertise-addr"] {
			return fmt.Errorf("--advertise-addr acts only with --role master or worker: set one or drop it")
		}
		if set["keepalive-ttl"] {
			return fmt.Errorf("--keepalive-ttl acts only with --role worker: set it or drop it")
		}
		return nil
	}
	if stray := given("keepalive-ttl"); len(stray) > 0 {
		return fmt.Errorf("--keepalive-ttl acts only with --role worker (a master's session is --election-ttl)")
	}
	if set["workers"] {
		return fmt.Errorf("--workers: a --role master process runs no worker; start dm-workers (--role worker) instead, or use --role all")
	}
	if cfg.secretKeyPath == "" {
		return fmt.Errorf("--role master needs --secret-key-path: every master must seal the stored passwords with the same key; make one with `openssl rand -hex 32 > secret.key` (chmod 600) and give it to every master")
	}
	if set["etcd-lock-wait"] {
		return fmt.Errorf("--etcd-lock-wait acts only with --role all: masters share the prefix and elect a leader instead of locking it")
	}
	m := &cfg.master
	if ttl := m.electionTTL; ttl < time.Second || ttl%time.Second != 0 {
		return fmt.Errorf("--election-ttl %s: give whole seconds, at least 1s (etcd leases count in seconds)", ttl)
	}
	if err := checkAdvertiseAddr(m.advertiseAddr); err != nil {
		return err
	}
	if len(cfg.etcd.endpoints) > 0 { // an external etcd: no embedded member
		if stray := given(embeddedEtcdFlags...); len(stray) > 0 {
			return fmt.Errorf("%s configure the embedded etcd member, which --etcd-endpoints replaces: drop one or the other", strings.Join(stray, ", "))
		}
		return nil
	}
	if stray := given("etcd-ssl-ca", "etcd-ssl-cert", "etcd-ssl-key"); len(stray) > 0 {
		return fmt.Errorf("%s apply to an external etcd (--etcd-endpoints); the embedded etcd member serves plain HTTP in this build", strings.Join(stray, ", "))
	}
	if len(m.advertisePeerURLs) == 0 {
		m.advertisePeerURLs = m.peerURLs
	}
	for _, u := range append(slices.Clone(m.advertisePeerURLs), m.clientURLs...) {
		if u.Scheme != "http" {
			return fmt.Errorf("%s: the embedded etcd member serves plain HTTP in this build; use http:// URLs", u.String())
		}
	}
	if m.initialCluster == "" {
		m.initialCluster = cfg.name + "=" + m.advertisePeerURLs[0].String()
	}
	ic, err := types.NewURLsMap(m.initialCluster)
	if err != nil {
		return fmt.Errorf("--initial-cluster %q: %v; give name=http://host:peerport for every master, comma separated", m.initialCluster, err)
	}
	mine, ok := ic[cfg.name]
	if !ok {
		return fmt.Errorf("--initial-cluster %q does not name this master (--name %s): list every master, this one included", m.initialCluster, cfg.name)
	}
	if mine.String() != m.advertisePeerURLs.String() {
		return fmt.Errorf("--initial-cluster gives %s=%s but --etcd-advertise-peer-urls (or --etcd-peer-urls) is %s: make them the same", cfg.name, mine.String(), m.advertisePeerURLs.String())
	}
	if m.etcdDataDir == "" {
		m.etcdDataDir = filepath.Join(cfg.dataDir, "etcd")
	}
	return nil
}

// localClientURL is the URL this master's own etcd client dials on its embedded member:
// the first client URL, an unspecified host (0.0.0.0, ::) made loopback.
func (m *masterFlags) localClientURL() string {
	u := m.clientURLs[0]
	host, port, _ := net.SplitHostPort(u.Host)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", port)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
