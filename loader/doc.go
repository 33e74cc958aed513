// Package loader imports a DM-format dump directory (see internal/dumpfile) into a
// MySQL-compatible target: schema files first (routed, CREATE … IF NOT EXISTS), then
// data files on parallel workers, each INSERT committed in the same target transaction
// as the file's byte-offset checkpoint, so a crash or a lost target resumes exactly where
// it stopped with no row applied twice. It pipelines with a running dump through Run.
package loader
