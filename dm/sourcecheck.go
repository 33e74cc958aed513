package dm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	checker "github.com/dmkit/dmkit/dm/internal/precheck" // dm has a func precheck
	"github.com/dmkit/dmkit/internal/sqlq"
)

// checkSource probes the live server (dm/internal/precheck ProbeSource) and maps each
// failure to its error code.
func checkSource(ctx context.Context, s *Source) (*checker.SourceProbe, error) {
	probe, err := checker.ProbeSource(ctx, sourceDBConfig(s), s.Flavor, s.EnableGTID)
	if err == nil {
		return probe, nil
	}
	var sce *checker.SourceCheckError
	switch {
	case errors.Is(err, checker.ErrBadFlavor):
		return nil, NewError(CodeFlavorNotSupported, "source %s: %v", s.SourceName, err)
	case errors.Is(err, checker.ErrGTIDModeOff):
		return nil, NewError(CodeGTIDModeOff, "source %s: %v", s.SourceName, err)
	case errors.Is(err, checker.ErrSourceConnect):
		return nil, NewError(CodeDBDriver, "database driver error: cannot connect to source %s at %s:%d as %s; check host, port, user, password and TLS settings",
			s.SourceName, s.Host, s.Port, s.User).withCause(err)
	case errors.As(err, &sce):
		return nil, NewError(CodeSourceCheckFailed, "source %s: %v", s.SourceName, err)
	default:
		return nil, NewError(CodeDBDriver, "database driver error: check source %s: %v", s.SourceName, err)
	}
}

// listSchemas returns every schema of the server, system schemas included.
func listSchemas(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		return nil, fmt.Errorf("SHOW DATABASES: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("SHOW DATABASES: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW DATABASES: %w", err)
	}
	return out, nil
}

// listBaseTables returns the base tables of schema; views are left out.
func listBaseTables(ctx context.Context, db *sql.DB, schema string) ([]string, error) {
	q := "SHOW FULL TABLES FROM " + sqlq.QuoteName(schema) + " WHERE Table_type = 'BASE TABLE'"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", sqlq.QuoteName(schema), err)
	}
	return out, nil
}
