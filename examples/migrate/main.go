// Command migrate runs a whole migration through the library: full copy, then binlog
// replication until the target has caught up, printing progress from dm.Cluster's task
// watch; then it stops the task.
//
//	MIGRATE_SOURCE=root:secret@127.0.0.1:3306 MIGRATE_TARGET=root:secret@127.0.0.1:4000 \
//	    MIGRATE_SCHEMA=shop go run ./examples/migrate
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/dmkit/dmkit/dm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := configFromEnv()
	if err == nil {
		err = run(ctx, cfg, os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// endpoint is user:password@host:port.
type endpoint struct {
	User, Password, Host string
	Port                 int
}

func parseEndpoint(s string) (endpoint, error) {
	cred, addr, ok := strings.Cut(s, "@")
	if !ok {
		return endpoint{}, fmt.Errorf("%q: want user:password@host:port", s)
	}
	user, pw, _ := strings.Cut(cred, ":")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q: port %q is not a number", s, port)
	}
	return endpoint{User: user, Password: pw, Host: host, Port: p}, nil
}

// config is one migration: every table of Schema from Source to Target.
type config struct {
	Source, Target endpoint
	Schema         string
	DataDir        string // dump files; default a temporary directory
	// WritesStopped, when set, is closed once the application stopped writing to the
	// source (the cut-over); run waits for it before waiting for the target to catch up.
	// Nil: catch up with whatever the source has when the copy is done.
	WritesStopped <-chan struct{}
}

func configFromEnv() (config, error) {
	var cfg config
	var err error
	if cfg.Source, err = parseEndpoint(os.Getenv("MIGRATE_SOURCE")); err != nil {
		return cfg, fmt.Errorf("MIGRATE_SOURCE: %w", err)
	}
	if cfg.Target, err = parseEndpoint(os.Getenv("MIGRATE_TARGET")); err != nil {
		return cfg, fmt.Errorf("MIGRATE_TARGET: %w", err)
	}
	if cfg.Schema = os.Getenv("MIGRATE_SCHEMA"); cfg.Schema == "" {
		return cfg, errors.New("MIGRATE_SCHEMA: name the schema to migrate")
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	dataDir := cfg.DataDir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "dmkit-migrate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	cluster, err := dm.Open(ctx, dm.Config{Store: dm.MemoryStore(), Workers: []string{"worker1"}, DataDir: dataDir})
	if err != nil {
		return err
	}
	defer cluster.Close()

	pw := cfg.Source.Password
	if _, err := cluster.CreateSource(ctx, dm.CreateSourceRequest{Source: &dm.Source{
		SourceName: "source", Host: cfg.Source.Host, Port: cfg.Source.Port, User: cfg.Source.User, Password: &pw, EnableGTID: true,
	}}); err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	task := &dm.Task{
		Name: "migrate", TaskMode: dm.ModeAll, OnDuplicate: "replace",
		TargetConfig:     dm.TaskTargetDataBase{Host: cfg.Target.Host, Port: cfg.Target.Port, User: cfg.Target.User, Password: cfg.Target.Password},
		TableMigrateRule: []dm.TaskTableMigrateRule{{Source: dm.TaskTableMigrateRuleSource{SourceName: "source", Schema: cfg.Schema}}},
		SourceConfig:     dm.TaskSourceConfig{SourceConf: []dm.TaskSourceConf{{SourceName: "source"}}},
	}
	created, err := cluster.CreateTask(ctx, dm.CreateTaskRequest{Task: task})
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	fmt.Fprintf(out, "precheck: %s\n", created.CheckResult)
	if err := cluster.StartTask(ctx, "migrate", dm.StartTaskRequest{}); err != nil {
		return fmt.Errorf("start task: %w", err)
	}
	if cfg.WritesStopped != nil {
		select {
		case <-cfg.WritesStopped:
			fmt.Fprintln(out, "writes stopped; waiting for the target to catch up")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := waitSynced(ctx, cluster, out); err != nil {
		return err
	}
	if err := cluster.StopTask(ctx, "migrate", dm.StopTaskRequest{}); err != nil {
		return fmt.Errorf("stop task: %w", err)
	}
	fmt.Fprintln(out, "task stopped; the target has every change up to now")
	return nil
}

// waitSynced prints progress until every subtask replicates with nothing left to apply.
func waitSynced(ctx context.Context, cluster *dm.Cluster, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates, err := cluster.WatchTask(ctx, "migrate", dm.WatchOptions{Interval: 100 * time.Millisecond, Progress: true})
	if err != nil {
		return err
	}
	for u := range updates {
		if u.Err != nil {
			return u.Err
		}
		synced := len(u.Subtasks) > 0
		for _, st := range u.Subtasks {
			if st.Stage == dm.StagePaused && st.ErrorMsg != "" {
				return fmt.Errorf("subtask %s paused: %s", st.SourceName, st.ErrorMsg)
			}
			fmt.Fprintf(out, "%s: %s %s %s\n", st.SourceName, st.Stage, st.Unit, progress(st))
			if st.Unit != dm.UnitSync || st.SyncStatus == nil || !st.SyncStatus.Synced {
				synced = false
			}
		}
		if synced {
			fmt.Fprintln(out, "synced")
			return nil
		}
	}
	return ctx.Err()
}

func progress(st dm.SubTaskStatus) string {
	switch {
	case st.DumpStatus != nil:
		return fmt.Sprintf("dumped %.0f of ~%.0f rows", st.DumpStatus.FinishedRows, st.DumpStatus.EstimateTotalRows)
	case st.LoadStatus != nil:
		return "loaded " + st.LoadStatus.Progress
	case st.SyncStatus != nil:
		return fmt.Sprintf("at %s, %ds behind", st.SyncStatus.SyncerBinlog, st.SyncStatus.SecondsBehindMaster)
	}
	return ""
}
