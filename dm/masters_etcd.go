package dm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys of the masters' directory under a cluster's etcd prefix. A segment starting with
// '%' is never produced by the store's escaping, so none collides with a record.
const (
	// etcdMasterAlive/<name> is a master's registration under its session lease: present
	// exactly while the master runs (and reaches etcd).
	etcdMasterAlive = "%master"
	// etcdMasterKnown/<name> is what a master advertised last, kept until it is offlined,
	// so a master that is down is listed as not alive instead of vanishing.
	etcdMasterKnown = "%masterinfo"
	// etcdElection is the prefix of the masters' leader election (concurrency.Election).
	etcdElection = "%election"
)

// EtcdElectionPrefix is the election prefix of the cluster at prefix: the masters
// campaign under it with a MasterInfo as the value, and the leader's key fences its
// store (NewFencedEtcdStore).
func EtcdElectionPrefix(prefix string) string {
	return strings.TrimRight(prefix, "/") + "/" + etcdElection
}

// MasterInfo is what a dm-master registers about itself and campaigns with.
type MasterInfo struct {
	Name string `json:"name"`
	// APIURL is its advertised OpenAPI base, such as http://10.0.0.1:8261: where the
	// other masters forward requests to while it leads.
	APIURL string `json:"api_url"`
	// PeerURLs are its embedded etcd member's advertised peer URLs (none when the masters
	// use an external etcd).
	PeerURLs []string `json:"peer_urls,omitempty"`
}

// ParseMasterInfo decodes a campaign value or registration.
func ParseMasterInfo(raw []byte) (MasterInfo, error) {
	var mi MasterInfo
	if err := json.Unmarshal(raw, &mi); err != nil || mi.Name == "" {
		return mi, fmt.Errorf("dm: %q is not a dm-master registration (a JSON object with a name): another program's key under the prefix?", raw)
	}
	return mi, nil
}

func masterKey(prefix, dir, name string) string {
	return strings.TrimRight(prefix, "/") + "/" + dir + "/" + url.PathEscape(name)
}

// ErrMasterNameTaken is RegisterMaster's answer while another running master (another
// lease) is registered under the same name.
var ErrMasterNameTaken = errors.New("a dm-master with this name is running")

// RegisterMaster records info under prefix: alive under lease (the master's election
// session, so the entry goes when the master does) and known until it is offlined. A
// name registered under another live lease is refused (ErrMasterNameTaken): two masters
// with one name would each take the other's election key for its own.
func RegisterMaster(ctx context.Context, cli *clientv3.Client, prefix string, info MasterInfo, lease clientv3.LeaseID) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	alive := masterKey(prefix, etcdMasterAlive, info.Name)
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(alive), "=", 0)).Then(
		clientv3.OpPut(alive, string(raw), clientv3.WithLease(lease)),
		clientv3.OpPut(masterKey(prefix, etcdMasterKnown, info.Name), string(raw)),
	).Commit()
	if err != nil {
		return fmt.Errorf("dm: register dm-master %s in etcd: %w", info.Name, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("dm: register dm-master %s: %w (registered under another lease; a master killed a moment ago goes when its lease expires): give every master its own --name", info.Name, ErrMasterNameTaken)
	}
	return nil
}

// EtcdMasters is the Masters directory on etcd: the registrations RegisterMaster wrote,
// the leader from the election, and (with Members) the embedded etcd cluster's members.
type EtcdMasters struct {
	Client *clientv3.Client
	Prefix string
	// Members says the masters are the members of an embedded etcd cluster (dm-server
	// --role master without --etcd-endpoints): a member is listed even before it
	// registered, its addr is its first peer URL (as DM's), and Offline removes it.
	Members bool
	// RequestTimeout bounds each call (default 5s).
	RequestTimeout time.Duration
}

var _ Masters = (*EtcdMasters)(nil)

// masterView is one master as the directory sees it.
type masterView struct {
	info     MasterInfo
	alive    bool
	memberID uint64 // 0: not an etcd member
}

func (m *EtcdMasters) timeout() time.Duration {
	if m.RequestTimeout > 0 {
		return m.RequestTimeout
	}
	return 5 * time.Second
}

