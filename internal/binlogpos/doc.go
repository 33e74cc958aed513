// Package binlogpos reads where a source's binary log stands: the current file, position
// and GTID set (SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4+, where the old
// statement is gone) and the list of binary log files with their sizes (SHOW BINARY LOGS).
// The dumper, the syncer and the task precheck all need these; this is the one copy. It
// takes any Querier (*sql.DB, *sql.Conn, *sql.Tx) and knows nothing of tasks.
package binlogpos
