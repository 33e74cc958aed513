package dm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openTestFileStore(t *testing.T, dir string) *FileStore {
	t.Helper()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatalf("OpenFileStore(%s): %v", dir, err)
	}
	return s
}

func TestFileStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return openTestFileStore(t, t.TempDir()) })
}

func TestFileStoreReopenKeepsEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested") // created by OpenFileStore
	ctx := context.Background()
	s := openTestFileStore(t, dir)
	if err := s.Apply(ctx, storePut("source", "a", "1"), storePut("source", "b", "2"), storePut("task", "t", "3")); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, DeleteOp("source", "a"), storePut("task", "t", "4")); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)
	closeStore(t, s) // idempotent

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %o, want 700", perm)
	}

	s = openTestFileStore(t, dir)
	defer closeStore(t, s)
	want := map[string][]StoreRecord{
		"source": {storeRec("b", "2")},
		"task":   {storeRec("t", "4")},
	}
	for kind, w := range want {
		if diff := cmp.Diff(w, mustList(t, s, kind)); diff != "" {
			t.Errorf("after reopen, List(%q) mismatch (-want +got):\n%s", kind, diff)
		}
	}
}

func TestFileStoreAfterClose(t *testing.T) {
	s := openTestFileStore(t, t.TempDir())
	closeStore(t, s)
	ctx := context.Background()
	if err := s.Apply(ctx, storePut("k", "x", "1")); !errors.Is(err, errStoreClosed) {
		t.Errorf("Apply after Close = %v, want %v", err, errStoreClosed)
	}
	if _, err := s.List(ctx, "k"); !errors.Is(err, errStoreClosed) {
		t.Errorf("List after Close = %v, want %v", err, errStoreClosed)
	}
	closeStore(t, s)
}

func TestFileStoreSecondOpenFailsFast(t *testing.T) {
	dir := t.TempDir()
	s := openTestFileStore(t, dir)
	// A short lock timeout keeps the test quick; OpenFileStore uses the same path.
	_, err := openFileStore(dir, 100*time.Millisecond)
	want := fmt.Sprintf("data dir %s is in use by another dm-server (lock held on %s); stop it or use another --data-dir",
		dir, filepath.Join(dir, "dm.db"))
	if err == nil || err.Error() != want {
		t.Fatalf("second open = %v, want %q", err, want)
	}
	closeStore(t, s)
	s2, err := openFileStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	closeStore(t, s2)
}

func TestFileStoreInvalidOpAppliesNothing(t *testing.T) {
	cases := []struct {
		name string
		op   StoreOp
	}{
		{"empty kind", storePut("", "k", "v")},
		{"empty key", storePut("task", "", "v")},
		{"empty key delete", DeleteOp("task", "")},
		{"key too large", storePut("task", strings.Repeat("k", 40000), "v")},
	}
	s := openTestFileStore(t, t.TempDir())
	defer closeStore(t, s)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Apply(ctx, storePut("task", "ok", "v"), tc.op); err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if got := mustList(t, s, "task"); len(got) != 0 {
				t.Errorf("failed Apply wrote %v", got)
			}
		})
	}
}

// crashChildEnv names the data dir for TestFileStoreCrashChild; when unset that test skips.
const crashChildEnv = "DMKIT_FILESTORE_CRASH_CHILD_DIR"

// crashKey and crashValue name the records of the i-th apply of the crash child. Values are a
// few KiB so every apply touches several pages.
func crashKey(i int) string { return fmt.Sprintf("%08d", i) }

func crashValue(i int) []byte { return bytes.Repeat([]byte(crashKey(i)), 512) }

// crashOps is the i-th apply (from 1) of the crash child: the same record in two kinds, an
// overwrite of a single "last" record and a delete+put pair that keeps exactly one "tail".
// Any torn apply shows up as a mismatch between them.
func crashOps(i int) []StoreOp {
	k, v := crashKey(i), crashValue(i)
	return []StoreOp{
		PutOp("seq", k, v),
		PutOp("mirror", k, v),
		PutOp("meta", "last", []byte(k)),
		DeleteOp("tail", crashKey(i-1)),
		PutOp("tail", k, v),
	}
}

