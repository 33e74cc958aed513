// Package router maps upstream schema and table names to target names the
// way DM's table routing does: wildcard (or `~` regexp) source patterns,
// table-level rules before schema-level ones, and an error when a name is
// claimed by two rules. The syncer, dumper and loader use it for every name
// they write downstream, which is how sharded tables merge into one.
package router
