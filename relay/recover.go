package relay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-mysql-org/go-mysql/replication"
)

// recovered is where a sub-directory's relay resumes.
type recovered struct {
	file string // the file to append to next ("" with next set: start next from offset 4)
	size int64  // its size after truncation (whole transactions only)
	next string // set when the newest file ends with a rotate: the file after it
	gtid string
}

// recoverSubdir finds the end of the last complete transaction in the newest file of a
// sub-directory and truncates anything after it (a torn tail after a crash). The meta
// gives the GTID set and the fallback when the sub-directory has no file yet.
func (r *Relay) recoverSubdir(sub string, meta Meta) (recovered, error) {
	files, err := listFiles(sub)
	if err != nil {
		return recovered{}, err
	}
	if len(files) == 0 {
		return recovered{next: meta.File, gtid: meta.GTID}, nil
	}
	last := files[len(files)-1]
	path := filepath.Join(sub, last)
	gtid := meta.GTID
	if meta.File != last {
		gtid = "" // taken from the file's own GTID list / Previous-GTIDs event
	}
	end, next, endGTID, err := scanComplete(path, r.cfg.Flavor, gtid)
	if err != nil {
		return recovered{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return recovered{}, fmt.Errorf("recover relay file: %w", err)
	}
	if st.Size() != end {
		r.log.Warn("truncating a torn relay tail", "file", path, "size", st.Size(), "keep", end)
		if err := truncateSync(path, end); err != nil {
			return recovered{}, err
		}
	}
	if endGTID == "" {
		endGTID = meta.GTID
	}
	if next != "" {
		return recovered{next: next, gtid: endGTID}, nil
	}
	return recovered{file: last, size: end, gtid: endGTID}, nil
}

// scanComplete parses a relay file and returns the offset just after its last complete
// transaction (4 for a file holding nothing whole), the next file's name when that
// last boundary is a rotate, and the GTID set there.
func scanComplete(path, flavor, gtid string) (end int64, next, endGTID string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", "", fmt.Errorf("recover relay file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, fileMagic) {
		return 4, "", "", nil // not even the magic survived: rewrite from the start
	}
	p := newParser(flavor)
	t := newTxnTracker(flavor, gtid)
	end, off := int64(4), int64(4)
	endGTID = t.gtid()
	for {
		raw, err := readEvent(br)
		if err != nil {
			break // EOF or a torn event: the tail after end is dropped
		}
		ev, err := p.Parse(raw)
		if err != nil {
			break
		}
		off += int64(len(raw))
		if t.observe(ev) {
			end, endGTID, next = off, t.gtid(), ""
			if re, ok := ev.Event.(*replication.RotateEvent); ok && ev.Header.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 {
				next = string(re.NextLogName)
			}
		}
	}
	return end, next, endGTID, nil
}

// readEvent reads one whole event (header and body) from br.
func readEvent(br *bufio.Reader) ([]byte, error) {
	hdr, err := br.Peek(replication.EventHeaderSize)
	if err != nil {
		return nil, err
	}
	size := int(uint32(hdr[9]) | uint32(hdr[10])<<8 | uint32(hdr[11])<<16 | uint32(hdr[12])<<24)
	if size < replication.EventHeaderSize {
		return nil, errors.New("bad event size")
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate relay file: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate relay file: %w", err)
	}
	return f.Sync()
}

// newParser is a parser for reading relay files back without decoding rows.
func newParser(flavor string) *replication.BinlogParser {
	p := replication.NewBinlogParser()
	p.SetFlavor(flavor)
	p.SetVerifyChecksum(true)
	p.SetRowsEventDecodeFunc(func(*replication.RowsEvent, []byte) error { return nil })
	return p
}
