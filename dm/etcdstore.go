package dm

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdStoreConfig configures OpenEtcdStore.
type EtcdStoreConfig struct {
	// Endpoints are the etcd client URLs (dm-server --etcd-endpoints). Required.
	Endpoints []string
	// Prefix is the key prefix every record lives under (default "/dmkit"). Two clusters
	// can share one etcd with different prefixes; two servers must not share one prefix.
	Prefix string
	// Name describes this server in the prefix lock (dm-server --name), so that a refused
	// second server is told who holds the prefix.
	Name string
	// DialTimeout bounds the connection and every call that opens the store (default 5s).
	DialTimeout time.Duration
	// TLS, when set, is used to talk to etcd over TLS (client certificates included).
	TLS *tls.Config
	// Username and Password authenticate to an etcd with auth enabled.
	Username, Password string
	// LockTTL is the lifetime of the lease behind the prefix lock (default 10s): a server
	// that died without closing its store blocks the prefix for at most this long.
	LockTTL time.Duration
	// RequestTimeout bounds each Apply and List (default 10s), so an unreachable etcd
	// turns into an error instead of an API call that hangs. An Apply that timed out may
	// still have been committed by etcd.
	RequestTimeout time.Duration
	// LockWait is how long OpenEtcdStore waits for another holder of the prefix lock to
	// release it (or its lease to expire) before refusing; 0 refuses at once.
	LockWait time.Duration
}

const (
	defaultEtcdPrefix      = "/dmkit"
	defaultEtcdDialTimeout = 5 * time.Second
	defaultEtcdLockTTL     = 10 * time.Second
	defaultEtcdReqTimeout  = 10 * time.Second
	// etcdLockName is the lock key under the prefix. A '%' not followed by two hex digits
	// is never produced by escapeEtcdPart, so no record can have this key.
	etcdLockName = "%lock"
)

var errEtcdStoreClosed = errors.New("dm: etcd store is closed; open it again with OpenEtcdStore")

// EtcdStore is the Store on etcd: the control-plane state of a cluster whose masters may
// run on several hosts (issue 16).
//
// Every record is the etcd key <prefix>/<kind>/<key>, kind and key path-escaped so that a
// key holding '/' cannot reach into another kind. Apply is one etcd transaction (all or
// nothing; the ops of one Apply are collapsed to the last op per record, since etcd
// refuses a transaction naming a key twice). List is one range read at one revision.
//
// Opening takes the prefix's lock: the key <prefix>/%lock, created under a lease kept
// alive while the store is open. Every Apply is conditional on that key still being the
// one this store created, so a store whose lease expired (a partition, a paused process)
// cannot write over the state of the server that took the prefix after it. Until leader
// election exists this is what keeps two dm-servers off one prefix.
//
// An EtcdStore is safe for concurrent use.
type EtcdStore struct {
	cfg     EtcdStoreConfig
	lockKey string

	mu      sync.RWMutex     // guards cli; Close takes it exclusively
	cli     *clientv3.Client // nil once closed
	lease   clientv3.LeaseID
	lockRev int64 // create revision of lockKey: the fence of every Apply
	stopKA  context.CancelFunc
	kaDone  chan struct{}

	ownsClient bool // OpenEtcdStore's: Close revokes the lock's lease and closes cli
	fenced     bool // NewFencedEtcdStore's: lockKey is the leader's election key
}

var _ Store = (*EtcdStore)(nil)

// OpenEtcdStore connects to etcd and takes the lock of cfg.Prefix. It fails within about
// cfg.DialTimeout when etcd does not answer, and after cfg.LockWait (at once by default)
// when another dm-server holds the prefix.
func OpenEtcdStore(ctx context.Context, cfg EtcdStoreConfig) (*EtcdStore, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("dm: open etcd store: no endpoints; set --etcd-endpoints")
	}
	cfg, err := normalizeEtcdStoreConfig(cfg)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		TLS:         cfg.TLS,
		Username:    cfg.Username,
		Password:    cfg.Password,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("dm: connect to etcd at %s: %w; check --etcd-endpoints", strings.Join(cfg.Endpoints, ","), err)
	}
	s := &EtcdStore{cfg: cfg, lockKey: cfg.Prefix + "/" + etcdLockName, cli: cli, ownsClient: true}
	if err := s.lock(ctx); err != nil {
		_ = cli.Close()
		return nil, err
	}
	if err := s.refuseMasters(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// refuseMasters refuses a prefix that dm-server --role master processes use (they
// campaign under <prefix>/%election): one server's lock must not write beside their
// leader. Their leader's writes in turn require that no lock exists.
func (s *EtcdStore) refuseMasters(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, EtcdElectionPrefix(s.cfg.Prefix)+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return s.callErr("open etcd store: look for dm-masters on "+s.cfg.Prefix, err)
	}
	if resp.Count > 0 {
		return fmt.Errorf("dm: open etcd store: dm-masters (dm-server --role master) run on %s; start this server with --role master to join them, or use another --etcd-prefix", s.cfg.Prefix)
	}
	return nil
}

