package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/httpapi"
)

// master is one --role master process after its etcd is reachable: it registers, campaigns
// and, while it leads, runs the Cluster that front serves. Every term is one etcd session:
// losing it (lease expired, etcd unreachable) ends the term, closes that Cluster and
// campaigns again as a follower.
type master struct {
	cfg         config
	log         *slog.Logger
	cli         *clientv3.Client
	front       *front
	info        dm.MasterInfo
	key         []byte                           // the secret key sealing stored passwords
	httpObserve func(string, int, time.Duration) // the API's HTTP metrics
	embedded    bool                             // the masters are the members of an embedded etcd
	workerTLS   *tls.Config
}

// run campaigns term after term until ctx is done.
func (m *master) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.term(ctx)
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("dm-master term ended; campaigning again", "name", m.info.Name, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// term is one session: register, campaign, and lead until the session is lost.
func (m *master) term(ctx context.Context) error {
	ttl := int(m.cfg.master.electionTTL / time.Second)
	sess, err := concurrency.NewSession(m.cli, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("open an etcd session: %w", err)
	}
	defer func() {
		// Revoke the lease with a context of its own (sess.Close uses ctx, which is done
		// on shutdown), so this master's keys go now rather than after the TTL.
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = m.cli.Revoke(rctx, sess.Lease())
		_ = sess.Close()
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		m.observe(sctx)
	}()
	defer func() { cancel(); <-observed }()

	if err := dm.RegisterMaster(sctx, m.cli, m.cfg.etcd.prefix, m.info, sess.Lease()); err != nil {
		return err
	}
	val, _ := json.Marshal(m.info)
	el := concurrency.NewElection(sess, dm.EtcdElectionPrefix(m.cfg.etcd.prefix))
	if err := el.Campaign(sctx, string(val)); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	elected := time.Now()
	cluster, reg, err := m.openCluster(sctx, el)
	if err != nil {
		resign(el)
		return err
	}
	m.front.setTerm(&term{api: leaderHandler(cluster, httpapi.New(cluster, httpapi.Options{Logger: m.log, Observe: m.httpObserve})), reg: reg})
	m.log.Info("dm-master leads", "name", m.info.Name, "open_took", time.Since(elected).Round(time.Millisecond))
	<-sctx.Done()
	m.front.setTerm(nil)
	lost := ctx.Err() == nil
	if err := cluster.Close(); err != nil {
		m.log.Error("close cluster", "error", err)
	}
	if !lost {
		resign(el)
		return nil
	}
	return errors.New("lost the etcd session (its lease expired or etcd is unreachable); this master no longer leads")
}

// leaderHandler is what the leader serves besides the API: the shard DDL coordination of
// worker processes (dm.ShardRPCPath). Followers forward it like the API.
func leaderHandler(c *dm.Cluster, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(dm.ShardRPCPath, c.ShardHandler())
	mux.Handle("/", api)
	return mux
}

func resign(el *concurrency.Election) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = el.Resign(ctx)
}

// openCluster opens the leader's Cluster on the state under the prefix, fenced by its
// election key.
func (m *master) openCluster(ctx context.Context, el *concurrency.Election) (*dm.Cluster, *prometheus.Registry, error) {
	prefix := m.cfg.etcd.prefix
	es, err := dm.NewFencedEtcdStore(m.cli, dm.EtcdStoreConfig{Prefix: prefix}, el.Key(), el.Rev())
	if err != nil {
		return nil, nil, err
	}
	store, err := dm.EncryptStore(es, m.key)
	if err != nil {
		_ = es.Close()
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	c, err := dm.Open(ctx, dm.Config{
		Store:         store,
		RemoteWorkers: &dm.RemoteWorkers{Client: m.cli, Prefix: prefix, TLS: m.workerTLS},
		Masters:       &dm.EtcdMasters{Client: m.cli, Prefix: prefix, Members: m.embedded},
		Name:          m.info.Name, Addr: m.cfg.master.advertiseAddr,
		DataDir: m.cfg.dataDir, DataDirRoots: m.cfg.dataDirRoots, Logger: m.log, Metrics: reg,
	})
	if err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	return c, reg, nil
}

// observe keeps front's view of the leader current: the election's first key, read again
// on every change under the election prefix, until ctx is done.
func (m *master) observe(ctx context.Context) {
	defer m.front.setLeader(nil)
	pfx := dm.EtcdElectionPrefix(m.cfg.etcd.prefix) + "/"
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := m.cli.Get(rctx, pfx, clientv3.WithFirstCreate()...)
		cancel()
		if err != nil {
			m.front.setLeader(nil)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		var leader *dm.MasterInfo
		if len(resp.Kvs) > 0 {
			if mi, err := dm.ParseMasterInfo(resp.Kvs[0].Value); err == nil {
				leader = &mi
			}
		}
		m.front.setLeader(leader)
		wctx, stop := context.WithCancel(ctx)
		for wr := range m.cli.Watch(clientv3.WithRequireLeader(wctx), pfx, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
			if wr.Err() != nil || len(wr.Events) > 0 {
				break
			}
		}
		stop()
	}
}

// newEtcdClient is the master's client: on its embedded member, or the external etcd.
func newEtcdClient(endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %v: %w; check --etcd-endpoints", endpoints, err)
	}
	return cli, nil
}
