package precheck

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
// once in TestMain. Servers with other settings are started lazily by the tests that need
// them (as in package dm).
var (
	testSrc *mysqltest.Server
	testDst *mysqltest.Server
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	testSrc, err = mysqltest.Start(mysqltest.Options{Name: "precheck-src"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start source MariaDB:", err)
		return 1
	}
	defer testSrc.Stop()
	testDst, err = mysqltest.Start(mysqltest.Options{Name: "precheck-dst"})
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

// statementServer is a source with binlog_format STATEMENT and binlog_row_image MINIMAL.
func statementServer(t testing.TB) *mysqltest.Server {
	return lazyServer(t, "precheck-statement", mysqltest.Options{
		ExtraArgs: []string{"--binlog-format=STATEMENT", "--binlog-row-image=MINIMAL"},
	})
}

// testCtx is a context bounded for one test.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