// NewFencedEtcdStore is the Store on etcd of a multi-master deployment's leader (issue
// 16). It uses cli, which it never closes, and takes no prefix lock: every Apply is
// conditional on fenceKey having the create revision fenceRev instead. Give it the
// leader's election key (concurrency.Election Key and Rev): once that key is gone (the
// leader resigned or its session's lease expired) nothing this store sends is applied, so
// a deposed leader cannot write over its successor's state. cfg's Endpoints, TLS and
// credentials are unused (cli has them); Prefix and RequestTimeout apply.
func NewFencedEtcdStore(cli *clientv3.Client, cfg EtcdStoreConfig, fenceKey string, fenceRev int64) (*EtcdStore, error) {
	if cli == nil || fenceKey == "" || fenceRev <= 0 {
		return nil, errors.New("dm: fenced etcd store needs a client and a fence key with its create revision (the leader's election key)")
	}
	cfg.Endpoints = cli.Endpoints()
	cfg, err := normalizeEtcdStoreConfig(cfg)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(fenceKey, cfg.Prefix+"/%") {
		return nil, fmt.Errorf("dm: fenced etcd store: fence key %q must lie under %s/%% (a '%%' segment no record uses)", fenceKey, cfg.Prefix)
	}
	return &EtcdStore{cfg: cfg, lockKey: fenceKey, lockRev: fenceRev, cli: cli, fenced: true}, nil
}

// normalizeEtcdStoreConfig checks the prefix and fills in the defaults.
func normalizeEtcdStoreConfig(cfg EtcdStoreConfig) (EtcdStoreConfig, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = defaultEtcdPrefix
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if cfg.Prefix == "" || !strings.HasPrefix(cfg.Prefix, "/") {
		return cfg, fmt.Errorf("dm: open etcd store: prefix %q must start with '/' and name something, such as /dmkit", cfg.Prefix)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultEtcdDialTimeout
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = defaultEtcdLockTTL
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultEtcdReqTimeout
	}
	if cfg.LockTTL < time.Second {
		return cfg, fmt.Errorf("dm: open etcd store: lock TTL %s is below etcd's 1s lease granularity", cfg.LockTTL)
	}
	return cfg, nil
}

// lock takes the prefix lock, waiting up to cfg.LockWait for a holder to release it, and
// keeps its lease alive until Close.
func (s *EtcdStore) lock(ctx context.Context) error {
	host, _ := os.Hostname()
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	owner := fmt.Sprintf("name=%s host=%s pid=%d since=%s id=%s", s.cfg.Name, host, os.Getpid(), time.Now().UTC().Format(time.RFC3339), hex.EncodeToString(nonce[:]))
	deadline := time.Now().Add(s.cfg.LockWait)
	for {
		holder, rev, err := s.tryLock(ctx, owner)
		if err != nil {
			return err
		}
		if holder == "" {
			break
		}
		if !time.Now().Before(deadline) {
			msg := fmt.Sprintf("another dm-server holds %s (%s); stop it or use another --etcd-prefix (a server that died releases it within %s)",
				s.cfg.Prefix, holder, s.cfg.LockTTL)
			if s.cfg.LockWait > 0 {
				msg = fmt.Sprintf("another dm-server holds %s (%s) and did not release it within %s; stop it or use another --etcd-prefix",
					s.cfg.Prefix, holder, s.cfg.LockWait)
			}
			return errors.New(msg)
		}
		if err := s.waitUnlock(ctx, rev, deadline); err != nil {
			return err
		}
	}
	kactx, stop := context.WithCancel(context.Background())
	ka, err := s.cli.KeepAlive(kactx, s.lease)
	if err != nil {
		stop()
		s.revoke(s.lease)
		return s.callErr("open etcd store: keep the lock lease alive", err)
	}
	s.stopKA, s.kaDone = stop, make(chan struct{})
	go func() {
		defer close(s.kaDone)
		for range ka { // drained until Close cancels kactx or the lease is lost
		}
	}()
	return nil
}

