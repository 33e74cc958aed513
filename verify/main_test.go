package verify

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// Servers shared by the package's tests. Each test uses its own schema, the same name on
// both servers, dropped and recreated at its start.
var src, tgt *mysqltest.Server

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	src, err = mysqltest.Start(mysqltest.Options{Name: "verify-src"}) // binlog on: snapshots report their position
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	tgt, err = mysqltest.Start(mysqltest.Options{Name: "verify-tgt", SkipLogBin: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer tgt.Stop()
	return m.Run()
}

// freshSchema (re)creates schema on both servers.
func freshSchema(t testing.TB, schema string) {
	t.Helper()
	for _, s := range []*mysqltest.Server{src, tgt} {
		s.Exec(t, "DROP DATABASE IF EXISTS "+sqlq.QuoteName(schema))
		s.Exec(t, "CREATE DATABASE "+sqlq.QuoteName(schema)+" CHARACTER SET utf8mb4")
	}
}

// onBoth runs each statement on the source and the target, in schema.
func onBoth(t testing.TB, schema string, stmts ...string) {
	t.Helper()
	for _, s := range []*mysqltest.Server{src, tgt} {
		for _, q := range stmts {
			s.Exec(t, "USE "+sqlq.QuoteName(schema)+"; "+q)
		}
	}
}

// onTarget runs statements on the target only: changes behind the tool's back.
func onTarget(t testing.TB, schema string, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		tgt.Exec(t, "USE "+sqlq.QuoteName(schema)+"; "+q)
	}
}

// newVerifier returns a Verifier on the shared servers, closed when the test ends.
func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	cfg.Source, cfg.Target = src.DBConfig(), tgt.DBConfig()
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return v
}
