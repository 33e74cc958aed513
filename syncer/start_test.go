package syncer

import (
	"reflect"
	"testing"
)

func TestPlanStart(t *testing.T) {
	loc := func(file string, pos uint32) Location { return Location{File: file, Pos: pos} }
	cp := func(p changePos) *changePos { return &p }
	end := ^uint32(0)
	snap := []byte(`{"t":1}`)
	cfgStart := loc("b.000002", 100)
	master := loc("b.000009", 900)
	timeStart := loc("b.000005", 500)
	until := loc("b.000003", 300)
	// clean: a checkpoint whose workers stopped at the global point.
	clean := &savedState{global: loc("b.000004", 400), workers: 4, snapshot: snap,
		rows: map[int]workerRow{0: {applied: changePos{"b.000004", 400, 2}}, 1: {applied: changePos{"b.000003", 10, 0}}}}
	// crashed: worker 1 applied beyond the global point.
	crashed := &savedState{global: loc("b.000004", 400), workers: 4, snapshot: snap,
		rows: map[int]workerRow{0: {applied: changePos{"b.000004", 400, 2}}, 1: {applied: changePos{"b.000004", 700, 3}}}}
	crashedWindow := map[int]changePos{0: {"b.000004", 400, 2}, 1: {"b.000004", 700, 3}}
	withExit := func(st *savedState, exit Location) *savedState { c := *st; c.exitSafe = exit; return &c }
	withWorkers := func(st *savedState, n int) *savedState { c := *st; c.workers = n; return &c }
	noSnap := withExit(clean, Location{})
	noSnap.snapshot = nil

	for _, tc := range []struct {
		name string
		in   startFacts
		want startPlan
	}{
		{
			name: "start time without checkpoint: seed, replay to the source end",
			in:   startFacts{byTime: true, timeStart: timeStart, master: master, start: cfgStart, workers: 8},
			want: startPlan{kind: startByTime, start: timeStart, fresh: true, seed: true, dropCheckpoint: true,
				safeUntil: cp(changePos{"b.000009", 900, end}), exitSafe: master, workers: 8},
		},
		{
			name: "start time beats the checkpoint and restores its snapshot",
			in:   startFacts{byTime: true, timeStart: timeStart, master: master, saved: crashed, start: cfgStart, workers: 8},
			want: startPlan{kind: startByTime, start: timeStart, fresh: true, snapshot: snap, dropCheckpoint: true,
				safeUntil: cp(changePos{"b.000009", 900, end}), exitSafe: master, workers: 8},
		},
		{
			name: "start time with a checkpoint without snapshot seeds",
			in:   startFacts{byTime: true, timeStart: timeStart, master: master, saved: noSnap, workers: 8},
			want: startPlan{kind: startByTime, start: timeStart, fresh: true, seed: true, dropCheckpoint: true,
				safeUntil: cp(changePos{"b.000009", 900, end}), exitSafe: master, workers: 8},
		},
		{
			name: "clean checkpoint beats Start: no replay window",
			in:   startFacts{saved: clean, start: cfgStart, safeUntil: &until, workers: 8},
			want: startPlan{kind: startFromCheckpoint, start: clean.global, snapshot: snap, workers: 8},
		},
		{
			name: "checkpoint with an empty snapshot restores an empty tracker",
			in:   startFacts{saved: noSnap, workers: 8},
			want: startPlan{kind: startFromCheckpoint, start: clean.global, workers: 8},
		},
		{
			name: "crashed checkpoint: replay to the highest applied change with the old worker count",
			in:   startFacts{saved: crashed, workers: 8},
			want: startPlan{kind: startFromCheckpoint, start: crashed.global, snapshot: snap,
				safeUntil: cp(changePos{"b.000004", 700, 3}), exitSafe: loc("b.000004", 700),
				skipWorkers: 4, skipApplied: crashedWindow, floor: crashedWindow, workers: 4},
		},
		{
			name: "crashed checkpoint with the same worker count",
			in:   startFacts{saved: crashed, workers: 4},
			want: startPlan{kind: startFromCheckpoint, start: crashed.global, snapshot: snap,
				safeUntil: cp(changePos{"b.000004", 700, 3}), exitSafe: loc("b.000004", 700),
				skipWorkers: 4, skipApplied: crashedWindow, floor: crashedWindow, workers: 4},
		},
		{
			name: "crashed checkpoint without a saved worker count keeps the configured one",
			in:   startFacts{saved: withWorkers(crashed, 0), workers: 8},
			want: startPlan{kind: startFromCheckpoint, start: crashed.global, snapshot: snap,
				safeUntil: cp(changePos{"b.000004", 700, 3}), exitSafe: loc("b.000004", 700),
				skipApplied: crashedWindow, floor: crashedWindow, workers: 8},
		},
		{
			name: "saved exit point beyond the applied changes extends the window",
			in:   startFacts{saved: withExit(crashed, loc("b.000005", 50)), workers: 4},
			want: startPlan{kind: startFromCheckpoint, start: crashed.global, snapshot: snap,
				safeUntil: cp(changePos{"b.000005", 50, end}), exitSafe: loc("b.000005", 50),
				skipWorkers: 4, skipApplied: crashedWindow, floor: crashedWindow, workers: 4},
		},
		{
			name: "saved exit point before the applied changes does not shrink the window",
			in:   startFacts{saved: withExit(crashed, loc("b.000004", 600)), workers: 4},
			want: startPlan{kind: startFromCheckpoint, start: crashed.global, snapshot: snap,
				safeUntil: cp(changePos{"b.000004", 700, 3}), exitSafe: loc("b.000004", 700),
				skipWorkers: 4, skipApplied: crashedWindow, floor: crashedWindow, workers: 4},
		},
		{
			name: "saved exit point alone opens a window",
			in:   startFacts{saved: &savedState{global: loc("b.000004", 400), exitSafe: loc("b.000004", 800), workers: 2, rows: map[int]workerRow{}}, workers: 4},
			want: startPlan{kind: startFromCheckpoint, start: loc("b.000004", 400),
				safeUntil: cp(changePos{"b.000004", 800, end}), exitSafe: loc("b.000004", 800),
				skipWorkers: 2, skipApplied: map[int]changePos{}, floor: map[int]changePos{}, workers: 2},
		},
		{
			name: "saved exit point at the global point: no window",
			in:   startFacts{saved: withExit(clean, loc("b.000004", 400)), workers: 4},
			want: startPlan{kind: startFromCheckpoint, start: clean.global, snapshot: snap, workers: 4},
		},
		{
			name: "no checkpoint: Start, seeded",
			in:   startFacts{start: cfgStart, master: master, workers: 8},
			want: startPlan{kind: startFromConfig, start: cfgStart, fresh: true, seed: true, workers: 8},
		},
		{
			name: "no checkpoint: Start with SafeModeUntil",
			in:   startFacts{start: cfgStart, safeUntil: &until, workers: 8},
			want: startPlan{kind: startFromConfig, start: cfgStart, fresh: true, seed: true,
				safeUntil: cp(changePos{"b.000003", 300, end}), exitSafe: until, workers: 8},
		},
		{
			name: "SafeModeUntil without a file is ignored",
			in:   startFacts{start: cfgStart, safeUntil: &Location{GTID: "0-1-5"}, workers: 8},
			want: startPlan{kind: startFromConfig, start: cfgStart, fresh: true, seed: true, workers: 8},
		},
		{
			name: "a GTID-only Start is a Start",
			in:   startFacts{start: Location{GTID: "0-1-5"}, master: master, workers: 8},
			want: startPlan{kind: startFromConfig, start: Location{GTID: "0-1-5"}, fresh: true, seed: true, workers: 8},
		},
		{
			name: "nothing: the source's current end, SafeModeUntil still honoured",
			in:   startFacts{master: master, safeUntil: &until, workers: 8},
			want: startPlan{kind: startAtSourceEnd, start: master, fresh: true, seed: true,
				safeUntil: cp(changePos{"b.000003", 300, end}), exitSafe: until, workers: 8},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planStart(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("planStart(%+v)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestChooseStart(t *testing.T) {
	start := Location{File: "b.000001", Pos: 4}
	for _, tc := range []struct {
		byTime, checkpoint bool
		start              Location
		want               startKind
	}{
		{true, true, start, startByTime},
		{true, false, Location{}, startByTime},
		{false, true, start, startFromCheckpoint},
		{false, true, Location{}, startFromCheckpoint},
		{false, false, start, startFromConfig},
		{false, false, Location{}, startAtSourceEnd},
	} {
		if got := chooseStart(tc.byTime, tc.checkpoint, tc.start); got != tc.want {
			t.Errorf("chooseStart(%v, %v, %v) = %v, want %v", tc.byTime, tc.checkpoint, tc.start, got, tc.want)
		}
	}
}