// tryLock creates the lock key under a new lease unless it exists. It returns the
// holder's description and the revision read when another store holds it.
func (s *EtcdStore) tryLock(ctx context.Context, owner string) (holder string, rev int64, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	grant, err := s.cli.Grant(cctx, int64(s.cfg.LockTTL/time.Second))
	if err != nil {
		return "", 0, s.callErr("open etcd store: grant the lock lease", err)
	}
	resp, err := s.cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.lockKey), "=", 0)).
		Then(clientv3.OpPut(s.lockKey, owner, clientv3.WithLease(grant.ID))).
		Else(clientv3.OpGet(s.lockKey)).
		Commit()
	if err != nil {
		s.revoke(grant.ID)
		return "", 0, s.callErr("open etcd store: take the lock of "+s.cfg.Prefix, err)
	}
	if resp.Succeeded {
		s.lease, s.lockRev = grant.ID, resp.Header.Revision
		return "", 0, nil
	}
	s.revoke(grant.ID)
	holder = "holder unknown"
	if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
		holder = string(rr.Kvs[0].Value)
	}
	return holder, resp.Header.Revision, nil
}

// waitUnlock waits until the lock key is deleted after rev, or deadline passes.
func (s *EtcdStore) waitUnlock(ctx context.Context, rev int64, deadline time.Time) error {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for wr := range s.cli.Watch(wctx, s.lockKey, clientv3.WithRev(rev+1), clientv3.WithFilterPut()) {
		if err := wr.Err(); err != nil {
			return s.callErr("open etcd store: wait for the lock of "+s.cfg.Prefix, err)
		}
		if len(wr.Events) > 0 {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil // deadline: the caller tries once more and reports the holder
}

func (s *EtcdStore) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout)
	defer cancel()
	_, _ = s.cli.Revoke(ctx, id)
}

// callErr wraps an etcd call's error with what to check.
func (s *EtcdStore) callErr(what string, err error) error {
	eps := strings.Join(s.cfg.Endpoints, ",")
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("dm: %s: etcd at %s did not answer in time: %w; check --etcd-endpoints and that etcd is running", what, eps, err)
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("dm: %s: %w; the change is larger than etcd's --max-txn-ops (default 128): start etcd with a larger --max-txn-ops", what, err)
	case errors.Is(err, rpctypes.ErrRequestTooLarge):
		return fmt.Errorf("dm: %s: %w; the change is larger than etcd's --max-request-bytes: start etcd with a larger one", what, err)
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrUserEmpty):
		return fmt.Errorf("dm: %s: %w; check the etcd user and its permissions on %s", what, err, s.cfg.Prefix)
	}
	return fmt.Errorf("dm: %s: etcd at %s: %w; check --etcd-endpoints", what, eps, err)
}

// escapeEtcdPart makes a kind or key one path segment: '/' and '%' (among others) are
// escaped, so <prefix>/<kind>/<key> is unambiguous.
func escapeEtcdPart(s string) string { return url.PathEscape(s) }

func (s *EtcdStore) kindPrefix(kind string) string {
	return s.cfg.Prefix + "/" + escapeEtcdPart(kind) + "/"
}

// etcdKey is the etcd key of record (kind, key).
func (s *EtcdStore) etcdKey(kind, key string) string { return s.kindPrefix(kind) + escapeEtcdPart(key) }

// Apply atomically performs ops in one etcd transaction; on any error nothing is applied.
func (s *EtcdStore) Apply(ctx context.Context, ops ...StoreOp) error {
	_, err := s.ApplyRevision(ctx, ops...)
	return err
}

