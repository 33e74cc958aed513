package dm

import (
	"context"
	"fmt"
)

// newSyncUnit builds the sync unit of a subtask.
func newSyncUnit(cfg *SubtaskConfig, rules *subtaskRules, p *fullPipeline) (Unit, error) {
	return nil, fmt.Errorf("task mode %s needs the sync unit, which this dmkit build does not include yet", cfg.Task.TaskMode)
}

var _ = context.Background
