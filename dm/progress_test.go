package dm

import (
	"testing"
	"time"
)

func TestProgressMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	dump := func(done, total float64) SubTaskStatus {
		return SubTaskStatus{Stage: StageRunning, Unit: UnitDump, DumpStatus: &DumpStatus{FinishedRows: done, EstimateTotalRows: total}}
	}
	var m progressMeter
	p := m.sample(t0, dump(0, 1000))
	if p.Unit != UnitDump || p.Measure != "rows" || p.Percent != 0 || p.ETASeconds != nil {
		t.Fatalf("first sample %+v", p)
	}
	p = m.sample(t0.Add(10*time.Second), dump(500, 1000))
	if p.Percent != 50 || p.RatePerSecond != 50 || p.ETASeconds == nil || *p.ETASeconds != 10 {
		t.Fatalf("half way %+v (eta %v)", p, p.ETASeconds)
	}
	// The estimate is refined downwards: percent never goes back.
	p = m.sample(t0.Add(12*time.Second), dump(520, 2000))
	if p.Percent != 50 {
		t.Fatalf("percent went back: %+v", p)
	}
	// Rows beyond the estimate stay under 100 until the unit finishes.
	if p = m.sample(t0.Add(20*time.Second), dump(3000, 2000)); p.Percent != 99.99 {
		t.Fatalf("over the estimate: %+v", p)
	}
	fin := dump(3000, 2000)
	fin.Stage = StageFinished
	if p = m.sample(t0.Add(21*time.Second), fin); p.Percent != 100 || *p.ETASeconds != 0 {
		t.Fatalf("finished: %+v", p)
	}
	// A new unit starts from zero.
	load := SubTaskStatus{Stage: StageRunning, Unit: UnitLoad, LoadStatus: &LoadStatus{FinishedBytes: 10, TotalBytes: 100}}
	if p = m.sample(t0.Add(22*time.Second), load); p.Unit != UnitLoad || p.Percent != 10 || p.RatePerSecond != 0 {
		t.Fatalf("load %+v", p)
	}
	// Sync: bytes behind in one file; unknown across files.
	sync := func(master, syncer string, read uint64, synced bool) SubTaskStatus {
		return SubTaskStatus{Stage: StageRunning, Unit: UnitSync, SyncStatus: &SyncStatus{MasterBinlog: master, SyncerBinlog: syncer, DumpIOTotalBytes: read, Synced: synced, SecondsBehindMaster: 3}}
	}
	m.sample(t0.Add(30*time.Second), sync("(bin.000002, 5000)", "(bin.000002, 1000)", 0, false))
	p = m.sample(t0.Add(32*time.Second), sync("(bin.000002, 5000)", "(bin.000002, 3000)", 2000, false))
	if p.Measure != "bytes_behind" || p.Done != 2000 || p.RatePerSecond != 1000 || *p.ETASeconds != 2 || *p.LagSeconds != 3 || *p.Synced {
		t.Fatalf("sync %+v", p)
	}
	// Across files the bytes behind are unknown: no percent, no ETA.
	if p = m.sample(t0.Add(33*time.Second), sync("(bin.000003, 400)", "(bin.000002, 3000)", 2100, false)); p.Done != 0 || p.Percent != 0 || p.ETASeconds != nil {
		t.Fatalf("across files: %+v", p)
	}
	if p = m.sample(t0.Add(34*time.Second), sync("(bin.000003, 400)", "(bin.000003, 400)", 2500, true)); p.Percent != 100 || *p.ETASeconds != 0 || !*p.Synced {
		t.Fatalf("synced %+v", p)
	}
}

// TestProgressInARealCopy: during a real full copy the progress moves forward in each
// unit and ends at 100 %.
func TestProgressInARealCopy(t *testing.T) {
	testSrc.Exec(t, "DROP DATABASE IF EXISTS progdb")
	testSrc.Exec(t, "CREATE DATABASE progdb")
	testSrc.Exec(t, "CREATE TABLE progdb.t (id INT PRIMARY KEY, v VARCHAR(200))")
	testSrc.Exec(t, "INSERT INTO progdb.t SELECT seq, REPEAT('p', 150) FROM progdb.seq_1_to_60000")
	testSrc.Exec(t, "ANALYZE TABLE progdb.t")
	testDst.Exec(t, "DROP DATABASE IF EXISTS progdb")
	c := newDataCluster(t)
	task := fullTask("prog", ModeFull, "progdb", "src1")
	task.TargetConfig.Password = testDst.Password
	_, err := c.CreateTask(testCtx(t), CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(testCtx(t), "prog", StartTaskRequest{}))

	last := map[string]float64{}
	var final *UnitProgress
	waitFor(t, "the copy to finish", func() bool {
		st := taskStage(t, c, "prog")[0]
		if st.Stage == StagePaused && st.ErrorMsg != "" {
			t.Fatalf("paused: %s", st.ErrorMsg)
		}
		if p := st.Progress; p != nil {
			if p.Percent < last[p.Unit] {
				t.Fatalf("%s progress went back from %.2f to %.2f", p.Unit, last[p.Unit], p.Percent)
			}
			if p.Percent < 100 && p.Percent > 0 && p.Total == 0 {
				t.Fatalf("a percent without a total: %+v", p)
			}
			last[p.Unit] = p.Percent
			final = p
		}
		return st.Stage == StageFinished
	})
	if final == nil || final.Unit != UnitLoad || final.Percent != 100 || final.ETASeconds == nil || *final.ETASeconds != 0 || final.Done != final.Total {
		t.Fatalf("final progress %+v", final)
	}
	compareSchema(t, "progdb", "progdb")
}
