package dbconn

import (
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestDSN(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		database string
		check    func(t *testing.T, mc *mysql.Config)
	}{
		{
			name: "defaults",
			cfg:  Config{User: "u", Password: "p@ss:/word"},
			check: func(t *testing.T, mc *mysql.Config) {
				if mc.Addr != "127.0.0.1:3306" || mc.Net != "tcp" || mc.User != "u" || mc.Passwd != "p@ss:/word" || mc.DBName != "" {
					t.Errorf("endpoint = %s %s %s %q %q", mc.Net, mc.Addr, mc.User, mc.Passwd, mc.DBName)
				}
				if mc.ParseTime || !mc.InterpolateParams || mc.MaxAllowedPacket != 0 {
					t.Errorf("parseTime=%v interpolateParams=%v maxAllowedPacket=%d", mc.ParseTime, mc.InterpolateParams, mc.MaxAllowedPacket)
				}
				if mc.Timeout != DialTimeout || mc.ReadTimeout != ReadTimeout || mc.WriteTimeout != WriteTimeout {
					t.Errorf("timeouts = %s %s %s", mc.Timeout, mc.ReadTimeout, mc.WriteTimeout)
				}
				if mc.Collation != "utf8mb4_general_ci" {
					t.Errorf("collation = %q", mc.Collation)
				}
			},
		},
		{
			name:     "host, port and odd database",
			cfg:      Config{Host: "db.example", Port: 4000, User: "root"},
			database: "db-name/x?",
			check: func(t *testing.T, mc *mysql.Config) {
				if mc.Addr != "db.example:4000" || mc.DBName != "db-name/x?" {
					t.Errorf("addr=%s db=%q", mc.Addr, mc.DBName)
				}
			},
		},
		{
			name: "ipv6",
			cfg:  Config{Host: "::1", Port: 3307},
			check: func(t *testing.T, mc *mysql.Config) {
				if mc.Addr != "[::1]:3307" {
					t.Errorf("addr=%s", mc.Addr)
				}
			},
		},
		{
			name: "params override defaults and set session variables",
			cfg:  Config{Params: map[string]string{"readTimeout": "1m", "sql_mode": "'ANSI_QUOTES'"}},
			check: func(t *testing.T, mc *mysql.Config) {
				if mc.ReadTimeout != time.Minute {
					t.Errorf("readTimeout = %s", mc.ReadTimeout)
				}
				if mc.Params["sql_mode"] != "'ANSI_QUOTES'" {
					t.Errorf("params = %v", mc.Params)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, err := tt.cfg.DSN(tt.database)
			if err != nil {
				t.Fatal(err)
			}
			mc, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", dsn, err)
			}
			tt.check(t, mc)
		})
	}
}

func TestDSNErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad CA", Config{TLS: &TLSConfig{CA: "not pem"}}, "CA is not valid PEM"},
		{"cert without key", Config{TLS: &TLSConfig{Cert: "x"}}, "needs both cert and key"},
		{"bad param", Config{Params: map[string]string{"timeout": "soon"}}, "connection parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.DSN("")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DSN error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDSNTLSIdempotent(t *testing.T) {
	cfg := Config{TLS: &TLSConfig{}}
	a, err := cfg.DSN("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.DSN("")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.Contains(a, "tls=dmkit-") {
		t.Errorf("DSNs %q and %q: want equal, with a registered tls name", a, b)
	}
	other, err := Config{TLS: &TLSConfig{AllowedCN: []string{"x"}}}.DSN("")
	if err != nil {
		t.Fatal(err)
	}
	if other == a {
		t.Error("different TLS settings share a registered name")
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
		want Config
	}{
		{"127.0.0.1:3307", true, Config{Host: "127.0.0.1", Port: 3307, User: "u", Password: "p"}},
		{"[::1]:4000", true, Config{Host: "::1", Port: 4000, User: "u", Password: "p"}},
		{"host", false, Config{}},
		{"host:port", false, Config{}},
	} {
		got, err := ParseAddr(tc.addr, "u", "p")
		if (err == nil) != tc.ok || got.Host != tc.want.Host || got.Port != tc.want.Port || got.User != tc.want.User || got.Password != tc.want.Password {
			t.Errorf("ParseAddr(%q) = %+v, %v", tc.addr, got, err)
		}
		if tc.ok && got.Addr() != tc.addr {
			t.Errorf("Addr() of ParseAddr(%q) = %q", tc.addr, got.Addr())
		}
	}
}
