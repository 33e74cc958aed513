// Package syncer replicates a MySQL/MariaDB source's binlog into a MySQL-compatible
// target: rows events become row changes, applied in parallel by workers that batch them
// into target transactions, with DDL replayed through a schema tracker.
//
// Each worker writes its checkpoint row in the same target transaction as the data it
// covers, so the target and its checkpoint never disagree; after a restart, safe mode
// (idempotent REPLACE/DELETE) covers exactly the window the workers may have replayed.
// It is standalone: the dm package drives it through Config, Run and Status.
package syncer
