package dm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/mysqltest"
	"github.com/dmkit/dmkit/internal/sqlq"
)

func TestProbeSourceGood(t *testing.T) {
	tests := []struct {
		flavor, wantFlavor string
	}{
		{"", flavorMariaDB},
		{flavorMariaDB, flavorMariaDB},
		{flavorMySQL, flavorMySQL}, // as DM: a given flavor is kept
	}
	for _, tt := range tests {
		t.Run("flavor="+tt.flavor, func(t *testing.T) {
			p, err := probeSource(testCtx(t), testSrc.DBConfig(), tt.flavor, true)
			if err != nil {
				t.Fatal(err)
			}
			want := sourceProbe{
				Flavor:         tt.wantFlavor,
				Version:        p.Version,
				ServerID:       testSrc.ServerID,
				GTIDMode:       true,
				ServerUUID:     fmt.Sprintf("0-%d", testSrc.ServerID),
				LogBin:         true,
				BinlogFormat:   "ROW",
				BinlogRowImage: "FULL",
			}
			if *p != want {
				t.Errorf("probe = %+v, want %+v", *p, want)
			}
			if !strings.Contains(p.Version, "MariaDB") {
				t.Errorf("version %q does not name MariaDB", p.Version)
			}
		})
	}
}

func TestProbeSourceRefused(t *testing.T) {
	statement := lazyServer(t, "sourcecheck-statement", mysqltest.Options{
		ExtraArgs: []string{"--binlog-format=STATEMENT", "--binlog-row-image=MINIMAL"},
	})
	// MariaDB turns server_id=0 into 1, so the server_id check has no case here.
	noBinlog := lazyServer(t, "sourcecheck-nobinlog", mysqltest.Options{SkipLogBin: true})
	tests := []struct {
		name        string
		server      *mysqltest.Server
		wantSetting string
		wantMsg     []string
	}{
		{"statement format", statement, "binlog_format", []string{
			"binlog_format is STATEMENT; set binlog_format=ROW",
			"binlog_row_image is MINIMAL; set binlog_row_image=FULL",
		}},
		{"binlog off", noBinlog, "log_bin", []string{
			fmt.Sprintf("source %s: log_bin is OFF; enable binary logging", noBinlog.DBConfig().Addr()),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := probeSource(testCtx(t), tt.server.DBConfig(), "", false)
			var sce *sourceCheckError
			if !errors.As(err, &sce) {
				t.Fatalf("err = %v, want a *sourceCheckError", err)
			}
			if sce.Setting != tt.wantSetting {
				t.Errorf("Setting = %q, want %q", sce.Setting, tt.wantSetting)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, errGTIDModeOff) || errors.Is(err, errSourceConnect) || errors.Is(err, errBadFlavor) {
				t.Errorf("error %v matches an unrelated sentinel", err)
			}
			if p == nil || p.Flavor != flavorMariaDB {
				t.Errorf("probe = %+v, want the server's settings alongside the error", p)
			}
		})
	}
}

func TestProbeSourceErrors(t *testing.T) {
	badPass := testSrc.DBConfig()
	badPass.Password = "not-the-password"
	tests := []struct {
		name     string
		cfg      dbconn.Config
		flavor   string
		sentinel error
		wantMsg  []string
	}{
		{"bad credentials", badPass, "", errSourceConnect, []string{badPass.Addr(), `user "dmkit"`, "Access denied"}},
		{"bad flavor", testSrc.DBConfig(), "oracle", errBadFlavor, []string{`flavor "oracle"`, "mysql", "mariadb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := probeSource(testCtx(t), tt.cfg, tt.flavor, false)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			if p != nil {
				t.Errorf("probe = %+v, want nil", p)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), badPass.Password) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestListSchemasAndTables(t *testing.T) {
	odd := "odd`name"
	testSrc.Exec(t, "CREATE DATABASE `db-name`; "+
		"CREATE TABLE `db-name`.t1 (id INT PRIMARY KEY); "+
		"CREATE TABLE `db-name`."+sqlq.QuoteName(odd)+" (id INT PRIMARY KEY); "+
		"CREATE VIEW `db-name`.v AS SELECT id FROM `db-name`.t1; "+
		"CREATE DATABASE "+sqlq.QuoteName(odd))
	t.Cleanup(func() { testSrc.Exec(t, "DROP DATABASE `db-name`; DROP DATABASE "+sqlq.QuoteName(odd)) })
	db := testSrc.DB(t)
	ctx := testCtx(t)

	schemas, err := listSchemas(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"db-name", odd, "mysql", "information_schema"} {
		if !slices.Contains(schemas, want) {
			t.Errorf("listSchemas = %q, missing %q", schemas, want)
		}
	}

	tests := []struct {
		schema  string
		want    []string
		wantErr bool
	}{
		{"db-name", []string{"odd`name", "t1"}, false},
		{odd, nil, false},
		{"no-such-schema", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			got, err := listBaseTables(ctx, db, tt.schema)
			if (err != nil) != tt.wantErr {
				t.Fatalf("listBaseTables err = %v, want error: %v", err, tt.wantErr)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("listBaseTables = %q, want %q", got, tt.want)
			}
		})
	}
}
