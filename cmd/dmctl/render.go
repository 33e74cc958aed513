package main

import (
	"encoding/json"
	"fmt"
	"io"

	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dmkit/dmkit/dm"
)

// printJSON prints v indented; raw JSON answers are re-indented as they are.
func printJSON(w io.Writer, v any) error {
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return fmt.Errorf("dm-server answered invalid JSON: %w", err)
		}
		v = x
	}
	b, err = json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func renderSources(w io.Writer, sources []dm.Source) error {
	var rows [][]string
	for _, s := range sources {
		enabled := s.Enable == nil || *s.Enable
		worker, relay, errMsg := "-", "off", ""
		if s.StatusList != nil {
			var ws []string
			for _, st := range *s.StatusList {
				ws = append(ws, st.WorkerName)
				if st.RelayStatus != nil {
					relay = st.RelayStatus.Stage
				}
				if st.ErrorMsg != "" {
					errMsg = st.ErrorMsg
				}
			}
			if len(ws) > 0 {
				worker = strings.Join(ws, ",")
			}
		}
		tasks := "-"
		if s.TaskNameList != nil && len(*s.TaskNameList) > 0 {
			tasks = strings.Join(*s.TaskNameList, ",")
		}
		rows = append(rows, []string{s.SourceName, fmt.Sprintf("%s:%d", s.Host, s.Port), strconv.FormatBool(enabled),
			worker, relay, tasks, oneLine(errMsg)})
	}
	return table(w, "SOURCE\tADDRESS\tENABLED\tWORKER\tRELAY\tTASKS\tERROR", rows)
}

func renderTasks(w io.Writer, tasks []dm.Task) error {
	var rows [][]string
	for _, t := range tasks {
		stage, unit := "-", "-"
		if t.StatusList != nil {
			stage, unit = summarize(*t.StatusList)
		}
		var srcs []string
		for _, sc := range t.SourceConfig.SourceConf {
			srcs = append(srcs, sc.SourceName)
		}
		rows = append(rows, []string{t.Name, t.TaskMode, stage, unit, strings.Join(srcs, ",")})
	}
	return table(w, "TASK\tMODE\tSTAGE\tUNIT\tSOURCES", rows)
}

// summarize is a task's stage and unit from its subtasks: the common one, or "mixed".
func summarize(sts []dm.SubTaskStatus) (stage, unit string) {
	for i, st := range sts {
		if i == 0 {
			stage, unit = st.Stage, st.Unit
			continue
		}
		if st.Stage != stage {
			stage = "mixed"
		}
		if st.Unit != unit {
			unit = "mixed"
		}
	}
	if stage == "" {
		stage = "-"
	}
	if unit == "" {
		unit = "-"
	}
	return stage, unit
}

func renderSubtasks(w io.Writer, sts []dm.SubTaskStatus) error {
	var rows [][]string
	for _, st := range sts {
		rows = append(rows, []string{st.SourceName, st.WorkerName, st.Stage, st.Unit, progressText(st), lagText(st), oneLine(st.ErrorMsg)})
	}
	return table(w, "SOURCE\tWORKER\tSTAGE\tUNIT\tPROGRESS\tLAG\tERROR", rows)
}

// progressText is the unit's progress as DM reports it.
func progressText(st dm.SubTaskStatus) string {
	switch {
	case st.DumpStatus != nil && st.Unit == dm.UnitDump:
		return fmt.Sprintf("dump %s (%.0f/%.0f rows)", st.DumpStatus.Progress, st.DumpStatus.FinishedRows, st.DumpStatus.EstimateTotalRows)
	case st.LoadStatus != nil && st.Unit == dm.UnitLoad:
		return fmt.Sprintf("load %s", st.LoadStatus.Progress)
	case st.SyncStatus != nil:
		if st.SyncStatus.Synced {
			return "synced"
		}
		return "syncing " + st.SyncStatus.SyncerBinlog
	}
	return "-"
}

func lagText(st dm.SubTaskStatus) string {
	if st.SyncStatus == nil {
		return "-"
	}
	return fmt.Sprintf("%ds", st.SyncStatus.SecondsBehindMaster)
}

// percent is a subtask's share of the full copy done, 0..100: the dump is the first
// half, the load the second (from the status's progress, dmkit's addition).
func percent(st dm.SubTaskStatus) float64 {
	if st.Stage == dm.StageFinished || st.Unit == dm.UnitSync {
		return 100
	}
	if p := st.Progress; p != nil {
		switch p.Unit {
		case dm.UnitLoad:
			return 50 + p.Percent/2
		case dm.UnitDump:
			return p.Percent / 2
		}
	}
	return 0
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
