// Package dumpfile is the on-disk contract between the dumper and the loader (and the
// syncer, which starts where the dump's snapshot was taken): DM's (dumpling's) file names
// and the metadata file. Keeping DM's layout lets a DM user inspect, hand-edit or re-load a
// dmkit dump exactly as they would a DM one.
package dumpfile

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind is what a dump file holds.
type Kind int

// File kinds.
const (
	KindUnknown      Kind = iota
	KindSchemaCreate      // {db}-schema-create.sql: CREATE DATABASE
	KindTableSchema       // {db}.{tbl}-schema.sql: CREATE TABLE
	KindData              // {db}.{tbl}.{index}.sql: INSERT statements
	KindMetadata          // metadata
	KindManifest          // .dmkit-manifest: who owns the directory, which files it wrote
)

// MetadataName is the name of the metadata file in a dump directory.
const MetadataName = "metadata"

// escape percent-encodes the characters that cannot stand in a file name or would make
// names ambiguous ('.', '-' and '%' included, as dumpling does for odd names).
func escape(name string) string {
	var b strings.Builder
	for _, r := range []byte(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r >= 0x80:
			b.WriteByte(r)
		default:
			fmt.Fprintf(&b, "%%%02X", r)
		}
	}
	return b.String()
}

func unescape(s string) (string, error) { return url.PathUnescape(s) }

// SchemaCreateName is the file name of a schema's CREATE DATABASE.
func SchemaCreateName(db string) string { return escape(db) + "-schema-create.sql" }

// TableSchemaName is the file name of a table's CREATE TABLE.
func TableSchemaName(db, table string) string {
	return escape(db) + "." + escape(table) + "-schema.sql"
}

// DataName is the file name of one data file of a table: chunk and part within the chunk
// (DM's %09d%04d index).
func DataName(db, table string, chunk, part int) string {
	return fmt.Sprintf("%s.%s.%09d%04d.sql", escape(db), escape(table), chunk, part)
}

// Name is a parsed dump file name.
type Name struct {
	Kind   Kind
	Schema string
	Table  string
	Chunk  int
	Part   int
}

// Parse classifies a dump file by its base name.
func Parse(base string) (Name, error) {
	if base == MetadataName {
		return Name{Kind: KindMetadata}, nil
	}
	if base == ManifestName {
		return Name{Kind: KindManifest}, nil
	}
	if !strings.HasSuffix(base, ".sql") {
		return Name{}, fmt.Errorf("%s is not a dump file", base)
	}
	stem := strings.TrimSuffix(base, ".sql")
	if db, ok := strings.CutSuffix(stem, "-schema-create"); ok {
		s, err := unescape(db)
		return Name{Kind: KindSchemaCreate, Schema: s}, err
	}
	if rest, ok := strings.CutSuffix(stem, "-schema"); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 2 {
			return Name{}, fmt.Errorf("%s: want {db}.{table}-schema.sql", base)
		}
		s, err1 := unescape(parts[0])
		t, err2 := unescape(parts[1])
		if err1 != nil || err2 != nil {
			return Name{}, fmt.Errorf("%s: bad escaping", base)
		}
		return Name{Kind: KindTableSchema, Schema: s, Table: t}, nil
	}
	parts := strings.Split(stem, ".")
	if len(parts) != 3 || len(parts[2]) != 13 {
		return Name{}, fmt.Errorf("%s: want {db}.{table}.{chunk:9}{part:4}.sql", base)
	}
	s, err1 := unescape(parts[0])
	t, err2 := unescape(parts[1])
	chunk, err3 := strconv.Atoi(parts[2][:9])
	part, err4 := strconv.Atoi(parts[2][9:])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return Name{}, fmt.Errorf("%s: bad data file name", base)
	}
	return Name{Kind: KindData, Schema: s, Table: t, Chunk: chunk, Part: part}, nil
}

// Location is a binlog position with its GTID set, as recorded by a dump.
type Location struct {
	File string
	Pos  uint32
	GTID string
}

// IsZero reports whether no position was recorded (binary logging off).
func (l Location) IsZero() bool { return l.File == "" && l.GTID == "" }

// String renders l as DM's "(file, pos)".
func (l Location) String() string { return fmt.Sprintf("(%s, %d)", l.File, l.Pos) }

