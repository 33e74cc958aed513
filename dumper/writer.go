package dumper

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dmkit/dmkit/internal/dbconn"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

const (
	// fileHeader starts every SQL file (DM's header).
	fileHeader = "/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"
	// schemaCharset follows the header in schema files: SHOW CREATE output is UTF-8
	// text, and a non-UTF-8 column's ENUM values or DEFAULT would be mangled if parsed
	// as binary.
	schemaCharset = "/*!40101 SET NAMES utf8mb4*/;\n"
	// tmpSuffix marks a file still being written.
	tmpSuffix = ".tmp"
	// bufferSize is each exporter's write buffer.
	bufferSize = 256 << 10
)

// writeSQLFile writes one schema file (header + stmt;) atomically and reports it.
func (d *Dumper) writeSQLFile(name, stmt string) error {
	if err := d.manifest.Add(name); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	path := filepath.Join(d.cfg.Dir, name)
	tmp := path + tmpSuffix
	content := fileHeader + schemaCharset + stmt + ";\n"
	if err := writeFile(tmp, []byte(content)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dump: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dump: write %s: %w", name, err)
	}
	// Not counted in FinishedBytes: DM's finished_bytes is the data dumped.
	if d.cfg.OnFile != nil {
		d.cfg.OnFile(path)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// exporter is one worker: a snapshot connection and reusable buffers.
type exporter struct {
	d     *Dumper
	conn  *sql.Conn
	vals  []sql.RawBytes
	dest  []any
	tuple []byte
	bw    *bufio.Writer
}

// export streams one chunk's rows into its data files.
func (e *exporter) export(ctx context.Context, ch *chunk) error {
	t := ch.table
	rows, err := e.conn.QueryContext(ctx, ch.query)
	if err != nil {
		return fmt.Errorf("dump: read %s chunk %d: %w", sqlq.QuoteTable(t.schema, t.name), ch.index, err)
	}
	defer rows.Close()
	if cap(e.vals) < len(t.cols) {
		e.vals = make([]sql.RawBytes, len(t.cols))
		e.dest = make([]any, len(t.cols))
	}
	vals, dest := e.vals[:len(t.cols)], e.dest[:len(t.cols)]
	for i := range vals {
		dest[i] = &vals[i]
	}
	if e.bw == nil {
		e.bw = bufio.NewWriterSize(nil, bufferSize)
	}
	w := &dataWriter{d: e.d, t: t, chunk: ch.index, bw: e.bw}
	defer w.abort()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("dump: read %s chunk %d: %w", sqlq.QuoteTable(t.schema, t.name), ch.index, err)
		}
		tuple := append(e.tuple[:0], '(')
		for i := range t.cols {
			if i > 0 {
				tuple = append(tuple, ',')
			}
			tuple = appendValue(tuple, &t.cols[i], vals[i])
		}
		tuple = append(tuple, ')')
		e.tuple = tuple
		if err := w.add(tuple); err != nil {
			return err
		}
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("dump: read %s chunk %d: %w", sqlq.QuoteTable(t.schema, t.name), ch.index, err)
	}
	if err := w.closeFile(); err != nil {
		return err
	}
	if t.remaining.Add(-1) == 0 {
		e.d.completedTables.Add(1)
	}
	return nil
}

// Tuple terminators: another tuple follows, or the statement ends.
var comma, semicolon = []byte(",\n"), []byte(";\n")

// dataWriter writes one chunk's rows as INSERT statements, one tuple per line,
// starting a new statement at StatementSize and a new file (part) at FileSize. No
// file is created for a chunk without rows.
type dataWriter struct {
	d     *Dumper
	t     *tableInfo
	chunk int
	bw    *bufio.Writer

	part      int
	f         *os.File // nil when no file is open
	path      string   // final name of the open file
	fileBytes int64
	stmtBytes int
	inStmt    bool // a statement is open (its last tuple's terminator is pending)
	hasStmt   bool // the open file holds a complete statement
}

