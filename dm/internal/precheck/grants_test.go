package precheck

import "testing"

func TestParseGrant(t *testing.T) {
	const hash = "'*D821809F681A40A6E379B50D0463EFAE20BDD122'"
	global := func(names ...string) grant {
		g := grant{level: grantGlobal}
		for _, n := range names {
			g.privs = append(g.privs, grantPriv{name: n})
		}
		return g
	}
	tests := []struct {
		line string
		ok   bool
		want grant
	}{
		{line: "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA unix_socket OR mysql_native_password USING 'invalid' WITH GRANT OPTION",
			ok: true, want: grant{privs: []grantPriv{{name: "ALL PRIVILEGES", all: true}}, level: grantGlobal}},
		// The parser's MariaDB mode reads BINLOG MONITOR as REPLICATION CLIENT.
		{line: "GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'",
			ok: true, want: global("RELOAD", "REPLICATION SLAVE", "REPLICATION CLIENT")},
		{line: "GRANT SELECT, INSERT ON `db\\_1`.* TO 'u'@'%'",
			ok: true, want: grant{privs: []grantPriv{{name: "SELECT"}, {name: "INSERT"}}, level: grantDB, db: `db\_1`}},
		{line: "GRANT SELECT (`a`, `b`), UPDATE ON `d`.`t``x` TO `u`@`%`",
			ok: true, want: grant{privs: []grantPriv{{name: "SELECT", columns: true}, {name: "UPDATE"}}, level: grantTable, db: "d", table: "t`x"}},
		{line: "GRANT BACKUP_ADMIN,FLUSH_TABLES ON *.* TO `u`@`%`",
			ok: true, want: global("BACKUP_ADMIN", "FLUSH_TABLES")},
		{line: "GRANT `role1` TO `u`@`%`"},
		{line: "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"},
		{line: "GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u`@`%`"},
		{line: "SET DEFAULT ROLE `r` FOR `u`@`%`"},

		// MariaDB's SHOW GRANTS lines (10.11), roles and password hashes included.
		{line: "GRANT `r1` TO `b`@`%` WITH ADMIN OPTION"},
		{line: "GRANT `r1`, `r2` TO `b`@`%`"},
		{line: "SET DEFAULT ROLE `r1` FOR `b`@`%`"},
		{line: "GRANT USAGE ON *.* TO `r1`", ok: true, want: global("USAGE")},
		{line: "GRANT SELECT ON `mysql`.* TO `r1`",
			ok: true, want: grant{privs: []grantPriv{{name: "SELECT"}}, level: grantDB, db: "mysql"}},
		{line: "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD " + hash, ok: true, want: global("USAGE")},
		{line: "GRANT SELECT, RELOAD, PROCESS, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `a`@`%` IDENTIFIED BY PASSWORD " + hash,
			ok: true, want: global("SELECT", "RELOAD", "PROCESS", "REPLICATION SLAVE", "REPLICATION CLIENT")},
		{line: "GRANT SUPER, BINLOG MONITOR, DELETE HISTORY, SET USER, FEDERATED ADMIN, CONNECTION ADMIN, READ_ONLY ADMIN, " +
			"REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, BINLOG REPLAY, SLAVE MONITOR ON *.* TO `b`@`%` " +
			"IDENTIFIED BY PASSWORD " + hash + " WITH GRANT OPTION MAX_USER_CONNECTIONS 3",
			ok: true, want: global("SUPER", "REPLICATION CLIENT", "DELETE_HISTORY", "SET_USER", "FEDERATED_ADMIN", "CONNECTION_ADMIN",
				"READ_ONLY_ADMIN", "REPLICATION_SLAVE_ADMIN", "REPLICATION_MASTER_ADMIN", "BINLOG_ADMIN", "BINLOG_REPLAY", "SLAVE_MONITOR")},
		{line: "GRANT REPLICATION REPLICA ON *.* TO `u`@`%`", ok: true, want: global("REPLICATION SLAVE")},
		{line: "GRANT SELECT ON `set user`.* TO `u`@`%` REQUIRE SSL",
			ok: true, want: grant{privs: []grantPriv{{name: "SELECT"}}, level: grantDB, db: "set user"}},
		{line: "GRANT EXECUTE ON PACKAGE `d`.`p` TO `u`@`%`"},
	}
	gp := newGrantParser()
	for _, tt := range tests {
		got, ok := gp.parse(tt.line)
		if ok != tt.ok {
			t.Errorf("parse(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.level != tt.want.level || got.db != tt.want.db || got.table != tt.want.table ||
			len(got.privs) != len(tt.want.privs) {
			t.Errorf("parse(%q) = %+v, want %+v", tt.line, got, tt.want)
			continue
		}
		for i := range got.privs {
			if got.privs[i] != tt.want.privs[i] {
				t.Errorf("parse(%q) priv %d = %+v, want %+v", tt.line, i, got.privs[i], tt.want.privs[i])
			}
		}
	}
}

func TestLackingPrivileges(t *testing.T) {
	tables := []table{{"db1", "t1"}, {"db1", "t2"}, {"db_2", "t"}}
	dump := func() []*privNeed {
		return []*privNeed{tablePrivNeed(privSelect, tables), {priv: privReload, global: true}}
	}
	repl := func() []*privNeed {
		return []*privNeed{{priv: privReplSlave, global: true}, {priv: privReplClient, global: true}}
	}
	tests := []struct {
		name   string
		grants []string
		needs  func() []*privNeed
		want   string
	}{
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `u`@`%`"}, dump, ""},
		{"nothing", []string{"GRANT USAGE ON *.* TO `u`@`%`"}, dump,
			"lack of Select privilege: {`db1`.`t1`, `db1`.`t2`; `db_2`.`t`}; lack of RELOAD global (*.*) privilege; "},
		{"no grants", nil, dump, "there is no such grant defined for current user on host '%'"},
		{"db and table level", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT ON `db_2`.`t` TO `u`@`%`",
		}, dump, ""},
		{"db wildcard and escape", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db%`.* TO `u`@`%`",
		}, dump, ""},
		{"escaped underscore does not match a letter", []string{
			"GRANT RELOAD ON *.* TO `u`@`%`",
			"GRANT SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT ON `dbx\\_2`.* TO `u`@`%`",
		}, dump, "lack of Select privilege: {`db_2`.`t`}; "},
		{"column grant is not enough", []string{
			"GRANT RELOAD, SELECT ON `db1`.* TO `u`@`%`",
			"GRANT SELECT (`a`) ON `db_2`.`t` TO `u`@`%`",
		}, dump, "lack of Select privilege: {`db_2`.`t`}; lack of RELOAD global (*.*) privilege; "},
		{"db-level ALL does not give global RELOAD", []string{"GRANT ALL PRIVILEGES ON `db%`.* TO `u`@`%`"}, dump,
			"lack of RELOAD global (*.*) privilege; "},
		{"MySQL FLUSH_TABLES replaces RELOAD", []string{"GRANT SELECT ON *.* TO `u`@`%`", "GRANT FLUSH_TABLES ON *.* TO `u`@`%`"}, dump, ""},
		{"replication missing", []string{"GRANT SELECT ON *.* TO `u`@`%`"}, repl,
			"lack of REPLICATION CLIENT global (*.*) privilege; lack of REPLICATION SLAVE global (*.*) privilege; "},
		{"replication MySQL", []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`"}, repl, ""},
		{"replication MariaDB", []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`"}, repl, ""},
		{"SUPER gives REPLICATION CLIENT", []string{"GRANT SUPER, REPLICATION SLAVE ON *.* TO `u`@`%`"}, repl, ""},
		{"MariaDB role privileges count", []string{
			"GRANT `r1` TO `u`@`%` WITH ADMIN OPTION",
			"GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'",
			"SET DEFAULT ROLE `r1` FOR `u`@`%`",
			"GRANT USAGE ON *.* TO `r1`",
			"GRANT RELOAD ON *.* TO `r1`",
			"GRANT SELECT ON `db%`.* TO `r1`",
		}, dump, ""},
		{"MariaDB admin privileges do not hide SUPER", []string{
			"GRANT SUPER, SLAVE MONITOR, REPLICATION REPLICA ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION MAX_USER_CONNECTIONS 3",
		}, repl, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lackingPrivilegesIn(tt.grants, tt.needs()); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"db", "db", true},
		{"db", "DB", false},
		{"db%", "db_2", true},
		{"d_", "db", true},
		{"d_", "dbb", false},
		{`db\_2`, "db_2", true},
		{`db\_2`, "dbx2", false},
		{"%", "", true},
		{"a%b%c", "aXXbYYc", true},
		{"a%b%c", "aXXbYY", false},
		{"é_", "éa", true},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
