package mysqltest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared starts the servers a package's tests share: a source and a target for the
// whole run (StartPair, from TestMain), and servers with special options started on
// first use (Lazy) and stopped with the rest (StopAll).
type Shared struct {
	mu   sync.Mutex
	lazy map[string]*Server
	all  []*Server
}

// StartPair starts a source and a target named prefix-src and prefix-dst; on error it
// prints the reason and returns nil servers (TestMain then exits 1).
func (s *Shared) StartPair(prefix string) (src, dst *Server, ok bool) {
	var err error
	if src, err = s.start(Options{Name: prefix + "-src"}); err != nil {
		fmt.Fprintln(os.Stderr, "start source MariaDB:", err)
		return nil, nil, false
	}
	if dst, err = s.start(Options{Name: prefix + "-dst"}); err != nil {
		fmt.Fprintln(os.Stderr, "start target MariaDB:", err)
		s.StopAll()
		return nil, nil, false
	}
	return src, dst, true
}

// Lazy returns the server named name, starting it with opts on first use.
func (s *Shared) Lazy(t testing.TB, name string, opts Options) *Server {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv := s.lazy[name]; srv != nil {
		return srv
	}
	opts.Name = name
	srv, err := Start(opts)
	if err != nil {
		t.Fatalf("start %s MariaDB: %v", name, err)
	}
	if s.lazy == nil {
		s.lazy = map[string]*Server{}
	}
	s.lazy[name] = srv
	s.all = append(s.all, srv)
	return srv
}

// StopAll stops every server started through s.
func (s *Shared) StopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.all {
		srv.Stop()
	}
	s.all, s.lazy = nil, nil
}

func (s *Shared) start(opts Options) (*Server, error) {
	srv, err := Start(opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.all = append(s.all, srv)
	s.mu.Unlock()
	return srv, nil
}
