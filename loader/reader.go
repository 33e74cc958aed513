package loader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// readerBufSize is the bufio buffer of a data file reader. Longer lines still work; they
// are assembled in a side buffer.
const readerBufSize = 256 << 10

type pieceKind uint8

const (
	pieceData  pieceKind = iota // (part of) an INSERT/REPLACE, header rewritten for the target
	pieceOther                  // any other statement, as written (SET …)
)

// piece is what stmtReader yields: a whole statement, or — when a statement is larger
// than the reader's limit — one part of it, itself a valid INSERT of some of the tuples.
type piece struct {
	kind  pieceKind
	sql   []byte // without the terminating ';'; valid until the next call to next
	start int64  // file offset of the statement's first byte
	end   int64  // file offset just past the bytes this piece consumed
	last  bool   // this piece completes its statement: end is a statement boundary
}

// stmtReader reads a dump data file line by line and yields its statements with the
// INSERT header rewritten to `verb target`. It is built for DM's format — a header line
// ending in VALUES, then one tuple per line, the last ending in ';' — and also accepts
// other layouts (tuples on the header line, a header over several lines) as long as the
// statement's last line ends in ';'.
//
// Memory is bounded by the statement size, or by limit when the statement has DM's
// layout: then it is cut at tuple lines into pieces of at most limit bytes (unless one
// tuple alone is larger).
type stmtReader struct {
	br     *bufio.Reader
	off    int64  // bytes consumed so far (file offset of the next line)
	prefix []byte // "REPLACE INTO `db`.`t`": replaces the statement's head up to the table name
	limit  int    // piece size limit; 0 = none

	buf     []byte // the piece being built
	long    []byte // a line longer than the bufio buffer
	pending []byte // a tuple line held over for the next piece after a split
	header  []byte // rewritten header line (ending in VALUES) for continuation pieces; nil: not splittable
	hdrBuf  []byte // backing store of header, reused
	hasPend bool
	inStmt  bool
	data    bool
	start   int64
	tuples  int  // tuple lines in buf
	comma   bool // buf's last line ends with ','
}

// newStmtReader reads r, whose first byte is at file offset off.
// The reader comes from readerPool with its buffers; release returns it.
func newStmtReader(r io.Reader, off int64, prefix []byte, limit int) *stmtReader {
	s := readerPool.Get().(*stmtReader)
	br := s.br
	br.Reset(r)
	*s = stmtReader{br: br, off: off, prefix: prefix, limit: limit,
		buf: s.buf[:0], long: s.long[:0], pending: s.pending[:0], hdrBuf: s.hdrBuf[:0]}
	return s
}

// readerPool recycles stmtReaders across files (issue 13): allocated per file, the 256 KiB
// bufio buffer and the piece buffers (each growing to a statement, ~1 MiB) were ~3 MiB of
// fresh memory per 4 MiB data file, which the kernel zeroes (clear_page_erms was 4 % of
// a full copy's samples) and the GC scans.
var readerPool = sync.Pool{New: func() any { return &stmtReader{br: bufio.NewReaderSize(nil, readerBufSize)} }}

// maxPooledBuf bounds the piece buffers a pooled reader keeps: a rare huge statement's
// buffer is dropped, not kept alive.
const maxPooledBuf = 8 << 20

// release returns r to the pool; r and every piece it returned must not be used after.
func (r *stmtReader) release() {
	r.br.Reset(nil)
	for _, b := range []*[]byte{&r.buf, &r.long, &r.pending, &r.hdrBuf} {
		if cap(*b) > maxPooledBuf {
			*b = nil
		}
	}
	r.prefix, r.header = nil, nil
	readerPool.Put(r)
}

// readLine returns the next line including its '\n' (the last line of a file may lack
// it), or an empty line and io.EOF at the end. The line is valid until the next call.
func (r *stmtReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	r.off += int64(len(line))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(line) == 0 {
		return nil, io.EOF
	}
	return line, nil
}

// next returns the next piece, or io.EOF after the last one.
func (r *stmtReader) next() (piece, error) {
	r.buf = r.buf[:0]
	if r.hasPend {
		r.hasPend = false
		r.buf = append(r.buf, r.header...)
		r.buf = append(r.buf, r.pending...)
		r.tuples = 1
		trimmed := trimEOL(r.pending)
		r.comma = bytes.HasSuffix(trimmed, []byte(","))
		if bytes.HasSuffix(trimmed, []byte(";")) {
			return r.finish(), nil
		}
	}
	for {
		line, err := r.readLine()
		if errors.Is(err, io.EOF) {
			if r.inStmt {
				return piece{}, fmt.Errorf("the statement starting at byte %d has no terminating ';' (truncated file?)", r.start)
			}
			return piece{}, io.EOF
		}
		if err != nil {
			return piece{}, err
		}
		lineStart := r.off - int64(len(line))
		trimmed := trimEOL(line)
		if !r.inStmt {
			if isBlankOrComment(trimmed) {
				continue
			}
			if err := r.begin(line, trimmed, lineStart); err != nil {
				return piece{}, err
			}
		} else {
			if r.data && r.header != nil && r.limit > 0 && r.tuples > 0 && r.comma && len(r.buf)+len(line) > r.limit {
				// Cut here: this piece ends with the previous tuple, the line goes on
				// into the next piece, behind a copy of the header.
				r.pending = append(r.pending[:0], line...)
				r.hasPend = true
				out := bytes.TrimSuffix(trimEOL(r.buf), []byte(","))
				return piece{kind: pieceData, sql: out, start: r.start, end: lineStart}, nil
			}
			r.buf = append(r.buf, line...)
			r.tuples++
			r.comma = bytes.HasSuffix(trimmed, []byte(","))
		}
		if bytes.HasSuffix(trimmed, []byte(";")) {
			return r.finish(), nil
		}
	}
}

// begin starts a statement with its first line.
func (r *stmtReader) begin(line, trimmed []byte, lineStart int64) error {
	r.inStmt, r.start, r.tuples, r.comma, r.header = true, lineStart, 0, false, nil
	end, err := insertNameEnd(line)
	switch {
	case err == nil:
		r.data = true
		r.buf = append(r.buf, r.prefix...)
		r.buf = append(r.buf, line[end:]...)
		if hasSuffixFold(trimmed, "VALUES") {
			r.hdrBuf = append(r.hdrBuf[:0], r.buf...)
			r.header = r.hdrBuf
		}
	case errors.Is(err, errNotInsert):
		r.data = false
		r.buf = append(r.buf, line...)
	default:
		return fmt.Errorf("statement at byte %d: %w", lineStart, err)
	}
	return nil
}

// finish completes the statement in buf.
func (r *stmtReader) finish() piece {
	r.inStmt = false
	stmt := bytes.TrimSuffix(trimEOL(r.buf), []byte(";"))
	kind := pieceOther
	if r.data {
		kind = pieceData
	}
	return piece{kind: kind, sql: stmt, start: r.start, end: r.off, last: true}
}

// trimEOL drops trailing white space, including the line break.
func trimEOL(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case ' ', '\t', '\r', '\n':
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

// isBlankOrComment reports whether a line outside a statement holds no code.
func isBlankOrComment(line []byte) bool {
	lx := lexer{s: line}
	t, err := lx.peek()
	return err == nil && t.kind == tokEOF
}

func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && bytes.EqualFold(b[len(b)-len(suffix):], []byte(suffix))
}
