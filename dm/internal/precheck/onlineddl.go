package precheck

import (
	"context"
	"strings"
)

// onlineDDLCheck is DM's "online ddl checker" (item online_ddl, tiflow
// dm/pkg/checker/onlineddl.go): with enhance_online_schema_change on, a ghost table of a
// migrated table on the source means a gh-ost / pt-osc migration is under way, whose
// CREATE and ALTER the sync would never see: its cut-over would stop the task.
func (s *source) onlineDDLCheck(context.Context) *Result {
	r := &Result{Name: "online ddl checker", Desc: "check if in online ddl phase", State: Success, Extra: "online ddl"}
	if len(s.ghosts) > 0 {
		names := make([]string, len(s.ghosts))
		for i, g := range s.ghosts {
			names[i] = g.String()
		}
		f := r.fail("your ddl is in pt/ghost online-ddl: ghost tables %s exist on source %s", strings.Join(names, ", "), s.Name)
		f.Instruction = "wait until the online schema change finishes (or drop its leftover ghost tables), then start the task"
		r.Extra = "please wait the online-ddl over"
	}
	return r
}
