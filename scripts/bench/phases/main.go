// Command phases times dmkit's full-migration data path one phase at a time, for
// scripts/bench.sh (PHASES=1): the dumper alone (no concurrent load), then the loader alone
// on that dump, once per loader variant, so the cost of each setting can be told apart
// from the pipelined task's total. It uses the dumper and loader packages directly, the
// same code a task runs, with the task's defaults unless a variant says otherwise.
//
//	go run ./scripts/bench/phases -src 127.0.0.1:3306 -dst 127.0.0.1:3307 -user u -password p \
//	    -schema sbtest -dir /tmp/dump -threads 4 -runs 3 -variants replace,error,error+nobinlog
//
// A variant is an on_duplicate mode (replace, error, ignore) followed by modifiers joined
// with "+": nobinlog (the loader's sessions SET sql_log_bin=0), nouniq (unique_checks=0),
// batchN (N MiB per transaction; DM's default is 1), keepidx (tables created with every
// index instead of the task's deferred plain secondary indexes). Every load starts from an empty
// target: the schema and the loader's meta schema are dropped first.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dmkit/dmkit/dumper"
	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/loader"
)

// options are the parsed command-line flags.
type options struct {
	src, dst, user, password, schema, dir, variants string
	threads, runs                                   int
	dstPID                                          int // target mariadbd, for its CPU seconds
	pipelined                                       bool
	cpuProfile                                      string // file-name prefix of Go CPU profiles; "" = none
}

// variant is one loader configuration to time.
type variant struct {
	name        string
	onDuplicate string
	batchBytes  int
	params      map[string]string
	keepIndexes bool // +keepidx: create tables with every index (no Config.DeferIndexes)
}

func main() {
	var o options
	flag.StringVar(&o.src, "src", "", "source `host:port`")
	flag.StringVar(&o.dst, "dst", "", "target `host:port`")
	flag.StringVar(&o.user, "user", "root", "user on both servers")
	flag.StringVar(&o.password, "password", "", "password on both servers")
	flag.StringVar(&o.schema, "schema", "sbtest", "schema to dump and load")
	flag.StringVar(&o.dir, "dir", "", "dump `directory` (created)")
	flag.StringVar(&o.variants, "variants", "replace,error", "comma-separated loader `variants`")
	flag.IntVar(&o.threads, "threads", 4, "export and import threads")
	flag.IntVar(&o.runs, "runs", 1, "loads per variant (interleaved)")
	flag.IntVar(&o.dstPID, "dstpid", 0, "`pid` of the target mariadbd on this machine: also report its CPU seconds per load")
	flag.BoolVar(&o.pipelined, "pipelined", true, "also time the dumper and loader pipelined as a full task runs them, once per run")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write Go CPU profiles of the first dump, load and pipelined run to `prefix`-dump.pprof, -load-VARIANT.pprof, -pipelined.pprof")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "phases:", err)
		os.Exit(1)
	}
}

func parseVariant(s string) (variant, error) {
	parts := strings.Split(s, "+")
	v := variant{name: s, onDuplicate: parts[0], params: map[string]string{}}
	switch v.onDuplicate {
	case loader.OnDuplicateReplace, "error", "ignore":
	default:
		return v, fmt.Errorf("variant %q: on_duplicate %q is unknown; use replace, error or ignore", s, v.onDuplicate)
	}
	for _, m := range parts[1:] {
		switch {
		case m == "nobinlog":
			v.params["sql_log_bin"] = "0"
		case m == "nouniq":
			v.params["unique_checks"] = "0"
		case m == "keepidx":
			v.keepIndexes = true
		case strings.HasPrefix(m, "batch"):
			n, err := strconv.Atoi(strings.TrimPrefix(m, "batch"))
			if err != nil || n <= 0 {
				return v, fmt.Errorf("variant %q: %q must be batchN with N MiB > 0", s, m)
			}
			v.batchBytes = n << 20
		default:
			return v, fmt.Errorf("variant %q: modifier %q is unknown; use nobinlog, nouniq, keepidx or batchN", s, m)
		}
	}
	return v, nil
}

