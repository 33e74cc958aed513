package precheck

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// privilege is one privilege a check needs.
type privilege struct {
	name  string // as GRANT spells it, upper case
	label string // as DM prints it in "lack of ... privilege"
	order int    // DM's print order (the privilege's bit in TiDB's parser)
}

// The privileges the checks need.
var (
	privCreate     = privilege{"CREATE", "Create", 1}
	privSelect     = privilege{"SELECT", "Select", 2}
	privInsert     = privilege{"INSERT", "Insert", 3}
	privUpdate     = privilege{"UPDATE", "Update", 4}
	privDelete     = privilege{"DELETE", "Delete", 5}
	privSuper      = privilege{"SUPER", "Super", 7}
	privDrop       = privilege{"DROP", "Drop", 10}
	privProcess    = privilege{"PROCESS", "Process", 11}
	privAlter      = privilege{"ALTER", "Alter", 14}
	privIndex      = privilege{"INDEX", "Index", 16}
	privLockTables = privilege{"LOCK TABLES", "LOCK TABLES", 22}
	privReload     = privilege{"RELOAD", "RELOAD", 27}
	privReplClient = privilege{"REPLICATION CLIENT", "REPLICATION CLIENT", 31}
	privReplSlave  = privilege{"REPLICATION SLAVE", "REPLICATION SLAVE", 32}
)

// privNeed is a privilege needed either globally (ON *.*) or on some tables.
type privNeed struct {
	priv   privilege
	global bool
	// tables still lacking the privilege: schema -> table; only for non-global needs.
	tables map[string]map[string]bool
}

// met reports whether nothing is lacking any more.
func (n *privNeed) met() bool { return !n.global && len(n.tables) == 0 }

// tablePrivNeed needs priv on each of tables.
func tablePrivNeed(priv privilege, tables []table) *privNeed {
	n := &privNeed{priv: priv, tables: map[string]map[string]bool{}}
	for _, t := range tables {
		if n.tables[t.Schema] == nil {
			n.tables[t.Schema] = map[string]bool{}
		}
		n.tables[t.Schema][t.Name] = true
	}
	return n
}

// grantCovers reports whether a granted privilege (upper case) provides the needed one.
// MariaDB shows REPLICATION CLIENT as BINLOG MONITOR (10.5+; the parser reads it as
// REPLICATION CLIENT) and accepts REPLICATION REPLICA for REPLICATION SLAVE; SUPER lets one
// read the binlog status; MySQL 8's FLUSH_TABLES is enough for the FLUSH TABLES WITH READ
// LOCK that RELOAD is needed for.
func grantCovers(granted, need string) bool {
	if granted == need {
		return true
	}
	switch need {
	case privReplClient.name:
		return granted == "BINLOG MONITOR" || granted == "SUPER"
	case privReplSlave.name:
		return granted == "REPLICATION REPLICA"
	case privReload.name:
		return granted == "FLUSH_TABLES"
	}
	return false
}

// showGrants returns the grants of the connected account (and of its active roles).
func showGrants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("read grants: %w", err)
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return grants, nil
}

// lackingPrivileges returns DM's "lack of ... privilege; " text for the needs the account's
// grants do not meet, or "" when all are met.
func lackingPrivileges(ctx context.Context, db *sql.DB, needs []*privNeed) (string, error) {
	grants, err := showGrants(ctx, db)
	if err != nil {
		return "", err
	}
	return lackingPrivilegesIn(grants, needs), nil
}

// lackingPrivilegesIn is lackingPrivileges on SHOW GRANTS lines. It updates needs.
func lackingPrivilegesIn(grants []string, needs []*privNeed) string {
	if len(grants) == 0 {
		return "there is no such grant defined for current user on host '%'"
	}
	gp := newGrantParser()
	for _, line := range grants {
		if g, ok := gp.parse(line); ok {
			g.apply(needs)
		}
	}
	return describeLacking(needs)
}

