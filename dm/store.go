package dm

import (
	"context"
	"sort"
	"sync"
)

// Store persists the control-plane state (sources, tasks, subtasks, bindings, stages,
// templates, cluster metadata) so that a Cluster can be rebuilt after a restart.
//
// Records are opaque byte values grouped by kind and keyed by a string. Apply is atomic:
// either every op of a call is durable when it returns nil, or none is. The interface is
// deliberately small so that a memory map, a local file and etcd can all implement it.
// Replication progress never goes here: checkpoints live in the target database.
type Store interface {
	// Apply atomically performs ops (puts and deletes) in order.
	Apply(ctx context.Context, ops ...StoreOp) error
	// List returns every record of kind, sorted by key.
	List(ctx context.Context, kind string) ([]StoreRecord, error)
	// Close releases the store; it is safe to call more than once.
	Close() error
}

// StoreOp is one mutation of a Store: a put of Value under (Kind, Key), or a delete when
// Delete is set.
type StoreOp struct {
	Kind   string
	Key    string
	Value  []byte
	Delete bool
}

// StoreRecord is one stored value.
type StoreRecord struct {
	Key   string
	Value []byte
}

// PutOp returns an op that stores value under (kind, key).
func PutOp(kind, key string, value []byte) StoreOp {
	return StoreOp{Kind: kind, Key: key, Value: value}
}

// DeleteOp returns an op that removes (kind, key); deleting a missing key is not an error.
func DeleteOp(kind, key string) StoreOp {
	return StoreOp{Kind: kind, Key: key, Delete: true}
}

// MemoryStore returns a Store that keeps everything in memory. It is meant for tests and
// for embedding a throwaway cluster: nothing survives the process.
func MemoryStore() Store {
	return &memoryStore{kinds: map[string]map[string][]byte{}}
}

type memoryStore struct {
	mu    sync.Mutex
	kinds map[string]map[string][]byte
}

func (m *memoryStore) Apply(ctx context.Context, ops ...StoreOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range ops {
		k := m.kinds[op.Kind]
		if op.Delete {
			delete(k, op.Key)
			continue
		}
		if k == nil {
			k = map[string][]byte{}
			m.kinds[op.Kind] = k
		}
		k[op.Key] = append([]byte(nil), op.Value...)
	}
	return nil
}

func (m *memoryStore) List(ctx context.Context, kind string) ([]StoreRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]StoreRecord, 0, len(m.kinds[kind]))
	for k, v := range m.kinds[kind] {
		out = append(out, StoreRecord{Key: k, Value: append([]byte(nil), v...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memoryStore) Close() error { return nil }
