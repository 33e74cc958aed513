package dm

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Verification through the Cluster against real servers (verifyrun.go, verifyhooks.go).

// verifyColumns cover utf8mb4 text, NULLs, floats, JSON and blobs.
const verifyColumns = "id INT NOT NULL, txt VARCHAR(100), nul VARCHAR(10), f FLOAT, d DOUBLE, j JSON, b BLOB"

// seedVerify creates schema on the source with a keyed table k and a keyless table n of
// rows rows each.
func seedVerify(t *testing.T, schema string, rows int) {
	t.Helper()
	q := "`" + schema + "`"
	testSrc.Exec(t, "DROP DATABASE IF EXISTS "+q)
	testDst.Exec(t, "DROP DATABASE IF EXISTS "+q)
	testSrc.Exec(t, "CREATE DATABASE "+q+" CHARACTER SET utf8mb4")
	testSrc.Exec(t, "CREATE TABLE "+q+".k ("+verifyColumns+", PRIMARY KEY (id))")
	testSrc.Exec(t, "CREATE TABLE "+q+".n ("+verifyColumns+")")
	for _, tbl := range []string{"k", "n"} {
		testSrc.Exec(t, "INSERT INTO "+q+"."+tbl+" SELECT seq, CONCAT('héllo 🌍 ', seq), IF(seq % 3 = 0, NULL, ''), seq / 7, seq / 3, "+
			"CONCAT('{\"n\": ', seq, '}'), UNHEX(LPAD(HEX(seq), 8, '0')) FROM "+q+".seq_1_to_"+fmt.Sprint(rows))
	}
}

// waitVerified waits for the subtask's verification of trigger to finish and returns it.
func waitVerified(t *testing.T, c *Cluster, task, trigger string) *VerifyStatus {
	t.Helper()
	var got *VerifyStatus
	waitFor(t, "verification of "+task, func() bool {
		res, err := c.TaskVerify(testCtx(t), task)
		mustOK(t, err)
		if len(res.Data) == 0 {
			return false
		}
		got = res.Data[0].VerifyStatus
		return got != nil && got.Trigger == trigger && got.Stage != VerifyRunning
	})
	return got
}

// found lists a status's mismatches as "table kind [key]".
func found(st *VerifyStatus) []string {
	var out []string
	for _, m := range st.Mismatches {
		out = append(out, fmt.Sprintf("%s %s [%s]", m.TargetTable, m.Kind, strings.Join(m.Key, ",")))
	}
	slices.Sort(out)
	return out
}

func TestVerifyAfterFullCopyIsClean(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vclean", 3000)
	task := fullTask("vclean", ModeFull, "vclean", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, "vclean")
	compareSchema(t, "vclean", "vclean")
	st := taskStage(t, c, "vclean")[0].VerifyStatus
	if st == nil || st.Stage != VerifyClean || st.Trigger != VerifyAfterLoad || st.CheckedTables != 2 ||
		st.SourceRows != 6000 || st.TargetRows != 6000 || st.Position == "" || st.MismatchedRows != 0 {
		t.Fatalf("verify status after a clean full copy = %+v", st)
	}
}