func run(ctx context.Context, o options) error {
	if o.src == "" || o.dst == "" || o.dir == "" {
		return fmt.Errorf("-src, -dst and -dir are required")
	}
	var variants []variant
	for _, s := range strings.Split(o.variants, ",") {
		v, err := parseVariant(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		variants = append(variants, v)
	}
	src, err := dbconn.ParseAddr(o.src, o.user, o.password)
	if err != nil {
		return err
	}
	dst, err := dbconn.ParseAddr(o.dst, o.user, o.password)
	if err != nil {
		return err
	}

	d, err := dumper.New(dumper.Config{
		Source:  src,
		Dir:     o.dir,
		Threads: o.threads,
		Tables:  func(schema, _ string) bool { return schema == o.schema },
	})
	if err != nil {
		return fmt.Errorf("dumper: %w", err)
	}
	stopProfile := startProfile(o, "dump")
	self0 := procCPU(os.Getpid())
	start := time.Now()
	_, err = d.Run(ctx)
	dumpSecs := time.Since(start).Seconds()
	dumpCPU := procCPU(os.Getpid()) - self0
	stopProfile()
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	size, err := dirSize(o.dir)
	if err != nil {
		return err
	}
	fmt.Printf("dumper alone: %.2f s, %.1f MiB of files (%.1f MiB/s), %d threads, phases CPU %.2f s\n",
		dumpSecs, float64(size)/(1<<20), float64(size)/(1<<20)/dumpSecs, o.threads, dumpCPU)

	admin, err := dbconn.Open(ctx, dst, "")
	if err != nil {
		return fmt.Errorf("connect to the target: %w", err)
	}
	defer admin.Close()
	times := make([][]float64, len(variants))
	cpus := make([][]float64, len(variants))  // target CPU seconds per load (with -dstpid)
	selfs := make([][]float64, len(variants)) // this process's (the loader's) CPU seconds per load
	for r := 0; r < o.runs; r++ {
		for i, v := range variants {
			stopProfile := func() {}
			if r == 0 {
				stopProfile = startProfile(o, "load-"+v.name)
			}
			cpu0, self0 := procCPU(o.dstPID), procCPU(os.Getpid())
			secs, err := load(ctx, admin, dst, o, v)
			stopProfile()
			if err != nil {
				return fmt.Errorf("load %s (run %d): %w", v.name, r+1, err)
			}
			cpu, self := procCPU(o.dstPID)-cpu0, procCPU(os.Getpid())-self0
			times[i] = append(times[i], secs)
			cpus[i] = append(cpus[i], cpu)
			selfs[i] = append(selfs[i], self)
			fmt.Printf("  run %d %-28s %.2f s, target CPU %.2f s, loader CPU %.2f s\n", r+1, v.name, secs, cpu, self)
		}
		if o.pipelined {
			stopProfile := func() {}
			if r == 0 {
				stopProfile = startProfile(o, "pipelined")
			}
			err := pipelined(ctx, admin, src, dst, o)
			stopProfile()
			if err != nil {
				return fmt.Errorf("pipelined run %d: %w", r+1, err)
			}
		}
	}
	fmt.Printf("loader alone, %d threads (%d runs each):\n", o.threads, o.runs)
	fmt.Printf("  %-28s %8s %8s %10s %14s %17s\n", "variant", "min s", "median s", "MiB/s(med)", "dst CPU s(med)", "loader CPU s(med)")
	for i, v := range variants {
		fmt.Printf("  %-28s %8.2f %8.2f %10.1f %14.2f %17.2f\n", v.name, slices.Min(times[i]), median(times[i]),
			float64(size)/(1<<20)/median(times[i]), median(cpus[i]), median(selfs[i]))
	}
	return nil
}

// startProfile starts a Go CPU profile into -cpuprofile's prefix + "-" + name + ".pprof"
// and returns its stop; without -cpuprofile both do nothing. A profile that cannot be
// written is reported and skipped: it must not fail the timing.
func startProfile(o options, name string) func() {
	if o.cpuProfile == "" {
		return func() {}
	}
	f, err := os.Create(o.cpuProfile + "-" + name + ".pprof")
	if err != nil {
		fmt.Fprintln(os.Stderr, "phases: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "phases: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// median is the lower middle value of v.
func median(v []float64) float64 {
	t := slices.Clone(v)
	slices.Sort(t)
	return t[(len(t)-1)/2]
}

// procCPU is the user+system CPU seconds of process pid so far (Linux /proc, clock ticks
// of 100 Hz, the kernel's USER_HZ); 0 without a pid or on error.
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// load drops the target schema and the loader's checkpoints, then loads the dump once
// with variant v and returns the seconds it took.
func load(ctx context.Context, admin *sql.DB, dst dbconn.Config, o options, v variant) (float64, error) {
	if err := resetTarget(ctx, admin, o); err != nil {
		return 0, err
	}
	target := dst
	target.Params = v.params
	l, err := loader.New(loader.Config{
		Target:      target,
		Dir:         o.dir,
		Threads:     o.threads,
		OnDuplicate: v.onDuplicate,
		MetaSchema:  benchMeta,
		Task:        "phases",
		Source:      "src",
		BatchBytes:  v.batchBytes,
		// As a task loads (dm/units_full.go), unless the variant says keepidx.
		DeferIndexes: !v.keepIndexes,
	})
	if err != nil {
		return 0, fmt.Errorf("loader: %w", err)
	}
	defer l.Close()
	start := time.Now()
	if err := l.LoadDir(ctx); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

func dirSize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read dump dir: %w", err)
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return 0, fmt.Errorf("stat %s: %w", e.Name(), err)
		}
		n += info.Size()
	}
	return n, nil
}

// benchMeta is the loader's meta schema in every phase.
const benchMeta = "bench_phases_meta"

// resetTarget drops the benchmark's own schema and the phases' meta schema on the target,
// so every load starts from an empty target.
func resetTarget(ctx context.Context, admin *sql.DB, o options) error {
	for _, q := range []string{
		"DROP DATABASE IF EXISTS `" + o.schema + "`",
		"DROP DATABASE IF EXISTS `" + benchMeta + "`",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
