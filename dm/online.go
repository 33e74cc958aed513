package dm

import (
	"sort"
	"sync"
)

// onlineWorkers is the set of workers the control plane can reach now: the in-process
// workers of Config.Workers, and (with Config.RemoteWorkers) the worker processes whose
// registration lease is alive. It changes while the cluster runs, so every reader takes
// a snapshot through its methods.
type onlineWorkers struct {
	mu sync.RWMutex
	m  map[string]workerHandle
}

// get returns the handle of an online worker, nil when name is offline or unknown.
func (o *onlineWorkers) get(name string) workerHandle {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.m[name]
}

// names returns the online workers' names, sorted.
func (o *onlineWorkers) names() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := make([]string, 0, len(o.m))
	for n := range o.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// all returns the online workers' handles, in name order.
func (o *onlineWorkers) all() []workerHandle {
	var out []workerHandle
	for _, n := range o.names() {
		if h := o.get(n); h != nil { // may have gone offline since names()
			out = append(out, h)
		}
	}
	return out
}

// set makes name online with handle h.
func (o *onlineWorkers) set(name string, h workerHandle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]workerHandle{}
	}
	o.m[name] = h
}

// remove makes name offline and returns the handle it had, nil when none.
func (o *onlineWorkers) remove(name string) workerHandle {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.m[name]
	delete(o.m, name)
	return h
}
