// Package dm is dmkit's public API: a Cluster with one method for every operation of TiDB
// Data Migration's OpenAPI (sources, tasks, relay, schemas, templates, cluster members).
// State lives in go-memdb and is persisted through a pluggable Store; in-process workers
// converge running subtasks (dump → load → sync) toward the state the API records.
// Errors are *Error values with DM's stable codes.
package dm

// The TiDB parser needs a driver for value expressions; test_driver is its light-weight
// one (TiDB's own pulls in the whole expression engine).
import _ "github.com/pingcap/tidb/pkg/parser/test_driver"
