package precheck

import (
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions for the parser
)

// grantLevel is what a GRANT applies to.
type grantLevel int

const (
	grantGlobal grantLevel = iota // ON *.*
	grantDB                       // ON `db`.*  (db may hold LIKE wildcards)
	grantTable                    // ON `db`.`table`
)

// grant is one parsed SHOW GRANTS line.
type grant struct {
	privs     []grantPriv
	level     grantLevel
	db, table string
}

// grantPriv is one privilege of a GRANT.
type grantPriv struct {
	name    string // upper case, single-spaced, e.g. SELECT, REPLICATION CLIENT, FLUSH_TABLES
	all     bool   // ALL [PRIVILEGES]
	columns bool   // granted on a column list only
}

// grantParser reads SHOW GRANTS lines with the TiDB parser (in its MariaDB mode, which reads
// MariaDB's BINLOG MONITOR as REPLICATION CLIENT). It is not safe for concurrent use.
type grantParser struct{ p *parser.Parser }

func newGrantParser() grantParser {
	p := parser.New()
	p.SetMariaDB(true)
	return grantParser{p: p}
}

// parse parses a "GRANT privs ON object TO account ..." line of SHOW GRANTS, as MySQL and
// MariaDB print them. ok is false for lines that grant no table privileges (role grants,
// PROXY, routines, packages, SET DEFAULT ROLE, ...) and for lines the parser cannot read
// even after prepareGrant: those grant nothing the checks count, which can only make a
// check report a lack, never hide one.
func (gp grantParser) parse(line string) (g grant, ok bool) {
	sql, ok := prepareGrant(line)
	if !ok {
		return g, false
	}
	node, err := gp.p.ParseOneStmt(sql, "", "")
	if err != nil {
		return g, false
	}
	stmt, ok := node.(*ast.GrantStmt) // not *ast.GrantRoleStmt, *ast.GrantProxyStmt
	if !ok || stmt.Level == nil {
		return g, false
	}
	if stmt.ObjectType != ast.ObjectTypeNone && stmt.ObjectType != ast.ObjectTypeTable {
		return g, false // FUNCTION, PROCEDURE
	}
	switch lv := stmt.Level; lv.Level {
	case ast.GrantLevelGlobal:
		g.level = grantGlobal
	case ast.GrantLevelDB:
		if lv.DBName == "" {
			return g, false // ON * (the current database): SHOW GRANTS never prints it
		}
		g.level, g.db = grantDB, lv.DBName
	case ast.GrantLevelTable:
		g.level, g.db, g.table = grantTable, lv.DBName, lv.TableName
	default:
		return g, false
	}
	for _, p := range stmt.Privs {
		name := p.Name // a dynamic privilege such as FLUSH_TABLES
		if name == "" {
			name = mysql.Priv2Str[p.Priv]
		}
		g.privs = append(g.privs, grantPriv{
			name:    strings.ToUpper(strings.Join(strings.Fields(name), " ")),
			all:     p.Priv == mysql.AllPriv,
			columns: len(p.Cols) > 0,
		})
	}
	return g, true
}

// mariaDBPrivs are MariaDB privileges whose multi-word names the TiDB parser does not know;
// prepareGrant joins their words with underscores, so the parser reads them as dynamic
// privileges (none of them is one the checks need).
var mariaDBPrivs = regexp.MustCompile(`(?i)\b(BINLOG (ADMIN|REPLAY)|CONNECTION ADMIN|DELETE HISTORY|FEDERATED ADMIN|READ_ONLY ADMIN|REPLICATION (MASTER|SLAVE) ADMIN|(SLAVE|REPLICA) MONITOR|SET USER|SHOW CREATE ROUTINE)\b`)

// replicationReplica is MariaDB's synonym of REPLICATION SLAVE.
var replicationReplica = regexp.MustCompile(`(?i)\bREPLICATION REPLICA\b`)

// prepareGrant rewrites a SHOW GRANTS line into what the TiDB parser reads, minimally:
//   - lines that do not start with GRANT (MariaDB's SET DEFAULT ROLE ... FOR ...) are
//     skipped (ok false);
//   - everything after the account from the first IDENTIFIED, REQUIRE or WITH on is cut:
//     MariaDB prints IDENTIFIED VIA plugin USING '...', IDENTIFIED BY PASSWORD '*hash', TLS
//     requirements, resource limits after WITH GRANT OPTION and WITH ADMIN OPTION on role
//     grants, several of which the parser rejects; none of it changes what is granted;
//   - MariaDB-only privilege names in the privilege list are renamed (see mariaDBPrivs).
//
// Role grants (GRANT `role` TO `user`) are left to the parser, which reads them as
// *ast.GrantRoleStmt; the role's own privileges appear on separate lines (GRANT ... TO
// `role`) when the role is active.
func prepareGrant(line string) (string, bool) {
	s := strings.TrimSpace(line)
	if len(s) < 6 || !strings.EqualFold(s[:6], "GRANT ") {
		return "", false
	}
	to := topLevelIndex(s, " TO ")
	if to < 0 {
		return "", false
	}
	for _, kw := range []string{" IDENTIFIED ", " REQUIRE ", " WITH "} {
		if i := topLevelIndex(s[to:], kw); i >= 0 {
			s = s[:to+i]
		}
	}
	head := s[:to]
	if on := topLevelIndex(head, " ON "); on >= 0 {
		head = head[:on]
	}
	privs := mariaDBPrivs.ReplaceAllStringFunc(head, func(p string) string { return strings.Join(strings.Fields(p), "_") })
	privs = replicationReplica.ReplaceAllString(privs, "REPLICATION SLAVE")
	return privs + s[len(head):], true
}

// topLevelIndex finds the first case-insensitive occurrence of kw in s outside quotes and
// parentheses, or -1.
func topLevelIndex(s, kw string) int {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && i+len(kw) <= len(s) && strings.EqualFold(s[i:i+len(kw)], kw):
			return i
		}
	}
	return -1
}

// likeMatch matches s against a grant's database name, a LIKE pattern where % and _ are
// wildcards and \ escapes the next character.
func likeMatch(pattern, s string) bool {
	return likeMatchRunes([]rune(pattern), []rune(s))
}

func likeMatchRunes(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if likeMatchRunes(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '_':
		return len(s) > 0 && likeMatchRunes(p[1:], s[1:])
	case '\\':
		if len(p) > 1 {
			p = p[1:]
		}
	}
	return len(s) > 0 && s[0] == p[0] && likeMatchRunes(p[1:], s[1:])
}
