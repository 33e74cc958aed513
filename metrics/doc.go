// Package metrics exposes a dm.Cluster to Prometheus: task, unit and replication gauges
// read from the cluster's status at scrape time, named after DM's own metrics where DM has
// one (dm_worker_task_state, dm_syncer_replication_lag_gauge, …) so DM's dashboards carry
// over, and HTTP request counters fed by httpapi's Observe hook.
package metrics
