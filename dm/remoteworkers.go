package dm

import (
	"crypto/tls"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// RemoteWorkers configures a cluster whose workers are dm-server --role worker processes.
// A worker registers itself under <Prefix>/%worker/<name> with a lease it keeps alive; the
// leader's cluster watches those keys: a registered worker is online (and gets a record
// and sources to serve), a worker whose lease expired is offline and its source is bound
// to another worker.
type RemoteWorkers struct {
	// Client is the etcd client the cluster's EtcdStore uses.
	Client *clientv3.Client
	// Prefix is the store's key prefix (EtcdStoreConfig.Prefix).
	Prefix string
	// TLS, when set, is the client TLS the master uses to reach the workers' RPC address.
	TLS *tls.Config
	// RPCTimeout bounds one call to a worker (default 10s).
	RPCTimeout time.Duration
}
