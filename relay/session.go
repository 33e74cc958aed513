package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/dmkit/dmkit/internal/dbconn"
)

// Run pulls the source into the relay until ctx ends or the stream fails; it returns the
// cause (nil when ctx ended). The caller retries with backoff: every Run resumes from
// the relay's files.
func (r *Relay) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running || r.closed {
		r.mu.Unlock()
		return errors.New("relay: already running or closed")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running, r.master = false, nil
		r.notifyLocked()
		r.mu.Unlock()
	}()
	if _, err := r.cfg.SourceDB.ClientTLS(); err != nil {
		return fmt.Errorf("relay: source TLS: %w", err)
	}
	db, err := dbconn.Open(ctx, r.cfg.SourceDB, "")
	if err != nil {
		return fmt.Errorf("relay: connect to the source %s: %w", r.cfg.SourceDB.Addr(), err)
	}
	defer db.Close()
	r.mu.Lock()
	r.master = func() (Location, error) {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return masterLocation(c, db, r.cfg.Flavor)
	}
	r.mu.Unlock()

	w, err := r.openWriter(ctx, db)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("relay: %w", err)
	}
	defer w.close()
	err = r.pull(ctx, w)
	if ctx.Err() != nil {
		return nil
	}
	at := fmt.Sprintf("(%s, 4)", w.next)
	if w.f != nil {
		at = fmt.Sprintf("(%s, %d)", w.name, w.size)
	}
	return fmt.Errorf("relay: read binlog from %s at %s: %s", r.cfg.SourceDB.Addr(), at, errText(err))
}

// openWriter prepares the sub-directory to append to: the current one when the upstream
// is the same server (after recovering its newest file), a new one otherwise.
func (r *Relay) openWriter(ctx context.Context, db *sql.DB) (*writer, error) {
	id, err := serverIdentity(ctx, db, r.cfg.Flavor)
	if err != nil {
		return nil, err
	}
	subs, err := readIndex(r.cfg.Dir)
	if err != nil {
		return nil, err
	}
	w := &writer{r: r}
	if n := len(subs); n > 0 {
		uuid, _, _ := parseSubdir(subs[n-1])
		sub := filepath.Join(r.cfg.Dir, subs[n-1])
		meta, _, err := readMeta(sub)
		if err != nil {
			return nil, err
		}
		if uuid == id && !r.coversStart(sub) {
			// relay_binlog_name / relay_binlog_gtid asks for older binlog than this
			// sub-directory holds: start a new one there instead of ignoring it.
			r.log.Info("relay start point is older than the relay holds; starting a new relay sub-directory", "previous", subs[n-1],
				"relay_binlog_name", r.cfg.StartFile, "relay_binlog_gtid", r.cfg.StartGTID)
			if _, err := r.recoverSubdir(sub, meta); err != nil {
				return nil, err
			}
			return r.newSubdir(ctx, db, w, id, subs, "", true)
		}
		if uuid == id {
			rec, err := r.recoverSubdir(sub, meta)
			if err != nil {
				return nil, err
			}
			w.subdir, w.gtid = subs[n-1], rec.gtid
			if rec.next != "" {
				w.next = rec.next
			} else {
				w.next = rec.file
				if err := w.openFile(rec.file, rec.size); err != nil {
					return nil, err
				}
			}
			return w, nil
		}
		r.log.Info("upstream server changed; starting a new relay sub-directory", "previous", subs[n-1], "server", id)
		prev, err := r.recoverSubdir(sub, meta)
		if err != nil {
			return nil, err
		}
		return r.newSubdir(ctx, db, w, id, subs, prev.gtid, false)
	}
	return r.newSubdir(ctx, db, w, id, subs, "", true)
}

// coversStart reports whether sub-directory sub holds the configured start point (or
// none is configured): its first file is at or before relay_binlog_name, or starts with a
// GTID set contained in relay_binlog_gtid.
func (r *Relay) coversStart(sub string) bool {
	if rec, ok, err := readMetaFile(sub, startFile); err == nil && ok && rec.File == r.cfg.StartFile && rec.GTID == r.cfg.StartGTID {
		return true // set up for this start point (later purges do not matter)
	}
	if r.coversFiles(sub) {
		_ = writeMetaFile(sub, startFile, Meta{File: r.cfg.StartFile, GTID: r.cfg.StartGTID})
		return true
	}
	return false
}

