package precheck

import (
	"context"
	"os"
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

// servers holds the package's shared MariaDB servers.
var servers mysqltest.Shared

func runTests(m *testing.M) int {
	var ok bool
	if testSrc, testDst, ok = servers.StartPair("precheck"); !ok {
		return 1
	}
	defer servers.StopAll()
	return m.Run()
}

// lazyServer starts (once per package run) a server with special options, shared by every
// test that asks for the same name.
func lazyServer(t testing.TB, name string, opts mysqltest.Options) *mysqltest.Server {
	return servers.Lazy(t, name, opts)
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
