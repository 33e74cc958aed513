// Package tracker is the syncer's upstream schema tracker: an in-memory
// model of every table's columns and keys as of the binlog position being
// processed, kept current by applying each DDL the syncer sees (the rows
// events carry only column values). DM runs TiDB's DDL engine for this;
// dmkit applies the DDL ASTs of the TiDB parser to its own small table
// model. See README.md for the design decisions.
package tracker
