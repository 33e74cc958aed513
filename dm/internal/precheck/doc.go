// Package precheck checks a task against its live servers before dm creates or updates it
// (DM's check-task: privileges, binlog settings, connection limits, table structures, shard
// consistency), and probes a new source's binlog settings for CreateSource. It takes plain
// values (connections, match and route functions) and returns DM's checker results; package
// dm turns them into its check_result text and error codes.
package precheck
