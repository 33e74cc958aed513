// Package etcdtest starts real etcd servers for tests: an embedded etcd member
// (go.etcd.io/etcd/server/v3/embed) in the test process, on free loopback ports with a
// temporary data directory, shared by a package's tests (Shared) and separated between
// tests by key prefix (Prefix).
package etcdtest
