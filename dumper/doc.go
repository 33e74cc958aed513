// Package dumper exports a MySQL/MariaDB source's tables to DM-format dump files: one
// consistent snapshot shared by all export goroutines, the binlog position/GTID of that
// snapshot recorded in the metadata file, tables split into key-range chunks exported
// in parallel and streamed (bounded memory) into INSERT statements, one row per line.
// The file layout is internal/dumpfile's; README.md records the design decisions.
package dumper