// add appends one "(…)" tuple. Each tuple's 2-byte terminator (",\n" or ";\n") is
// counted when the tuple is added and written when the next tuple or the end comes.
func (w *dataWriter) add(tuple []byte) error {
	need := len(tuple) + 2
	if w.inStmt && (w.stmtBytes+need > w.d.cfg.StatementSize || w.fileBytes+int64(need) > w.d.cfg.FileSize) {
		if err := w.endStmt(); err != nil {
			return err
		}
	}
	if w.inStmt {
		if err := w.write(comma, false); err != nil {
			return err
		}
	} else {
		if w.hasStmt && w.fileBytes+int64(len(w.t.insertHeader)+need) > w.d.cfg.FileSize {
			if err := w.closeFile(); err != nil {
				return err
			}
		}
		if w.f == nil {
			if err := w.openFile(); err != nil {
				return err
			}
		}
		if err := w.write(w.t.insertHeader, true); err != nil {
			return err
		}
		w.inStmt, w.stmtBytes = true, len(w.t.insertHeader)
	}
	if err := w.write(tuple, true); err != nil {
		return err
	}
	w.stmtBytes += need
	w.fileBytes += 2 // the pending terminator
	w.d.finishedBytes.Add(2)
	w.d.finishedRows.Add(1)
	return nil
}

// write writes b; counted says whether to count it (a tuple's terminator was counted
// with the tuple).
func (w *dataWriter) write(b []byte, counted bool) error {
	if _, err := w.bw.Write(b); err != nil {
		return fmt.Errorf("dump: write %s: %w", w.path, err)
	}
	if counted {
		w.fileBytes += int64(len(b))
		w.d.finishedBytes.Add(int64(len(b)))
	}
	return nil
}

func (w *dataWriter) endStmt() error {
	if err := w.write(semicolon, false); err != nil {
		return err
	}
	w.inStmt, w.hasStmt = false, true
	return nil
}

func (w *dataWriter) openFile() error {
	name := dumpfile.DataName(w.t.schema, w.t.name, w.chunk, w.part)
	if err := w.d.manifest.Add(name); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	w.path = filepath.Join(w.d.cfg.Dir, name)
	f, err := os.Create(w.path + tmpSuffix)
	if err != nil {
		return fmt.Errorf("dump: create data file: %w", err)
	}
	w.f, w.fileBytes, w.hasStmt = f, 0, false
	w.bw.Reset(f)
	return w.write([]byte(w.d.dataHeader()), true)
}

// dataHeader starts every data file: fileHeader, plus the time zone its TIMESTAMP values
// are written in when that is not +00:00 (the loader's default).
func (d *Dumper) dataHeader() string {
	if d.cfg.TimeZone == dbconn.UTCOffset {
		return fileHeader
	}
	return fileHeader + "/*!40103 SET TIME_ZONE='" + d.cfg.TimeZone + "'*/;\n"
}

// closeFile ends the open statement, renames the file into place and reports it. Files
// are made durable all at once when the dump completes (syncDump): a dump cut short is
// redone anyway, and one fsync per file on the export path slowed the dump down. Without an open file it does nothing.
func (w *dataWriter) closeFile() error {
	if w.f == nil {
		return nil
	}
	if w.inStmt {
		if err := w.endStmt(); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("dump: write %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("dump: close %s: %w", w.path, err)
	}
	w.f = nil
	if err := os.Rename(w.path+tmpSuffix, w.path); err != nil {
		os.Remove(w.path + tmpSuffix)
		return fmt.Errorf("dump: rename %s: %w", w.path, err)
	}
	if w.d.cfg.OnFile != nil {
		w.d.cfg.OnFile(w.path)
	}
	w.part++
	return nil
}

// abort removes a file left half-written by an error or cancellation.
func (w *dataWriter) abort() {
	if w.f == nil {
		return
	}
	w.f.Close()
	os.Remove(w.path + tmpSuffix)
	w.f = nil
	w.bw.Reset(nil)
}
