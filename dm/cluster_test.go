package dm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dmkit/dmkit/internal/mysqltest"
)

// stepUnit is a control-plane test unit: it runs until released, failed or cancelled, so
// tests can drive a subtask through its stages. It moves no data.
type stepUnit struct {
	typ     string
	mu      sync.Mutex
	release chan struct{}
	fail    chan error
	runs    int
}

func (u *stepUnit) Type() string                              { return u.typ }
func (u *stepUnit) IsFresh(ctx context.Context) (bool, error) { return true, nil }
func (u *stepUnit) Status() any {
	switch u.typ {
	case UnitSync:
		return &SyncStatus{BinlogType: "remote"}
	case UnitLoad:
		return &LoadStatus{Progress: "0.00 %"}
	}
	return &DumpStatus{Progress: "0.00 %"}
}
func (u *stepUnit) Close() error { return nil }
func (u *stepUnit) Run(ctx context.Context) error {
	u.mu.Lock()
	u.runs++
	u.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-u.release:
		return nil
	case err := <-u.fail:
		return err
	}
}

// stepUnits hands out stepUnits and remembers them by task/source.
type stepUnits struct {
	mu    sync.Mutex
	units map[string][]*stepUnit
}

func (f *stepUnits) factory(ctx context.Context, cfg *SubtaskConfig) ([]Unit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.units == nil {
		f.units = map[string][]*stepUnit{}
	}
	var out []Unit
	var mine []*stepUnit
	for _, typ := range modeUnits(cfg.Task.TaskMode) {
		u := &stepUnit{typ: typ, release: make(chan struct{}), fail: make(chan error, 1)}
		out = append(out, u)
		mine = append(mine, u)
	}
	f.units[cfg.Task.Name+"/"+cfg.Source.SourceName] = mine
	return out, nil
}

func (f *stepUnits) get(task, source string) []*stepUnit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.units[task+"/"+source]
}

// newTestCluster opens an in-memory cluster with step units.
func newTestCluster(t *testing.T, workers ...string) (*Cluster, *stepUnits) {
	t.Helper()
	su := &stepUnits{}
	c, err := Open(testCtx(t), Config{Store: MemoryStore(), Workers: workers, Units: su.factory, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, su
}

// wantCode fails t unless err is a *Error with code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error code %d, got success", code)
	}
	if got := ErrorCode(err); got != code {
		t.Fatalf("want error code %d, got %d: %v", code, got, err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterMembers(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)

	info, err := c.ClusterInfo(ctx)
	mustOK(t, err)
	if info.ClusterID == 0 || info.Topology != nil {
		t.Fatalf("fresh cluster info = %+v, want an id and no topology", info)
	}
	topo := &ClusterTopology{MasterTopologyList: []HostPortName{{Name: "master1", Host: "10.0.0.1", Port: 8261}}}
	info2, err := c.UpdateClusterTopology(ctx, topo)
	mustOK(t, err)
	if info2.ClusterID != info.ClusterID || !cmp.Equal(info2.Topology, topo) {
		t.Fatalf("after topology update: %+v", info2)
	}
	_, err = c.UpdateClusterTopology(ctx, &ClusterTopology{WorkerTopologyList: []HostPortName{{Name: "w", Port: 0}}})
	wantCode(t, err, CodeInvalidRequest)

	masters, err := c.ListMasters(ctx)
	mustOK(t, err)
	if masters.Total != 1 || !masters.Data[0].Leader || !masters.Data[0].Alive {
		t.Fatalf("masters = %+v", masters)
	}
	wantCode(t, c.OfflineMaster(ctx, "nope"), CodeMasterNotFound)
	wantCode(t, c.OfflineMaster(ctx, "master1"), CodeOpenAPICommon)

	workers, err := c.ListWorkers(ctx)
	mustOK(t, err)
	want := []ClusterWorker{
		{Name: "worker1", Addr: "127.0.0.1:8261", BoundStage: WorkerFree},
		{Name: "worker2", Addr: "127.0.0.1:8261", BoundStage: WorkerFree},
	}
	if diff := cmp.Diff(want, workers.Data); diff != "" {
		t.Fatalf("workers (-want +got):\n%s", diff)
	}
	wantCode(t, c.OfflineWorker(ctx, "worker1"), CodeWorkerOnline)
	wantCode(t, c.OfflineWorker(ctx, "nope"), CodeWorkerNotFound)
}

func TestOfflineWorkerAfterReconfigure(t *testing.T) {
	ctx := testCtx(t)
	store := MemoryStore()
	c, err := Open(ctx, Config{Store: store, Workers: []string{"a", "b"}})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("s1", testSrc), WorkerName: "b"})
	mustOK(t, err)
	c.cancel()
	c.wg.Wait() // stop the workers without closing the shared store

	c2, err := Open(ctx, Config{Store: store, Workers: []string{"a", "c"}})
	mustOK(t, err)
	defer c2.Close()
	ws, err := c2.ListWorkers(ctx)
	mustOK(t, err)
	got := map[string]ClusterWorker{}
	for _, w := range ws.Data {
		got[w.Name] = w
	}
	if got["b"].BoundStage != WorkerOffline || got["b"].BoundSourceName != "" {
		t.Fatalf("worker b = %+v, want offline and unbound", got["b"])
	}
	if got["a"].BoundSourceName != "s1" {
		t.Fatalf("source s1 should have moved to worker a: %+v", ws.Data)
	}
	mustOK(t, c2.OfflineWorker(ctx, "b"))
	wantCode(t, c2.OfflineWorker(ctx, "b"), CodeWorkerNotFound)
}

func TestOpenValidatesConfig(t *testing.T) {
	ctx := testCtx(t)
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("Open without a store succeeded")
	}
	if _, err := Open(ctx, Config{Store: MemoryStore(), Workers: []string{"a", "a"}}); err == nil {
		t.Fatal("Open with a duplicate worker succeeded")
	}
	if _, err := Open(ctx, Config{Store: MemoryStore(), Workers: []string{"bad name"}}); err == nil {
		t.Fatal("Open with an invalid worker name succeeded")
	}
}

