package dm

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
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

// listRemoteWorkers makes the registered worker processes online (before bootstrap, so
// that their bindings stay) and returns the revision to follow registrations from.
func (c *Cluster) listRemoteWorkers(ctx context.Context) (int64, error) {
	rw := c.cfg.RemoteWorkers
	cctx, cancel := context.WithTimeout(ctx, defaultEtcdReqTimeout)
	defer cancel()
	resp, err := rw.Client.Get(cctx, rw.Prefix+"/"+etcdWorkerDir+"/", clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list the registered workers in etcd: %w; check --etcd-endpoints", err)
	}
	for _, kv := range resp.Kvs {
		var reg workerRegistration
		if err := json.Unmarshal(kv.Value, &reg); err != nil || !validName(reg.Name) {
			c.log.Warn("ignoring an unreadable worker registration", "key", string(kv.Key))
			continue
		}
		c.workers.set(reg.Name, c.newRemoteWorker(reg))
	}
	return resp.Header.Revision, nil
}

func (c *Cluster) newRemoteWorker(reg workerRegistration) *remoteWorker {
	rw := c.cfg.RemoteWorkers
	timeout := rw.RPCTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &remoteWorker{name: reg.Name, addr: reg.Addr, url: strings.TrimRight(reg.URL, "/"), client: c.rpcClient, timeout: timeout, c: c}
}

// workerAddr is the address shown for an online worker.
func (c *Cluster) workerAddr(name string) string {
	if r, ok := c.workers.get(name).(*remoteWorker); ok {
		return r.addr
	}
	return c.cfg.Addr
}

// followRemoteWorkers follows the registrations from rev until the cluster closes: a
// new one is online (and gets a record and an unbound source), one that expired is
// offline and its source goes to another free worker, whose subtasks resume from their
// checkpoints in the target.
func (c *Cluster) followRemoteWorkers(rev int64) {
	rw := c.cfg.RemoteWorkers
	dir := rw.Prefix + "/" + etcdWorkerDir + "/"
	for c.ctx.Err() == nil {
		wch := rw.Client.Watch(clientv3.WithRequireLeader(c.ctx), dir, clientv3.WithPrefix(), clientv3.WithRev(rev))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				c.log.Warn("watch worker registrations", "err", err)
				break
			}
			for _, ev := range wr.Events {
				rev = ev.Kv.ModRevision + 1
				name, err := url.PathUnescape(strings.TrimPrefix(string(ev.Kv.Key), dir))
				if err != nil || !validName(name) {
					continue
				}
				if ev.Type == clientv3.EventTypeDelete {
					c.workerExpired(name)
					continue
				}
				var reg workerRegistration
				if err := json.Unmarshal(ev.Kv.Value, &reg); err != nil || reg.Name != name {
					c.log.Warn("ignoring an unreadable worker registration", "key", string(ev.Kv.Key))
					continue
				}
				c.workerRegistered(reg)
			}
		}
		if c.ctx.Err() == nil {
			sleepCtx(c.ctx, time.Second)
			// Registrations may have changed while the watch was down: read them again.
			c.resyncRemoteWorkers()
		}
	}
}

// resyncRemoteWorkers compares the online set with the registrations in etcd.
func (c *Cluster) resyncRemoteWorkers() {
	rw := c.cfg.RemoteWorkers
	ctx, cancel := context.WithTimeout(c.ctx, defaultEtcdReqTimeout)
	defer cancel()
	resp, err := rw.Client.Get(ctx, rw.Prefix+"/"+etcdWorkerDir+"/", clientv3.WithPrefix())
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, kv := range resp.Kvs {
		var reg workerRegistration
		if json.Unmarshal(kv.Value, &reg) == nil && validName(reg.Name) {
			seen[reg.Name] = true
			c.workerRegistered(reg)
		}
	}
	for _, n := range c.workers.names() {
		if !seen[n] {
			c.workerExpired(n)
		}
	}
}

func (c *Cluster) workerRegistered(reg workerRegistration) {
	if old, ok := c.workers.get(reg.Name).(*remoteWorker); ok && old.url == strings.TrimRight(reg.URL, "/") && old.addr == reg.Addr {
		return
	}
	c.workers.set(reg.Name, c.newRemoteWorker(reg))
	c.log.Info("worker online", "worker", reg.Name, "addr", reg.Addr)
	err := c.update(c.ctx, func(w *writeTxn) error {
		r, _ := w.get(kindWorker, reg.Name).(*workerRecord)
		switch {
		case r == nil:
			w.put(kindWorker, &workerRecord{Name: reg.Name, Addr: reg.Addr})
		case r.Addr != reg.Addr:
			n := *r
			n.Addr = reg.Addr
			w.put(kindWorker, &n)
		}
		c.bindUnbound(w)
		return nil
	})
	if err != nil {
		c.log.Warn("record an online worker", "worker", reg.Name, "err", err)
	}
}

func (c *Cluster) workerExpired(name string) {
	if c.workers.remove(name) == nil {
		return
	}
	c.log.Warn("worker offline (its registration lease expired); binding its source to another worker", "worker", name)
	err := c.update(c.ctx, func(w *writeTxn) error {
		r, _ := w.get(kindWorker, name).(*workerRecord)
		if r != nil && r.Source != "" {
			n := *r
			n.LastSource, n.Source = r.Source, ""
			w.put(kindWorker, &n)
		}
		c.bindUnbound(w)
		return nil
	})
	if err != nil {
		c.log.Warn("rebind the source of an offline worker", "worker", name, "err", err)
	}
}

// followReports applies the reports of worker processes (workerprocesshost.go) and
// deletes each once applied, until the cluster closes. It watches for new ones, and reads
// all that remain every 10 s, so that one whose apply failed is tried again.
func (c *Cluster) followReports() {
	rw := c.cfg.RemoteWorkers
	dir := rw.Prefix + "/" + etcdReportDir + "/"
	for c.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(c.ctx, defaultEtcdReqTimeout)
		resp, err := rw.Client.Get(ctx, dir, clientv3.WithPrefix())
		cancel()
		if err != nil {
			sleepCtx(c.ctx, time.Second)
			continue
		}
		for _, kv := range resp.Kvs {
			c.applyReportKV(kv.Key, kv.Value)
		}
		wctx, stop := context.WithTimeout(c.ctx, 10*time.Second)
		wch := rw.Client.Watch(clientv3.WithRequireLeader(wctx), dir, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithFilterDelete())
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				c.applyReportKV(ev.Kv.Key, ev.Kv.Value)
			}
		}
		stop()
	}
}

func (c *Cluster) applyReportKV(key, value []byte) {
	var r workerReport
	if err := json.Unmarshal(value, &r); err != nil {
		c.log.Warn("dropping an unreadable worker report", "key", string(key), "err", err)
	} else if err := c.applyReport(r); err != nil {
		c.log.Warn("apply a worker report; kept for the next try", "key", string(key), "kind", r.Kind, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, defaultEtcdReqTimeout)
	defer cancel()
	if _, err := c.cfg.RemoteWorkers.Client.Delete(ctx, string(key)); err != nil {
		c.log.Warn("delete an applied worker report", "key", string(key), "err", err)
	}
}
