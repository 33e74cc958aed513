package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
)

// Location is a binlog location in upstream coordinates (file, end offset, GTID set).
type Location = dumpfile.Location

// Config configures a relay of one source.
type Config struct {
	// Dir is the relay directory (absolute; the caller resolves relative paths).
	Dir string
	// SourceDB is the upstream server; Flavor "mysql" or "mariadb".
	SourceDB dbconn.Config
	Flavor   string
	// EnableGTID starts a new sub-directory by GTID set (found in the upstream files)
	// rather than by file name.
	EnableGTID bool
	// StartFile / StartGTID are where a fresh relay starts (relay_binlog_name /
	// relay_binlog_gtid; the GTID set wins when both are given, also without
	// EnableGTID). The relay always copies whole files, from offset 4.
	StartFile, StartGTID string
	// Needed, when set, returns the earliest location a task of the source still needs;
	// a fresh relay without StartFile/StartGTID starts there (ok=false: none).
	Needed func() (Location, bool)
	// ServerID is the replica id of the dump connection (0: random per connection).
	ServerID uint32
	Logger   *slog.Logger
}

// Relay writes one source's relay log and serves readers of it. Run pulls; readers and
// Status may be used concurrently, also while Run is not running.
type Relay struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	active  activeFile    // where the writer appends (zero before the first session)
	gtid    string        // GTID set at the end of the last complete transaction
	changed chan struct{} // closed and replaced whenever the relay grows or state changes
	closed  bool
	readers map[*Reader]struct{}
	running bool
	purging bool
	master  func() (Location, error) // the running session's SHOW MASTER STATUS
}

// activeFile names the file being appended to and how far it is complete (whole events).
type activeFile struct {
	subdir, file string
	size         int64
}

// ErrClosed is returned by readers of a closed relay.
var ErrClosed = errors.New("relay: closed")

// New checks cfg and returns a relay; nothing is read or written until Run.
func New(cfg Config) (*Relay, error) {
	if cfg.Dir == "" || !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("relay: directory %q must be an absolute path", cfg.Dir)
	}
	switch cfg.Flavor {
	case "":
		cfg.Flavor = mysql.MySQLFlavor
	case mysql.MySQLFlavor, mysql.MariaDBFlavor:
	default:
		return nil, fmt.Errorf("relay: flavor %q is not supported; use mysql or mariadb", cfg.Flavor)
	}
	if cfg.StartFile != "" && !isBinlogName(cfg.StartFile) {
		return nil, fmt.Errorf("relay: relay_binlog_name %q is not a binlog file name such as mysql-bin.000001", cfg.StartFile)
	}
	if cfg.StartGTID != "" {
		if _, err := mysql.ParseGTIDSet(cfg.Flavor, cfg.StartGTID); err != nil {
			return nil, fmt.Errorf("relay: relay_binlog_gtid %q: %w", cfg.StartGTID, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("relay: create relay directory: %w", err)
	}
	return &Relay{cfg: cfg, log: cfg.Logger.With("unit", "relay"), changed: make(chan struct{}), readers: map[*Reader]struct{}{}}, nil
}

// Dir is the relay directory.
func (r *Relay) Dir() string { return r.cfg.Dir }

// Close wakes and ends every reader; Run must have returned.
func (r *Relay) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.changed)
	}
}

// notifyLocked wakes waiting readers. r.mu must be held.
func (r *Relay) notifyLocked() {
	if r.closed {
		return
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// setActive publishes the writer's append point and wakes readers.
func (r *Relay) setActive(a activeFile, gtid string) {
	r.mu.Lock()
	r.active = a
	if gtid != "" {
		r.gtid = gtid
	}
	r.notifyLocked()
	r.mu.Unlock()
}

// snapshot returns the writer's append point and the channel closed on its next change.
func (r *Relay) snapshot() (activeFile, <-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active, r.changed, r.closed
}
