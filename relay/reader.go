package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Start is where a Reader begins: by GTID set when UseGTID and GTID is set (transactions
// in the set are skipped), else at (File, Pos) — Pos is an event boundary in upstream
// coordinates, as the relay keeps upstream offsets.
type Start struct {
	// Subdir, when set, names the sub-directory File is in; otherwise the newest one
	// holding a file of that name (after an upstream switch the names may repeat: use
	// GTID to resume across a switch).
	Subdir  string
	File    string
	Pos     uint32
	GTID    string
	UseGTID bool
}

// NotInRelayError reports a start the relay cannot serve: it never had it (the relay
// started later) or purged it. The caller may read the source instead.
type NotInRelayError struct{ Msg string }

func (e *NotInRelayError) Error() string { return e.Msg }

// Reader reads the relay back as a binlog stream, following it as it grows.
type Reader struct {
	r      *Relay
	parser *replication.BinlogParser

	sub, file string
	f         *os.File
	off       int64
	sawRotate bool   // the last event read is a real rotate: the file is complete
	rotateTo  string // its next file
	fake      *replication.BinlogEvent
	skipFDE   bool // a mid-file start: the format description is parsed, not delivered
	waitFile  string
	want      int64 // after the format description, continue here
	statSize  int64 // the size of a file the writer no longer appends to, last seen

	skip     mysql.GTIDSet // GTID start: transactions in this set are not delivered
	skipping bool
	track    *txnTracker

	buf    []byte
	bufOff int64

	// The read-ahead goroutine (started by the first GetEvent).
	ahead     chan prefetched
	stopAhead context.CancelFunc
	aheadDone chan struct{}

	posMu           sync.Mutex // the position as seen by purge
	posSub, posFile string
}

// NewReader opens a reader at start. cfg supplies the decoding options of the caller's
// go-mysql stream (rows decode hook, decimals, times, checksum verification).
func (r *Relay) NewReader(start Start, cfg replication.BinlogSyncerConfig) (*Reader, error) {
	p := replication.NewBinlogParser()
	p.SetFlavor(r.cfg.Flavor)
	p.SetParseTime(cfg.ParseTime)
	p.SetUseDecimal(cfg.UseDecimal)
	p.SetVerifyChecksum(cfg.VerifyChecksum)
	p.SetTimestampStringLocation(cfg.TimestampStringLocation)
	p.SetUseFloatWithTrailingZero(cfg.UseFloatWithTrailingZero)
	if cfg.RowsEventDecodeFunc != nil {
		p.SetRowsEventDecodeFunc(cfg.RowsEventDecodeFunc)
	}
	rd := &Reader{r: r, parser: p, track: newTxnTracker(r.cfg.Flavor, "")}
	var err error
	if start.UseGTID && start.GTID != "" {
		err = rd.seekGTID(start.GTID)
	} else {
		err = rd.seekPos(start.Subdir, start.File, start.Pos)
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.readers[rd] = struct{}{}
	r.mu.Unlock()
	return rd, nil
}

// Close stops the read-ahead and releases the reader's file.
func (rd *Reader) Close() {
	if rd.stopAhead != nil {
		rd.stopAhead()
		<-rd.aheadDone
	}
	rd.r.mu.Lock()
	delete(rd.r.readers, rd)
	rd.r.mu.Unlock()
	if rd.f != nil {
		rd.f.Close()
		rd.f = nil
	}
}

// position is the relay file the reader is in (purge keeps it).
func (rd *Reader) position() (sub, file string) {
	rd.posMu.Lock()
	defer rd.posMu.Unlock()
	return rd.posSub, rd.posFile
}

func (rd *Reader) setPosition(sub, file string) {
	rd.posMu.Lock()
	rd.posSub, rd.posFile = sub, file
	rd.posMu.Unlock()
}

// seekPos finds (file, pos): in the newest sub-directory that has the file; a file
// newer than everything relayed is waited for.
func (rd *Reader) seekPos(subdir, file string, pos uint32) error {
	if !isBinlogName(file) {
		return &NotInRelayError{fmt.Sprintf("relay cannot start at (%s, %d): not a binlog file name", file, pos)}
	}
	subs, err := readIndex(rd.r.cfg.Dir)
	if err != nil {
		return err
	}
	var oldest, newest string
	for i := len(subs) - 1; i >= 0; i-- {
		if subdir != "" && subs[i] != subdir {
			continue
		}
		files, err := listFiles(filepath.Join(rd.r.cfg.Dir, subs[i]))
		if err != nil {
			return err
		}
		if len(files) == 0 {
			continue
		}
		if newest == "" {
			newest = files[len(files)-1]
		}
		oldest = files[0]
		if slices.Contains(files, file) {
			rd.sub = subs[i]
			return rd.open(file, int64(max(pos, 4)), true)
		}
	}
	if len(subs) > 0 && (newest == "" || compareBinlogNames(file, newest) > 0) {
		rd.sub, rd.waitFile, rd.off = subs[len(subs)-1], file, int64(max(pos, 4))
		rd.setPosition(rd.sub, file)
		return nil // the relay has not reached it yet
	}
	if oldest == "" {
		return &NotInRelayError{fmt.Sprintf("relay in %s has no files yet, so it cannot serve (%s, %d)", rd.r.cfg.Dir, file, pos)}
	}
	return &NotInRelayError{fmt.Sprintf("relay has no (%s, %d): its oldest file is %s, so the position was purged from the relay or is older than where the relay started", file, pos, oldest)}
}

// seekGTID starts at the newest relay file whose starting GTID set is contained in want.
func (rd *Reader) seekGTID(want string) error {
	set, err := mysql.ParseGTIDSet(rd.r.cfg.Flavor, want)
	if err != nil {
		return fmt.Errorf("relay reader: GTID set %q: %w", want, err)
	}
	subs, err := readIndex(rd.r.cfg.Dir)
	if err != nil {
		return err
	}
	for i := len(subs) - 1; i >= 0; i-- {
		dir := filepath.Join(rd.r.cfg.Dir, subs[i])
		files, err := listFiles(dir)
		if err != nil {
			return err
		}
		for j := len(files) - 1; j >= 0; j-- {
			g, ok, err := fileGTID(filepath.Join(dir, files[j]), rd.r.cfg.Flavor)
			if err != nil {
				return err
			}
			fs, perr := mysql.ParseGTIDSet(rd.r.cfg.Flavor, g)
			if ok && perr == nil && set.Contain(fs) {
				rd.sub, rd.skip = subs[i], set
				return rd.open(files[j], 4, true)
			}
		}
	}
	return &NotInRelayError{fmt.Sprintf("relay has no file starting at or before GTID set %s: it was purged from the relay or is older than where the relay started", want)}
}

// fileGTID reads the GTID set a relay file starts with.
func fileGTID(path, flavor string) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, fmt.Errorf("read relay file: %w", err)
	}
	defer f.Close()
	rd := &Reader{parser: newParser(flavor)}
	rd.f = f
	rd.off = 4
	st, err := f.Stat()
	if err != nil {
		return "", false, err
	}
	for range 8 {
		raw, ok, err := rd.nextRaw(st.Size())
		if err != nil || !ok {
			return "", false, err
		}
		ev, err := rd.parser.Parse(raw)
		if err != nil {
			return "", false, fmt.Errorf("read relay file %s: %w", path, err)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDListEvent:
			return mariaList(e), true, nil
		case *replication.PreviousGTIDsEvent:
			return e.GTIDSets, true, nil
		case *replication.MariadbGTIDEvent, *replication.GTIDEvent, *replication.QueryEvent:
			return "", true, nil
		}
	}
	return "", false, nil
}

