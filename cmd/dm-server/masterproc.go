package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/dmkit/dmkit/dm"
	"github.com/dmkit/dmkit/internal/tlsconfig"
	"github.com/dmkit/dmkit/metrics"
)

// masterProcess is a running --role master: its HTTP front and, in the background, its
// embedded etcd member (unless --etcd-endpoints) and the campaign loop.
type masterProcess struct {
	front    *front
	info     dm.MasterInfo
	etcdDesc string
	fatal    chan error // the embedded etcd or the etcd client could not start
	cancel   context.CancelFunc
	done     chan struct{}
}

// startMaster builds the front (serving 503 until a leader is known) and starts the
// etcd member and the campaign in the background: the HTTP API listens at once, while the
// first master of a new cluster still waits for a majority of --initial-cluster.
func startMaster(cfg config, apiAddr net.Addr, scheme string, log *slog.Logger) (*masterProcess, error) {
	key, err := dm.LoadSecretKey(cfg.secretKeyPath, "")
	if err != nil {
		return nil, err
	}
	if cfg.master.advertiseAddr == "" {
		host, port, _ := net.SplitHostPort(apiAddr.String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			return nil, fmt.Errorf("--listen %s serves every interface: give --advertise-addr, the host:port the other masters reach this one's API at", cfg.listen)
		}
		cfg.master.advertiseAddr = net.JoinHostPort(host, port)
	}
	var clientTLS, etcdTLS *tls.Config
	if cfg.tls.Enabled() { // forwarded requests and worker RPC present this master's certificate
		if clientTLS, err = tlsconfig.Client(cfg.tls); err != nil {
			return nil, err
		}
	}
	embedded := len(cfg.etcd.endpoints) == 0
	endpoints := cfg.etcd.endpoints
	if embedded {
		endpoints = []string{cfg.master.localClientURL()}
	} else if etcdTLS, err = tlsconfig.Client(cfg.etcd.tls); err != nil {
		return nil, fmt.Errorf("etcd TLS: %w; check --etcd-ssl-ca, --etcd-ssl-cert and --etcd-ssl-key", err)
	}
	base := newRegistry()
	hm, err := metrics.NewHTTP(base)
	if err != nil {
		return nil, err
	}
	info := dm.MasterInfo{Name: cfg.name, APIURL: scheme + "://" + cfg.master.advertiseAddr}
	desc := "external " + strings.Join(endpoints, ",") + " prefix " + cfg.etcd.prefix
	if embedded {
		info.PeerURLs = cfg.master.advertisePeerURLs.StringSlice()
		desc = "embedded member, clients on " + cfg.master.clientURLs.String() + " prefix " + cfg.etcd.prefix
	}
	ctx, cancel := context.WithCancel(context.Background())
	mp := &masterProcess{
		front: newFront(cfg.name, base, clientTLS, log), info: info, etcdDesc: desc,
		fatal: make(chan error, 1), cancel: cancel, done: make(chan struct{}),
	}
	go func() {
		defer close(mp.done)
		var e *embed.Etcd
		if embedded {
			if e, err = startEmbeddedEtcd(ctx, cfg, log); err != nil {
				if ctx.Err() == nil {
					mp.fatal <- err
				}
				return
			}
			defer e.Close()
			go func() { // the member failing later ends the process, as it would DM's master
				select {
				case err := <-e.Err():
					select {
					case mp.fatal <- fmt.Errorf("embedded etcd member %s failed: %w", cfg.name, err):
					default:
					}
				case <-ctx.Done():
				}
			}()
		}
		cli, err := newEtcdClient(endpoints, etcdTLS)
		if err != nil {
			mp.fatal <- err
			return
		}
		defer cli.Close()
		m := &master{cfg: cfg, log: log, cli: cli, front: mp.front, info: info, key: key,
			httpObserve: hm.Observe, embedded: embedded, workerTLS: clientTLS}
		m.run(ctx)
	}()
	return mp, nil
}

// stop ends the campaign (a leader closes its Cluster and resigns, so another master
// leads at once) and then stops the etcd member.
func (mp *masterProcess) stop() {
	mp.cancel()
	<-mp.done
}
