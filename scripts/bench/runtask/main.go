// Command runtask starts a dm-server task and waits for it, for scripts/bench.sh: until its
// status says Finished (a full task), or with -until FILE:POS until its syncer is synced at
// or past that binlog position (an incremental catch-up). It times the wait from the start
// request.
//
//	go run ./scripts/bench/runtask -api http://127.0.0.1:8261/api/v1 -task bench-full
//	go run ./scripts/bench/runtask -api … -task bench-incr -until mysql-bin.000003:4711
//
// It prints one line, "wall_seconds dump_done_seconds total_events" (dump "?" when the
// Load unit was never seen), or exits 1 naming the stage and error when the task paused or
// the wait timed out. One Go process polling over a kept-alive connection replaces a curl +
// python3 pair per poll, which cost the shared 2-core machine ~15 % of its CPU while dmkit
// was being timed (the native tools are not polled that way).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// options are the parsed command-line flags.
type options struct {
	api, task string
	every     time.Duration
	untilFile string // "": wait for Finished
	untilPos  int64
	start     bool
}

func main() {
	var o options
	var until string
	flag.StringVar(&o.api, "api", "", "dm-server API base `url` (…/api/v1)")
	flag.StringVar(&o.task, "task", "", "task `name`")
	flag.StringVar(&until, "until", "", "wait until the syncer is synced at or past `file:pos` instead of Finished")
	flag.DurationVar(&o.every, "every", 50*time.Millisecond, "poll `interval`")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this `duration`")
	flag.Parse()
	if o.api == "" || o.task == "" {
		fmt.Fprintln(os.Stderr, "runtask: -api and -task are required")
		os.Exit(2)
	}
	if until != "" {
		i := strings.LastIndexByte(until, ':')
		pos, err := strconv.ParseInt(until[i+1:], 10, 64)
		if i <= 0 || err != nil {
			fmt.Fprintf(os.Stderr, "runtask: -until %q: want file:pos\n", until)
			os.Exit(2)
		}
		o.untilFile, o.untilPos = until[:i], pos
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtask:", err)
		os.Exit(1)
	}
	d := "?"
	if r.dump > 0 {
		d = fmt.Sprintf("%.2f", r.dump.Seconds())
	}
	fmt.Printf("%.2f %s %d\n", r.wall.Seconds(), d, r.events)
}

// status is the part of GET /tasks/{name}/status this tool reads.
type status struct {
	Data []struct {
		Stage      string `json:"stage"`
		Unit       string `json:"unit"`
		ErrorMsg   string `json:"error_msg"`
		SyncStatus *struct {
			Synced       bool   `json:"synced"`
			SyncerBinlog string `json:"syncer_binlog"`
			TotalEvents  int64  `json:"total_events"`
		} `json:"sync_status"`
	} `json:"data"`
}

// result is what a wait measured.
type result struct {
	wall, dump time.Duration
	events     int64
}

// position splits DM's "(file, pos)".
var position = regexp.MustCompile(`^\(\s*([^,]+?)\s*,\s*(\d+)\s*\)$`)

func run(ctx context.Context, o options) (result, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o.api+"/tasks/"+o.task+"/start", nil)
	resp, err := c.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("start task %s: %w", o.task, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return result{}, fmt.Errorf("start task %s: HTTP %d: %s", o.task, resp.StatusCode, body)
	}
	t := time.NewTicker(o.every)
	defer t.Stop()
	var r result
	where := "no status yet"
	for {
		var st status
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.api+"/tasks/"+o.task+"/status", nil)
		resp, err := c.Do(req)
		if err != nil {
			return r, fmt.Errorf("status of task %s: %w", o.task, err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return r, fmt.Errorf("status of task %s: %w", o.task, err)
		}
		if len(st.Data) > 0 {
			s := st.Data[0]
			if s.Unit == "Load" && r.dump == 0 {
				r.dump = time.Since(start)
			}
			if s.Stage == "Paused" {
				return r, fmt.Errorf("task %s paused: %s", o.task, s.ErrorMsg)
			}
			if o.untilFile == "" && s.Stage == "Finished" {
				r.wall = time.Since(start)
				return r, nil
			}
			if ss := s.SyncStatus; o.untilFile != "" && ss != nil {
				where = "syncer at " + ss.SyncerBinlog
				m := position.FindStringSubmatch(ss.SyncerBinlog)
				if m != nil && ss.Synced && m[1] == o.untilFile {
					if pos, _ := strconv.ParseInt(m[2], 10, 64); pos >= o.untilPos {
						r.wall, r.events = time.Since(start), ss.TotalEvents
						return r, nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("task %s not done (%s): %w", o.task, where, ctx.Err())
		case <-t.C:
		}
	}
}
