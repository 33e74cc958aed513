package dm

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dmkit/dmkit/syncer"
)

// eventMetrics are the metrics counted as things happen (the status collector reads the
// rest at scrape time): rows applied by kind, target transactions and their latency,
// checkpoint flush latency, subtask errors and automatic resumes. Nil when Config.Metrics
// is not set.
type eventMetrics struct {
	rows    *prometheus.CounterVec   // task, source_id, worker, type
	txn     *prometheus.HistogramVec // task, source_id, worker
	flush   *prometheus.HistogramVec // task, source_id, worker
	errors  *prometheus.CounterVec   // task, source_id, worker
	resumes *prometheus.CounterVec   // task, source_id, worker
}

func newEventMetrics(reg prometheus.Registerer) (*eventMetrics, error) {
	buckets := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms … 16 s
	m := &eventMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmkit_syncer_rows_applied_total",
			Help: "Row changes the sync unit applied to the target, by type (insert, update, delete)."}, append(subtaskLabels, "type")),
		txn: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dm_syncer_txn_duration_time",
			Help: "Seconds one target transaction (a batch of row changes with its checkpoint) took, retries included.", Buckets: buckets}, subtaskLabels),
		flush: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dmkit_syncer_checkpoint_flush_seconds",
			Help: "Seconds one write of the global checkpoint took.", Buckets: buckets}, subtaskLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmkit_subtask_errors_total",
			Help: "Times a subtask paused on an error."}, subtaskLabels),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dmkit_subtask_auto_resumes_total",
			Help: "Times a subtask paused on a temporary error was resumed automatically."}, subtaskLabels),
	}
	for _, c := range []prometheus.Collector{m.rows, m.txn, m.flush, m.errors, m.resumes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observer is the syncer's Observer for one subtask, nil without metrics.
func (m *eventMetrics) observer(task, source, worker string) syncer.Observer {
	if m == nil {
		return nil
	}
	lv := []string{task, source, worker}
	return &subtaskObserver{
		ins: m.rows.WithLabelValues(append(lv, "insert")...), upd: m.rows.WithLabelValues(append(lv, "update")...),
		del: m.rows.WithLabelValues(append(lv, "delete")...),
		txn: m.txn.WithLabelValues(lv...), flush: m.flush.WithLabelValues(lv...),
	}
}

func (m *eventMetrics) pausedByError(task, source, worker string) {
	if m != nil {
		m.errors.WithLabelValues(task, source, worker).Inc()
	}
}

func (m *eventMetrics) autoResumed(task, source, worker string) {
	if m != nil {
		m.resumes.WithLabelValues(task, source, worker).Inc()
	}
}

// forgetTask drops a deleted task's series.
func (m *eventMetrics) forgetTask(task string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"task": task}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.rows, m.txn, m.flush, m.errors, m.resumes} {
		v.DeletePartialMatch(l)
	}
}

type subtaskObserver struct {
	ins, upd, del prometheus.Counter
	txn, flush    prometheus.Observer
}

func (o *subtaskObserver) Batch(inserts, updates, deletes int, d time.Duration) {
	o.ins.Add(float64(inserts))
	o.upd.Add(float64(updates))
	o.del.Add(float64(deletes))
	o.txn.Observe(d.Seconds())
}

func (o *subtaskObserver) Checkpoint(d time.Duration) { o.flush.Observe(d.Seconds()) }