// apply removes from needs what the grant provides.
func (g grant) apply(needs []*privNeed) {
	for _, p := range g.privs {
		for _, n := range needs {
			if !p.all && !grantCovers(p.name, n.priv.name) {
				continue
			}
			switch g.level {
			case grantGlobal:
				n.global, n.tables = false, nil
			case grantDB:
				if n.global {
					continue
				}
				for schema := range n.tables {
					if likeMatch(g.db, schema) {
						delete(n.tables, schema)
					}
				}
			case grantTable:
				// A column-level grant does not let the dumper read the whole table.
				if n.global || p.columns || n.tables[g.db] == nil {
					continue
				}
				delete(n.tables[g.db], g.table)
				if len(n.tables[g.db]) == 0 {
					delete(n.tables, g.db)
				}
			}
		}
	}
}

// describeLacking is DM's text for the needs not met, in DM's privilege order.
func describeLacking(needs []*privNeed) string {
	var lacking []*privNeed
	for _, n := range needs {
		if !n.met() {
			lacking = append(lacking, n)
		}
	}
	slices.SortFunc(lacking, func(a, b *privNeed) int { return cmp.Compare(a.priv.order, b.priv.order) })
	var b strings.Builder
	for _, n := range lacking {
		b.WriteString("lack of " + n.priv.label)
		if n.global {
			b.WriteString(" global (*.*) privilege; ")
			continue
		}
		b.WriteString(" privilege: {")
		for i, s := range sortedKeys(n.tables) {
			names := make([]string, 0, len(n.tables[s]))
			for t := range n.tables[s] {
				names = append(names, sqlq.QuoteTable(s, t))
			}
			slices.Sort(names)
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.Join(names, ", "))
		}
		b.WriteString("}; ")
	}
	return b.String()
}

// privilegeCheck builds a check of the account's privileges on db. A lack is reported with
// severity state.
func privilegeCheck(db *sql.DB, name, desc, extra string, state State, instruction string, needs func() []*privNeed) check {
	return func(ctx context.Context) *Result {
		r := &Result{Name: name, Desc: desc, State: Success, Extra: extra}
		lack, err := lackingPrivileges(ctx, db, needs())
		switch {
		case err != nil:
			return markError(r, err)
		case lack == "":
		case state == Warning:
			r.warn("%s", lack)
			r.Instruction = instruction
		default:
			r.fail("%s", lack)
			r.Instruction = instruction
		}
		return r
	}
}

// targetPrivilegeCheck warns (as DM: which tables the binlog will touch is not known) when
// the target account lacks a privilege the load and sync units use.
func (r *runner) targetPrivilegeCheck(ctx context.Context) *Result {
	return privilegeCheck(r.in.Target, "target db privilege checker", "check privileges of target DB",
		instanceExtra(r.in.TargetAddr, "target"), Warning, "You need grant related privileges.",
		func() []*privNeed {
			var needs []*privNeed
			for _, pr := range []privilege{privCreate, privSelect, privInsert, privUpdate, privDelete, privAlter, privDrop, privIndex} {
				needs = append(needs, &privNeed{priv: pr, global: true})
			}
			return needs
		})(ctx)
}

// dumpPrivilegeCheck fails when the source account cannot dump the migrated tables: SELECT
// on each, plus RELOAD (consistency auto/flush) or LOCK TABLES (consistency lock).
func (s *source) dumpPrivilegeCheck(consistency string) check {
	return privilegeCheck(s.DB, "source db dump privilege checker", "check dump privileges of source DB",
		s.extra(), Failure, "Please grant the required privileges to the account.",
		func() []*privNeed {
			needs := []*privNeed{tablePrivNeed(privSelect, s.tables)}
			switch consistency {
			case "auto", "flush":
				needs = append(needs, &privNeed{priv: privReload, global: true})
			case "lock":
				needs = append(needs, &privNeed{priv: privLockTables, global: true})
			}
			return needs
		})
}

// replicationPrivilegeCheck fails when the source account cannot read the binlog.
func (s *source) replicationPrivilegeCheck(ctx context.Context) *Result {
	return privilegeCheck(s.DB, "source db replication privilege checker", "check replication privileges of source DB",
		s.extra(), Failure, "Grant the required privileges to the account.",
		func() []*privNeed {
			return []*privNeed{{priv: privReplSlave, global: true}, {priv: privReplClient, global: true}}
		})(ctx)
}
