package dm

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dmkit/dmkit/internal/etcdtest"
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

// servers holds the package's shared MariaDB servers.
var servers mysqltest.Shared

// etcds holds the package's embedded etcd member, started by the first test that needs it.
var etcds etcdtest.Shared

func runTests(m *testing.M) int {
	if os.Getenv(crashChildEnv) != "" {
		// A crash-test child process needs no database servers.
		return m.Run()
	}
	var ok bool
	if testSrc, testDst, ok = servers.StartPair("dm"); !ok {
		return 1
	}
	defer servers.StopAll()
	defer etcds.StopAll()
	return m.Run()
}

// lazyServer starts (once per package run) a server with special options, shared by every
// test that asks for the same name.
func lazyServer(t testing.TB, name string, opts mysqltest.Options) *mysqltest.Server {
	return servers.Lazy(t, name, opts)
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
