// Package console is dm-server's web console at /dashboard/: one embedded page (no CDN,
// works offline) over the same OpenAPI that dmctl and DM's clients use — sources, tasks
// with stage, unit, progress, ETA, lag and errors, start/stop, and creating a task from
// DM's task file with the precheck result.
package console
