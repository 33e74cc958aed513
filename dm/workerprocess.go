package dm

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// WorkerProcessConfig configures StartWorkerProcess.
type WorkerProcessConfig struct {
	// Name is the worker's name (dm-server --name); unique in the cluster.
	Name string
	// Addr is the advertised host:port of the worker's RPC server, shown in
	// GET /cluster/workers; URL is the base URL masters call (default "http://"+Addr).
	Addr, URL string
	// Client is connected to the cluster's etcd; Prefix is the masters' --etcd-prefix.
	Client *clientv3.Client
	Prefix string
	// KeepAliveTTL is the lifetime of the registration lease (dm-server --keepalive-ttl,
	// default 10s): a worker that stops renewing it is offline after this long, and its
	// source goes to another worker. The worker stops writing before it runs out.
	KeepAliveTTL time.Duration
	// SecretKey opens the sealed records (the masters' --secret-key-path); nil when the
	// store is not sealed.
	SecretKey []byte
	// Units builds the data-path units (nil: the built-in ones); DataDir and DataDirRoots
	// are as in Config.
	Units        UnitFactory
	DataDir      string
	DataDirRoots []string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Metrics, when set, gets the worker's event metrics (pauses, resumes, apply).
	Metrics prometheus.Registerer
	// Leader returns the base URL of the current leader's API server (dm-server finds it
	// in the masters' election); the shard DDL coordination of shard_mode tasks calls it.
	// TLS is the client TLS of those calls. Without Leader, shard_mode tasks pause with an
	// error on this worker.
	Leader func(ctx context.Context) (string, error)
	TLS    *tls.Config
}