// read gathers the directory at one revision, plus the member list, and the leader's name.
func (m *EtcdMasters) read(ctx context.Context) (map[string]*masterView, string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	var resp *clientv3.TxnResponse
	err := retryRaftElection(ctx, func() (err error) {
		resp, err = m.Client.Txn(ctx).Then(
			clientv3.OpGet(masterKey(m.Prefix, etcdMasterKnown, ""), clientv3.WithPrefix()),
			clientv3.OpGet(masterKey(m.Prefix, etcdMasterAlive, ""), clientv3.WithPrefix()),
			clientv3.OpGet(EtcdElectionPrefix(m.Prefix)+"/", clientv3.WithFirstCreate()...),
		).Commit()
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("read the dm-masters from etcd: %w", err)
	}
	views := map[string]*masterView{}
	for i, r := range resp.Responses[:2] {
		for _, kv := range r.GetResponseRange().Kvs {
			mi, err := ParseMasterInfo(kv.Value)
			if err != nil {
				return nil, "", err
			}
			v := views[mi.Name]
			if v == nil {
				v = &masterView{}
				views[mi.Name] = v
			}
			v.info = mi // the alive registration (read second) is the newer one
			v.alive = v.alive || i == 1
		}
	}
	leader := ""
	if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
		if mi, err := ParseMasterInfo(kvs[0].Value); err == nil {
			leader = mi.Name
		}
	}
	if m.Members {
		var ml *clientv3.MemberListResponse
		err := retryRaftElection(ctx, func() (err error) {
			ml, err = m.Client.MemberList(ctx)
			return err
		})
		if err != nil {
			return nil, "", fmt.Errorf("list the etcd members: %w", err)
		}
		for _, mem := range ml.Members {
			if mem.Name == "" { // added but never started: not a master yet
				continue
			}
			v := views[mem.Name]
			if v == nil {
				v = &masterView{info: MasterInfo{Name: mem.Name, PeerURLs: mem.PeerURLs}}
				views[mem.Name] = v
			}
			v.memberID = mem.ID
			if len(mem.PeerURLs) > 0 {
				v.info.PeerURLs = mem.PeerURLs
			}
		}
	}
	return views, leader, nil
}

// List returns every master: registered, or a member of the embedded etcd cluster.
// addr is the first etcd peer URL as in DM when the master has one, else its API URL.
func (m *EtcdMasters) List(ctx context.Context) ([]ClusterMaster, error) {
	views, leader, err := m.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ClusterMaster, 0, len(views))
	for name, v := range views {
		addr := v.info.APIURL
		if len(v.info.PeerURLs) > 0 {
			addr = v.info.PeerURLs[0]
		}
		out = append(out, ClusterMaster{Name: name, Alive: v.alive, Leader: name == leader && v.alive, Addr: addr})
	}
	return out, nil
}

// Offline removes a master that is down: its etcd member (with Members) and its
// registration. A running master is refused (stop it first: removing the etcd member of
// a running master, or of the leader serving this request, would cut it off mid-work;
// DM removes it regardless). etcd itself refuses a removal that would lose its quorum.
func (m *EtcdMasters) Offline(ctx context.Context, name string) error {
	views, _, err := m.read(ctx)
	if err != nil {
		return err
	}
	v := views[name]
	if v == nil {
		return NewError(CodeMasterNotFound, "dm-master with name %s not exists", name)
	}
	if v.alive {
		return NewError(CodeOpenAPICommon, "dm-master %s is running; stop it first, then offline it", name)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	if v.memberID != 0 {
		if _, err := m.Client.MemberRemove(ctx, v.memberID); err != nil {
			return fmt.Errorf("remove the etcd member of dm-master %s: %w", name, err)
		}
	}
	if _, err := m.Client.Delete(ctx, masterKey(m.Prefix, etcdMasterKnown, name)); err != nil {
		return fmt.Errorf("delete the registration of dm-master %s: %w", name, err)
	}
	return nil
}

// EtcdLeaderURL is the API URL of the current leader of the masters at prefix, read from
// their election (worker processes call it for the shard DDL coordination).
func EtcdLeaderURL(ctx context.Context, cli *clientv3.Client, prefix string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultEtcdReqTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, EtcdElectionPrefix(prefix)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("read the masters' election under %s: %w", prefix, err)
	}
	if len(resp.Kvs) == 0 {
		return "", fmt.Errorf("no dm-master leader under %s yet; the masters are electing one", prefix)
	}
	mi, err := ParseMasterInfo(resp.Kvs[0].Value)
	if err != nil {
		return "", err
	}
	return mi.APIURL, nil
}

// retryRaftElection runs call again while etcd answers that its raft leader changed or is
// being elected (a member just died): that lasts an election timeout, and a read of the
// masters right after a failover should not fail for it. Other errors return at once.
func retryRaftElection(ctx context.Context, call func() error) error {
	for {
		err := call()
		if err == nil || !isRaftElection(err) || ctx.Err() != nil {
			return err
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

func isRaftElection(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaderChanged) || errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail)
}