func TestCreateSourceValidation(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	long := strings.Repeat("x", 33)
	bad := func(mut func(s *Source)) *Source {
		s := sourceFor("ok", testSrc)
		mut(s)
		return s
	}
	tests := []struct {
		name string
		req  CreateSourceRequest
		code int
	}{
		{"no source", CreateSourceRequest{}, CodeInvalidRequest},
		{"empty name", CreateSourceRequest{Source: bad(func(s *Source) { s.SourceName = "" })}, CodeEmptySourceID},
		{"long name", CreateSourceRequest{Source: bad(func(s *Source) { s.SourceName = long })}, CodeSourceIDTooLong},
		{"unsafe name", CreateSourceRequest{Source: bad(func(s *Source) { s.SourceName = "a`b" })}, CodeInvalidRequest},
		{"no host", CreateSourceRequest{Source: bad(func(s *Source) { s.Host = "" })}, CodeInvalidRequest},
		{"bad port", CreateSourceRequest{Source: bad(func(s *Source) { s.Port = 70000 })}, CodeInvalidRequest},
		{"no user", CreateSourceRequest{Source: bad(func(s *Source) { s.User = "" })}, CodeInvalidRequest},
		{"bad flavor", CreateSourceRequest{Source: bad(func(s *Source) { s.Flavor = "oracle" })}, CodeFlavorNotSupported},
		{"negative purge", CreateSourceRequest{Source: bad(func(s *Source) { s.Purge = &Purge{Interval: int64Ptr(-1)} })}, CodeInvalidRequest},
		{"bad relay binlog", CreateSourceRequest{Source: bad(func(s *Source) {
			s.RelayConfig = &RelayConfig{RelayBinlogName: strPtr("../../etc/passwd")}
		})}, CodeBadRelayBinlogName},
		{"relay dir outside the data dir", CreateSourceRequest{Source: bad(func(s *Source) {
			s.RelayConfig = &RelayConfig{RelayDir: strPtr("/etc/relay")}
		})}, CodeInvalidRequest},
		{"bad relay gtid", CreateSourceRequest{Source: bad(func(s *Source) {
			s.RelayConfig = &RelayConfig{RelayBinlogGTID: strPtr("not-a-gtid")}
		})}, CodeInvalidRequest},
		{"wrong password", CreateSourceRequest{Source: bad(func(s *Source) { s.Password = strPtr("wrong") })}, CodeDBDriver},
		{"unknown worker", CreateSourceRequest{Source: sourceFor("ok", testSrc), WorkerName: "nope"}, CodeWorkerNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateSource(ctx, tt.req)
			wantCode(t, err, tt.code)
		})
	}
	list, err := c.ListSources(ctx, ListSourcesOptions{})
	mustOK(t, err)
	if list.Total != 0 {
		t.Fatalf("failed creates left sources behind: %+v", list)
	}
}

