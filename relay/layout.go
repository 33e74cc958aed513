package relay

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"
)

// File names inside a relay directory.
const (
	indexFile = "server-uuid.index"
	metaFile  = "relay.meta"
	// startFile records the configured start point (relay_binlog_name / _gtid) a
	// sub-directory was set up for, so that a changed one is noticed and an unchanged
	// one is not re-applied after a purge.
	startFile = "relay.start"
)

// Meta is a sub-directory's relay.meta: the end of the last transaction that is durable
// in the relay, and the GTID set at that point.
type Meta struct {
	File string
	Pos  uint32
	GTID string
}

// subdirName is `<uuid>.<nnnnnn>`.
func subdirName(uuid string, n int) string { return fmt.Sprintf("%s.%06d", uuid, n) }

// parseSubdir splits a sub-directory name into its server identity and suffix.
func parseSubdir(name string) (uuid string, n int, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return name[:i], n, true
}

// readIndex lists the sub-directories, oldest first; a missing index is an empty relay.
func readIndex(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, indexFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read relay index: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if _, _, ok := parseSubdir(line); !ok {
			return nil, fmt.Errorf("relay index %s: bad sub-directory name %q; fix or remove the relay directory", filepath.Join(dir, indexFile), line)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read relay index: %w", err)
	}
	return out, nil
}

// writeIndex replaces the index atomically.
func writeIndex(dir string, subdirs []string) error {
	return writeFileAtomic(filepath.Join(dir, indexFile), []byte(strings.Join(subdirs, "\n")+"\n"))
}

// readMeta reads a sub-directory's meta; ok is false when it has none.
func readMeta(sub string) (Meta, bool, error) { return readMetaFile(sub, metaFile) }

func readMetaFile(sub, name string) (Meta, bool, error) {
	b, err := os.ReadFile(filepath.Join(sub, name))
	if errors.Is(err, os.ErrNotExist) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, fmt.Errorf("read relay meta: %w", err)
	}
	var m Meta
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "binlog-name", "binlog-gtid":
			s, err := strconv.Unquote(v)
			if err != nil {
				return Meta{}, false, fmt.Errorf("relay meta %s: %s: %w", sub, k, err)
			}
			if k == "binlog-name" {
				m.File = s
			} else {
				m.GTID = s
			}
		case "binlog-pos":
			p, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return Meta{}, false, fmt.Errorf("relay meta %s: binlog-pos: %w", sub, err)
			}
			m.Pos = uint32(p)
		}
	}
	return m, true, nil
}

// writeMeta writes relay.meta as DM's three TOML keys (temp file, fsync, rename).
func writeMeta(sub string, m Meta) error { return writeMetaFile(sub, metaFile, m) }

func writeMetaFile(sub, name string, m Meta) error {
	s := fmt.Sprintf("binlog-name = %s\nbinlog-pos = %d\nbinlog-gtid = %s\n", strconv.Quote(m.File), m.Pos, strconv.Quote(m.GTID))
	return writeFileAtomic(filepath.Join(sub, name), []byte(s))
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// isBinlogName reports whether name looks like an upstream binlog file (base.NNNNNN).
func isBinlogName(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return false
	}
	_, err := strconv.ParseUint(name[i+1:], 10, 64)
	return err == nil
}

// compareBinlogNames orders binlog file names by their numeric suffix, then by name.
func compareBinlogNames(a, b string) int {
	na, nb := binlogSeq(a), binlogSeq(b)
	if na != nb {
		if na < nb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func binlogSeq(name string) uint64 {
	i := strings.LastIndexByte(name, '.')
	n, _ := strconv.ParseUint(name[i+1:], 10, 64)
	return n
}

// listFiles lists the relay binlog files of a sub-directory in binlog order.
func listFiles(sub string) ([]string, error) {
	entries, err := os.ReadDir(sub)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list relay files: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && isBinlogName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.SortFunc(out, compareBinlogNames)
	return out, nil
}

// fileMagic starts every binlog file.
var fileMagic = replication.BinLogFileHeader