// tamperTarget prepares the target so that the load leaves it different from the source
// in known ways, as changes behind dmkit's back would: an extra row in each table, and
// one-shot BEFORE INSERT triggers that change row 3 (txt), move row 4 to 4000 (a delete
// plus an insert) in k, and change row 5 in the keyless n. One-shot: each fires once per
// id (a control table remembers), so a repair's own writes go through.
func tamperTarget(t *testing.T, schema string) {
	t.Helper()
	q := "`" + schema + "`"
	testDst.Exec(t, "CREATE DATABASE "+q+" CHARACTER SET utf8mb4")
	testDst.Exec(t, "CREATE TABLE "+q+".k ("+verifyColumns+", PRIMARY KEY (id))")
	testDst.Exec(t, "CREATE TABLE "+q+".n ("+verifyColumns+")")
	testDst.Exec(t, "CREATE TABLE "+q+".once (tbl CHAR(1), id INT)")
	testDst.Exec(t, "INSERT INTO "+q+".once VALUES ('k', 3), ('k', 4), ('n', 5)")
	testDst.Exec(t, "INSERT INTO "+q+".k (id, txt) VALUES (100000, 'extra')")
	testDst.Exec(t, "INSERT INTO "+q+".n (id, txt, f) VALUES (7, 'extra', 0.5)")
	testDst.Exec(t, "CREATE TRIGGER "+q+".tk BEFORE INSERT ON "+q+".k FOR EACH ROW BEGIN "+
		"IF EXISTS (SELECT 1 FROM "+q+".once WHERE tbl = 'k' AND id = NEW.id) THEN "+
		"DELETE FROM "+q+".once WHERE tbl = 'k' AND id = NEW.id; "+
		"IF NEW.id = 3 THEN SET NEW.txt = 'tampered', NEW.f = NEW.f + 1, NEW.j = '{\"n\": 0}'; ELSE SET NEW.id = 4000; END IF; "+
		"END IF; END")
	testDst.Exec(t, "CREATE TRIGGER "+q+".tn BEFORE INSERT ON "+q+".n FOR EACH ROW BEGIN "+
		"IF EXISTS (SELECT 1 FROM "+q+".once WHERE tbl = 'n' AND id = NEW.id) THEN "+
		"DELETE FROM "+q+".once WHERE tbl = 'n' AND id = NEW.id; SET NEW.b = NULL, NEW.nul = 'x'; END IF; END")
}

func TestVerifyAfterFullCopyFindsDifferences(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vbad", 500)
	tamperTarget(t, "vbad")
	task := fullTask("vbad", ModeFull, "vbad", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "vbad", StartTaskRequest{}))
	var sub SubTaskStatus
	waitFor(t, "the verification to pause the task", func() bool {
		sub = taskStage(t, c, "vbad")[0]
		return sub.Stage == StagePaused && sub.ErrorMsg != ""
	})
	st := sub.VerifyStatus
	if st == nil || st.Stage != VerifyDiffers {
		t.Fatalf("verify status = %+v (error %s)", st, sub.ErrorMsg)
	}
	want := []string{
		"vbad.k changed [3]", "vbad.k extra [100000]", "vbad.k extra [4000]", "vbad.k missing [4]",
		"vbad.n extra []", "vbad.n extra []", "vbad.n missing []",
	}
	if got := found(st); !slices.Equal(got, want) {
		t.Fatalf("mismatches = %q, want %q", got, want)
	}
	for _, key := range []string{"vbad.k changed [3]", "vbad.k missing [4]", "vbad.k extra [100000]"} {
		if !strings.Contains(sub.ErrorMsg, key) {
			t.Errorf("pause error does not name %q: %s", key, sub.ErrorMsg)
		}
	}
	for _, m := range st.Mismatches {
		if m.Kind == "changed" && (m.SourceRow == nil || m.TargetRow == nil || len(m.Columns) != 7) {
			t.Errorf("changed row without both images: %+v", m)
		}
	}
	if sub.Unit != UnitLoad {
		t.Errorf("paused in unit %s, want the load (not finished before verification)", sub.Unit)
	}
}

func TestVerifyAfterFullCopyRepairs(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vfix", 500)
	tamperTarget(t, "vfix")
	task := fullTask("vfix", ModeFull, "vfix", "src1")
	task.Verify = VerifyRepair
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	runToFinish(t, c, "vfix")
	st := taskStage(t, c, "vfix")[0].VerifyStatus
	if st == nil || st.Stage != VerifyRepaired || st.RepairedRows < 7 || len(st.Mismatches) != 7 || !st.Mismatches[0].Repaired {
		t.Fatalf("verify status = %+v", st)
	}
	testDst.Exec(t, "DROP TABLE vfix.once")
	compareSchema(t, "vfix", "vfix")
}