func TestSourceLifecycle(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)

	req := sourceFor("mysql-01", testSrc)
	created, err := c.CreateSource(ctx, CreateSourceRequest{Source: req})
	mustOK(t, err)
	if *created.Password != maskedPassword || !*created.Enable || created.Flavor != "mariadb" {
		t.Fatalf("create answered %+v", created)
	}
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: req})
	wantCode(t, err, CodeSourceExists)

	got, err := c.GetSource(ctx, "mysql-01", true)
	mustOK(t, err)
	if *got.Password != maskedPassword || got.Purge == nil || *got.Purge.Interval != 3600 || got.RelayConfig == nil {
		t.Fatalf("get = %+v", got)
	}
	if got.StatusList == nil || len(*got.StatusList) != 1 || (*got.StatusList)[0].WorkerName != "worker1" || got.TaskNameList == nil {
		t.Fatalf("status = %+v, tasks = %v", got.StatusList, got.TaskNameList)
	}
	_, err = c.GetSource(ctx, "nope", false)
	var de *Error
	if !errors.As(err, &de) || de.HTTPStatus() != 404 || de.Code != CodeSourceNotFound {
		t.Fatalf("get unknown: %v", err)
	}
	plain, err := c.GetSource(ctx, "mysql-01", false)
	mustOK(t, err)
	if plain.StatusList != nil || plain.TaskNameList != nil {
		t.Fatalf("without status: %+v", plain)
	}

	// A second source takes worker2; a third has no free worker and stays unbound.
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("mysql-02", testSrc)})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("mysql-03", testSrc)})
	mustOK(t, err)
	st, err := c.SourceStatus(ctx, "mysql-03")
	mustOK(t, err)
	if st.Total != 1 || st.Data[0].WorkerName != "" {
		t.Fatalf("unbound status = %+v", st)
	}
	wantCode(t, c.EnableSource(ctx, "mysql-03"), CodeNoSourceInWorker)
	_, err = c.SourceStatus(ctx, "nope")
	wantCode(t, err, CodeSourceNotFound)
	list, err := c.ListSources(ctx, ListSourcesOptions{WithStatus: true})
	mustOK(t, err)
	if list.Total != 3 || len(list.Data) != 3 {
		t.Fatalf("list = %+v", list)
	}
	for _, s := range list.Data {
		if *s.Password != maskedPassword {
			t.Fatalf("password leaked in list: %+v", s)
		}
	}
	noRelay, err := c.ListSources(ctx, ListSourcesOptions{EnableRelay: boolPtr(true)})
	mustOK(t, err)
	if noRelay.Total != 0 {
		t.Fatalf("enable_relay=true filter = %+v", noRelay)
	}

	// Update: omitted password and enable keep the stored values; renames are refused.
	upd := sourceFor("mysql-01", testSrc)
	upd.Password = nil
	_, err = c.UpdateSource(ctx, "mysql-01", UpdateSourceRequest{Source: upd})
	mustOK(t, err)
	upd.Password = strPtr(maskedPassword)
	_, err = c.UpdateSource(ctx, "mysql-01", UpdateSourceRequest{Source: upd})
	mustOK(t, err)
	_, err = c.UpdateSource(ctx, "mysql-01", UpdateSourceRequest{Source: sourceFor("other", testSrc)})
	wantCode(t, err, CodeInvalidRequest)
	_, err = c.UpdateSource(ctx, "nope", UpdateSourceRequest{Source: sourceFor("nope", testSrc)})
	wantCode(t, err, CodeSourceNotFound)
	bad := sourceFor("mysql-01", testSrc)
	bad.Password = strPtr("wrong")
	_, err = c.UpdateSource(ctx, "mysql-01", UpdateSourceRequest{Source: bad})
	wantCode(t, err, CodeDBDriver)

	// Disable frees the worker, which the waiting mysql-03 takes; enabling mysql-01 then
	// needs a free worker again.
	mustOK(t, c.DisableSource(ctx, "mysql-01"))
	got, _ = c.GetSource(ctx, "mysql-01", false)
	if *got.Enable {
		t.Fatal("source still enabled after disable")
	}
	ws, _ := c.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "mysql-03" {
		t.Fatalf("the freed worker did not bind the waiting source: %+v", ws.Data)
	}
	mustOK(t, c.DisableSource(ctx, "mysql-01")) // no-op
	wantCode(t, c.EnableSource(ctx, "mysql-01"), CodeNoSourceInWorker)
	wantCode(t, c.TransferSource(ctx, "mysql-01", WorkerNameRequest{WorkerName: "worker1"}), CodeInvalidRequest)
	mustOK(t, c.DisableSource(ctx, "mysql-03"))
	mustOK(t, c.EnableSource(ctx, "mysql-01"))
	got, _ = c.GetSource(ctx, "mysql-01", false)
	if !*got.Enable {
		t.Fatal("source disabled after enable")
	}
	wantCode(t, c.EnableSource(ctx, "nope"), CodeSourceNotFound)
	mustOK(t, c.DeleteSource(ctx, "mysql-03", false))
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("mysql-03", testSrc)})
	mustOK(t, err)

	// Transfer.
	wantCode(t, c.TransferSource(ctx, "mysql-01", WorkerNameRequest{WorkerName: "nope"}), CodeWorkerNotFound)
	wantCode(t, c.TransferSource(ctx, "mysql-01", WorkerNameRequest{WorkerName: "worker2"}), CodeWorkerBadStage)
	wantCode(t, c.TransferSource(ctx, "nope", WorkerNameRequest{WorkerName: "worker2"}), CodeSourceNotFound)
	mustOK(t, c.TransferSource(ctx, "mysql-01", WorkerNameRequest{WorkerName: "worker1"})) // already there
	mustOK(t, c.DeleteSource(ctx, "mysql-02", false))
	// worker2 was freed and picked up the unbound mysql-03.
	ws, _ = c.ListWorkers(ctx)
	if ws.Data[1].BoundSourceName != "mysql-03" {
		t.Fatalf("freed worker did not bind the unbound source: %+v", ws.Data)
	}
	mustOK(t, c.DeleteSource(ctx, "mysql-03", false))
	mustOK(t, c.TransferSource(ctx, "mysql-01", WorkerNameRequest{WorkerName: "worker2"}))
	ws, _ = c.ListWorkers(ctx)
	if ws.Data[0].BoundStage != WorkerFree || ws.Data[1].BoundSourceName != "mysql-01" {
		t.Fatalf("after transfer: %+v", ws.Data)
	}

	// Relay bookkeeping.
	wantCode(t, c.PurgeRelay(ctx, "mysql-01", PurgeRelayRequest{RelayBinlogName: "mysql-bin.000001"}), CodeOpenAPICommon)
	mustOK(t, c.EnableRelay(ctx, "mysql-01", EnableRelayRequest{}))
	wantCode(t, c.EnableRelay(ctx, "mysql-01", EnableRelayRequest{WorkerNameList: []string{"nope"}}), CodeWorkerNotFound)
	relayOn, _ := c.ListSources(ctx, ListSourcesOptions{EnableRelay: boolPtr(true)})
	if relayOn.Total != 1 {
		t.Fatalf("enable_relay=true filter after enable = %+v", relayOn)
	}
	wantCode(t, c.DeleteSource(ctx, "mysql-01", false), CodeSourceHasRelayWorkers)
	_, err = c.UpdateSource(ctx, "mysql-01", UpdateSourceRequest{Source: sourceFor("mysql-01", testSrc)})
	wantCode(t, err, CodeSourceUpdateBlocked)
	wantCode(t, c.PurgeRelay(ctx, "mysql-01", PurgeRelayRequest{RelayBinlogName: "bad name"}), CodeBadRelayBinlogName)
	mustOK(t, c.DisableRelay(ctx, "mysql-01", DisableRelayRequest{}))

	// Schemas and tables come from the live server.
	testSrc.Exec(t, "CREATE DATABASE IF NOT EXISTS `lifecycle-db`")
	testSrc.Exec(t, "CREATE TABLE IF NOT EXISTS `lifecycle-db`.`t``1` (id INT PRIMARY KEY)")
	testSrc.Exec(t, "CREATE OR REPLACE VIEW `lifecycle-db`.v AS SELECT 1")
	schemas, err := c.SourceSchemas(ctx, "mysql-01")
	mustOK(t, err)
	// Issue 11: system schemas are left out.
	if !containsStr(schemas, "lifecycle-db") || containsStr(schemas, "mysql") || containsStr(schemas, "information_schema") {
		t.Fatalf("schemas = %v", schemas)
	}
	tables, err := c.SourceTables(ctx, "mysql-01", "lifecycle-db")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"t`1"}, tables); diff != "" {
		t.Fatalf("tables (-want +got):\n%s", diff)
	}
	_, err = c.SourceTables(ctx, "nope", "x")
	wantCode(t, err, CodeSourceNotFound)

	mustOK(t, c.DeleteSource(ctx, "mysql-01", false))
	wantCode(t, c.DeleteSource(ctx, "mysql-01", false), CodeSourceNotFound)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fullTask is a task over the given sources, migrating schema db.
func fullTask(name, mode string, db string, sources ...string) *Task {
	t := &Task{Name: name, TaskMode: mode, OnDuplicate: "replace", TargetConfig: targetFor(testDst),
		IgnoreCheckingItems: []string{"all"}}
	for _, s := range sources {
		t.SourceConfig.SourceConf = append(t.SourceConfig.SourceConf, TaskSourceConf{SourceName: s})
		t.TableMigrateRule = append(t.TableMigrateRule, TaskTableMigrateRule{Source: TaskTableMigrateRuleSource{SourceName: s, Schema: db}})
	}
	return t
}

func taskStage(t *testing.T, c *Cluster, task string) []SubTaskStatus {
	t.Helper()
	st, err := c.TaskStatus(testCtx(t), task, nil)
	mustOK(t, err)
	return st.Data
}

func waitStage(t *testing.T, c *Cluster, task, stage, unit string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("task %s to reach %s/%s", task, stage, unit), func() bool {
		for _, s := range taskStage(t, c, task) {
			if s.Stage != stage || (unit != "" && s.Unit != unit) {
				return false
			}
		}
		return true
	})
}

