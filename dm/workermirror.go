package dm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// stateMirror is a worker process's read-only copy of the control-plane state: the
// records the leader wrote under the etcd prefix, decoded into a memdb of the same
// schema as the leader's, so that the worker's host reads them with the code the
// in-process host uses. It follows etcd with a watch; every change of a record touches
// only that record in the memdb, so memdb's watch channels wake the worker exactly when
// its inputs changed. It never writes to etcd.
type stateMirror struct {
	cli    *clientv3.Client
	prefix string
	open   func(kind, key string, value []byte) ([]byte, error) // unseals a value
	db     *memdb.MemDB
	log    *slog.Logger

	mu     sync.Mutex
	raw    map[string][]byte // kind "/" key → last decoded value, to skip unchanged records
	modRev map[string]int64  // kind "/" key → etcd mod revision
	rev    int64             // revision of the last applied read
}

func newStateMirror(cli *clientv3.Client, prefix string, open func(kind, key string, value []byte) ([]byte, error), log *slog.Logger) (*stateMirror, error) {
	db, err := newMemDB()
	if err != nil {
		return nil, fmt.Errorf("build state schema: %w", err)
	}
	return &stateMirror{cli: cli, prefix: prefix, open: open, db: db, log: log, raw: map[string][]byte{}, modRev: map[string]int64{}}, nil
}

// load reads every record at one revision and makes the memdb equal to it.
func (m *stateMirror) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, defaultEtcdReqTimeout)
	defer cancel()
	resp, err := m.cli.Get(ctx, m.prefix+"/", clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("read the cluster state from etcd under %s: %w; check --etcd-endpoints", m.prefix, err)
	}
	type rec struct {
		value  []byte
		modRev int64
	}
	seen := map[string]rec{}
	for _, kv := range resp.Kvs {
		kind, key, ok := m.split(string(kv.Key))
		if !ok || kinds[kind] == nil {
			continue // election, registrations, reports, locks: not records
		}
		v := kv.Value
		if m.open != nil {
			if v, err = m.open(kind, key, v); err != nil {
				return err
			}
		}
		seen[kind+"/"+key] = rec{value: v, modRev: kv.ModRevision}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	txn := m.db.Txn(true)
	defer txn.Abort()
	for id := range m.raw {
		if _, ok := seen[id]; ok {
			continue
		}
		kind, key, _ := strings.Cut(id, "/")
		if _, err := txn.DeleteAll(kind, "id", key); err != nil {
			return fmt.Errorf("mirror: delete %s: %w", id, err)
		}
		delete(m.raw, id)
		delete(m.modRev, id)
	}
	for id, r := range seen {
		m.modRev[id] = r.modRev
		if old, ok := m.raw[id]; ok && bytes.Equal(old, r.value) {
			continue
		}
		kind, key, _ := strings.Cut(id, "/")
		obj := kinds[kind]()
		if err := json.Unmarshal(r.value, obj); err != nil {
			return fmt.Errorf("mirror: decode %s %q: %w", kind, key, err)
		}
		if err := txn.Insert(kind, obj); err != nil {
			return fmt.Errorf("mirror: load %s %q: %w", kind, key, err)
		}
		m.raw[id] = r.value
	}
	txn.Commit()
	m.rev = resp.Header.Revision
	return nil
}

// split cuts an etcd key into a record's kind and key.
func (m *stateMirror) split(k string) (kind, key string, ok bool) {
	rest, ok := strings.CutPrefix(k, m.prefix+"/")
	if !ok {
		return "", "", false
	}
	ek, ekey, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(ekey, "/") {
		return "", "", false
	}
	kind, err1 := url.PathUnescape(ek)
	key, err2 := url.PathUnescape(ekey)
	return kind, key, err1 == nil && err2 == nil
}

// follow reloads the mirror after every change under the prefix until ctx ends. Changes
// that come in a burst are read once (after 20 ms of quiet or 200 ms at most).
func (m *stateMirror) follow(ctx context.Context) {
	for ctx.Err() == nil {
		m.mu.Lock()
		from := m.rev + 1
		m.mu.Unlock()
		wch := m.cli.Watch(clientv3.WithRequireLeader(ctx), m.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(from))
		m.drain(ctx, wch)
		if ctx.Err() != nil {
			return
		}
		// The watch ended (compaction, leader loss): read everything again.
		if err := m.load(ctx); err != nil {
			m.log.Warn("re-read cluster state", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

func (m *stateMirror) drain(ctx context.Context, wch clientv3.WatchChan) {
	for {
		select {
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				return
			}
			deadline := time.After(200 * time.Millisecond)
		burst:
			for {
				select {
				case wr, ok = <-wch:
					if !ok || wr.Err() != nil {
						break burst
					}
				case <-time.After(20 * time.Millisecond):
					break burst
				case <-deadline:
					break burst
				}
			}
			if err := m.load(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("re-read cluster state", "err", err)
			}
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// recordRev is the etcd mod revision of a record, 0 when the mirror does not hold it.
func (m *stateMirror) recordRev(kind, key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.modRev[kind+"/"+key]
}

// revision is the etcd revision the mirror reflects.
func (m *stateMirror) revision() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
