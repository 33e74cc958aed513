package relay

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRelayMemory pulls a growing backlog (DMKIT_RELAY_MEM=<MiB of binlog> to run) and
// samples this process's RSS as the relay files grow: the relay's memory is bounded by
// its buffers and queues, not by the size of what it holds. It prints the samples; it
// asserts no figure (speed and memory are measured, not asserted).
func TestRelayMemory(t *testing.T) {
	var mib int
	if _, err := fmt.Sscan(os.Getenv("DMKIT_RELAY_MEM"), &mib); err != nil || mib <= 0 {
		t.Skip("set DMKIT_RELAY_MEM=<MiB> to measure")
	}
	db := src.DB(t)
	setupSchema(t, db, "rmem")
	if _, err := db.Exec("CREATE TABLE rmem.big (id INT PRIMARY KEY, v MEDIUMTEXT)"); err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, src, "", nil)
	runRelay(t, r)
	type sample struct {
		relayMiB, rssMiB, heapMiB float64
	}
	var samples []sample
	measure := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{dirMiB(t, r.Dir()), rssMiB(), float64(ms.HeapInuse) / (1 << 20)})
	}
	written := 0
	for id := 0; written < mib<<20; id += 50 {
		q := "INSERT INTO rmem.big (id, v) VALUES "
		for j := id; j < id+50; j++ {
			if j > id {
				q += ","
			}
			q += fmt.Sprintf("(%d, REPEAT(CHAR(65 + %d %% 26), 8000))", j, j)
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
		written += 50 * 8000
		if id%5000 == 0 {
			measure()
		}
	}
	waitCatchUp(t, r)
	measure()
	peak := 0.0
	for _, s := range samples {
		peak = max(peak, s.rssMiB)
	}
	t.Logf("relay MiB | process RSS MiB | Go heap in use MiB")
	step := max(len(samples)/8, 1)
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		t.Logf("%9.0f | %15.1f | %18.1f", s.relayMiB, s.rssMiB, s.heapMiB)
	}
	last := samples[len(samples)-1]
	t.Logf("%9.0f | %15.1f | %18.1f (end; peak RSS %.1f MiB)", last.relayMiB, last.rssMiB, last.heapMiB, peak)
}

func dirMiB(t *testing.T, dir string) float64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return float64(n) / (1 << 20)
}

func rssMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