func TestTaskLifecycle(t *testing.T) {
	ctx := testCtx(t)
	c, su := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)

	task := fullTask("task-1", ModeFull, "lifecycle", "src1")
	task.TargetConfig.Password = testDst.Password
	resp, err := c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)
	if resp.Task.TargetConfig.Password != maskedPassword || resp.Task.MetaSchema != "dm_meta" {
		t.Fatalf("create answered %+v", resp.Task)
	}
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	wantCode(t, err, CodeTaskExists)

	got, err := c.GetTask(ctx, "task-1", true)
	mustOK(t, err)
	if got.TargetConfig.Password != maskedPassword || got.StatusList == nil || (*got.StatusList)[0].Stage != StageStopped {
		t.Fatalf("get = %+v", got)
	}
	_, err = c.GetTask(ctx, "nope", false)
	wantCode(t, err, CodeTaskNotFound)

	// Start → Running in the Dump unit; the dump unit finishing moves on to Load.
	mustOK(t, c.StartTask(ctx, "task-1", StartTaskRequest{}))
	waitStage(t, c, "task-1", StageRunning, UnitDump)
	units := su.get("task-1", "src1")
	close(units[0].release)
	waitStage(t, c, "task-1", StageRunning, UnitLoad)
	st := taskStage(t, c, "task-1")[0]
	if st.LoadStatus == nil || st.DumpStatus != nil || st.WorkerName != "worker1" {
		t.Fatalf("status in load = %+v", st)
	}

	// Running tasks cannot be updated or deleted without force.
	_, err = c.UpdateTask(ctx, "task-1", CreateTaskRequest{Task: task})
	wantCode(t, err, CodeTaskUpdateBlocked)
	wantCode(t, c.DeleteTask(ctx, "task-1", DeleteTaskOptions{}), CodeOpenAPICommon)

	// Stop → Paused (unit kept); list by stage.
	mustOK(t, c.StopTask(ctx, "task-1", StopTaskRequest{}))
	waitStage(t, c, "task-1", StagePaused, UnitLoad)
	paused, err := c.ListTasks(ctx, ListTasksOptions{Stage: StagePaused})
	mustOK(t, err)
	running, err := c.ListTasks(ctx, ListTasksOptions{Stage: StageRunning})
	mustOK(t, err)
	if paused.Total != 1 || running.Total != 0 || paused.Data[0].StatusList != nil {
		t.Fatalf("stage filter: paused=%+v running=%+v", paused, running)
	}
	_, err = c.ListTasks(ctx, ListTasksOptions{Stage: "running"})
	wantCode(t, err, CodeInvalidRequest)
	bySrc, _ := c.ListTasks(ctx, ListTasksOptions{SourceNameList: []string{"src1"}})
	none, _ := c.ListTasks(ctx, ListTasksOptions{SourceNameList: []string{"src1", "x"}})
	if bySrc.Total != 1 || none.Total != 0 {
		t.Fatalf("source filter: %d %d", bySrc.Total, none.Total)
	}

	// Update while stopped: rules may change, the mode may not.
	upd := fullTask("task-1", ModeFull, "other_db", "src1")
	upd.TargetConfig.Password = maskedPassword
	_, err = c.UpdateTask(ctx, "task-1", CreateTaskRequest{Task: upd})
	mustOK(t, err)
	got, _ = c.GetTask(ctx, "task-1", false)
	if got.TableMigrateRule[0].Source.Schema != "other_db" {
		t.Fatalf("update not applied: %+v", got.TableMigrateRule)
	}
	bad := fullTask("task-1", ModeAll, "other_db", "src1")
	_, err = c.UpdateTask(ctx, "task-1", CreateTaskRequest{Task: bad})
	wantCode(t, err, CodeTaskUpdateBlocked)
	_, err = c.UpdateTask(ctx, "nope", CreateTaskRequest{Task: fullTask("nope", ModeFull, "x", "src1")})
	wantCode(t, err, CodeTaskNotFound)

	// Resume: a fresh start runs the rebuilt units; finishing both makes the task Finished.
	mustOK(t, c.StartTask(ctx, "task-1", StartTaskRequest{}))
	waitStage(t, c, "task-1", StageRunning, "")
	units = su.get("task-1", "src1")
	close(units[0].release)
	close(units[1].release)
	waitStage(t, c, "task-1", StageFinished, UnitLoad)

	// A failing unit pauses the subtask with its error.
	mustOK(t, c.StartTask(ctx, "task-1", StartTaskRequest{}))
	waitFor(t, "units rebuilt", func() bool {
		u := su.get("task-1", "src1")
		return len(u) > 0 && u[0] != units[0]
	})
	units = su.get("task-1", "src1")
	units[0].fail <- errors.New("boom: disk full")
	waitStage(t, c, "task-1", StagePaused, UnitDump)
	if msg := taskStage(t, c, "task-1")[0].ErrorMsg; !strings.Contains(msg, "boom: disk full") {
		t.Fatalf("error_msg = %q", msg)
	}

	// Disabling the source blocks start; enabling resumes.
	mustOK(t, c.StopTask(ctx, "task-1", StopTaskRequest{}))
	mustOK(t, c.DisableSource(ctx, "src1"))
	wantCode(t, c.StartTask(ctx, "task-1", StartTaskRequest{}), CodeSourceDisabled)
	mustOK(t, c.EnableSource(ctx, "src1"))
	waitStage(t, c, "task-1", StageRunning, "")

	// Source delete refuses while the task exists.
	wantCode(t, c.DeleteSource(ctx, "src1", false), CodeSourceHasTasks)
	mustOK(t, c.DeleteTask(ctx, "task-1", DeleteTaskOptions{Force: true}))
	wantCode(t, c.DeleteTask(ctx, "task-1", DeleteTaskOptions{}), CodeTaskNotFound)
	_, err = c.TaskStatus(ctx, "task-1", nil)
	wantCode(t, err, CodeTaskNotFound)
	mustOK(t, c.DeleteSource(ctx, "src1", false))
}

