package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/dmkit/dmkit/dm"
)

// waitTask follows a started task until every subtask has finished its full copy (it
// replicates, or it finished in modes full/dump/load), drawing a progress bar on stderr.
// A subtask that pauses with an error ends the wait with that error.
func waitTask(ctx context.Context, e *env, name string) error {
	bar := progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(e.errOut),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
	)
	defer fmt.Fprintln(e.errOut)
	start := time.Now()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		sts, _, err := subtaskStatus(ctx, e, name, nil)
		if err != nil {
			return err
		}
		done, err := waitState(sts, time.Since(start) > stoppedGrace)
		total := 0.0
		for _, st := range sts {
			total += percent(st)
		}
		if len(sts) > 0 {
			_ = bar.Set(int(total / float64(len(sts)) * 10))
		}
		if err != nil {
			return err
		}
		if done {
			_ = bar.Finish()
			fmt.Fprintf(e.out, "task %s: full copy done\n", name)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting for task %s: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// stoppedGrace is how long a just-started subtask may still report Stopped (the worker
// has not picked up the start yet) before --wait gives up on it.
const stoppedGrace = 10 * time.Second

// waitState says whether every subtask is past its full copy, or why waiting cannot end.
// A Stopped subtask ends the wait only when stoppedFails.
func waitState(sts []dm.SubTaskStatus, stoppedFails bool) (bool, error) {
	if len(sts) == 0 {
		return false, nil
	}
	var paused []string
	done := true
	for _, st := range sts {
		switch {
		case st.Stage == dm.StagePaused && st.ErrorMsg != "":
			paused = append(paused, fmt.Sprintf("%s: %s", st.SourceName, oneLine(st.ErrorMsg)))
		case st.Stage == dm.StageStopped && stoppedFails:
			paused = append(paused, st.SourceName+": stopped")
		case st.Stage == dm.StageFinished:
		case st.Stage == dm.StageRunning && st.Unit == dm.UnitSync:
		default:
			done = false
		}
	}
	if len(paused) > 0 {
		return false, fmt.Errorf("subtasks cannot go on: %s", strings.Join(paused, "; "))
	}
	return done, nil
}
