package syncer

import (
	"hash/fnv"
)

// binding records that a key's last change went to worker at dispatch sequence seq. It
// constrains the next change of the key only while that worker has not committed seq.
type binding struct {
	worker int
	seq    uint64
}

// causality assigns row changes to workers so that changes sharing a key (a PK or unique
// key value) are applied in binlog order by one worker, while unrelated changes run in
// parallel. Unlike DM it never drains every worker on a conflict: only the workers that
// still hold uncommitted changes of the conflicting keys are waited for, and bindings
// whose change has been committed are free.
type causality struct {
	workers  []*worker
	bindings map[string]binding
	maxSize  int
}

func newCausality(workers []*worker) *causality {
	return &causality{workers: workers, bindings: map[string]binding{}, maxSize: 200_000}
}

// live reports whether b still constrains the key: its change is not committed yet.
func (c *causality) live(b binding) bool {
	return c.workers[b.worker].appliedSeq.Load() < b.seq
}

// assign picks the worker for a change with keys (at least one) and dispatch sequence
// seq. wait lists the workers (and sequence numbers) that must commit first: they hold
// uncommitted changes of some of the keys but the change goes elsewhere.
func (c *causality) assign(keys []string, seq uint64, wait []binding) (int, []binding) {
	wait = wait[:0]
	target := -1
	for _, k := range keys {
		b, ok := c.bindings[k]
		if !ok || !c.live(b) {
			continue
		}
		if target < 0 {
			target = b.worker
			continue
		}
		if b.worker != target {
			wait = append(wait, b)
		}
	}
	if target < 0 {
		target = int(hashString(keys[0]) % uint32(len(c.workers)))
	}
	for _, k := range keys {
		c.bindings[k] = binding{worker: target, seq: seq}
	}
	if len(c.bindings) > c.maxSize {
		c.gc()
	}
	return target, wait
}

// gc drops bindings whose changes are committed.
func (c *causality) gc() {
	for k, b := range c.bindings {
		if !c.live(b) {
			delete(c.bindings, k)
		}
	}
	if len(c.bindings) > c.maxSize*3/4 {
		c.maxSize *= 2 // everything is in flight; grow instead of sweeping again at once
	}
}

// reset forgets every binding (all workers are idle).
func (c *causality) reset() { clear(c.bindings) }

// hashString is FNV-1a; stable across processes, so a table without unique keys maps to
// the same worker in every run with the same worker count.
func hashString(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}
