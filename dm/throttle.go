package dm

import (
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/dmkit/dmkit/syncer"
)

// minThrottleInterval keeps the throttle query from becoming load of its own.
const minThrottleInterval = 100 * time.Millisecond

// validateThrottle checks incr_migrate_conf.throttle: one SELECT, a threshold, an
// interval of at least 100ms (default 1s, filled in).
func validateThrottle(task string, th *TaskThrottle) error {
	if th == nil {
		return nil
	}
	if th.Interval == "" {
		th.Interval = "1s"
	}
	d, err := time.ParseDuration(th.Interval)
	if err != nil || d < minThrottleInterval {
		return invalidf("task %s: incr_migrate_conf.throttle.interval %q: give a duration of at least %s, such as 1s", task, th.Interval, minThrottleInterval)
	}
	stmts, _, err := parser.New().ParseSQL(th.Query)
	if err != nil || len(stmts) != 1 {
		return invalidf("task %s: incr_migrate_conf.throttle.query must be one SELECT statement (run on the target, first column numeric): %q", task, th.Query)
	}
	if _, ok := stmts[0].(*ast.SelectStmt); !ok {
		return invalidf("task %s: incr_migrate_conf.throttle.query must be a SELECT; it runs on the target every interval: %q", task, th.Query)
	}
	if th.Threshold == nil {
		return invalidf("task %s: incr_migrate_conf.throttle.threshold is required: applying pauses while the query returns more than it", task)
	}
	return nil
}

// syncerThrottle is the syncer's form of a validated throttle (nil when unset).
func syncerThrottle(th *TaskThrottle) *syncer.Throttle {
	if th == nil || th.Threshold == nil {
		return nil
	}
	d, _ := time.ParseDuration(th.Interval)
	return &syncer.Throttle{Query: th.Query, Threshold: *th.Threshold, Interval: d}
}
