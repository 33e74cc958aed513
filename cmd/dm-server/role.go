package main

import "fmt"

// role is what one dm-server process runs (--role).
type role string

const (
	// roleAll is a whole deployment in one process: today's single node (file store, or
	// one server on --etcd-endpoints), the API and in-process workers.
	roleAll role = "all"
	// roleMaster is one of several dm-masters: an embedded etcd member (or an external
	// etcd), leader election, the API on the leader and forwarding on the others.
	roleMaster role = "master"
	// roleWorker is a dm-worker process serving the sources the leader binds to it.
	roleWorker role = "worker"
)

// parseRole reads --role. Keeping every role's availability here makes enabling one a
// one-line change.
func parseRole(v string) (role, error) {
	switch r := role(v); r {
	case roleAll, roleMaster, roleWorker:
		return r, nil
	}
	return "", fmt.Errorf("--role %q: use all, master or worker", v)
}
