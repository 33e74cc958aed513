package dm

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds one status read; a scrape never hangs on a busy cluster.
const scrapeTimeout = 5 * time.Second

var subtaskLabels = []string{"task", "source_id", "worker"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// statusCollector reads the cluster's status on every scrape (Config.Metrics). Values are
// the status the API serves, so /metrics and GET /tasks/{name}/status never disagree; see
// metrics/README.md for the list and the design.
type statusCollector struct {
	c   *Cluster
	log *slog.Logger

	taskState, unit, lag, behind, binlogFile, shardLock, events, ioBytes *prometheus.Desc
	dumpRows, dumpTotalRows, dumpBytes, dumpTables, dumpDone             *prometheus.Desc
	loadProgress, loadBytes, loadTotalBytes                              *prometheus.Desc
	relayState, relayCatchUp, sourceUp, workerBound, scrapeErrors        *prometheus.Desc
}

// newStatusCollector returns a collector of c's tasks, sources and workers; log gets
// scrape failures.
func newStatusCollector(c *Cluster, log *slog.Logger) *statusCollector {
	return &statusCollector{c: c, log: log,
		taskState:      desc("dm_worker_task_state", "Stage of a subtask: 0 invalid, 1 new, 2 running, 3 paused, 4 stopped, 5 finished (DM's values).", subtaskLabels...),
		unit:           desc("dmkit_subtask_unit", "1 for the unit a subtask is in (Check, Dump, Load, Sync).", append(subtaskLabels, "unit")...),
		lag:            desc("dm_syncer_replication_lag_gauge", "Seconds the sync unit is behind the source (seconds_behind_master).", subtaskLabels...),
		behind:         desc("dmkit_syncer_binlog_bytes_behind", "Binlog bytes the sync unit is behind the source's end (when both are in one binlog file).", subtaskLabels...),
		binlogFile:     desc("dm_syncer_binlog_file", "Binlog file index of the source's end (node=master) and of the sync unit (node=syncer).", append(subtaskLabels, "node")...),
		shardLock:      desc("dm_syncer_shard_lock_resolving", "1 while the subtask waits on an unresolved shard DDL lock.", subtaskLabels...),
		events:         desc("dmkit_syncer_events_total", "Binlog events the sync unit handled (status total_events).", subtaskLabels...),
		ioBytes:        desc("dmkit_syncer_binlog_bytes_total", "Binlog bytes the sync unit read (status dump_io_total_bytes).", subtaskLabels...),
		dumpRows:       desc("dm_dumpling_finished_rows", "Rows dumped.", subtaskLabels...),
		dumpTotalRows:  desc("dm_dumpling_estimate_total_rows", "Rows the dump expects, from table statistics.", subtaskLabels...),
		dumpBytes:      desc("dm_dumpling_finished_bytes", "Bytes of data dumped.", subtaskLabels...),
		dumpTables:     desc("dm_dumpling_total_tables", "Tables the dump covers.", subtaskLabels...),
		dumpDone:       desc("dm_dumpling_completed_tables", "Tables dumped completely.", subtaskLabels...),
		loadProgress:   desc("dm_loader_progress", "Share of the dump loaded, 0 to 1.", subtaskLabels...),
		loadBytes:      desc("dm_loader_finished_bytes", "Bytes of dump files loaded.", subtaskLabels...),
		loadTotalBytes: desc("dm_loader_data_size_gauge", "Bytes of dump files to load.", subtaskLabels...),
		relayState:     desc("dm_relay_state", "1 when the relay of a source on a worker is Running, 0 otherwise.", "source_id", "worker"),
		relayCatchUp:   desc("dm_relay_catch_up_master", "1 when the relay holds everything the source has written.", "source_id", "worker"),
		sourceUp:       desc("dmkit_source_enabled", "1 for an enabled source, 0 for a disabled one.", "source_id"),
		workerBound:    desc("dmkit_worker_bound", "1 for a worker bound to a source, 0 for a free one.", "worker", "source_id"),
		scrapeErrors:   desc("dmkit_metrics_scrape_errors", "Status reads that failed during this scrape.", "what"),
	}
}

// Describe sends every descriptor.
func (m *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.taskState, m.unit, m.lag, m.behind, m.binlogFile, m.shardLock, m.events, m.ioBytes,
		m.dumpRows, m.dumpTotalRows, m.dumpBytes, m.dumpTables, m.dumpDone, m.loadProgress, m.loadBytes, m.loadTotalBytes,
		m.relayState, m.relayCatchUp, m.sourceUp, m.workerBound, m.scrapeErrors} {
		ch <- d
	}
}

