package dm

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// The package's tests share one source (binlog ROW, GTID) and one target server, started
// once in TestMain. Servers with bad settings are started lazily by the tests that need them.
var (
	testSrc *mysqltest.Server
	testDst *mysqltest.Server
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv(crashChildEnv) != "" {
		// A crash-test child process needs no database servers.
		return m.Run()
	}
	var err error
	testSrc, err = mysqltest.Start(mysqltest.Options{Name: "dm-src"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start source MariaDB:", err)
		return 1
	}
	defer testSrc.Stop()
	testDst, err = mysqltest.Start(mysqltest.Options{Name: "dm-dst"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start target MariaDB:", err)
		return 1
	}
	defer testDst.Stop()
	code := m.Run()
	stopLazyServers()
	return code
}

var (
	lazyMu      sync.Mutex
	lazyServers = map[string]*mysqltest.Server{}
)

// lazyServer starts (once per package run) a server with special options, shared by every
// test that asks for the same name.
func lazyServer(t testing.TB, name string, opts mysqltest.Options) *mysqltest.Server {
	t.Helper()
	lazyMu.Lock()
	defer lazyMu.Unlock()
	if s := lazyServers[name]; s != nil {
		return s
	}
	opts.Name = name
	s, err := mysqltest.Start(opts)
	if err != nil {
		t.Fatalf("start %s MariaDB: %v", name, err)
	}
	lazyServers[name] = s
	return s
}

func stopLazyServers() {
	lazyMu.Lock()
	defer lazyMu.Unlock()
	for _, s := range lazyServers {
		s.Stop()
	}
}

// testCtx is a context bounded for one test.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sourceFor returns a create-source body for a test server.
func sourceFor(name string, s *mysqltest.Server) *Source {
	return &Source{SourceName: name, Host: s.Host, Port: s.Port, User: s.User, Password: strPtr(s.Password)}
}

// targetFor returns a task target for a test server.
func targetFor(s *mysqltest.Server) TaskTargetDataBase {
	return TaskTargetDataBase{Host: s.Host, Port: s.Port, User: s.User, Password: s.Password}
}
