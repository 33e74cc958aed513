// Package filter decides what part of an upstream is migrated: the
// block-allow list (which schemas/tables), the binlog event filter (which
// events and statements, by type and SQL regexp) and ClassifyDDL, which names
// a DDL statement's event type from its TiDB-parser AST. Patterns are DM's
// wildcards or `~` regexps; semantics follow DM (see README.md).
package filter
