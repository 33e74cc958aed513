package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/dmkit/dmkit/internal/tlsconfig"
)

// startTimeout bounds how long a member may take to become ready.
const startTimeout = 30 * time.Second

// Server is one embedded etcd member.
type Server struct {
	// Endpoint is the client URL (http://127.0.0.1:port).
	Endpoint string
	// Dir is the member's temporary data directory, removed by Stop.
	Dir string

	etcd     *embed.Etcd
	stopOnce sync.Once
}

// Start starts a single-member etcd named name, ready for clients when it returns.
func Start(name string) (*Server, error) { return start(name, nil) }

// StartTLS is Start with clients served over TLS only: the member presents f.Cert/f.Key
// and requires a client certificate signed by f.CA.
func StartTLS(name string, f tlsconfig.Files) (*Server, error) { return start(name, &f) }

// startAttempts is how often start picks new ports when one was taken meanwhile (by
// another package's test binary picking free ports at the same moment).
const startAttempts = 3

func start(name string, tlsFiles *tlsconfig.Files) (*Server, error) {
	var err error
	for range startAttempts {
		var s *Server
		if s, err = startOnce(name, tlsFiles); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return s, err
		}
	}
	return nil, err
}

func startOnce(name string, tlsFiles *tlsconfig.Files) (*Server, error) {
	dir, err := os.MkdirTemp("", "etcdtest-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("etcdtest: temp dir: %w", err)
	}
	s := &Server{Dir: dir}
	ports, err := freePorts(2)
	if err != nil {
		s.Stop()
		return nil, err
	}
	cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	if tlsFiles != nil {
		cu.Scheme = "https"
	}
	pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(name)
	if tlsFiles != nil {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: tlsFiles.Cert, KeyFile: tlsFiles.Key, TrustedCAFile: tlsFiles.CA, ClientCertAuth: true}
	}
	cfg.LogLevel = "fatal" // its shutdown logs errors about closed listeners
	cfg.LogOutputs = []string{"stderr"}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("etcdtest: start etcd %s: %w", name, err)
	}
	s.etcd = e
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		s.Stop()
		return nil, fmt.Errorf("etcdtest: etcd %s failed: %w", name, err)
	case <-time.After(startTimeout):
		s.Stop()
		return nil, fmt.Errorf("etcdtest: etcd %s not ready within %s", name, startTimeout)
	}
	s.Endpoint = cu.String()
	return s, nil
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdtest: find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Stop stops the member and removes its own temporary data directory.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.etcd != nil {
			s.etcd.Close()
		}
		if s.Dir != "" && strings.Contains(s.Dir, "etcdtest-") {
			_ = os.RemoveAll(s.Dir)
		}
	})
}

// Shared is one etcd member for a package's tests, started on first use and stopped by
// StopAll (from TestMain).
type Shared struct {
	mu  sync.Mutex
	srv *Server
}

// Get returns the package's member, starting it on first use.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv == nil {
		srv, err := Start("etcdtest")
		if err != nil {
			t.Fatalf("start etcd: %v", err)
		}
		sh.srv = srv
	}
	return sh.srv
}

// StopAll stops the member if one was started.
func (sh *Shared) StopAll() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv != nil {
		sh.srv.Stop()
		sh.srv = nil
	}
}

var prefixSeq atomic.Int64

// Prefix returns a key prefix no other call in this process returns, so tests sharing a
// member never see each other's keys.
func Prefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("/test/%s-%d", name, prefixSeq.Add(1))
}
