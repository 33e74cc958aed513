// Package verify compares one source table with one target table by chunk checksums
// and reports the rows that differ. A table with an integer handle is split into key
// ranges checksummed on both sides in parallel; a mismatching range is bisected until it
// is small, then its rows are fetched and diffed by key. Other tables are compared whole.
// It compares the tables as they are now: callers pause writes or replication first.
package verify
