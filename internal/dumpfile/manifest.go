package dumpfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ManifestName is the file that claims a dump directory for one owner and lists every
// file the dump wrote there. Clean-up removes exactly the listed files, so a dump never
// deletes what it did not write, and a directory holding someone else's files (or
// another task's dump) is refused instead of overwritten.
const ManifestName = ".dmkit-manifest"

// ErrNotOwned is wrapped by Claim and RemoveOwned when a directory is not the caller's:
// it is not empty and has no manifest, or its manifest names another owner.
var ErrNotOwned = errors.New("directory is not this dump's")

// Manifest is an open claim on a dump directory. Add is safe for concurrent use.
type Manifest struct {
	dir, owner string

	mu    sync.Mutex
	f     *os.File
	files map[string]bool
}

// Claim makes dir the dump directory of owner (an opaque identity such as task, task id
// and source) and returns its manifest, to which every file must be added before it is
// created. dir is created when missing. A directory that is empty, or that holds a
// manifest of the same owner (an earlier, interrupted attempt), is claimed; in the latter
// case the files that attempt wrote are removed first, the metadata first, so a clean-up
// cut short never leaves a "finished" dump with missing files. Anything else fails with
// ErrNotOwned and leaves the directory untouched.
func Claim(dir, owner string) (*Manifest, error) {
	if owner == "" {
		return nil, errors.New("dump manifest: owner is required")
	}
	created := false
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create dump directory: %w", err)
		}
		created = true
	} else if err != nil {
		return nil, fmt.Errorf("dump directory %s: %w", dir, err)
	}
	prev, err := ReadManifest(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read dump directory: %w", err)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("dump directory %s is not empty (%s, ...) and holds no dump of this task: %w; "+
				"choose an empty or new data_dir, or empty this one", dir, entries[0].Name(), ErrNotOwned)
		}
	case err != nil:
		return nil, err
	case prev.Owner != owner:
		return nil, fmt.Errorf("dump directory %s holds the dump of %s, not of %s: %w; choose another data_dir, "+
			"or remove that dump once it is no longer needed", dir, prev.Owner, owner, ErrNotOwned)
	default:
		created = prev.Created
		if err := prev.removeFiles(func(string) bool { return false }); err != nil {
			return nil, err
		}
		if err := removeStrays(dir); err != nil {
			return nil, err
		}
	}
	m := &Manifest{dir: dir, owner: owner, files: map[string]bool{}}
	if err := m.create(created); err != nil {
		return nil, err
	}
	return m, nil
}

// create writes a fresh manifest (owner line) durably, replacing any earlier one.
func (m *Manifest) create(created bool) error {
	path := filepath.Join(m.dir, ManifestName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write dump manifest: %w", err)
	}
	header := "owner " + m.owner + "\n"
	if created {
		header += "created-dir\n"
	}
	if _, err := f.WriteString(header); err != nil {
		f.Close()
		return fmt.Errorf("write dump manifest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write dump manifest: %w", err)
	}
	m.f = f
	return SyncDir(m.dir)
}

// Add records that the dump is about to create name (a bare file name in the directory).
// It is written before the file exists, so the manifest never misses a file; it is made
// durable by Sync.
func (m *Manifest) Add(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files[name] {
		return nil
	}
	if _, err := m.f.WriteString("file " + name + "\n"); err != nil {
		return fmt.Errorf("write dump manifest: %w", err)
	}
	m.files[name] = true
	return nil
}

// Sync makes the manifest durable.
func (m *Manifest) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("sync dump manifest: %w", err)
	}
	return nil
}

// Close releases the manifest file.
func (m *Manifest) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	return err
}

// ManifestInfo is a manifest as read back.
type ManifestInfo struct {
	Dir   string
	Owner string
	// Created is set when the dump created the directory itself (it may then remove it).
	Created bool
	Files   []string
}

// ReadManifest reads dir's manifest; the error wraps os.ErrNotExist when there is none.
func ReadManifest(dir string) (*ManifestInfo, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := &ManifestInfo{Dir: dir}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "owner "):
			info.Owner = strings.TrimPrefix(line, "owner ")
		case line == "created-dir":
			info.Created = true
		case strings.HasPrefix(line, "file "):
			name := strings.TrimPrefix(line, "file ")
			// Only bare names: a manifest can never point outside its directory.
			if name != "" && name == filepath.Base(name) && name != "." && name != ".." && name != ManifestName {
				info.Files = append(info.Files, name)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dump manifest in %s: %w", dir, err)
	}
	if info.Owner == "" {
		return nil, fmt.Errorf("dump manifest in %s names no owner; remove %s by hand if the directory is not in use", dir, ManifestName)
	}
	return info, nil
}

// RemoveOwned removes, from a dump directory that owner's manifest claims, the listed
// files keep does not keep (with their temporary files). When keep keeps nothing, the
// manifest goes too, and the directory itself if the dump created it and it is now empty.
// A directory without a manifest is left alone (nil error: there is no dump of owner);
// one claimed by another owner fails with ErrNotOwned.
func RemoveOwned(dir, owner string, keep func(name string) bool) error {
	info, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Owner != owner {
		return fmt.Errorf("not removing the dump in %s: it belongs to %s, not %s: %w", dir, info.Owner, owner, ErrNotOwned)
	}
	if keep == nil {
		keep = func(string) bool { return false }
	}
	if err := info.removeFiles(keep); err != nil {
		return err
	}
	for _, name := range info.Files {
		if keep(name) {
			return nil // the manifest still describes kept files
		}
	}
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove dump manifest: %w", err)
	}
	if info.Created {
		// Only succeeds when empty: files someone else put there stay, and so does the directory.
		_ = os.Remove(dir)
	}
	return nil
}

// removeFiles deletes the listed files keep rejects, metadata first, plus leftovers of
// writes the dump had begun (name.tmp, .metadata-*).
func (info *ManifestInfo) removeFiles(keep func(string) bool) error {
	names := append([]string(nil), info.Files...)
	// Metadata first: a dump whose clean-up is cut short must not look finished.
	for i, n := range names {
		if n == MetadataName {
			names[0], names[i] = names[i], names[0]
		}
	}
	for _, n := range names {
		if keep(n) {
			continue
		}
		for _, p := range []string{n, n + ".tmp"} {
			if err := os.Remove(filepath.Join(info.Dir, p)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove dump file: %w", err)
			}
		}
	}
	if keep(MetadataName) {
		return nil
	}
	tmps, _ := filepath.Glob(filepath.Join(info.Dir, ".metadata-*"))
	for _, p := range tmps {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove dump file: %w", err)
		}
	}
	return nil
}

// removeStrays removes, from a directory this owner claimed when it was empty, the dump
// files an earlier attempt wrote whose manifest line a power loss did not keep (the
// manifest is made durable once, at the end of a dump). Only files named like dump data
// and schema files or their temporary files go; a loader would otherwise take a stray
// data file for part of the new dump. Anything else stays.
func removeStrays(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read dump directory: %w", err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".tmp")
		n, err := Parse(name)
		if e.IsDir() || err != nil || (n.Kind != KindData && n.Kind != KindTableSchema && n.Kind != KindSchemaCreate) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove dump file: %w", err)
		}
	}
	return nil
}

// SyncDir makes a directory's entries (creations, renames, removals) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dump directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dump directory: %w", err)
	}
	return nil
}
