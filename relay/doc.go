// Package relay keeps a local, byte-identical copy of a source's binlog (DM's relay log)
// and reads it back as a binlog stream.
//
// A Relay pulls the source with go-mysql into files under a relay directory laid out as
// DM does: one sub-directory per upstream server (`<server-uuid>.<nnnnnn>`), listed in
// `server-uuid.index`, each with a `relay.meta` and the upstream binlog files under their
// upstream names. Files are fsynced at transaction boundaries before the meta moves; a
// restart resumes from the last complete transaction of the newest file, truncating a
// torn tail. A Reader follows the relay as it grows (woken by the writer, never polling),
// crossing files and sub-directories. The package does not import dm.
package relay
