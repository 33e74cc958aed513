package loader

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"sync"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// applySchemaFile runs a {db}-schema-create.sql or {db}.{tbl}-schema.sql file: CREATE
// DATABASE / CREATE TABLE with the routed name and IF NOT EXISTS. A target table that
// several source tables merge into is created once. The file's checkpoint is written
// afterwards so Done can tell a schema-only table was created.
func (l *Loader) applySchemaFile(ctx context.Context, path, name string, info dumpfile.Name) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load schema file: %w", err)
	}
	stmts, err := splitStatements(text)
	if err != nil {
		return fmt.Errorf("schema file %s: %w", name, err)
	}
	return l.retry(ctx, name, func() (bool, error) {
		conn, err := l.db.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("schema file %s: connect to target: %w", name, err)
		}
		tainted := false
		defer func() { closeConn(conn, tainted) }()
		for _, stmt := range stmts {
			kw := leadingKeywords(stmt, 3)
			switch {
			case len(kw) > 0 && kw[0] == "SET":
				if isBaselineSet(stmt, l.cfg.TimeZone) {
					continue
				}
				tainted = true
				if _, err := conn.ExecContext(ctx, string(stmt)); err != nil {
					return false, fmt.Errorf("schema file %s: %s: %w", name, stmt, err)
				}
			case len(kw) > 1 && kw[0] == "CREATE" && (kw[1] == "DATABASE" || kw[1] == "SCHEMA"):
				if err := l.createDatabase(ctx, conn, info.Schema, stmt); err != nil {
					return false, fmt.Errorf("schema file %s: %w", name, err)
				}
			case len(kw) > 1 && kw[0] == "CREATE" && (kw[1] == "TABLE" || kw[1] == "OR"):
				if info.Kind != dumpfile.KindTableSchema {
					return false, fmt.Errorf("schema file %s: CREATE TABLE in a schema-create file", name)
				}
				if err := l.createTable(ctx, conn, info.Schema, info.Table, stmt); err != nil {
					return false, fmt.Errorf("schema file %s: %w", name, err)
				}
			default:
				return false, fmt.Errorf("schema file %s: unsupported statement %.60q; a schema file holds CREATE DATABASE or CREATE TABLE", name, stmt)
			}
		}
		if err := l.completeCheckpoint(ctx, conn, name, info, int64(len(text))); err != nil {
			return false, err
		}
		return false, nil
	})
}

// createDatabase runs a dump's CREATE DATABASE for the routed schema, once. For a schema
// the task does not migrate as a whole it only remembers the statement's options:
// createTable creates the database its routed tables need.
func (l *Loader) createDatabase(ctx context.Context, conn *sql.Conn, schema string, stmt []byte) error {
	l.ddlMu.Lock()
	defer l.ddlMu.Unlock()
	if l.cfg.WholeSchema != nil && !l.cfg.WholeSchema(schema) {
		l.schemaStmts[schema] = stmt
		return nil
	}
	target, _, err := l.cfg.Route(schema, "")
	if err != nil {
		return fmt.Errorf("route schema %s: %w", sqlq.QuoteName(schema), err)
	}
	if l.createdDBs[target] {
		return nil
	}
	q, err := rewriteCreateDatabase(stmt, sqlq.QuoteName(target))
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", sqlq.QuoteName(target), err)
	}
	l.createdDBs[target] = true
	l.log.Info("created database", "schema", target)
	return nil
}

// createTable runs a dump's CREATE TABLE for the routed table (creating its database if
// needed), once per target table.
func (l *Loader) createTable(ctx context.Context, conn *sql.Conn, schema, table string, stmt []byte) error {
	ts, tt, err := l.cfg.Route(schema, table)
	if err != nil {
		return fmt.Errorf("route %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	if err := l.ensureDatabase(ctx, conn, schema, ts); err != nil {
		return err
	}
	// One lock per target table, not one for all: CREATE TABLE costs the target a file
	// creation and two commits, and tables are created in parallel (dispatch). Source
	// tables merged into one target table still create it once.
	key := [2]string{ts, tt}
	mu := l.tableLock(key)
	mu.Lock()
	defer mu.Unlock()
	l.ddlMu.Lock()
	done := l.createdTables[key]
	l.ddlMu.Unlock()
	if done {
		return nil
	}
	q, err := rewriteCreateTable(stmt, sqlq.QuoteTable(ts, tt))
	if err != nil {
		return err
	}
	if err := l.fence(ctx, conn); err != nil {
		return err
	}
	created, err := l.markCreated(ctx, conn, ts, tt)
	if err != nil {
		return err
	}
	if q, err = l.deferIndexes(ctx, conn, key, q, created); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create table %s: %w", sqlq.QuoteTable(ts, tt), err)
	}
	l.ddlMu.Lock()
	l.createdTables[key] = true
	l.ddlMu.Unlock()
	l.log.Info("created table", "schema", ts, "table", tt, "source_schema", schema, "source_table", table)
	return nil
}

// deferIndexes returns the CREATE TABLE to run for target table key: without its plain
// secondary indexes when the load creates the table now and Config.DeferIndexes is set
// (the indexes are then remembered, and marked in the checkpoints, for the end of the
// Run). A table created so by an earlier, interrupted run has its indexes remembered
// again; its CREATE TABLE IF NOT EXISTS is a no-op.
func (l *Loader) deferIndexes(ctx context.Context, conn *sql.Conn, key [2]string, q string, created bool) (string, error) {
	if !l.cfg.DeferIndexes {
		return q, nil
	}
	base, keys := deferrableIndexes(q)
	if len(keys) == 0 {
		return q, nil
	}
	if created {
		if err := l.mark(ctx, conn, deferredPrefix, key[0], key[1]); err != nil {
			return "", fmt.Errorf("record the deferred indexes of %s: %w", sqlq.QuoteTable(key[0], key[1]), err)
		}
	} else if _, _, pending, err := l.getCheckpoint(ctx, conn, deferredPrefix+key[0]+"."+key[1]); err != nil || !pending {
		return q, err
	}
	l.ddlMu.Lock()
	l.deferred[key] = keys
	l.ddlMu.Unlock()
	if created {
		return base, nil
	}
	return q, nil
}

// ensureDatabase creates target schema ts for source schema `schema` if this load has not
// yet, keeping the source schema's character set and collation when its CREATE DATABASE
// was seen.
func (l *Loader) ensureDatabase(ctx context.Context, conn *sql.Conn, schema, ts string) error {
	l.ddlMu.Lock()
	defer l.ddlMu.Unlock()
	if l.createdDBs[ts] {
		return nil
	}
	q := "CREATE DATABASE IF NOT EXISTS " + sqlq.QuoteName(ts)
	if dbStmt, ok := l.schemaStmts[schema]; ok {
		var err error
		if q, err = rewriteCreateDatabase(dbStmt, sqlq.QuoteName(ts)); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", sqlq.QuoteName(ts), err)
	}
	l.createdDBs[ts] = true
	return nil
}

// tableLock is the lock that serialises the creation of target table key.
func (l *Loader) tableLock(key [2]string) *sync.Mutex {
	l.ddlMu.Lock()
	defer l.ddlMu.Unlock()
	mu := l.tableLocks[key]
	if mu == nil {
		mu = new(sync.Mutex)
		l.tableLocks[key] = mu
	}
	return mu
}

// closeConn returns conn to the pool, or discards it when a file changed its session
// (a SET beyond the loader's own settings), so no other file inherits that state.
func closeConn(conn *sql.Conn, discard bool) {
	if discard {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}