func TestTaskCreateValidation(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	mk := func(mut func(t *Task)) *Task {
		t := fullTask("t1", ModeFull, "db", "src1")
		mut(t)
		return t
	}
	tests := []struct {
		name string
		task *Task
		code int
	}{
		{"nil", nil, CodeInvalidRequest},
		{"no name", mk(func(t *Task) { t.Name = "" }), CodeInvalidRequest},
		{"unsafe name", mk(func(t *Task) { t.Name = "a/../b" }), CodeInvalidRequest},
		{"long name", mk(func(t *Task) { t.Name = strings.Repeat("n", 47) }), CodeInvalidRequest},
		{"bad mode", mk(func(t *Task) { t.TaskMode = "everything" }), CodeInvalidRequest},
		{"bad shard mode", mk(func(t *Task) { t.ShardMode = "chaos" }), CodeInvalidRequest},
		{"bad on_duplicate", mk(func(t *Task) { t.OnDuplicate = "merge" }), CodeInvalidRequest},
		{"strict without optimistic", mk(func(t *Task) { t.StrictOptimisticShardMode = boolPtr(true) }), CodeStrictOptimistic},
		{"bad timezone", mk(func(t *Task) { t.Timezone = "Mars/Olympus" }), CodeInvalidTimezone},
		{"system timezone", mk(func(t *Task) { t.Timezone = "SYSTEM" }), CodeInvalidTimezone},
		{"offset out of range", mk(func(t *Task) { t.Timezone = "+15:00" }), CodeInvalidTimezone},
		{"no target host", mk(func(t *Task) { t.TargetConfig.Host = "" }), CodeInvalidRequest},
		{"bad fk checks", mk(func(t *Task) { t.TargetConfig.Session = &SessionCfg{ForeignKeyChecks: "2"} }), CodeInvalidRequest},
		{"no sources", mk(func(t *Task) { t.SourceConfig.SourceConf = nil }), CodeInvalidRequest},
		{"duplicate source", mk(func(t *Task) {
			t.SourceConfig.SourceConf = append(t.SourceConfig.SourceConf, t.SourceConfig.SourceConf[0])
		}), CodeInvalidRequest},
		{"unknown source", mk(func(t *Task) { t.SourceConfig.SourceConf[0].SourceName = "ghost" }), CodeSourceNotFound},
		{"zero threads", mk(func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{ExportThreads: intPtr(0)} }), CodeInvalidRequest},
		{"bad consistency", mk(func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{Consistency: "maybe"} }), CodeInvalidRequest},
		{"physical import", mk(func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{ImportMode: "physical"} }), CodeInvalidRequest},
		{"empty full security", mk(func(t *Task) { t.SourceConfig.FullMigrateConf = &TaskFullMigrateConf{Security: &Security{}} }), CodeOpenAPICommon},
		{"bad repl batch", mk(func(t *Task) { t.SourceConfig.IncrMigrateConf = &TaskIncrMigrateConf{ReplBatch: intPtr(-1)} }), CodeInvalidRequest},
		{"unknown filter rule", mk(func(t *Task) { t.TableMigrateRule[0].BinlogFilterRule = []string{"nope"} }), CodeOpenAPICommon},
		{"bad ignore_sql", mk(func(t *Task) {
			t.BinlogFilterRule = map[string]TaskBinLogFilterRule{"r": {IgnoreSQL: []string{"("}}}
		}), CodeInvalidRequest},
		{"wildcard target", mk(func(t *Task) { t.TableMigrateRule[0].Target = &TaskTableMigrateRuleTarget{Schema: "db*"} }), CodeInvalidRequest},
		{"unreachable target", mk(func(t *Task) { t.TargetConfig.Port = 1 }), CodeDBDriver},
		{"wrong target password", mk(func(t *Task) { t.TargetConfig.Password = "wrong" }), CodeDBDriver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateTask(ctx, CreateTaskRequest{Task: tt.task})
			wantCode(t, err, tt.code)
		})
	}
	list, _ := c.ListTasks(ctx, ListTasksOptions{})
	if list.Total != 0 {
		t.Fatalf("failed creates left tasks behind: %+v", list)
	}
	// Incremental tasks need a position or a start time.
	inc := fullTask("inc", ModeIncremental, "db", "src1")
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: inc})
	mustOK(t, err)
	wantCode(t, c.StartTask(ctx, "inc", StartTaskRequest{}), CodeIncrementalNeedsMeta)
	wantCode(t, c.StartTask(ctx, "inc", StartTaskRequest{StartTime: strPtr("yesterday")}), 0)
	wantCode(t, c.StartTask(ctx, "inc", StartTaskRequest{SourceNameList: []string{"other"}}), CodeSourceNotFound)
	wantCode(t, c.StopTask(ctx, "inc", StopTaskRequest{TimeoutDuration: strPtr("soon")}), 0)
	wantCode(t, c.StopTask(ctx, "inc", StopTaskRequest{SourceNameList: []string{"other"}}), CodeSourcesNotInTask)
	wantCode(t, c.StopTask(ctx, "nope", StopTaskRequest{SourceNameList: []string{"src1"}}), CodeSubtasksNotFound)
	wantCode(t, c.StartTask(ctx, "nope", StartTaskRequest{}), CodeTaskNotFound)
}

func TestTaskNeedsBoundSource(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t, "only")
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("a", testSrc)})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("b", testSrc)})
	mustOK(t, err)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("t", ModeFull, "db", "a", "b")})
	wantCode(t, err, CodeSourcesNotBound)
}