func (r *Relay) coversFiles(sub string) bool {
	files, err := listFiles(sub)
	if err != nil || len(files) == 0 {
		return true // nothing relayed yet: resuming starts where the meta says
	}
	if r.cfg.StartGTID != "" {
		g, ok, err := fileGTID(filepath.Join(sub, files[0]), r.cfg.Flavor)
		want, perr := mysql.ParseGTIDSet(r.cfg.Flavor, r.cfg.StartGTID)
		have, herr := mysql.ParseGTIDSet(r.cfg.Flavor, g)
		return err != nil || !ok || perr != nil || herr != nil || want.Contain(have)
	}
	if r.cfg.StartFile != "" {
		return compareBinlogNames(files[0], r.cfg.StartFile) <= 0
	}
	return true
}

// newSubdir adds a sub-directory for upstream server id and starts it at a whole file:
// the configured start point when configured is set, else continuing prevGTID.
func (r *Relay) newSubdir(ctx context.Context, db *sql.DB, w *writer, id string, subs []string, prevGTID string, configured bool) (*writer, error) {
	file, gtid, err := r.startPoint(ctx, db, configured, prevGTID)
	if err != nil {
		return nil, err
	}
	n := 1
	if len(subs) > 0 {
		_, last, _ := parseSubdir(subs[len(subs)-1])
		n = last + 1
	}
	name := subdirName(id, n)
	sub := filepath.Join(r.cfg.Dir, name)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return nil, fmt.Errorf("create relay sub-directory: %w", err)
	}
	if err := writeMeta(sub, Meta{File: file, Pos: 4, GTID: gtid}); err != nil {
		return nil, err
	}
	if err := writeMetaFile(sub, startFile, Meta{File: r.cfg.StartFile, GTID: r.cfg.StartGTID}); err != nil {
		return nil, err
	}
	if err := writeIndex(r.cfg.Dir, append(subs, name)); err != nil {
		return nil, err
	}
	r.log.Info("relay sub-directory created", "subdir", name, "start", file)
	w.subdir, w.next, w.gtid = name, file, gtid
	return w, nil
}

// pull streams events from the source into w.
func (r *Relay) pull(ctx context.Context, w *writer) error {
	start := mysql.Position{Name: w.next, Pos: 4}
	if w.f != nil {
		start.Pos = uint32(w.size)
	}
	bs := replication.NewBinlogSyncer(r.syncerConfig())
	defer bs.Close()
	st, err := bs.StartSync(start)
	if err != nil {
		return fmt.Errorf("start binlog dump at (%s, %d): %w", start.Name, start.Pos, err)
	}
	r.log.Info("relay pulling", "subdir", w.subdir, "file", start.Name, "pos", start.Pos)
	w.track = newTxnTracker(r.cfg.Flavor, w.gtid)
	r.setActive(activeFile{subdir: w.subdir, file: w.name, size: w.size}, w.gtid)

	// A feeder goroutine lets the writer see whether more events are already queued: the
	// fsync of a transaction boundary waits while they are (group commit).
	events := make(chan *replication.BinlogEvent, 256)
	fctx, cancel := context.WithCancel(ctx)
	ferr := make(chan error, 1)
	go func() {
		defer close(events)
		for {
			ev, err := st.GetEvent(fctx)
			if err != nil {
				ferr <- err
				return
			}
			select {
			case events <- ev:
			case <-fctx.Done():
				ferr <- fctx.Err()
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range events {
		}
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return <-ferr
			}
			if err := w.handle(ev); err != nil {
				return err
			}
			if len(events) == 0 || w.size-w.flushed >= flushBytes {
				if err := w.flush(); err != nil {
					return err
				}
			}
			if w.pending && (len(events) == 0 || time.Since(w.synced) > maxSyncDelay) {
				if err := w.sync(); err != nil {
					return err
				}
			} else if w.pending {
				timer.Reset(maxSyncDelay)
			}
		case <-timer.C:
			if w.pending {
				if err := w.sync(); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flushBytes bounds what the writer buffers before readers see it while events keep
// arriving; when the stream pauses everything is flushed at once.
const flushBytes = 64 << 10

// maxSyncDelay bounds how long a complete transaction stays unsynced while more events
// keep arriving.
const maxSyncDelay = 100 * time.Millisecond
