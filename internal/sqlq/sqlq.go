// Package sqlq quotes SQL identifiers for MySQL-compatible servers.
//
// Every identifier dmkit puts into SQL text goes through this package, so
// names such as `db-name` or names containing backticks are always safe.
package sqlq

import "strings"

// QuoteName returns name as a backtick-quoted identifier, doubling any
// backtick inside it, so any name is safe to splice into SQL.
func QuoteName(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('`')
	b.WriteString(strings.ReplaceAll(name, "`", "``"))
	b.WriteByte('`')
	return b.String()
}

// QuoteTable returns the qualified, quoted name `schema`.`table`. An empty
// schema yields just the quoted table name, which resolves against the
// connection's current database.
func QuoteTable(schema, table string) string {
	if schema == "" {
		return QuoteName(table)
	}
	return QuoteName(schema) + "." + QuoteName(table)
}