func TestTaskTemplates(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)

	tpl := fullTask("tpl-1", ModeAll, "db", "src1")
	got, err := c.CreateTaskTemplate(ctx, tpl)
	mustOK(t, err)
	if got.TargetConfig.Password != maskedPassword {
		t.Fatalf("template password not masked: %+v", got.TargetConfig)
	}
	_, err = c.CreateTaskTemplate(ctx, tpl)
	wantCode(t, err, CodeTemplateExists)
	_, err = c.GetTaskTemplate(ctx, "nope")
	wantCode(t, err, CodeTemplateNotFound)
	upd := fullTask("tpl-1", ModeFull, "db", "src1")
	upd.TargetConfig.Password = maskedPassword
	got, err = c.UpdateTaskTemplate(ctx, "tpl-1", upd)
	mustOK(t, err)
	if got.TaskMode != ModeFull {
		t.Fatalf("template update not applied: %+v", got)
	}
	_, err = c.UpdateTaskTemplate(ctx, "nope", fullTask("nope", ModeFull, "db", "src1"))
	wantCode(t, err, CodeTemplateNotFound)
	_, err = c.CreateTaskTemplate(ctx, fullTask("bad", "bogus", "db", "src1"))
	wantCode(t, err, CodeInvalidRequest)
	// Issue 11: a template naming a source that does not exist is refused.
	_, err = c.CreateTaskTemplate(ctx, fullTask("ghost", ModeFull, "db", "no-such-source"))
	wantCode(t, err, CodeSourceNotFound)

	// Import: one real task becomes a template; importing twice fails without overwrite.
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("real", ModeFull, "db", "src1")})
	mustOK(t, err)
	imp, err := c.ImportTaskTemplates(ctx, TaskTemplateRequest{})
	mustOK(t, err)
	if diff := cmp.Diff([]string{"real"}, imp.SuccessTaskList); diff != "" || len(imp.FailedTaskList) != 0 {
		t.Fatalf("import: %+v", imp)
	}
	imp, err = c.ImportTaskTemplates(ctx, TaskTemplateRequest{})
	mustOK(t, err)
	if len(imp.SuccessTaskList) != 0 || len(imp.FailedTaskList) != 1 || !strings.Contains(imp.FailedTaskList[0].ErrorMsg, "already exist") {
		t.Fatalf("second import: %+v", imp)
	}
	imp, err = c.ImportTaskTemplates(ctx, TaskTemplateRequest{Overwrite: true})
	mustOK(t, err)
	if len(imp.SuccessTaskList) != 1 {
		t.Fatalf("overwrite import: %+v", imp)
	}
	list, err := c.ListTaskTemplates(ctx)
	mustOK(t, err)
	if list.Total != 2 {
		t.Fatalf("templates = %+v", list)
	}
	mustOK(t, c.DeleteTaskTemplate(ctx, "tpl-1"))
	mustOK(t, c.DeleteTaskTemplate(ctx, "tpl-1"))
	list, _ = c.ListTaskTemplates(ctx)
	if list.Total != 1 {
		t.Fatalf("after delete: %+v", list)
	}
}

func TestTaskSchemaEndpoints(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	testSrc.Exec(t, "CREATE DATABASE IF NOT EXISTS shard_1")
	testSrc.Exec(t, "CREATE DATABASE IF NOT EXISTS shard_2")
	testSrc.Exec(t, "CREATE DATABASE IF NOT EXISTS unrelated")
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS shard_1.orders (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE IF NOT EXISTS shard_2.orders (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE IF NOT EXISTS shard_1.skipme (id INT PRIMARY KEY)",
		"CREATE TABLE IF NOT EXISTS unrelated.x (id INT PRIMARY KEY)",
	} {
		testSrc.Exec(t, q)
	}
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	task := fullTask("merge", ModeAll, "", "src1")
	task.TableMigrateRule = []TaskTableMigrateRule{{
		Source: TaskTableMigrateRuleSource{SourceName: "src1", Schema: "shard_*", Table: "orders"},
		Target: &TaskTableMigrateRuleTarget{Schema: "merged", Table: "all_orders"},
	}}
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: task})
	mustOK(t, err)

	targets, err := c.TaskMigrateTargets(ctx, "merge", "src1", "", "")
	mustOK(t, err)
	want := []TaskMigrateTarget{
		{SourceSchema: "shard_1", SourceTable: "orders", TargetSchema: "merged", TargetTable: "all_orders"},
		{SourceSchema: "shard_2", SourceTable: "orders", TargetSchema: "merged", TargetTable: "all_orders"},
	}
	if diff := cmp.Diff(want, targets.Data); diff != "" || targets.Total != 2 {
		t.Fatalf("migrate targets (-want +got):\n%s", diff)
	}
	filtered, err := c.TaskMigrateTargets(ctx, "merge", "src1", "_2$", "")
	mustOK(t, err)
	if filtered.Total != 1 || filtered.Data[0].SourceSchema != "shard_2" {
		t.Fatalf("filtered = %+v", filtered)
	}
	_, err = c.TaskMigrateTargets(ctx, "merge", "src1", "(", "")
	wantCode(t, err, CodeInvalidRequest)
	_, err = c.TaskMigrateTargets(ctx, "nope", "src1", "", "")
	wantCode(t, err, CodeTaskNotFound)

	schemas, err := c.TaskSchemas(ctx, "merge", "src1")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"shard_1", "shard_2"}, schemas); diff != "" {
		t.Fatalf("schemas (-want +got):\n%s", diff)
	}
	tables, err := c.TaskTables(ctx, "merge", "src1", "shard_1")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"orders"}, tables); diff != "" {
		t.Fatalf("tables (-want +got):\n%s", diff)
	}

	ts, err := c.TaskTableStructure(ctx, "merge", "src1", "shard_1", "orders")
	mustOK(t, err)
	if !strings.HasPrefix(ts.SchemaCreateSQL, "CREATE TABLE `orders`") || strings.Contains(ts.SchemaCreateSQL, "\n") {
		t.Fatalf("table structure = %q", ts.SchemaCreateSQL)
	}
	_, err = c.TaskTableStructure(ctx, "merge", "src1", "shard_1", "skipme")
	wantCode(t, err, CodeOpenAPICommon)

	// Set from SQL: names are forced to the path's.
	newSQL := "CREATE TABLE whatever.other (id INT PRIMARY KEY, v VARCHAR(20), extra INT)"
	mustOK(t, c.SetTaskTableStructure(ctx, "merge", "src1", "shard_1", "orders", SetTableStructureRequest{SQLContent: &newSQL}))
	ts, err = c.TaskTableStructure(ctx, "merge", "src1", "shard_1", "orders")
	mustOK(t, err)
	if !strings.Contains(ts.SchemaCreateSQL, "`shard_1`.`orders`") || !strings.Contains(ts.SchemaCreateSQL, "`extra`") {
		t.Fatalf("set structure not used: %q", ts.SchemaCreateSQL)
	}
	setErrs := []struct {
		name string
		req  SetTableStructureRequest
		code int
	}{
		{"empty body", SetTableStructureRequest{}, CodeOpenAPICommon},
		{"upstream with sql", SetTableStructureRequest{SchemaSource: "upstream", SQLContent: strPtr("")}, CodeOpenAPICommon},
		{"bad source", SetTableStructureRequest{SchemaSource: "elsewhere"}, CodeInvalidRequest},
		{"not create table", SetTableStructureRequest{SQLContent: strPtr("DROP TABLE x")}, CodeOpenAPICommon},
		{"two statements", SetTableStructureRequest{SQLContent: strPtr("CREATE TABLE a (id INT); CREATE TABLE b (id INT)")}, CodeOpenAPICommon},
	}
	for _, tt := range setErrs {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, c.SetTaskTableStructure(ctx, "merge", "src1", "shard_1", "orders", tt.req), tt.code)
		})
	}
	mustOK(t, c.SetTaskTableStructure(ctx, "merge", "src1", "shard_2", "orders", SetTableStructureRequest{SchemaSource: "upstream"}))
	mustOK(t, c.DeleteTaskTableStructure(ctx, "merge", "src1", "shard_1", "orders"))
	ts, err = c.TaskTableStructure(ctx, "merge", "src1", "shard_1", "orders")
	mustOK(t, err)
	if strings.Contains(ts.SchemaCreateSQL, "extra") {
		t.Fatalf("deleted structure still used: %q", ts.SchemaCreateSQL)
	}
	// Deleting the task drops its stored schemas.
	mustOK(t, c.DeleteTask(ctx, "merge", DeleteTaskOptions{}))
	if n := len(tableSchemaOverrides(c.read(), "merge", "src1")); n != 0 {
		t.Fatalf("%d table schemas survived the task", n)
	}
}