// TestVerifyFullModeSkipsTablesWrittenSinceDump: in mode full the source is read after the
// load; a table the source wrote since the dump is reported skipped, not as a mismatch.
func TestVerifyFullModeSkipsTablesWrittenSinceDump(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vmoved", 200)
	// Slow the load of k down (a target trigger sleeps on its first row), so the source can
	// be written after the dump finished and before the load (and its verification) does.
	testDst.Exec(t, "CREATE DATABASE vmoved")
	testDst.Exec(t, "CREATE TABLE vmoved.k ("+verifyColumns+", PRIMARY KEY (id))")
	testDst.Exec(t, "CREATE TRIGGER vmoved.slow BEFORE INSERT ON vmoved.k FOR EACH ROW BEGIN IF NEW.id = 1 THEN DO SLEEP(1); END IF; END")
	task := fullTask("vmoved", ModeFull, "vmoved", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "vmoved", StartTaskRequest{}))
	waitFor(t, "the dump to finish", func() bool { return taskStage(t, c, "vmoved")[0].Unit == UnitLoad })
	testSrc.Exec(t, "UPDATE vmoved.k SET txt = 'after the dump' WHERE id = 1")
	waitStage(t, c, "vmoved", StageFinished, UnitLoad)
	st := taskStage(t, c, "vmoved")[0].VerifyStatus
	if st == nil || st.Stage != VerifyClean || st.CheckedTables != 1 || len(st.SkippedTables) != 1 ||
		st.SkippedTables[0].SourceTable != "vmoved.k" || !strings.Contains(st.SkippedTables[0].Reason, "after the dump") {
		t.Fatalf("verify status = %+v", st)
	}
}

// TestVerifyAllModeAfterLoad: in mode all the copy is verified at the first consistent
// point of replication; an unrepaired difference pauses the subtask in its sync unit with
// the keys, and checksum+repair repairs it while replication runs on.
func TestVerifyAllModeAfterLoad(t *testing.T) {
	for _, repair := range []bool{false, true} {
		t.Run(fmt.Sprint("repair=", repair), func(t *testing.T) {
			ctx := testCtx(t)
			c := newDataCluster(t)
			seedVerify(t, "vall", 500)
			tamperTarget(t, "vall")
			name := fmt.Sprint("vall-", repair) // own checkpoints per run
			task := fullTask(name, ModeAll, "vall", "src1")
			if repair {
				task.Verify = VerifyRepair
			}
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
			mustOK(t, err)
			mustOK(t, c.StartTask(ctx, name, StartTaskRequest{}))
			testSrc.Exec(t, "INSERT INTO vall.k (id, txt) VALUES (50000, 'replicated')")
			if !repair {
				var sub SubTaskStatus
				waitFor(t, "the verification to pause the task", func() bool {
					sub = taskStage(t, c, name)[0]
					return sub.Stage == StagePaused && sub.ErrorMsg != ""
				})
				if sub.Unit != UnitSync || sub.VerifyStatus == nil || sub.VerifyStatus.Stage != VerifyDiffers ||
					!strings.Contains(sub.ErrorMsg, "vall.k missing [4]") || len(sub.VerifyStatus.Mismatches) != 7 {
					t.Fatalf("paused subtask = %+v, verify %+v", sub, sub.VerifyStatus)
				}
				return
			}
			st := waitVerified(t, c, name, VerifyAfterLoad)
			if st.Stage != VerifyRepaired || len(st.Mismatches) != 7 {
				t.Fatalf("verification = %+v", st)
			}
			waitUnit(t, c, name, UnitSync)
			testDst.Exec(t, "DROP TABLE vall.once")
			waitSame(t, "vall")
		})
	}
}

