package precheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/mysqltest"
)

func TestProbeSourceGood(t *testing.T) {
	tests := []struct {
		flavor, wantFlavor string
	}{
		{"", FlavorMariaDB},
		{FlavorMariaDB, FlavorMariaDB},
		{FlavorMySQL, FlavorMySQL}, // as DM: a given flavor is kept
	}
	for _, tt := range tests {
		t.Run("flavor="+tt.flavor, func(t *testing.T) {
			p, err := ProbeSource(testCtx(t), testSrc.DBConfig(), tt.flavor, true)
			if err != nil {
				t.Fatal(err)
			}
			want := SourceProbe{
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
	statement := statementServer(t)
	// MariaDB turns server_id=0 into 1, so the server_id check has no case here.
	noBinlog := lazyServer(t, "precheck-nobinlog", mysqltest.Options{SkipLogBin: true})
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
			p, err := ProbeSource(testCtx(t), tt.server.DBConfig(), "", false)
			var sce *SourceCheckError
			if !errors.As(err, &sce) {
				t.Fatalf("err = %v, want a *SourceCheckError", err)
			}
			if sce.Setting != tt.wantSetting {
				t.Errorf("Setting = %q, want %q", sce.Setting, tt.wantSetting)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, ErrGTIDModeOff) || errors.Is(err, ErrSourceConnect) || errors.Is(err, ErrBadFlavor) {
				t.Errorf("error %v matches an unrelated sentinel", err)
			}
			if p == nil || p.Flavor != FlavorMariaDB {
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
		{"bad credentials", badPass, "", ErrSourceConnect, []string{badPass.Addr(), `user "dmkit"`, "Access denied"}},
		{"bad flavor", testSrc.DBConfig(), "oracle", ErrBadFlavor, []string{`flavor "oracle"`, "mysql", "mariadb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ProbeSource(testCtx(t), tt.cfg, tt.flavor, false)
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
