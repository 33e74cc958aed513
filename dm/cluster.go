package dm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Cluster.
type Config struct {
	// Store persists the control-plane state. Required: use MemoryStore() for a throwaway
	// cluster, OpenFileStore(dir) for a durable one.
	Store Store
	// Workers names the in-process workers. Empty means two: "worker1" and "worker2",
	// unless RemoteWorkers is set.
	Workers []string
	// RemoteWorkers, when set, makes the workers separate processes (dm-server --role
	// worker) that register in etcd under a lease; the cluster then runs no worker itself.
	// Set it only on the leader's cluster of a multi-master deployment (issue 16).
	RemoteWorkers *RemoteWorkers
	// Masters, when set, is the directory of a multi-master deployment's masters
	// (dm-server --role master): ListMasters and OfflineMaster ask it. Nil means this
	// process is the only master.
	Masters Masters
	// Name is this master's name (default "master1"); Addr its advertised address, shown in
	// the masters and workers lists (default "127.0.0.1:8261").
	Name string
	Addr string
	// Units builds the data-path units of a subtask. Nil uses the built-in units.
	Units UnitFactory
	// DataDir is where relative dump directories of tasks are placed (default ".").
	DataDir string
	// DataDirRoots are further directories a task's data_dir may lie in (dm-server
	// --allow-data-dir-root). A data_dir outside DataDir and these is refused: a dump
	// writes there and cleans up after itself.
	DataDirRoots []string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Metrics, when set, gets a collector of the cluster's tasks, sources and workers
	// (DM's metric names; read from status at scrape time). Nil registers nothing.
	Metrics prometheus.Registerer
}

// Cluster is a whole DM deployment in one process: the master's API (one method per
// OpenAPI operation), its state and the workers that run subtasks. It is safe for
// concurrent use.
type Cluster struct {
	cfg   Config
	store Store
	db    *memdb.MemDB
	log   *slog.Logger
	units UnitFactory

	wmu   sync.Mutex // serialises mutations (one writer, like memdb itself)
	latch latches    // serialises long operations on one task

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	workers onlineWorkers // the workers reachable now (online.go)
	events  *eventMetrics // nil without Config.Metrics
	// rpcClient calls worker processes (Config.RemoteWorkers); nil without.
	rpcClient *http.Client
	// shardWait holds the shard DDL waits of worker processes (shardrpc.go).
	shardWait shardWaiters
	locks     *lockKeeper // shard DDL locks (shardlock.go)

	closeOnce sync.Once
}

// DefaultWorkers are the worker names used when Config.Workers is empty.
var defaultWorkers = []string{"worker1", "worker2"}

// Open rebuilds a Cluster from cfg.Store and starts its workers. Sources bound to workers
// that are no longer configured are rebound to free ones.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("open cluster: Config.Store is nil; use dm.MemoryStore() or dm.OpenFileStore(dir)")
	}
	if cfg.RemoteWorkers != nil && len(cfg.Workers) > 0 {
		return nil, fmt.Errorf("open cluster: Config.Workers and Config.RemoteWorkers are exclusive: a cluster runs its workers in process or as separate processes")
	}
	if len(cfg.Workers) == 0 && cfg.RemoteWorkers == nil {
		cfg.Workers = defaultWorkers
	}
	if cfg.Name == "" {
		cfg.Name = "master1"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8261"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "."
	}
	seen := map[string]bool{}
	for _, w := range cfg.Workers {
		if !validName(w) {
			return nil, fmt.Errorf("open cluster: invalid worker name %q: use letters, digits, '-', '_' or '.'", w)
		}
		if seen[w] {
			return nil, fmt.Errorf("open cluster: worker %q named twice", w)
		}
		seen[w] = true
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := loadState(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open cluster: %w", err)
	}
	c := &Cluster{cfg: cfg, store: cfg.Store, db: db, log: log, units: cfg.Units}
	c.locks = newLockKeeper(c)
	if c.units == nil {
		c.units = builtinUnits
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Online before bootstrap: it unbinds sources of workers that are not.
	for _, name := range cfg.Workers {
		c.workers.set(name, newWorker(c, c.units, name, c.log))
	}
	var regRev int64
	if rw := cfg.RemoteWorkers; rw != nil {
		if rw.Client == nil || rw.Prefix == "" {
			c.cancel()
			return nil, fmt.Errorf("open cluster: Config.RemoteWorkers needs the etcd client and prefix of the store")
		}
		c.rpcClient = &http.Client{Transport: &http.Transport{TLSClientConfig: rw.TLS, MaxIdleConnsPerHost: 4}}
		if regRev, err = c.listRemoteWorkers(ctx); err != nil {
			c.cancel()
			return nil, fmt.Errorf("open cluster: %w", err)
		}
	}

	if err := c.bootstrap(ctx); err != nil {
		c.cancel()
		return nil, fmt.Errorf("open cluster: %w", err)
	}
	if cfg.Metrics != nil {
		err := cfg.Metrics.Register(newStatusCollector(c, log))
		if err == nil {
			c.events, err = newEventMetrics(cfg.Metrics)
		}
		if err != nil {
			c.cancel()
			return nil, fmt.Errorf("open cluster: register metrics: %w; give each cluster its own registry", err)
		}
	}
	for _, w := range c.workers.all() {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			w.run(c.ctx)
		}()
	}
	if cfg.RemoteWorkers != nil {
		c.wg.Add(2)
		go func() { defer c.wg.Done(); c.followRemoteWorkers(regRev + 1) }()
		go func() { defer c.wg.Done(); c.followReports() }()
	}
	return c, nil
}

// bootstrap makes sure the cluster id exists, registers configured workers and binds every
// enabled-or-not unbound source to a free online worker.
func (c *Cluster) bootstrap(ctx context.Context) error {
	return c.update(ctx, func(w *writeTxn) error {
		if w.get(kindMeta, metaClusterID) == nil {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				return fmt.Errorf("generate cluster id: %w", err)
			}
			id := binary.BigEndian.Uint64(b[:])>>1 | 1
			raw, _ := json.Marshal(id)
			w.put(kindMeta, &metaRecord{Name: metaClusterID, Value: raw})
		}
		for _, name := range c.workers.names() {
			if r, _ := w.get(kindWorker, name).(*workerRecord); r == nil {
				w.put(kindWorker, &workerRecord{Name: name, Addr: c.workerAddr(name)})
			} else if addr := c.workerAddr(name); r.Addr != addr && c.cfg.RemoteWorkers != nil {
				n := *r
				n.Addr = addr
				w.put(kindWorker, &n)
			}
		}
		// Sources bound to workers that are not online here move to free online workers.
		for _, wr := range listRecords[*workerRecord](w.txn, kindWorker, "") {
			if wr.Source != "" && c.workers.get(wr.Name) == nil {
				nw := *wr
				nw.Source = ""
				w.put(kindWorker, &nw)
			}
		}
		c.bindUnbound(w)
		return nil
	})
}

// Close stops every worker (running subtasks are interrupted at a safe point and resume
// from their checkpoints on the next Open) and closes the store.
func (c *Cluster) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		for _, w := range c.workers.all() {
			w.stopAll()
		}
		err = c.store.Close()
	})
	return err
}

const (
	metaClusterID = "cluster_id"
	metaTopology  = "topology"
)
