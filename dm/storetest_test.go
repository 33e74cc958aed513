package dm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// storeStep is one step of a conformance case: an Apply of ops or, when list is set, a List
// of that kind compared with want.
type storeStep struct {
	ops  []StoreOp
	list string
	want []StoreRecord
}

func applyStep(ops ...StoreOp) storeStep { return storeStep{ops: ops} }

func listStep(kind string, want ...StoreRecord) storeStep {
	return storeStep{list: kind, want: want}
}

func storeRec(key, value string) StoreRecord { return StoreRecord{Key: key, Value: []byte(value)} }

func storePut(kind, key, value string) StoreOp { return PutOp(kind, key, []byte(value)) }

// testStore is the conformance suite every Store implementation must pass. open returns a
// fresh, empty store; the suite closes it.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	cases := []struct {
		name  string
		steps []storeStep
	}{{
		name:  "empty kind lists empty",
		steps: []storeStep{listStep("source")},
	}, {
		name: "put then list",
		steps: []storeStep{
			applyStep(storePut("source", "mysql-01", `{"a":1}`)),
			listStep("source", storeRec("mysql-01", `{"a":1}`)),
		},
	}, {
		name: "overwrite keeps last value",
		steps: []storeStep{
			applyStep(storePut("task", "t1", "v1")),
			applyStep(storePut("task", "t1", "v2")),
			listStep("task", storeRec("t1", "v2")),
		},
	}, {
		name: "delete existing",
		steps: []storeStep{
			applyStep(storePut("task", "t1", "v1"), storePut("task", "t2", "v2")),
			applyStep(DeleteOp("task", "t1")),
			listStep("task", storeRec("t2", "v2")),
		},
	}, {
		name: "delete missing key and kind is not an error",
		steps: []storeStep{
			applyStep(DeleteOp("never", "seen")),
			applyStep(storePut("task", "t1", "v1")),
			applyStep(DeleteOp("task", "t9")),
			listStep("task", storeRec("t1", "v1")),
			listStep("never"),
		},
	}, {
		name: "kinds are independent",
		steps: []storeStep{
			applyStep(storePut("source", "k", "s"), storePut("task", "k", "t"), storePut("stage", "k", "g")),
			applyStep(DeleteOp("task", "k")),
			listStep("source", storeRec("k", "s")),
			listStep("task"),
			listStep("stage", storeRec("k", "g")),
		},
	}, {
		name: "multi-op apply runs in order",
		steps: []storeStep{
			applyStep(
				storePut("task", "a", "1"),
				storePut("task", "a", "2"),
				storePut("task", "b", "1"),
				DeleteOp("task", "b"),
				DeleteOp("task", "c"),
				storePut("task", "c", "3"),
			),
			listStep("task", storeRec("a", "2"), storeRec("c", "3")),
		},
	}, {
		name: "list is sorted by key",
		steps: []storeStep{
			applyStep(storePut("k", "c", "3"), storePut("k", "a", "1")),
			applyStep(storePut("k", "b", "2"), storePut("k", "a/b", "4"), storePut("k", "B", "5")),
			listStep("k", storeRec("B", "5"), storeRec("a", "1"), storeRec("a/b", "4"), storeRec("b", "2"), storeRec("c", "3")),
		},
	}, {
		name: "empty and binary values",
		steps: []storeStep{
			applyStep(PutOp("k", "nil", nil), PutOp("k", "empty", []byte{}), PutOp("k", "bin", []byte{0, 255, 0})),
			listStep("k", StoreRecord{Key: "bin", Value: []byte{0, 255, 0}}, storeRec("empty", ""), storeRec("nil", "")),
		},
	}, {
		name:  "empty apply is a no-op",
		steps: []storeStep{applyStep(), listStep("k")},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer closeStore(t, s)
			ctx := context.Background()
			for i, step := range tc.steps {
				if step.list == "" {
					if err := s.Apply(ctx, step.ops...); err != nil {
						t.Fatalf("step %d: Apply: %v", i, err)
					}
					continue
				}
				got, err := s.List(ctx, step.list)
				if err != nil {
					t.Fatalf("step %d: List(%q): %v", i, step.list, err)
				}
				if got == nil {
					t.Errorf("step %d: List(%q) returned nil, want a non-nil slice", i, step.list)
				}
				if diff := cmp.Diff(step.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("step %d: List(%q) mismatch (-want +got):\n%s", i, step.list, diff)
				}
			}
		})
	}

	t.Run("values are copied in and out", func(t *testing.T) {
		s := open(t)
		defer closeStore(t, s)
		ctx := context.Background()
		in := []byte("abc")
		if err := s.Apply(ctx, PutOp("k", "x", in)); err != nil {
			t.Fatal(err)
		}
		in[0] = 'X'
		got := mustList(t, s, "k")
		got[0].Value[1] = 'Y'
		got[0].Key = "changed"
		if diff := cmp.Diff([]StoreRecord{storeRec("x", "abc")}, mustList(t, s, "k")); diff != "" {
			t.Errorf("store changed through caller slices (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled context does nothing", func(t *testing.T) {
		s := open(t)
		defer closeStore(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Apply(ctx, storePut("k", "x", "1")); !errors.Is(err, context.Canceled) {
			t.Errorf("Apply with cancelled ctx = %v, want context.Canceled", err)
		}
		if _, err := s.List(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("List with cancelled ctx = %v, want context.Canceled", err)
		}
		if got := mustList(t, s, "k"); len(got) != 0 {
			t.Errorf("cancelled Apply wrote %v", got)
		}
	})

	t.Run("concurrent applies and lists", func(t *testing.T) {
		s := open(t)
		defer closeStore(t, s)
		ctx := context.Background()
		const workers, perWorker = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker*2)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					key := fmt.Sprintf("w%d-%02d", w, i)
					if err := s.Apply(ctx, storePut("a", key, key), storePut("b", key, key)); err != nil {
						errs <- err
					}
					if _, err := s.List(ctx, "a"); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, kind := range []string{"a", "b"} {
			if got := mustList(t, s, kind); len(got) != workers*perWorker {
				t.Errorf("List(%q) has %d records, want %d", kind, len(got), workers*perWorker)
			}
		}
	})
}

func mustList(t *testing.T, s Store, kind string) []StoreRecord {
	t.Helper()
	got, err := s.List(context.Background(), kind)
	if err != nil {
		t.Fatalf("List(%q): %v", kind, err)
	}
	return got
}

func closeStore(t *testing.T, s Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestMemoryStore(t *testing.T) {
	testStore(t, func(*testing.T) Store { return MemoryStore() })
}
