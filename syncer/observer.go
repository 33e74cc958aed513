package syncer

import "time"

// Observer receives the syncer's apply measurements as they happen (dm turns them into
// Prometheus metrics). Calls come from the apply workers and the checkpoint writer and
// must not block. Nil Config.Observer: nothing is measured.
type Observer interface {
	// Batch is one committed target transaction: its row changes by kind (after
	// compaction merged changes of one key) and how long the transaction took, retries
	// included.
	Batch(inserts, updates, deletes int, d time.Duration)
	// Checkpoint is one write of the global checkpoint row and how long it took.
	Checkpoint(d time.Duration)
}

// observeBatch counts a batch's kinds for the observer.
func observeBatch(o Observer, batch []*change, d time.Duration) {
	var ins, upd, del int
	for _, c := range batch {
		if c == nil { // merged away by compaction
			continue
		}
		switch c.kind {
		case kindInsert:
			ins++
		case kindUpdate:
			upd++
		case kindDelete:
			del++
		}
	}
	o.Batch(ins, upd, del, d)
}
