// Package metrics holds dmkit's HTTP request metrics, fed by httpapi's Observe hook. The
// cluster's own metrics (tasks, units, replication; DM's names) are registered by dm.Open
// through dm.Config.Metrics; README.md lists them all.
package metrics