func TestClusterReopensFromStore(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	store, err := OpenFileStore(dir)
	mustOK(t, err)
	c, err := Open(ctx, Config{Store: store})
	mustOK(t, err)
	info, _ := c.ClusterInfo(ctx)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("persist", ModeFull, "db", "src1")})
	mustOK(t, err)
	_, err = c.CreateTaskTemplate(ctx, fullTask("tpl", ModeFull, "db", "src1"))
	mustOK(t, err)
	mustOK(t, c.StopTask(ctx, "persist", StopTaskRequest{}))
	mustOK(t, c.Close())

	store2, err := OpenFileStore(dir)
	mustOK(t, err)
	c2, err := Open(ctx, Config{Store: store2})
	mustOK(t, err)
	defer c2.Close()
	info2, _ := c2.ClusterInfo(ctx)
	if info2.ClusterID != info.ClusterID {
		t.Fatalf("cluster id changed across reopen: %d → %d", info.ClusterID, info2.ClusterID)
	}
	if _, err := c2.GetSource(ctx, "src1", false); err != nil {
		t.Fatal(err)
	}
	got, err := c2.GetTask(ctx, "persist", false)
	mustOK(t, err)
	if got.TaskMode != ModeFull {
		t.Fatalf("task after reopen = %+v", got)
	}
	if _, err := c2.GetTaskTemplate(ctx, "tpl"); err != nil {
		t.Fatal(err)
	}
	ws, _ := c2.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "src1" {
		t.Fatalf("binding lost across reopen: %+v", ws.Data)
	}
}

func TestCreateSourceRefusesBadBinlogSettings(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	statement := lazyServer(t, "sourcecheck-statement", mysqltest.Options{
		ExtraArgs: []string{"--binlog-format=STATEMENT", "--binlog-row-image=MINIMAL"},
	})
	noBinlog := lazyServer(t, "sourcecheck-nobinlog", mysqltest.Options{SkipLogBin: true})
	tests := []struct {
		name   string
		server *mysqltest.Server
		want   []string
	}{
		{"statement format", statement, []string{"binlog_format", "STATEMENT", "ROW", "binlog_row_image", "FULL"}},
		{"binlog off", noBinlog, []string{"log_bin", "OFF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("bad-src", tt.server)})
			wantCode(t, err, CodeSourceCheckFailed)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// The same check guards updates.
			_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("good-src", testSrc)})
			mustOK(t, err)
			_, err = c.UpdateSource(ctx, "good-src", UpdateSourceRequest{Source: sourceFor("good-src", tt.server)})
			wantCode(t, err, CodeSourceCheckFailed)
			mustOK(t, c.DeleteSource(ctx, "good-src", false))
		})
	}
}

func TestConvertTask(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	task := fullTask("conv", ModeAll, "db", "src1")
	resp, err := c.ConvertTask(ctx, ConverterTaskRequest{Task: task})
	mustOK(t, err)
	if !strings.Contains(resp.TaskConfigFile, "task-mode: all") || resp.Task.Name != "conv" {
		t.Fatalf("task → YAML = %+v", resp)
	}
	back, err := c.ConvertTask(ctx, ConverterTaskRequest{TaskConfigFile: &resp.TaskConfigFile})
	mustOK(t, err)
	if back.TaskConfigFile != resp.TaskConfigFile {
		t.Fatalf("YAML round trip changed:\n%s\nvs\n%s", resp.TaskConfigFile, back.TaskConfigFile)
	}
	_, err = c.ConvertTask(ctx, ConverterTaskRequest{})
	wantCode(t, err, CodeOpenAPICommon)
	_, err = c.ConvertTask(ctx, ConverterTaskRequest{Task: fullTask("conv", ModeAll, "db", "ghost")})
	wantCode(t, err, CodeConverterSourceNotFound)
	_, err = c.ConvertTask(ctx, ConverterTaskRequest{TaskConfigFile: strPtr("name: [unclosed")})
	if err == nil {
		t.Fatal("bad YAML converted")
	}
}

