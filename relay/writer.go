package relay

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// writer appends upstream events to the files of one sub-directory.
type writer struct {
	r      *Relay
	subdir string
	next   string // the upstream file the next event belongs to
	gtid   string // GTID set at the start (from recovery or the new sub-directory)

	f       *os.File
	buf     *bufio.Writer // events not yet written to f
	name    string
	size    int64 // written, including buf
	flushed int64 // in f: what readers may see
	track   *txnTracker

	pending bool      // a boundary is written but not yet synced
	bound   Meta      // the last boundary written
	synced  time.Time // last fsync
}

func (w *writer) dir() string { return filepath.Join(w.r.cfg.Dir, w.subdir) }

// handle writes one event received from the source.
func (w *writer) handle(ev *replication.BinlogEvent) error {
	h := ev.Header
	heartbeat := h.EventType == replication.HEARTBEAT_EVENT || h.EventType == replication.HEARTBEAT_LOG_EVENT_V2
	if h.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0 || h.LogPos == 0 || heartbeat {
		// Fake rotate (names the file the dump continues in), heartbeats, fake GTID
		// lists: not part of the upstream file.
		if re, ok := ev.Event.(*replication.RotateEvent); ok {
			w.next = string(re.NextLogName)
		}
		return nil
	}
	if w.f == nil || w.name != w.next {
		if err := w.switchFile(w.next); err != nil {
			return err
		}
	}
	start := int64(h.LogPos) - int64(h.EventSize)
	switch {
	case start > w.size:
		return fmt.Errorf("upstream event at (%s, %d) leaves a gap after the relay file's end %d; the relay copies whole files, so this is a source anomaly: purge the relay directory to restart it", w.name, start, w.size)
	case start < w.size:
		if _, fde := ev.Event.(*replication.FormatDescriptionEvent); fde {
			return nil // re-sent on every connection
		}
		if err := w.flush(); err != nil {
			return err
		}
		old := make([]byte, len(ev.RawData))
		if _, err := w.f.ReadAt(old, start); err != nil || !bytes.Equal(old, ev.RawData) {
			return fmt.Errorf("upstream event at (%s, %d) differs from the relay copy; the source's binlog changed under the relay: purge the relay directory to restart it", w.name, start)
		}
		return nil // already relayed
	}
	if _, err := w.buf.Write(ev.RawData); err != nil {
		return fmt.Errorf("write relay file %s: %w", w.name, err)
	}
	w.size += int64(len(ev.RawData))
	if w.track.observe(ev) {
		w.bound = Meta{File: w.name, Pos: uint32(w.size), GTID: w.track.gtid()}
		w.pending = true
	}
	if re, ok := ev.Event.(*replication.RotateEvent); ok {
		w.next = string(re.NextLogName)
		if err := w.sync(); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the buffered events to the file and lets readers see them.
func (w *writer) flush() error {
	if w.f == nil || w.flushed == w.size {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("write relay file %s: %w", w.name, err)
	}
	w.flushed = w.size
	w.r.setActive(activeFile{subdir: w.subdir, file: w.name, size: w.size}, "")
	return nil
}

// switchFile closes the current file (synced) and opens name: appended to when it
// exists (a resume), else created with the binlog magic.
func (w *writer) switchFile(name string) error {
	if w.f != nil {
		if err := w.sync(); err != nil {
			return err
		}
		w.f.Close()
		w.f = nil
	}
	path := filepath.Join(w.dir(), name)
	if st, err := os.Stat(path); err == nil && st.Size() > 4 {
		return w.openFile(name, st.Size())
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create relay file: %w", err)
	}
	if _, err := f.Write(fileMagic); err != nil {
		f.Close()
		return fmt.Errorf("create relay file: %w", err)
	}
	if err := syncDir(w.dir()); err != nil {
		f.Close()
		return err
	}
	w.setFile(f, name, 4)
	return nil
}

func (w *writer) setFile(f *os.File, name string, size int64) {
	w.f, w.name, w.size, w.flushed = f, name, size, size
	if w.buf == nil {
		w.buf = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.buf.Reset(f)
	}
}

// openFile opens an existing relay file for appending at size.
func (w *writer) openFile(name string, size int64) error {
	f, err := os.OpenFile(filepath.Join(w.dir(), name), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open relay file: %w", err)
	}
	if _, err := f.Seek(size, 0); err != nil {
		f.Close()
		return fmt.Errorf("open relay file: %w", err)
	}
	w.setFile(f, name, size)
	return nil
}

// sync makes the written events durable, then moves the meta to the last boundary.
func (w *writer) sync() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.f != nil {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("fsync relay file %s: %w", w.name, err)
		}
	}
	w.synced = time.Now()
	if !w.pending {
		return nil
	}
	if err := writeMeta(w.dir(), w.bound); err != nil {
		return err
	}
	w.pending = false
	w.r.setActive(activeFile{subdir: w.subdir, file: w.name, size: w.size}, w.bound.GTID)
	return nil
}

func (w *writer) close() {
	if w.f != nil {
		_ = w.sync()
		w.f.Close()
		w.f = nil
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync relay directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync relay directory: %w", err)
	}
	return nil
}