// TestVerifyOnDemandUnderLoad: a running all-mode task verifies clean after the load;
// rows changed behind its back on the target are found (with keys) by an on-demand
// verification while the source keeps writing other rows — and nothing else is reported —
// and repaired by a second one with repair.
func TestVerifyOnDemandUnderLoad(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vlive", 2000)
	task := fullTask("vlive", ModeAll, "vlive", "src1")
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "vlive", StartTaskRequest{}))
	waitUnit(t, c, "vlive", UnitSync)
	if st := waitVerified(t, c, "vlive", VerifyAfterLoad); st.Stage != VerifyClean || st.CheckedTables != 2 {
		t.Fatalf("after-load verification = %+v", st)
	}

	// A write load on rows the tampering does not touch: ids above 2000 and 100..199.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db := openDB(t, testSrc)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			stmts := []string{
				fmt.Sprintf("INSERT INTO vlive.k (id, txt, f, j) VALUES (%d, 'load', %d.25, '[1]')", 2000+i, i),
				fmt.Sprintf("UPDATE vlive.k SET d = d + 1, b = RANDOM_BYTES(8) WHERE id = %d", 100+i%100),
				fmt.Sprintf("INSERT INTO vlive.n (id, txt) VALUES (%d, 'load')", 2000+i),
				fmt.Sprintf("DELETE FROM vlive.n WHERE id = %d", 100+i%100),
			}
			for _, q := range stmts {
				if _, err := db.Exec(q); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	testDst.Exec(t, "UPDATE vlive.k SET txt = 'tampered 🌎', nul = NULL WHERE id = 5")
	testDst.Exec(t, "DELETE FROM vlive.k WHERE id = 6")
	testDst.Exec(t, "INSERT INTO vlive.k (id, txt) VALUES (900000, 'extra')")
	testDst.Exec(t, "UPDATE vlive.n SET j = '{\"n\": -1}' WHERE id = 7")
	testDst.Exec(t, "INSERT INTO vlive.n (id, txt) VALUES (900000, 'extra')")

	mustOK(t, c.VerifyTask(ctx, "vlive", VerifyTaskRequest{}))
	st := waitVerified(t, c, "vlive", VerifyOnDemand)
	want := []string{"vlive.k changed [5]", "vlive.k extra [900000]", "vlive.k missing [6]", "vlive.n extra []", "vlive.n extra []", "vlive.n missing []"}
	if got := found(st); st.Stage != VerifyDiffers || !slices.Equal(got, want) {
		t.Fatalf("on-demand verification = %s %q, want mismatch %q (%+v)", st.Stage, got, want, st)
	}
	if sub := taskStage(t, c, "vlive")[0]; sub.Stage != StageRunning {
		t.Fatalf("an on-demand mismatch paused the task: %+v", sub)
	}

	repair := true
	mustOK(t, c.VerifyTask(ctx, "vlive", VerifyTaskRequest{Repair: &repair}))
	if st := waitVerified(t, c, "vlive", VerifyOnDemand); st.Stage != VerifyRepaired || st.RepairedRows < 5 {
		t.Fatalf("repairing verification = %+v", st)
	}
	mustOK(t, c.VerifyTask(ctx, "vlive", VerifyTaskRequest{}))
	if st := waitVerified(t, c, "vlive", VerifyOnDemand); st.Stage != VerifyClean {
		t.Fatalf("verification after repair = %s %q", st.Stage, found(st))
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close
	waitSame(t, "vlive")
}

func TestVerifyOnDemandRefusals(t *testing.T) {
	ctx := testCtx(t)
	c := newDataCluster(t)
	seedVerify(t, "vnot", 10)
	_, err := c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("vnot", ModeAll, "vnot", "src1")})
	mustOK(t, err)
	if err := c.VerifyTask(ctx, "vnot", VerifyTaskRequest{}); !isCode(err, CodeVerifyNotRunning) {
		t.Fatalf("verify of a task never started: %v", err)
	}
	if err := c.VerifyTask(ctx, "vnot", VerifyTaskRequest{SourceNameList: []string{"nope"}}); !isCode(err, CodeSourceNotFound) {
		t.Fatalf("verify of an unknown source: %v", err)
	}
	bad := fullTask("vbadmode", ModeAll, "vnot", "src1")
	bad.Verify = "sha256"
	if _, err := c.CreateTask(ctx, CreateTaskRequest{Task: bad}); !isCode(err, CodeInvalidRequest) || !strings.Contains(err.Error(), "checksum+repair") {
		t.Fatalf("create with verify sha256: %v", err)
	}
}

func isCode(err error, code int) bool {
	e, ok := err.(*Error)
	return ok && e.Code == code
}
