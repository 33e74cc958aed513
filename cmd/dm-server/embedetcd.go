package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// startEmbeddedEtcd starts this master's etcd member from the --etcd-* and
// --initial-cluster flags and waits until it has joined its cluster, which needs a
// majority of --initial-cluster running: the first master of three waits for a second.
// A member with data in --etcd-data-dir restarts from it (--initial-cluster is then
// ignored by etcd, as in DM).
func startEmbeddedEtcd(ctx context.Context, cfg config, log *slog.Logger) (*embed.Etcd, error) {
	m := cfg.master
	ec := embed.NewConfig()
	ec.Name = cfg.name
	ec.Dir = m.etcdDataDir
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = m.peerURLs, m.advertisePeerURLs
	ec.ListenClientUrls, ec.AdvertiseClientUrls = m.clientURLs, m.clientURLs
	ec.InitialCluster = m.initialCluster
	ec.InitialClusterToken = "dmkit"
	// A new etcd leader extends every lease by its election timeout, so a master killed
	// together with the etcd leader is replaced after about TTL + 2 x election timeout:
	// with etcd's default 1s that is over 5s for the default 3s --election-ttl. 500ms is
	// still 5x the heartbeat and far above a LAN's round trip.
	ec.TickMs, ec.ElectionMs = 100, 500
	// One API change is one transaction; DM's embedded etcd allows 2048 ops in one.
	ec.MaxTxnOps = 2048
	// etcd logs with zap: its errors reach stderr as JSON lines, except the ones every
	// shutdown logs about its own closed listeners.
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	lg, err := zc.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return quietShutdownCore{c} }))
	if err != nil {
		return nil, fmt.Errorf("embedded etcd logger: %w", err)
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start the embedded etcd member %s (data in %s): %w; check --etcd-peer-urls, --etcd-client-urls and --initial-cluster", cfg.name, m.etcdDataDir, err)
	}
	nag := time.NewTicker(10 * time.Second)
	defer nag.Stop()
	for {
		select {
		case <-e.Server.ReadyNotify():
			log.Info("embedded etcd member ready", "name", cfg.name, "client_urls", m.clientURLs.String(), "peer_urls", m.advertisePeerURLs.String())
			return e, nil
		case err := <-e.Err():
			e.Close()
			return nil, fmt.Errorf("embedded etcd member %s failed: %w", cfg.name, err)
		case <-nag.C:
			log.Warn("embedded etcd member waits for a majority of --initial-cluster to start", "initial_cluster", m.initialCluster)
		case <-ctx.Done():
			e.Close()
			return nil, ctx.Err()
		}
	}
}

// quietShutdownCore drops etcd's "serving failed" entries: etcd logs one per listener
// when it closes them on a normal stop; a real serving failure also ends in e.Err().
type quietShutdownCore struct{ zapcore.Core }

func (c quietShutdownCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == "setting up serving from embedded etcd failed." {
		return ce
	}
	return c.Core.Check(e, ce)
}

func (c quietShutdownCore) With(f []zapcore.Field) zapcore.Core {
	return quietShutdownCore{c.Core.With(f)}
}
