package dm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// fileStoreName is the database file inside a FileStore's data dir.
const fileStoreName = "dm.db"

// defaultLockTimeout bounds how long OpenFileStore waits for the file lock, so that a second
// process pointed at the same data dir fails fast instead of hanging.
const defaultLockTimeout = 2 * time.Second

// errStoreClosed is returned by FileStore calls made after Close.
var errStoreClosed = errors.New("dm: store is closed; open it again with OpenFileStore")

// FileStore is the durable single-node Store: one bbolt database file, dir/dm.db.
//
// bbolt was chosen because it gives exactly what the control plane needs with no moving
// parts: a single file, ACID transactions (Apply is one read-write transaction, so a batch
// is all or nothing), an fsync on every commit (Apply returning nil means the ops survive a
// crash or power loss), and an exclusive file lock that keeps two servers off the same
// data. Each record kind is a bucket; bbolt keeps keys sorted, so List is a plain scan.
//
// A FileStore is safe for concurrent use.
type FileStore struct {
	path string

	mu sync.RWMutex // guards db; Close takes it exclusively, other calls share it
	db *bolt.DB     // nil once closed
}

var _ Store = (*FileStore)(nil)

// OpenFileStore opens (creating if needed) the durable store in dir. The directory is
// created with mode 0700 when missing, since the store may hold credentials. Opening fails
// within a couple of seconds when another process already holds the store open.
func OpenFileStore(dir string) (*FileStore, error) {
	return openFileStore(dir, defaultLockTimeout)
}

func openFileStore(dir string, lockTimeout time.Duration) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("dm: open file store: empty data dir; set --data-dir")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dm: open file store: create data dir %s: %w; check its parent exists and is writable", dir, err)
	}
	path := filepath.Join(dir, fileStoreName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data dir %s is in use by another dm-server (lock held on %s); stop it or use another --data-dir", dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("dm: open file store %s: %w; check the file is a dm data file and readable", path, err)
	}
	// bbolt fsyncs the file but not the directory entry of a file it just created.
	if err := syncDir(dir); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("dm: open file store: sync data dir %s: %w", dir, err)
	}
	return &FileStore{path: path, db: db}, nil
}

// syncDir fsyncs dir so that a newly created entry in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

// Apply atomically performs ops in order in one bbolt transaction, which is fsync'd before
// Apply returns nil. On any error nothing is applied.
func (s *FileStore) Apply(ctx context.Context, ops ...StoreOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, op := range ops {
		if err := validateFileStoreOp(op); err != nil {
			return err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errStoreClosed
	}
	if len(ops) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		// Waiting for bbolt's single writer may take a while; re-check before writing.
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, op := range ops {
			if op.Delete {
				if b := tx.Bucket([]byte(op.Kind)); b != nil {
					if err := b.Delete([]byte(op.Key)); err != nil {
						return fmt.Errorf("delete %s/%s: %w", op.Kind, op.Key, err)
					}
				}
				continue
			}
			b, err := tx.CreateBucketIfNotExists([]byte(op.Kind))
			if err != nil {
				return fmt.Errorf("create bucket %s: %w", op.Kind, err)
			}
			// bbolt references op.Value until commit, which happens before Apply returns.
			if err := b.Put([]byte(op.Key), op.Value); err != nil {
				return fmt.Errorf("put %s/%s: %w", op.Kind, op.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dm: apply to store %s: %w", s.path, err)
	}
	return nil
}

// List returns a copy of every record of kind, sorted by key; an unknown kind yields an
// empty list.
func (s *FileStore) List(ctx context.Context, kind string) ([]StoreRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, errStoreClosed
	}
	out := []StoreRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if kind == "" {
			return nil
		}
		b := tx.Bucket([]byte(kind))
		if b == nil {
			return nil
		}
		// Keys and values are only valid inside the transaction: copy them out.
		return b.ForEach(func(k, v []byte) error {
			out = append(out, StoreRecord{Key: string(k), Value: append([]byte{}, v...)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dm: list %s from store %s: %w", kind, s.path, err)
	}
	return out, nil
}

// Close waits for in-flight calls, then releases the database file and its lock. It is
// safe to call more than once; later calls return nil.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("dm: close store %s: %w", s.path, err)
	}
	return nil
}

// validateFileStoreOp rejects ops bbolt cannot store, before a transaction starts, so the
// error names the offending record.
func validateFileStoreOp(op StoreOp) error {
	switch {
	case op.Kind == "":
		return fmt.Errorf("dm: store op on key %q has an empty kind; every record needs a kind", op.Key)
	case op.Key == "":
		return fmt.Errorf("dm: store op on kind %s has an empty key; every record needs a key", op.Kind)
	case len(op.Kind) > bolt.MaxKeySize || len(op.Key) > bolt.MaxKeySize:
		return fmt.Errorf("dm: store op on %.64s/%.64s: kind and key must be at most %d bytes", op.Kind, op.Key, bolt.MaxKeySize)
	}
	return nil
}

// Scrub rewrites the database into a fresh file and replaces the old one, so that freed
// pages — which may still hold values that were since overwritten, such as passwords
// stored before encryption was turned on — are gone from the disk. EncryptStore calls it
// after sealing plain records.
func (s *FileStore) Scrub(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return errStoreClosed
	}
	tmp := s.path + ".scrub"
	_ = os.Remove(tmp) // a leftover of a crash during an earlier scrub; dm.db is intact
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: defaultLockTimeout})
	if err != nil {
		return fmt.Errorf("dm: scrub store: %w", err)
	}
	if err := bolt.Compact(dst, s.db, 4<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("dm: scrub store: copy: %w", err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dm: scrub store: %w", err)
	}
	// The old file stays open (and locked) until the new one is in place and locked.
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dm: scrub store: replace %s: %w", s.path, err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("dm: scrub store: %w", err)
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: defaultLockTimeout})
	if err != nil {
		// The open handle now points at the replaced file: writes through it would be lost.
		_ = s.db.Close()
		s.db = nil
		return fmt.Errorf("dm: scrub store: reopen %s: %w; the store is closed, restart dm-server", s.path, err)
	}
	_ = s.db.Close()
	s.db = db
	return ctx.Err()
}