// Metadata is the content of a dump's metadata file.
type Metadata struct {
	Started time.Time
	// Snapshot is where the consistent snapshot was taken: the syncer starts here.
	Snapshot Location
	// After, when set, is where the dump's last connection was opened (consistency none):
	// until the syncer passes it, it must run in safe mode.
	After    *Location
	Finished time.Time
}

const timeLayout = "2006-01-02 15:04:05"

// Write renders m in DM's format.
func (m *Metadata) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Started dump at: %s\n", m.Started.Format(timeLayout))
	writeLoc := func(header string, l Location) {
		fmt.Fprintf(&b, "%s\n\tLog: %s\n\tPos: %d\n\tGTID:%s\n\n", header, l.File, l.Pos, l.GTID)
	}
	writeLoc("SHOW MASTER STATUS:", m.Snapshot)
	if m.After != nil {
		writeLoc("SHOW MASTER STATUS: /* AFTER CONNECTION POOL ESTABLISHED */", *m.After)
	}
	if !m.Finished.IsZero() {
		fmt.Fprintf(&b, "Finished dump at: %s\n", m.Finished.Format(timeLayout))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFile writes m to dir/metadata atomically (temp file, fsync, rename).
func (m *Metadata) WriteFile(dir string) error {
	tmp, err := os.CreateTemp(dir, ".metadata-*")
	if err != nil {
		return fmt.Errorf("write dump metadata: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := m.Write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write dump metadata: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write dump metadata: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write dump metadata: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, MetadataName)); err != nil {
		return fmt.Errorf("write dump metadata: %w", err)
	}
	return nil
}

// ReadMetadata parses dir/metadata. A block without Log/Pos (binary logging off) leaves
// the location zero.
func ReadMetadata(dir string) (*Metadata, error) {
	f, err := os.Open(filepath.Join(dir, MetadataName))
	if err != nil {
		return nil, fmt.Errorf("read dump metadata: %w", err)
	}
	defer f.Close()
	return ParseMetadata(f)
}

// ParseMetadata parses DM's metadata format (SHOW SLAVE STATUS blocks are skipped).
func ParseMetadata(r io.Reader) (*Metadata, error) {
	m := &Metadata{}
	var cur *Location
	lastKey := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			cur, lastKey = nil, ""
		case strings.HasPrefix(line, "Started dump at:"):
			m.Started, _ = time.ParseInLocation(timeLayout, strings.TrimSpace(strings.TrimPrefix(line, "Started dump at:")), time.Local)
		case strings.HasPrefix(line, "Finished dump at:"):
			m.Finished, _ = time.ParseInLocation(timeLayout, strings.TrimSpace(strings.TrimPrefix(line, "Finished dump at:")), time.Local)
		case strings.HasPrefix(line, "SHOW MASTER STATUS:") || strings.HasPrefix(line, "SHOW BINARY LOG STATUS:"):
			if strings.Contains(line, "AFTER CONNECTION POOL ESTABLISHED") {
				m.After = &Location{}
				cur = m.After
			} else {
				cur = &m.Snapshot
			}
			lastKey = ""
		case strings.HasPrefix(line, "SHOW SLAVE STATUS:"):
			cur = nil
		case cur != nil && strings.HasPrefix(line, "\t"):
			key, val, ok := strings.Cut(trimmed, ":")
			if !ok {
				if lastKey == "GTID" { // a GTID set continued on the next line
					cur.GTID += trimmed
				}
				continue
			}
			val = strings.TrimSpace(val)
			switch key {
			case "Log":
				cur.File = val
			case "Pos":
				p, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("dump metadata: bad Pos %q", val)
				}
				cur.Pos = uint32(p)
			case "GTID":
				cur.GTID = val
			default:
				if lastKey == "GTID" {
					cur.GTID += trimmed
					continue
				}
			}
			lastKey = key
		case cur != nil && lastKey == "GTID" && strings.HasPrefix(line, " "):
			cur.GTID += trimmed
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dump metadata: %w", err)
	}
	m.Snapshot.GTID = strings.TrimSuffix(m.Snapshot.GTID, ",")
	if m.After != nil {
		m.After.GTID = strings.TrimSuffix(m.After.GTID, ",")
	}
	return m, nil
}