// Collect reads the status of every task, source and worker.
func (m *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	failed := map[string]float64{"tasks": 0, "sources": 0, "workers": 0}
	if tasks, err := m.c.ListTasks(ctx, ListTasksOptions{WithStatus: true}); err != nil {
		failed["tasks"]++
		m.log.Warn("metrics: read task status", "error", err)
	} else {
		for _, t := range tasks.Data {
			if t.StatusList == nil {
				continue
			}
			for _, st := range *t.StatusList {
				m.subtask(ch, t.Name, st)
			}
		}
	}
	if sources, err := m.c.ListSources(ctx, ListSourcesOptions{WithStatus: true}); err != nil {
		failed["sources"]++
		m.log.Warn("metrics: read source status", "error", err)
	} else {
		for _, s := range sources.Data {
			m.source(ch, s)
		}
	}
	if workers, err := m.c.ListWorkers(ctx); err != nil {
		failed["workers"]++
		m.log.Warn("metrics: read workers", "error", err)
	} else {
		for _, w := range workers.Data {
			ch <- prometheus.MustNewConstMetric(m.workerBound, prometheus.GaugeValue, b2f(w.BoundSourceName != ""), w.Name, w.BoundSourceName)
		}
	}
	for what, n := range failed {
		ch <- prometheus.MustNewConstMetric(m.scrapeErrors, prometheus.GaugeValue, n, what)
	}
}

// stageValue is DM's numbering of subtask stages (pb.Stage).
func stageValue(stage string) float64 {
	switch stage {
	case "New":
		return 1
	case StageRunning:
		return 2
	case StagePaused:
		return 3
	case StageStopped:
		return 4
	case StageFinished:
		return 5
	}
	return 0
}

func (m *statusCollector) subtask(ch chan<- prometheus.Metric, task string, st SubTaskStatus) {
	lv := []string{task, st.SourceName, st.WorkerName}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv[:3:3], extra...)...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	gauge(m.taskState, stageValue(st.Stage))
	if st.Unit != "" {
		gauge(m.unit, 1, st.Unit)
	}
	gauge(m.shardLock, b2f(st.UnresolvedDDLLockID != nil && *st.UnresolvedDDLLockID != ""))
	if d := st.DumpStatus; d != nil {
		gauge(m.dumpRows, d.FinishedRows)
		gauge(m.dumpTotalRows, d.EstimateTotalRows)
		gauge(m.dumpBytes, d.FinishedBytes)
		gauge(m.dumpTables, float64(d.TotalTables))
		gauge(m.dumpDone, d.CompletedTables)
	}
	if l := st.LoadStatus; l != nil {
		gauge(m.loadBytes, float64(l.FinishedBytes))
		gauge(m.loadTotalBytes, float64(l.TotalBytes))
		gauge(m.loadProgress, percentValue(l.Progress)/100)
	}
	if p := st.Progress; p != nil && p.Unit == UnitSync && (p.Done > 0 || p.Percent == 100) {
		gauge(m.behind, float64(p.Done)) // known only while both are in one binlog file
	}
	if s := st.SyncStatus; s != nil {
		gauge(m.lag, float64(s.SecondsBehindMaster))
		if n, ok := binlogIndex(s.MasterBinlog); ok {
			gauge(m.binlogFile, n, "master")
		}
		if n, ok := binlogIndex(s.SyncerBinlog); ok {
			gauge(m.binlogFile, n, "syncer")
		}
		counter(m.events, float64(s.TotalEvents))
		counter(m.ioBytes, float64(s.DumpIOTotalBytes))
	}
}

func (m *statusCollector) source(ch chan<- prometheus.Metric, s Source) {
	ch <- prometheus.MustNewConstMetric(m.sourceUp, prometheus.GaugeValue, b2f(s.Enable == nil || *s.Enable), s.SourceName)
	if s.StatusList == nil {
		return
	}
	for _, st := range *s.StatusList {
		if r := st.RelayStatus; r != nil {
			ch <- prometheus.MustNewConstMetric(m.relayState, prometheus.GaugeValue, b2f(r.Stage == StageRunning), s.SourceName, st.WorkerName)
			ch <- prometheus.MustNewConstMetric(m.relayCatchUp, prometheus.GaugeValue, b2f(r.RelayCatchUpMaster), s.SourceName, st.WorkerName)
		}
	}
}

// binlogIndex is the numeric suffix of a "(mysql-bin.000012, 4)" or "mysql-bin.000012"
// location.
func binlogIndex(loc string) (float64, bool) {
	file, _, ok := parseLocation(loc)
	if !ok {
		file = strings.TrimSpace(loc)
	}
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(file[dot+1:], 10, 64)
	return float64(n), err == nil
}

func percentValue(p string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "%")), 64)
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