// open opens file of rd.sub at off; the format description at offset 4 is always
// parsed first. fake makes the first event a fake rotate naming the file, as a source
// sends at the start of a dump.
func (rd *Reader) open(file string, off int64, fake bool) error {
	if rd.f != nil {
		rd.f.Close()
	}
	f, err := os.Open(filepath.Join(rd.r.cfg.Dir, rd.sub, file))
	if err != nil {
		return fmt.Errorf("open relay file: %w", err)
	}
	rd.f, rd.file, rd.off, rd.waitFile = f, file, 4, ""
	rd.setPosition(rd.sub, file)
	rd.buf, rd.bufOff, rd.statSize = rd.buf[:0], 4, 0
	rd.sawRotate, rd.rotateTo = false, ""
	rd.parser.Reset()
	rd.skipFDE = off > 4
	rd.want = off
	rd.fake = &replication.BinlogEvent{
		Header: &replication.EventHeader{EventType: replication.ROTATE_EVENT, Flags: replication.LOG_EVENT_ARTIFICIAL_F},
		Event:  &replication.RotateEvent{Position: uint64(off), NextLogName: []byte(file)},
	}
	if !fake {
		rd.fake = nil
	}
	return nil
}

// nextRaw returns the next whole event before limit (ok=false: none yet), in a fresh
// slice the caller keeps.
func (rd *Reader) nextRaw(limit int64) ([]byte, bool, error) {
	const hdr = replication.EventHeaderSize
	if limit-rd.off < hdr {
		return nil, false, nil
	}
	b, err := rd.bytesAt(rd.off, hdr, limit)
	if err != nil {
		return nil, false, err
	}
	size := int64(uint32(b[9]) | uint32(b[10])<<8 | uint32(b[11])<<16 | uint32(b[12])<<24)
	if size < hdr {
		return nil, false, fmt.Errorf("relay file %s: bad event size %d at %d", rd.file, size, rd.off)
	}
	if rd.off+size > limit {
		return nil, false, nil
	}
	b, err = rd.bytesAt(rd.off, size, limit)
	if err != nil {
		return nil, false, err
	}
	raw := append([]byte(nil), b...)
	rd.off += size
	return raw, true, nil
}

// bytesAt returns n bytes at off from the read buffer, refilling it from the file.
func (rd *Reader) bytesAt(off, n, limit int64) ([]byte, error) {
	if off >= rd.bufOff && off+n <= rd.bufOff+int64(len(rd.buf)) {
		s := off - rd.bufOff
		return rd.buf[s : s+n], nil
	}
	want := min(max(n, 256<<10), limit-off)
	if int64(cap(rd.buf)) < want {
		rd.buf = make([]byte, want)
	}
	rd.buf = rd.buf[:want]
	m, err := rd.f.ReadAt(rd.buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(m) >= n) {
		return nil, fmt.Errorf("read relay file %s: %w", rd.file, err)
	}
	rd.buf, rd.bufOff = rd.buf[:m], off
	return rd.buf[:n], nil
}
