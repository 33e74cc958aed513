package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/dmkit/dmkit/dumper"
	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/loader"
)

// Sizes of dm's pipelined full migration (dm/units_full.go: pipelinedFileSize,
// loadBatchBytes), so the pipelined phase measures what a task runs.
const (
	pipeFileSize   = 4 << 20
	pipeBatchBytes = 16 << 20
)

// pipelined runs the dumper and the loader together as a full task does (each data file
// handed to the loader as soon as it is complete) and reports the wall time, when the
// first file reached the loader and when the dump ended. Without dm's control plane it
// tells the data path's own pipelining cost from the task's overhead.
func pipelined(ctx context.Context, admin *sql.DB, src, dst dbconn.Config, o options) error {
	dir, err := freshPipeDir(o)
	if err != nil {
		return err
	}
	defer freshPipeDir(o)
	if err := resetTarget(ctx, admin, o); err != nil {
		return err
	}
	l, err := loader.New(loader.Config{
		Target: dst, Dir: dir, Threads: o.threads, OnDuplicate: loader.OnDuplicateReplace,
		MetaSchema: benchMeta, Task: "phases", Source: "src", BatchBytes: pipeBatchBytes,
		DeferIndexes: true, // as dm/units_full.go loads
	})
	if err != nil {
		return fmt.Errorf("loader: %w", err)
	}
	defer l.Close()
	start := time.Now()
	var firstData atomic.Int64
	files := make(chan string, 256)
	loadDone := make(chan error, 1)
	go func() { loadDone <- l.Run(ctx, files) }()
	d, err := dumper.New(dumper.Config{
		Source: src, Dir: dir, Threads: o.threads, FileSize: pipeFileSize,
		Tables: func(schema, _ string) bool { return schema == o.schema },
		OnFile: func(p string) {
			firstData.CompareAndSwap(0, int64(time.Since(start)))
			select {
			case files <- p:
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		close(files)
		<-loadDone
		return fmt.Errorf("dumper: %w", err)
	}
	cpu0 := procCPU(o.dstPID)
	self0 := procCPU(os.Getpid())
	_, derr := d.Run(ctx)
	dumpEnd := time.Since(start)
	close(files)
	lerr := <-loadDone
	wall := time.Since(start)
	if derr != nil {
		return fmt.Errorf("dump: %w", derr)
	}
	if lerr != nil {
		return fmt.Errorf("load: %w", lerr)
	}
	fmt.Printf("pipelined dump+load (files of %d MiB, %d MiB per transaction): %.2f s, first file after %.2f s, dump done after %.2f s, target CPU %.2f s, phases CPU %.2f s\n",
		pipeFileSize>>20, pipeBatchBytes>>20, wall.Seconds(), time.Duration(firstData.Load()).Seconds(),
		dumpEnd.Seconds(), procCPU(o.dstPID)-cpu0, procCPU(os.Getpid())-self0)
	return nil
}

// freshPipeDir empties the pipelined phase's own dump directory (-dir with "-pipe"
// appended, which this tool alone writes) and returns its path.
func freshPipeDir(o options) (string, error) {
	dir := o.dir + "-pipe"
	return dir, os.RemoveAll(dir)
}