// WorkerProcess is a worker that runs in its own process (dm-server --role worker): it
// registers in etcd, follows the state the leader writes there, runs the subtasks of the
// source bound to it, and serves the master's calls through Handler.
type WorkerProcess struct {
	cfg    WorkerProcessConfig
	log    *slog.Logger
	mirror *stateMirror
	state  *Cluster // read-only: the worker host's view of the state (mirror.db)
	w      *worker
	rep    *reporter

	mu    sync.Mutex
	lease *workerLease // the live registration, nil between two

	clientOnce sync.Once
	client     *http.Client // calls to the leader (shard coordination)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const defaultKeepAliveTTL = 10 * time.Second

// StartWorkerProcess registers the worker and starts following its bindings. It fails
// when etcd does not answer or the name is held by another live worker.
func StartWorkerProcess(ctx context.Context, cfg WorkerProcessConfig) (*WorkerProcess, error) {
	switch {
	case !validName(cfg.Name):
		return nil, fmt.Errorf("start worker: invalid name %q: use letters, digits, '-', '_' or '.'", cfg.Name)
	case cfg.Client == nil:
		return nil, errors.New("start worker: no etcd client; set --etcd-endpoints to the masters' etcd")
	case cfg.Addr == "":
		return nil, errors.New("start worker: no advertised address; set --advertise-addr")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultEtcdPrefix
	}
	if cfg.URL == "" {
		cfg.URL = "http://" + cfg.Addr
	}
	if cfg.KeepAliveTTL <= 0 {
		cfg.KeepAliveTTL = defaultKeepAliveTTL
	}
	if cfg.KeepAliveTTL < 2*time.Second {
		return nil, fmt.Errorf("start worker: keepalive TTL %s is too short; use 2s or more", cfg.KeepAliveTTL)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "."
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("worker", cfg.Name)
	open, err := unsealer(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	mirror, err := newStateMirror(cfg.Client, cfg.Prefix, open, log)
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if err := mirror.load(ctx); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	units := cfg.Units
	if units == nil {
		units = builtinUnits
	}
	p := &WorkerProcess{cfg: cfg, log: log, mirror: mirror}
	p.state = &Cluster{cfg: Config{Name: cfg.Name, DataDir: cfg.DataDir, DataDirRoots: cfg.DataDirRoots},
		store: readOnlyStore{}, db: mirror.db, log: log, units: units}
	if cfg.Metrics != nil {
		if p.state.events, err = newEventMetrics(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("start worker: register metrics: %w", err)
		}
	}
	p.rep = &reporter{cli: cfg.Client, prefix: cfg.Prefix, worker: cfg.Name, log: log}
	p.w = newWorker(p, units, cfg.Name, log)
	lease, err := p.register(ctx)
	if err != nil {
		return nil, err
	}
	p.lease = lease
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(3)
	go func() { defer p.wg.Done(); mirror.follow(p.ctx) }()
	go func() { defer p.wg.Done(); p.w.run(p.ctx) }()
	go func() { defer p.wg.Done(); p.keepRegistered(p.ctx) }()
	log.Info("worker registered", "addr", cfg.Addr, "etcd_prefix", cfg.Prefix, "keepalive_ttl", cfg.KeepAliveTTL)
	return p, nil
}

func (p *WorkerProcess) register(ctx context.Context) (*workerLease, error) {
	reg := workerRegistration{Name: p.cfg.Name, Addr: p.cfg.Addr, URL: p.cfg.URL, Since: time.Now().UTC()}
	return registerWorker(ctx, p.cfg.Client, p.cfg.Prefix, reg, p.cfg.KeepAliveTTL, p.cfg.KeepAliveTTL+2*time.Second)
}

// keepRegistered waits for the lease to be lost, stops every subtask, and registers
// again: the leader has meanwhile (or will) rebind the worker's source, and the worker
// starts again from what the state then says, fenced by the binding's revision.
func (p *WorkerProcess) keepRegistered(ctx context.Context) {
	for {
		p.mu.Lock()
		l := p.lease
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-l.lost:
		}
		p.log.Warn("worker registration lost (lease expired or etcd unreachable); stopping every subtask and registering again")
		p.w.poke() // desiredState now answers nothing: the reconcile stops the runs
		p.w.stopAll()
		for ctx.Err() == nil {
			nl, err := p.register(ctx)
			if err == nil {
				// Let the mirror catch up past the re-registration before running again.
				p.waitMirror(ctx, nl.rev)
				p.mu.Lock()
				p.lease = nl
				p.mu.Unlock()
				p.w.poke()
				p.log.Info("worker registered again")
				break
			}
			p.log.Warn("register worker again", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

// waitMirror waits (up to 5 s) until the mirror reflects revision rev.
func (p *WorkerProcess) waitMirror(ctx context.Context, rev int64) {
	deadline := time.Now().Add(5 * time.Second)
	for p.mirror.revision() < rev && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// leaseValid reports whether the worker may act on its bindings now.
func (p *WorkerProcess) leaseValid() bool {
	p.mu.Lock()
	l := p.lease
	p.mu.Unlock()
	return l != nil && l.valid()
}

// rpcClient is the client of the calls to the leader.
func (p *WorkerProcess) rpcClient() *http.Client {
	p.clientOnce.Do(func() {
		p.client = &http.Client{Transport: &http.Transport{TLSClientConfig: p.cfg.TLS, MaxIdleConnsPerHost: 4}}
	})
	return p.client
}

// Name is the worker's name.
func (p *WorkerProcess) Name() string { return p.cfg.Name }

// Close stops every subtask at a safe point (they resume from their checkpoints on
// whichever worker gets the source) and revokes the registration.
func (p *WorkerProcess) Close() error {
	p.cancel()
	p.wg.Wait()
	p.w.stopAll()
	p.mu.Lock()
	l := p.lease
	p.mu.Unlock()
	if l != nil {
		l.release()
	}
	return nil
}

// unsealer returns the function that opens sealed store values, nil when key is nil.
func unsealer(key []byte) (func(kind, key string, value []byte) ([]byte, error), error) {
	if key == nil {
		return nil, nil
	}
	s, err := EncryptStore(readOnlyStore{}, key)
	if err != nil {
		return nil, err
	}
	ss := s.(*sealedStore)
	return func(kind, k string, v []byte) ([]byte, error) {
		if !bytes.HasPrefix(v, sealedMagic) {
			return v, nil
		}
		return ss.open(kind, k, v)
	}, nil
}

// readOnlyStore is the store of a worker process's state view: the worker never writes
// the state (only the leader does), so a write through it is a bug that must not pass.
type readOnlyStore struct{}

var errReadOnlyState = errors.New("dm: a worker process cannot write the cluster state; only the leader does")

func (readOnlyStore) Apply(context.Context, ...StoreOp) error { return errReadOnlyState }
func (readOnlyStore) List(context.Context, string) ([]StoreRecord, error) {
	return nil, errReadOnlyState
}
func (readOnlyStore) Close() error { return nil }