func TestRelayBookkeeping(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t, "w1", "w2", "w3")
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("a", testSrc), WorkerName: "w1"})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("b", testSrc), WorkerName: "w2"})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("c", testSrc), WorkerName: "w2"})
	wantCode(t, err, CodeWorkerNotFree)

	// Relay of a on the free w3 moves w3 to the relay stage; w3 then can't serve b.
	mustOK(t, c.EnableRelay(ctx, "a", EnableRelayRequest{WorkerNameList: []string{"w3"}}))
	ws, _ := c.ListWorkers(ctx)
	if ws.Data[2].BoundStage != WorkerRelay {
		t.Fatalf("w3 = %+v", ws.Data[2])
	}
	wantCode(t, c.EnableRelay(ctx, "b", EnableRelayRequest{WorkerNameList: []string{"w3"}}), CodeRelayWorkerBusy)
	wantCode(t, c.EnableRelay(ctx, "b", EnableRelayRequest{WorkerNameList: []string{"w1"}}), CodeRelayWorkerBoundOther)
	wantCode(t, c.DisableRelay(ctx, "b", DisableRelayRequest{WorkerNameList: []string{"w3"}}), CodeRelayWorkerOther)
	wantCode(t, c.TransferSource(ctx, "b", WorkerNameRequest{WorkerName: "w3"}), CodeTransferRelayOther)
	st, err := c.SourceStatus(ctx, "a")
	mustOK(t, err)
	if st.Total != 2 || st.Data[0].WorkerName != "w3" || st.Data[0].RelayStatus == nil || st.Data[1].WorkerName != "w1" {
		t.Fatalf("status of a = %+v", st)
	}
	waitFor(t, "relay of a running on w3", func() bool {
		st, err := c.SourceStatus(ctx, "a")
		return err == nil && st.Data[0].RelayStatus.Stage == StageRunning && st.Data[0].RelayStatus.RelayDir != ""
	})
	mustOK(t, c.PurgeRelay(ctx, "a", PurgeRelayRequest{RelayBinlogName: "mysql-bin.000001"}))
	wantCode(t, c.PurgeRelay(ctx, "a", PurgeRelayRequest{RelayBinlogName: "mysql-bin.000001", RelayDir: strPtr("nope.000001")}), CodeOpenAPICommon)
	// Relay on two workers of one source: one entry per worker, each its own relay.
	mustOK(t, c.EnableRelay(ctx, "a", EnableRelayRequest{WorkerNameList: []string{"w1"}}))
	waitFor(t, "relay of a running on w1 and w3", func() bool {
		st, err := c.SourceStatus(ctx, "a")
		if err != nil || st.Total != 2 {
			return false
		}
		for _, d := range st.Data {
			if d.RelayStatus == nil || d.RelayStatus.Stage != StageRunning || !d.RelayStatus.RelayCatchUpMaster {
				return false
			}
		}
		return true
	})
	mustOK(t, c.DisableRelay(ctx, "a", DisableRelayRequest{WorkerNameList: []string{"w1"}}))
	// A relay error (a binlog the source does not have) pauses relay with the cause.
	missing := "mysql-bin.999999"
	mustOK(t, c.EnableRelay(ctx, "b", EnableRelayRequest{RelayBinlogName: &missing}))
	waitFor(t, "relay of b paused by the missing binlog", func() bool {
		st, err := c.SourceStatus(ctx, "b")
		return err == nil && st.Data[0].RelayStatus != nil && st.Data[0].RelayStatus.Stage == StagePaused &&
			strings.Contains(st.Data[0].ErrorMsg, "mysql-bin.999999")
	})
	mustOK(t, c.DisableRelay(ctx, "b", DisableRelayRequest{}))
	wantCode(t, c.EnableRelay(ctx, "a", EnableRelayRequest{WorkerNameList: []string{"w3"}, RelayDir: strPtr("/etc/relay")}), CodeInvalidRequest)
	wantCode(t, c.EnableRelay(ctx, "a", EnableRelayRequest{WorkerNameList: []string{"w3"}, RelayBinlogGTID: strPtr("garbage")}), CodeInvalidRequest)
	mustOK(t, c.DisableRelay(ctx, "a", DisableRelayRequest{WorkerNameList: []string{"w3"}}))
	wantCode(t, c.DisableRelay(ctx, "a", DisableRelayRequest{WorkerNameList: []string{"ghost"}}), CodeWorkerNotFound)
	wantCode(t, c.EnableRelay(ctx, "ghost", EnableRelayRequest{}), CodeSourceNotFound)

	// Relay enabled by configuration cannot be toggled per worker.
	src := sourceFor("auto", testSrc)
	src.RelayConfig = &RelayConfig{EnableRelay: true}
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: src})
	mustOK(t, err)
	wantCode(t, c.EnableRelay(ctx, "auto", EnableRelayRequest{}), CodeRelayAutoStart)
	wantCode(t, c.DisableRelay(ctx, "auto", DisableRelayRequest{}), CodeRelayAutoStop)
}

func TestFinishedSurvivesRestart(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	store, err := OpenFileStore(dir)
	mustOK(t, err)
	su := &stepUnits{}
	c, err := Open(ctx, Config{Store: store, Units: su.factory})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("src1", testSrc)})
	mustOK(t, err)
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("once", ModeDump, "db", "src1")})
	mustOK(t, err)
	mustOK(t, c.StartTask(ctx, "once", StartTaskRequest{}))
	waitStage(t, c, "once", StageRunning, UnitDump)
	close(su.get("once", "src1")[0].release)
	waitStage(t, c, "once", StageFinished, UnitDump)
	mustOK(t, c.Close())

	store2, err := OpenFileStore(dir)
	mustOK(t, err)
	su2 := &stepUnits{}
	c2, err := Open(ctx, Config{Store: store2, Units: su2.factory})
	mustOK(t, err)
	defer c2.Close()
	waitStage(t, c2, "once", StageFinished, UnitDump)
	if u := su2.get("once", "src1"); u != nil {
		t.Fatal("a finished subtask ran again after a restart")
	}
	// A new start runs it again.
	mustOK(t, c2.StartTask(ctx, "once", StartTaskRequest{}))
	waitStage(t, c2, "once", StageRunning, UnitDump)
}

func TestDisabledSourceHoldsNoWorker(t *testing.T) {
	ctx := testCtx(t)
	c, _ := newTestCluster(t, "only")
	off := sourceFor("off", testSrc)
	off.Enable = boolPtr(false)
	_, err := c.CreateSource(ctx, CreateSourceRequest{Source: off})
	mustOK(t, err)
	_, err = c.CreateSource(ctx, CreateSourceRequest{Source: sourceFor("on", testSrc)})
	mustOK(t, err)
	ws, _ := c.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "on" {
		t.Fatalf("the disabled source took the worker: %+v", ws.Data)
	}
	_, err = c.CreateTask(ctx, CreateTaskRequest{Task: fullTask("t-off", ModeFull, "db", "off")})
	wantCode(t, err, CodeSourcesNotBound)
	mustOK(t, c.DisableSource(ctx, "on"))
	mustOK(t, c.EnableSource(ctx, "off"))
	ws, _ = c.ListWorkers(ctx)
	if ws.Data[0].BoundSourceName != "off" {
		t.Fatalf("enable did not bind the source: %+v", ws.Data)
	}
}