// TestFileStoreCrashChild is the child process of TestFileStoreCrash: it applies crashOps
// in a loop and prints "ack N" after each Apply returns, until it is killed.
func TestFileStoreCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process for TestFileStoreCrash")
	}
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The parent kills us long before the bound; the bound only stops a runaway child.
	for i := 1; i <= 100000; i++ {
		if err := s.Apply(context.Background(), crashOps(i)...); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ack %d\n", i)
	}
	t.Fatal("never killed")
}

// TestFileStoreCrash kills a writer process with SIGKILL after it acknowledged a given
// number of applies, then checks that every acknowledged apply survived and that no apply
// is half present.
//
// The kill follows the ack read by a varying pause so that it lands at different phases of
// the next apply (page writes, either fsync, idle); the assertions hold whatever the pause
// and however fast the disk, so the pause is not a timing threshold.
func TestFileStoreCrash(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("running as the crash child")
	}
	cases := []struct {
		acks  int
		pause time.Duration
	}{
		{1, 0},
		{10, 100 * time.Microsecond},
		{30, 300 * time.Microsecond},
		{100, 0},
		{100, 700 * time.Microsecond},
		{300, 1500 * time.Microsecond},
		{1000, 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("kill %v after %d acks", tc.pause, tc.acks), func(t *testing.T) {
			dir := t.TempDir()
			runCrashChild(t, dir, tc.acks, tc.pause)
			s := openTestFileStore(t, dir)
			defer closeStore(t, s)
			checkCrashStore(t, s, tc.acks)
		})
	}
}

// runCrashChild starts the crash child on dir, reads its acks until it has seen acks of
// them, waits pause and SIGKILLs it.
func runCrashChild(t *testing.T, dir string, acks int, pause time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(stdout)
	for seen < acks && sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d", &n); err != nil {
			continue // test framework output
		}
		if n != seen+1 {
			t.Errorf("child acked %d after %d", n, seen)
		}
		seen = n
	}
	time.Sleep(pause)
	if err := cmd.Process.Kill(); err != nil {
		t.Errorf("kill crash child: %v", err)
	}
	_, _ = io.Copy(io.Discard, stdout) // until the killed child's end of the pipe closes
	_ = cmd.Wait()                     // "signal: killed" is the expected outcome
	if seen < acks {
		t.Fatalf("crash child stopped after %d acks, want %d; stderr:\n%s", seen, acks, stderr.String())
	}
}

// checkCrashStore asserts that the store holds applies 1..n of crashOps, fully, for some
// n >= acks: the child runs ahead of the acks the parent has read, so it may have committed
// more. Values are compared with bytes.Equal, as a diff of thousands of KiB values is slow.
func checkCrashStore(t *testing.T, s Store, acks int) {
	t.Helper()
	n := len(mustList(t, s, "seq"))
	if n < acks {
		t.Fatalf("store has %d applies, but %d were acknowledged", n, acks)
	}
	checkRecords := func(kind string, from int) {
		t.Helper()
		got := mustList(t, s, kind)
		if len(got) != n-from+1 {
			t.Fatalf("List(%q) has %d records, want %d (applies %d..%d)", kind, len(got), n-from+1, from, n)
		}
		for i, r := range got {
			if k := crashKey(from + i); r.Key != k || !bytes.Equal(r.Value, crashValue(from+i)) {
				t.Fatalf("List(%q)[%d] = %q (%d bytes), want apply %s", kind, i, r.Key, len(r.Value), k)
			}
		}
	}
	checkRecords("seq", 1)
	checkRecords("mirror", 1)
	checkRecords("tail", n)
	if diff := cmp.Diff([]StoreRecord{{Key: "last", Value: []byte(crashKey(n))}}, mustList(t, s, "meta")); diff != "" {
		t.Errorf("meta mismatch (-want +got):\n%s", diff)
	}
	t.Logf("%d applies acknowledged, %d committed before the kill", acks, n)
}
