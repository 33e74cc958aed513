package syncer

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type countingObserver struct {
	mu                  sync.Mutex
	ins, upd, del, txns int
	checkpoints         int
}

func (o *countingObserver) Batch(i, u, d int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ins, o.upd, o.del, o.txns = o.ins+i, o.upd+u, o.del+d, o.txns+1
}

func (o *countingObserver) Checkpoint(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checkpoints++
}

// TestObserver: the observer sees every kind, counted after compaction (several changes
// of one key in one batch are one), batches it merged included, and the checkpoint
// writes.
func TestObserver(t *testing.T) {
	setupSchema(t, "obs", "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	cfg := newTask(t, "observer", "obs")
	o := &countingObserver{}
	cfg.Observer = o
	r, stop := startSyncer(t, cfg)
	src.Exec(t, "INSERT INTO obs.t VALUES (1, 1), (2, 2), (3, 3)")
	waitSynced(t, r, "obs")
	// Two updates of one key in one transaction: compaction merges them into one.
	src.Exec(t, "BEGIN; UPDATE obs.t SET v = 10 WHERE id = 1; UPDATE obs.t SET v = 11 WHERE id = 1; COMMIT")
	waitSynced(t, r, "obs")
	src.Exec(t, "DELETE FROM obs.t WHERE id = 2")
	waitSynced(t, r, "obs")
	waitFor(t, r, func() error {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.ins < 3 || o.upd < 1 || o.del != 1 || o.txns == 0 || o.checkpoints == 0 {
			return fmt.Errorf("observed %+v", o)
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
