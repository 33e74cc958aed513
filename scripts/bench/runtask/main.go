// Command runtask starts a dm-server task and waits for it to finish, for scripts/bench.sh:
// it times the task from the start request until its status says Finished, and when its
// subtask first reported the Load unit (the end of the dump).
//
//	go run ./scripts/bench/runtask -api http://127.0.0.1:8261/api/v1 -task bench-full
//
// It prints one line, "wall_seconds dump_done_seconds" (dump "?" when the Load unit was
// never seen), or exits 1 naming the stage and error when the task paused or timed out.
// One Go process polling over a kept-alive connection replaces a curl + python3 pair per
// poll, which cost the shared 2-core machine ~15 % of its CPU while dmkit was being timed
// (the anchor is not polled at all).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	api := flag.String("api", "", "dm-server API base `url` (…/api/v1)")
	task := flag.String("task", "", "task `name`")
	every := flag.Duration("every", 50*time.Millisecond, "poll `interval`")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this `duration`")
	flag.Parse()
	if *api == "" || *task == "" {
		fmt.Fprintln(os.Stderr, "runtask: -api and -task are required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	wall, dump, err := run(ctx, *api, *task, *every)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtask:", err)
		os.Exit(1)
	}
	d := "?"
	if dump > 0 {
		d = fmt.Sprintf("%.2f", dump.Seconds())
	}
	fmt.Printf("%.2f %s\n", wall.Seconds(), d)
}

// status is the part of GET /tasks/{name}/status this tool reads.
type status struct {
	Data []struct {
		Stage    string `json:"stage"`
		Unit     string `json:"unit"`
		ErrorMsg string `json:"error_msg"`
	} `json:"data"`
}

func run(ctx context.Context, api, task string, every time.Duration) (wall, dump time.Duration, err error) {
	c := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+"/tasks/"+task+"/start", nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("start task %s: %w", task, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, 0, fmt.Errorf("start task %s: HTTP %d: %s", task, resp.StatusCode, body)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var st status
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/tasks/"+task+"/status", nil)
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, fmt.Errorf("status of task %s: %w", task, err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("status of task %s: %w", task, err)
		}
		if len(st.Data) > 0 {
			s := st.Data[0]
			if s.Unit == "Load" && dump == 0 {
				dump = time.Since(start)
			}
			switch s.Stage {
			case "Finished":
				return time.Since(start), dump, nil
			case "Paused":
				return 0, 0, fmt.Errorf("task %s paused: %s", task, s.ErrorMsg)
			}
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("task %s not finished: %w", task, ctx.Err())
		case <-t.C:
		}
	}
}
