package dm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdWorkerDir holds the registrations of worker processes: <prefix>/%worker/<name>, put
// under the worker's lease. The store's escaping never yields a segment starting with '%',
// so no record can live there.
const etcdWorkerDir = "%worker"

// workerRegistration is the value of a registration key.
type workerRegistration struct {
	Name string `json:"name"`
	// Addr is the advertised host:port of the worker's RPC server (GET /cluster/workers).
	Addr string `json:"addr"`
	// URL is the base URL the master calls (http or https).
	URL string `json:"url"`
	// Since is when this registration was made.
	Since time.Time `json:"since"`
}

func workerRegKey(prefix, name string) string {
	return prefix + "/" + etcdWorkerDir + "/" + escapeEtcdPart(name)
}

// workerLease is one registration of a worker process: a lease kept alive, and the time
// until which the worker may still act on its bindings. A worker that cannot prove its
// lease alive (etcd unreachable, or the process was stopped past the TTL) stops writing:
// by then the leader may have given its source to another worker.
type workerLease struct {
	cli *clientv3.Client
	key string
	ttl time.Duration
	id  clientv3.LeaseID
	rev int64 // revision of the registration

	mu         sync.Mutex
	validUntil time.Time // monotonic: a SIGSTOP does not stretch it
	lost       chan struct{}
	lostOnce   sync.Once
	stop       context.CancelFunc
	done       chan struct{}
}

// registerWorker puts the registration under a new lease. A registration of the same name held
// by another live process is waited for up to wait (a killed process's lease expires),
// then refused.
func registerWorker(ctx context.Context, cli *clientv3.Client, prefix string, reg workerRegistration, ttl, wait time.Duration) (*workerLease, error) {
	key := workerRegKey(prefix, reg.Name)
	raw, _ := json.Marshal(reg)
	deadline := time.Now().Add(wait)
	for {
		cctx, cancel := context.WithTimeout(ctx, defaultEtcdReqTimeout)
		sent := time.Now()
		grant, err := cli.Grant(cctx, int64((ttl+time.Second-1)/time.Second))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("register worker %s: grant a lease: %w; check --etcd-endpoints", reg.Name, err)
		}
		resp, err := cli.Txn(cctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(raw), clientv3.WithLease(grant.ID))).
			Else(clientv3.OpGet(key)).
			Commit()
		cancel()
		if err != nil {
			revokeLease(cli, grant.ID)
			return nil, fmt.Errorf("register worker %s: %w; check --etcd-endpoints", reg.Name, err)
		}
		if resp.Succeeded {
			l := &workerLease{cli: cli, key: key, ttl: ttl, id: grant.ID, rev: resp.Header.Revision,
				validUntil: sent.Add(time.Duration(grant.TTL) * time.Second), lost: make(chan struct{})}
			if err := l.keepAlive(); err != nil {
				revokeLease(cli, grant.ID)
				return nil, fmt.Errorf("register worker %s: keep the lease alive: %w", reg.Name, err)
			}
			return l, nil
		}
		revokeLease(cli, grant.ID)
		holder := "unknown"
		if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
			holder = string(rr.Kvs[0].Value)
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("register worker %s: another live process is registered under that name (%s); stop it or choose another --name (a killed one's registration expires within its keepalive TTL)", reg.Name, holder)
		}
		sleepCtx(ctx, 500*time.Millisecond)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// keepAlive renews the lease at a third of its TTL; each renewal moves validUntil to the
// time the renewal was sent plus the TTL etcd granted.
func (l *workerLease) keepAlive() error {
	ctx, stop := context.WithCancel(context.Background())
	l.stop, l.done = stop, make(chan struct{})
	go func() {
		defer close(l.done)
		defer l.markLost()
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !l.valid() {
				return // the process was stopped (or etcd away) past the TTL: too late
			}
			sent := time.Now()
			cctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			resp, err := l.cli.KeepAliveOnce(cctx, l.id)
			cancel()
			if err != nil {
				if ctx.Err() != nil || isLeaseGone(err) {
					return
				}
				continue // transient: retry until validUntil passes
			}
			if resp.TTL <= 0 {
				return
			}
			l.mu.Lock()
			l.validUntil = sent.Add(time.Duration(resp.TTL) * time.Second)
			l.mu.Unlock()
		}
	}()
	return nil
}

// isLeaseGone reports whether etcd says the lease no longer exists (it expired).
func isLeaseGone(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }

// valid reports whether the lease is certainly still alive in etcd, with a safety margin
// of a tenth of the TTL for clock drift between this host and etcd's leader.
func (l *workerLease) valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.lost:
		return false
	default:
	}
	return time.Now().Before(l.validUntil.Add(-l.ttl / 10))
}

func (l *workerLease) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

// release stops renewing and revokes the lease (the registration goes with it).
func (l *workerLease) release() {
	l.stop()
	<-l.done
	revokeLease(l.cli, l.id)
}

func revokeLease(cli *clientv3.Client, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = cli.Revoke(ctx, id)
}
