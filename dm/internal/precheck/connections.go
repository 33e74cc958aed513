package precheck

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// connNumberCheck compares the connections a unit needs with max_connections and, when the
// account may list them (priv), with the connections still free (tiflow conn_checker.go).
func connNumberCheck(db *sql.DB, name, unit string, priv privilege, need int) check {
	return func(ctx context.Context) *Result {
		r := &Result{Name: name, Desc: "check if connetion concurrency exceeds database's maximum connection limit",
			State: Success}
		raw, _, err := globalVariable(ctx, db, "max_connections")
		if err != nil {
			return markError(r, err)
		}
		maxConn, _ := strconv.Atoi(raw)
		if maxConn == 0 {
			return r // unlimited
		}
		used := 0
		lack, err := lackingPrivileges(ctx, db, []*privNeed{{priv: priv, global: true}})
		switch {
		case err != nil:
			return markError(r, err)
		case lack != "":
			// Without the privilege the process list shows only our own connections.
			r.warn("%s", lack)
			r.Instruction = "You need grant related privileges."
		default:
			if used, err = countProcesses(ctx, db); err != nil {
				return markError(r, err)
			}
		}
		const instruction = "You need to set a larger max_connection, or adjust the configuration of DM such as reducing the worker count of sycner and reducing the pool size of the dumper and loader."
		if need > maxConn {
			r.fail("checked database's max_connections: %d is less than the number %s needs: %d", maxConn, unit, need)
			r.Instruction = instruction
		} else if maxConn-used < need {
			r.warn("database's max_connections: %d, used_connections: %d, available_connections: %d is less than %s needs: %d",
				maxConn, used, maxConn-used, unit, need)
			r.Instruction = instruction
		}
		return r
	}
}

// loaderConnNumberCheck checks the target's connections for the load unit; like DM it only
// warns, since the need is an upper bound.
func loaderConnNumberCheck(db *sql.DB, need int) check {
	c := connNumberCheck(db, "loader_conn_number_checker", "loader", privSuper, need)
	return func(ctx context.Context) *Result {
		r := c(ctx)
		if r.State == Failure {
			r.State = Warning
			for _, e := range r.Errors {
				e.Severity = Warning
			}
			r.Instruction = "You need to set a larger max_connections on the target, or lower import_threads."
		}
		return r
	}
}

// countProcesses counts the server's connections other than ours.
func countProcesses(ctx context.Context, db *sql.DB) (int, error) {
	rows, err := db.QueryContext(ctx, "SHOW PROCESSLIST")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	return max(n-1, 0), nil
}