// ApplyRevision is Apply returning the etcd revision the ops were committed at (0 for an
// empty apply), from which a watch sees every later change.
func (s *EtcdStore) ApplyRevision(ctx context.Context, ops ...StoreOp) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, op := range ops {
		if err := validateEtcdStoreOp(op); err != nil {
			return 0, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cli == nil {
		return 0, errEtcdStoreClosed
	}
	if len(ops) == 0 {
		return 0, nil
	}
	eops := s.collapse(ops)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.lockKey), "=", s.lockRev)}
	if s.fenced { // and no --role all server took the prefix's lock meanwhile
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.cfg.Prefix+"/"+etcdLockName), "=", 0))
	}
	resp, err := s.cli.Txn(ctx).
		If(cmps...).
		Then(eops...).
		Commit()
	if err != nil {
		return 0, s.callErr(fmt.Sprintf("apply %d records to etcd store %s", len(eops), s.cfg.Prefix), err)
	}
	if !resp.Succeeded && s.fenced {
		return 0, fmt.Errorf("dm: apply to etcd store %s: this dm-master is no longer the leader (its election key is gone: it resigned or its lease expired), or a dm-server --role all took %s/%s; nothing was written: retry, the request goes to the new leader", s.cfg.Prefix, s.cfg.Prefix, etcdLockName)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("dm: apply to etcd store %s: this server lost its lock on the prefix (its lease expired, so another dm-server may own the state now); nothing was written: restart dm-server", s.cfg.Prefix)
	}
	return resp.Header.Revision, nil
}

// collapse turns ops into etcd ops, keeping only the last op of each record in the order
// of their first appearance: each op fully decides its record, so the result equals
// applying ops in order, and etcd refuses a transaction that names a key twice.
func (s *EtcdStore) collapse(ops []StoreOp) []clientv3.Op {
	last := make(map[string]int, len(ops))
	order := make([]string, 0, len(ops))
	for i, op := range ops {
		k := s.etcdKey(op.Kind, op.Key)
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = i
	}
	out := make([]clientv3.Op, 0, len(order))
	for _, k := range order {
		op := ops[last[k]]
		if op.Delete {
			out = append(out, clientv3.OpDelete(k))
			continue
		}
		out = append(out, clientv3.OpPut(k, string(op.Value)))
	}
	return out
}

// List returns every record of kind, sorted by key, read at one etcd revision.
func (s *EtcdStore) List(ctx context.Context, kind string) ([]StoreRecord, error) {
	recs, _, err := s.ListRevision(ctx, kind)
	return recs, err
}

// ListRevision is List returning the revision it read at: a watch from revision+1 sees
// every change after the listed state.
func (s *EtcdStore) ListRevision(ctx context.Context, kind string) ([]StoreRecord, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cli == nil {
		return nil, 0, errEtcdStoreClosed
	}
	out := []StoreRecord{}
	if kind == "" {
		return out, 0, nil
	}
	prefix := s.kindPrefix(kind)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, s.callErr("list "+kind+" from etcd store "+s.cfg.Prefix, err)
	}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), prefix)
		key, err := url.PathUnescape(rest)
		if err != nil || strings.Contains(rest, "/") {
			// An escaped key has no '/': this one belongs to a cluster whose prefix lies
			// inside ours (say /dmkit/task for /dmkit), or to no dmkit store at all.
			return nil, 0, fmt.Errorf("dm: list %s from etcd store %s: key %q is not a record of this store (another cluster's prefix inside %[2]s?); give each cluster a --etcd-prefix that is not inside another's", kind, s.cfg.Prefix, kv.Key)
		}
		out = append(out, StoreRecord{Key: key, Value: append([]byte{}, kv.Value...)})
	}
	// Escaping changes the byte order (e.g. '%' sorts before letters): sort the keys.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, resp.Header.Revision, nil
}

// Close releases the prefix lock (revoking its lease) and the connection; a fenced
// store's client and fence are its caller's and stay. It is safe to call more than once;
// later calls return nil.
func (s *EtcdStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == nil {
		return nil
	}
	if !s.ownsClient {
		s.cli = nil // the caller's client and election key: left to the caller
		return nil
	}
	s.stopKA()
	<-s.kaDone
	s.revoke(s.lease)
	err := s.cli.Close()
	s.cli = nil
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("dm: close etcd store %s: %w", s.cfg.Prefix, err)
	}
	return nil
}

// validateEtcdStoreOp rejects ops without a kind or key, before anything is sent.
func validateEtcdStoreOp(op StoreOp) error {
	switch {
	case op.Kind == "":
		return fmt.Errorf("dm: store op on key %q has an empty kind; every record needs a kind", op.Key)
	case op.Key == "":
		return fmt.Errorf("dm: store op on kind %s has an empty key; every record needs a key", op.Kind)
	}
	return nil
}
