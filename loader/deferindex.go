package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dmkit/dmkit/internal/sqlq"
)

// Deferred secondary indexes (Config.DeferIndexes, loader/README.md): a table the load
// creates gets its plain (non-unique) secondary indexes after its rows, in one ALTER
// TABLE, which InnoDB builds by sorting instead of inserting every row into every index
// B-tree. Measured on sysbench tables (one KEY on an INT column): the target spends ~30 %
// less CPU on the rows and ~10 % of that again on the ALTER.
//
// The intention is recorded before the CREATE TABLE in a checkpoint row (deferredPrefix),
// so a crash at any point leaves a trail: the next Run re-applies the table's schema file,
// finds the row, and adds whichever of the indexes are still missing once its data is in.

// deferredPrefix marks checkpoint rows of tables created without their plain secondary
// indexes, which are still to be added.
const deferredPrefix = "deferred-index:"

// plainKeyLine is a non-unique secondary index line of SHOW CREATE TABLE: "  KEY `name` (…".
var plainKeyLine = regexp.MustCompile("^  KEY `((?:[^`]|``)+)` \\(")

// deferredKey is a plain secondary index taken out of a CREATE TABLE.
type deferredKey struct {
	name string // the index name, unquoted
	def  string // its definition line, "KEY `name` (…) …"
}

// deferrableIndexes splits a CREATE TABLE statement in SHOW CREATE TABLE's layout (one
// column or index per line, two spaces in, the body closed by a line starting with ")")
// into the statement without its plain KEY lines and those indexes, in their order. Anything else is left alone (adds is empty): another layout,
// a table with a FOREIGN KEY (its index would be created implicitly and then duplicated),
// partitioned tables, or a line whose quoting is not closed on that line (an identifier
// holding a newline).
func deferrableIndexes(create string) (base string, keys []deferredKey) {
	lines := strings.Split(create, "\n")
	if len(lines) < 3 || !strings.HasSuffix(lines[0], " (") {
		return create, nil
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], ")") {
			end = i
			break
		}
		if !strings.HasPrefix(lines[i], "  ") || strings.Count(lines[i], "`")%2 != 0 {
			return create, nil
		}
	}
	if end < 0 || strings.Contains(strings.ToUpper(strings.Join(lines[end:], "\n")), "PARTITION") {
		return create, nil
	}
	var keep []string
	for _, l := range lines[1:end] {
		def := strings.TrimSuffix(l, ",")
		switch {
		case strings.HasPrefix(l, "  CONSTRAINT ") && strings.Contains(l, " FOREIGN KEY "),
			strings.HasPrefix(l, "  FOREIGN KEY "):
			return create, nil
		case plainKeyLine.MatchString(l):
			name := plainKeyLine.FindStringSubmatch(l)[1]
			keys = append(keys, deferredKey{name: strings.ReplaceAll(name, "``", "`"), def: strings.TrimSpace(def)})
		default:
			keep = append(keep, def)
		}
	}
	if len(keys) == 0 || len(keep) == 0 {
		return create, nil
	}
	return lines[0] + "\n" + strings.Join(keep, ",\n") + "\n" + strings.Join(lines[end:], "\n"), keys
}

// addDeferredIndexes adds the deferred indexes of every table this Run saw, up to
// Threads tables at a time; called when every file of the Run is loaded.
func (l *Loader) addDeferredIndexes(ctx context.Context) error {
	l.ddlMu.Lock()
	pending := maps.Clone(l.deferred)
	l.ddlMu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	slots := make(chan struct{}, l.cfg.Threads)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for key, keys := range pending {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := l.addIndexes(ctx, key, keys); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			l.ddlMu.Lock()
			delete(l.deferred, key)
			l.ddlMu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// addIndexes runs one ALTER TABLE adding those of keys that the table lacks (an earlier
// attempt may have added them before it was cut short), then clears the table's mark.
func (l *Loader) addIndexes(ctx context.Context, key [2]string, keys []deferredKey) error {
	name := sqlq.QuoteTable(key[0], key[1])
	return l.retry(ctx, "add deferred indexes of "+name, func() (bool, error) {
		conn, err := l.db.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("add the indexes of %s: connect to target: %w", name, err)
		}
		defer conn.Close()
		have, err := indexNames(ctx, conn, key[0], key[1])
		if err != nil {
			return false, err
		}
		var missing []string
		for _, k := range keys {
			if !have[strings.ToLower(k.name)] {
				missing = append(missing, "ADD "+k.def)
			}
		}
		if len(missing) > 0 {
			if err := l.fence(ctx, conn); err != nil {
				return false, err
			}
			start := time.Now()
			if _, err := conn.ExecContext(ctx, "ALTER TABLE "+name+" "+strings.Join(missing, ", ")); err != nil {
				return false, fmt.Errorf("add the deferred indexes of %s: %w; the load created the table without them, "+
					"resume the task to retry", name, err)
			}
			l.log.Info("added deferred indexes", "schema", key[0], "table", key[1], "indexes", len(missing),
				"duration", time.Since(start).Round(time.Millisecond))
		}
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+l.cpTable+" WHERE id = ? AND filename = ?",
			l.cfg.Source, deferredPrefix+key[0]+"."+key[1]); err != nil {
			return false, fmt.Errorf("clear the deferred indexes of %s: %w", name, err)
		}
		return false, nil
	})
}

// indexNames returns the (lower-cased) index names of schema.table.
func indexNames(ctx context.Context, conn *sql.Conn, schema, table string) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		schema, table)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", sqlq.QuoteTable(schema, table), err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read the indexes of %s: %w", sqlq.QuoteTable(schema, table), err)
		}
		out[strings.ToLower(n)] = true
	}
	return out, rows.Err()
}
