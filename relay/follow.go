package relay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// prefetched is one result of the read-ahead goroutine.
type prefetched struct {
	ev  *replication.BinlogEvent
	err error
}

// readAhead is how many parsed events the reader keeps ready, as go-mysql's stream does:
// reading and parsing overlap with the caller's handling of earlier events.
const readAhead = 1024

// GetEvent returns the next event, waiting for the relay writer when the reader is at
// the end of what is relayed. It crosses files at rotate events and moves to the next
// sub-directory when the relay moved to a new upstream server. Events are read and
// parsed ahead by a goroutine the reader owns (stopped by Close).
func (rd *Reader) GetEvent(ctx context.Context) (*replication.BinlogEvent, error) {
	if rd.ahead == nil {
		actx, cancel := context.WithCancel(context.Background())
		rd.ahead, rd.stopAhead, rd.aheadDone = make(chan prefetched, readAhead), cancel, make(chan struct{})
		go func() {
			defer close(rd.aheadDone)
			for {
				ev, err := rd.next(actx)
				select {
				case rd.ahead <- prefetched{ev, err}:
				case <-actx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	select {
	case p := <-rd.ahead:
		if p.err != nil {
			rd.ahead <- p // keep answering with the error
		}
		return p.ev, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// next reads and parses the next event.
func (rd *Reader) next(ctx context.Context) (*replication.BinlogEvent, error) {
	for {
		if ev := rd.fake; ev != nil {
			rd.fake = nil
			return ev, nil
		}
		active, changed, closed := rd.r.snapshot()
		if closed {
			return nil, ErrClosed
		}
		moved, err := rd.advance(active)
		if err != nil {
			return nil, err
		}
		if moved {
			continue
		}
		if rd.f != nil {
			limit, err := rd.limit(active)
			if err != nil {
				return nil, err
			}
			raw, ok, err := rd.nextRaw(limit)
			if err != nil {
				return nil, err
			}
			if ok {
				ev, deliver, err := rd.decode(raw)
				if err != nil {
					return nil, err
				}
				if deliver {
					return ev, nil
				}
				continue
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// limit is how far the current file holds whole events: the writer's published size
// for the file it appends to, the file size otherwise.
func (rd *Reader) limit(active activeFile) (int64, error) {
	if active.subdir == rd.sub && active.file == rd.file {
		return active.size, nil
	}
	if rd.off < rd.statSize {
		return rd.statSize, nil
	}
	st, err := rd.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read relay file %s: %w", rd.file, err)
	}
	rd.statSize = st.Size()
	return rd.statSize, nil
}

// decode parses one event and applies the start rules (format description of a mid-file
// start, GTID skipping). deliver is false for events the caller must not see.
func (rd *Reader) decode(raw []byte) (*replication.BinlogEvent, bool, error) {
	ev, err := rd.parser.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("relay file %s/%s at %d: %w", rd.sub, rd.file, rd.off-int64(len(raw)), err)
	}
	if _, ok := ev.Event.(*replication.FormatDescriptionEvent); ok && rd.skipFDE {
		rd.skipFDE = false
		rd.off = rd.want
		return nil, false, nil
	}
	rd.sawRotate = false
	if re, ok := ev.Event.(*replication.RotateEvent); ok {
		rd.sawRotate, rd.rotateTo = true, string(re.NextLogName)
	}
	if rd.skip != nil {
		if g, ok := ev.Event.(*replication.MariadbGTIDEvent); ok {
			rd.skipping = rd.contains(g.GTID.String())
		}
		if g, ok := ev.Event.(*replication.GTIDEvent); ok {
			if next, err := g.GTIDNext(); err == nil {
				rd.skipping = rd.contains(next.String())
			}
		}
		skipped := rd.skipping
		if rd.track.observe(ev) && rd.skipping {
			rd.skipping = false // the skipped transaction ends here
		}
		if skipped {
			return nil, false, nil
		}
	}
	return ev, true, nil
}

func (rd *Reader) contains(gtid string) bool {
	one, err := mysql.ParseGTIDSet(rd.r.cfg.Flavor, gtid)
	return err == nil && rd.skip.Contain(one)
}

// advance opens the file the reader waits for, or the next file once the current one is
// complete; moved reports that the reader now reads another file.
func (rd *Reader) advance(active activeFile) (bool, error) {
	if rd.f == nil {
		path := filepath.Join(rd.r.cfg.Dir, rd.sub, rd.waitFile)
		if _, err := os.Stat(path); err != nil {
			return false, nil // not relayed yet
		}
		want := rd.off
		return true, rd.open(rd.waitFile, want, true)
	}
	if active.subdir == rd.sub && active.file == rd.file {
		return false, nil // the writer appends here: wait for it
	}
	if limit, err := rd.limit(active); err != nil || rd.off < limit {
		return false, err
	}
	if rd.sawRotate {
		if _, err := os.Stat(filepath.Join(rd.r.cfg.Dir, rd.sub, rd.rotateTo)); err == nil {
			return true, rd.open(rd.rotateTo, 4, false)
		}
	}
	// The end of a sub-directory: continue in the next one once the relay writes there.
	if active.subdir == "" || active.subdir == rd.sub {
		return false, nil
	}
	subs, err := readIndex(rd.r.cfg.Dir)
	if err != nil {
		return false, err
	}
	i := slices.Index(subs, rd.sub)
	if i < 0 || i+1 >= len(subs) {
		return false, nil
	}
	files, err := listFiles(filepath.Join(rd.r.cfg.Dir, rd.sub))
	if err != nil || len(files) == 0 || files[len(files)-1] != rd.file {
		return false, err
	}
	next, err := listFiles(filepath.Join(rd.r.cfg.Dir, subs[i+1]))
	if err != nil || len(next) == 0 {
		return false, err
	}
	rd.sub = subs[i+1]
	return true, rd.open(next[0], 4, true)
}
