// Command dmctl is a DM-style command line for dm-server: DM's dmctl verbs
// (operate-source, start-task, query-status, …) over dm-server's OpenAPI. It talks HTTP
// only, so it works against any dm-server it can reach.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dmkit/dmkit/internal/tlsconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dmctl:", err)
		}
		os.Exit(1)
	}
}

// env is what every command gets: the client, the output and the output format.
type env struct {
	c      *client
	out    io.Writer
	errOut io.Writer
	json   bool
}

// command is one dmctl verb.
type command struct {
	usage string // after the verb
	help  string
	run   func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]command{
	"operate-source": {"create <source.yaml|source.json> | show [-s source] | stop <source|source.yaml> [--force]",
		"create, list or remove sources", operateSource},
	"start-task": {"<task.yaml|task-name> [--remove-meta] [--start-time T] [--wait] [--wait-timeout D]",
		"create a task from DM's task file and start it, or start an existing task", startTask},
	"stop-task": {"<task-name|task.yaml>",
		"stop a task and remove it, keeping its checkpoints (as DM's stop-task)", stopTask},
	"pause-task":   {"<task-name> [-s source]", "pause a task's subtasks (they resume from their checkpoints)", pauseTask},
	"resume-task":  {"<task-name> [-s source]", "resume paused subtasks", resumeTask},
	"query-status": {"[task-name] [-s source]", "the tasks, or one task's subtasks with progress and errors", queryStatus},
	"check-task":   {"<task.yaml>", "validate a task file and run the precheck without creating the task", checkTask},
	"config":       {"task <task-name>", "print a task as DM's task file", configTask},
	"get-config":   {"task|source <name>", "print a task as DM's task file, or a source", getConfig},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dmctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("master-addr", envOr("DM_MASTER_ADDR", "127.0.0.1:8261"), "dm-server address (host:port or URL); env DM_MASTER_ADDR")
	asJSON := fs.Bool("json", false, "print dm-server's JSON answers instead of tables")
	timeout := fs.Duration("rpc-timeout", 10*time.Minute, "timeout of one HTTP call")
	var tf tlsconfig.Files
	fs.StringVar(&tf.CA, "ssl-ca", "", "PEM `file` of the CA that signed dm-server's certificate (turns on HTTPS)")
	fs.StringVar(&tf.Cert, "ssl-cert", "", "PEM `file` of dmctl's client certificate")
	fs.StringVar(&tf.Key, "ssl-key", "", "PEM `file` of dmctl's client key")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		usage(stderr, fs)
		return flag.ErrHelp
	}
	verb := fs.Arg(0)
	cmd, ok := commands[verb]
	if !ok {
		return fmt.Errorf("unknown command %q; run dmctl --help for the list", verb)
	}
	tlsCfg, err := tlsconfig.Client(tf)
	if err != nil {
		return err
	}
	c, err := newClient(*addr, *timeout, tlsCfg)
	if err != nil {
		return err
	}
	return cmd.run(ctx, &env{c: c, out: stdout, errOut: stderr, json: *asJSON}, fs.Args()[1:])
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: dmctl [--master-addr host:port] [--json] <command> [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s %s\n      %s\n", n, commands[n].usage, commands[n].help)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// parseArgs parses fs over args that may mix flags and positional arguments, as DM's
// dmctl allows (`start-task task.yaml --remove-meta`), and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlags is a command's flag set, printing errors to e.errOut.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("dmctl "+name, flag.ContinueOnError)
	fs.SetOutput(e.errOut)
	fs.Usage = func() {
		fmt.Fprintf(e.errOut, "usage: dmctl %s [flags]; dmctl --help lists the commands\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// sourceList is a repeatable -s flag (also comma separated).
type sourceList []string

func (s *sourceList) String() string { return strings.Join(*s, ",") }
func (s *sourceList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// exactly checks the number of positional arguments.
func exactly(pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("expected %s, got %d argument(s)", what, len(pos))
	}
	return nil
}
