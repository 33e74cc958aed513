package dm

import (
	"context"
	"encoding/json"
	"sort"
)

// ClusterInfo returns the cluster id and the stored topology.
func (c *Cluster) ClusterInfo(ctx context.Context) (*ClusterInfo, error) {
	txn := c.read()
	info := &ClusterInfo{}
	if r, ok := getRecord(txn, kindMeta, metaClusterID).(*metaRecord); ok {
		if err := json.Unmarshal(r.Value, &info.ClusterID); err != nil {
			return nil, NewError(CodeInternal, "decode cluster id: %v", err)
		}
	}
	if r, ok := getRecord(txn, kindMeta, metaTopology).(*metaRecord); ok {
		info.Topology = &ClusterTopology{}
		if err := json.Unmarshal(r.Value, info.Topology); err != nil {
			return nil, NewError(CodeInternal, "decode cluster topology: %v", err)
		}
	}
	return info, nil
}

// UpdateClusterTopology stores descriptive topology metadata (last write wins). It changes
// nothing else: the topology only feeds /api/v1/dm.json and user interfaces.
func (c *Cluster) UpdateClusterTopology(ctx context.Context, topo *ClusterTopology) (*ClusterInfo, error) {
	if topo == nil {
		topo = &ClusterTopology{}
	}
	for _, l := range [][]HostPortName{topo.MasterTopologyList, topo.WorkerTopologyList} {
		for _, m := range l {
			if m.Host == "" || m.Port <= 0 || m.Port > 65535 {
				return nil, invalidf("topology entry %q needs a host and a port in 1..65535", m.Name)
			}
		}
	}
	raw, err := json.Marshal(topo)
	if err != nil {
		return nil, NewError(CodeInternal, "encode topology: %v", err)
	}
	if err := c.update(ctx, func(w *writeTxn) error {
		w.put(kindMeta, &metaRecord{Name: metaTopology, Value: raw})
		return nil
	}); err != nil {
		return nil, err
	}
	return c.ClusterInfo(ctx)
}

// ListMasters lists the masters, sorted by name. With Config.Masters (a multi-master
// deployment) the directory answers; otherwise dmkit runs one master, this process,
// which is the leader.
func (c *Cluster) ListMasters(ctx context.Context) (List[ClusterMaster], error) {
	if c.cfg.Masters != nil {
		ms, err := c.cfg.Masters.List(ctx)
		if err != nil {
			return List[ClusterMaster]{}, asMastersError("list the dm-masters", err)
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
		return newList(ms), nil
	}
	return newList([]ClusterMaster{{Name: c.cfg.Name, Alive: true, Leader: true, Addr: "http://" + c.cfg.Addr}}), nil
}

// OfflineMaster removes a master. With Config.Masters the directory removes it (see
// Masters.Offline); otherwise the only master is this process, which cannot remove
// itself while serving, so every name is refused.
func (c *Cluster) OfflineMaster(ctx context.Context, name string) error {
	if c.cfg.Masters != nil {
		if err := c.cfg.Masters.Offline(ctx, name); err != nil {
			return asMastersError("offline dm-master "+name, err)
		}
		return nil
	}
	if name == c.cfg.Name {
		return NewError(CodeOpenAPICommon, "dm-master %s is the only master and serves this request; it cannot be offlined", name)
	}
	return NewError(CodeMasterNotFound, "dm-master with name %s not exists", name)
}

// ListWorkers lists the workers, sorted by name, with their binding.
func (c *Cluster) ListWorkers(ctx context.Context) (List[ClusterWorker], error) {
	txn := c.read()
	var out []ClusterWorker
	for _, r := range listRecords[*workerRecord](txn, kindWorker, "") {
		out = append(out, c.workerView(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return newList(out), nil
}

func (c *Cluster) workerView(r *workerRecord) ClusterWorker {
	v := ClusterWorker{Name: r.Name, Addr: r.Addr, BoundSourceName: r.Source}
	switch {
	case c.workers.get(r.Name) == nil:
		v.BoundStage = WorkerOffline
	case r.Source != "":
		v.BoundStage = WorkerBound
	case r.RelaySource != "":
		v.BoundStage = WorkerRelay
	default:
		v.BoundStage = WorkerFree
	}
	return v
}

// OfflineWorker deregisters a worker that is not running in this process (one named in an
// earlier run's --workers but not in this one). A running worker cannot be offlined.
func (c *Cluster) OfflineWorker(ctx context.Context, name string) error {
	return c.update(ctx, func(w *writeTxn) error {
		r, _ := w.get(kindWorker, name).(*workerRecord)
		if r == nil {
			return NewError(CodeWorkerNotFound, "dm-worker with name %s not exists", name)
		}
		if c.workers.get(name) != nil {
			return NewError(CodeWorkerOnline, "dm-worker with name %s is still online", name)
		}
		w.del(kindWorker, r)
		return nil
	})
}
