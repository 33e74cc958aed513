package relay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// NeededError refuses a purge that would remove a file a task still needs.
type NeededError struct {
	Task, File, Before string
}

func (e *NeededError) Error() string {
	return fmt.Sprintf("relay file %s is still needed by task %s (its checkpoint is in it), so the relay cannot be purged before %s; purge before %s or earlier, or let the task catch up first", e.File, e.Task, e.Before, e.File)
}

// relayFile names a file in a sub-directory by their positions in the relay.
type relayFile struct {
	subIdx int
	sub    string
	file   string
}

func (a relayFile) compare(b relayFile) int {
	if a.subIdx != b.subIdx {
		return a.subIdx - b.subIdx
	}
	return compareBinlogNames(a.file, b.file)
}

// Purge removes the relay files before file `before` of sub-directory subdir (the
// current one when empty) and every file of older sub-directories. needed maps each task
// of the source to the location it still needs; a purge reaching a needed file is
// refused with a *NeededError. Files open by readers and the file being written are
// never removed. It returns the removed paths.
func (r *Relay) Purge(subdir, before string, needed map[string]Location) ([]string, error) {
	if !isBinlogName(before) {
		return nil, fmt.Errorf("relay_binlog_name %q is not a binlog file name such as mysql-bin.000001", before)
	}
	return r.purge(func(subs []string) (relayFile, error) {
		sub := subdir
		if sub == "" {
			sub = subs[len(subs)-1]
		}
		i := slices.Index(subs, sub)
		if i < 0 {
			return relayFile{}, fmt.Errorf("relay_dir %q is not a sub-directory of the relay in %s (it has %v)", sub, r.cfg.Dir, subs)
		}
		limit := relayFile{i, sub, before}
		for task, loc := range needed {
			if f, ok := r.locate(subs, loc.File); ok && f.compare(limit) < 0 {
				return relayFile{}, &NeededError{Task: task, File: loc.File, Before: before}
			}
		}
		return limit, nil
	}, nil)
}

// PurgeInactive removes every relay file older than the oldest one still needed (by a
// task, a reader or the writer); with olderThan > 0 only files last modified before
// then. It serves the automatic purge.
func (r *Relay) PurgeInactive(needed []Location, olderThan time.Time) ([]string, error) {
	return r.purge(func(subs []string) (relayFile, error) {
		limit := relayFile{len(subs), "", ""} // everything, clamped below
		for _, loc := range needed {
			if f, ok := r.locate(subs, loc.File); ok && f.compare(limit) < 0 {
				limit = f
			}
		}
		return limit, nil
	}, func(path string) bool {
		if olderThan.IsZero() {
			return true
		}
		st, err := os.Stat(path)
		return err == nil && st.ModTime().Before(olderThan)
	})
}

// locate finds an upstream file in the relay (the newest sub-directory holding it).
func (r *Relay) locate(subs []string, file string) (relayFile, bool) {
	for i := len(subs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(r.cfg.Dir, subs[i], file)); err == nil {
			return relayFile{i, subs[i], file}, true
		}
	}
	return relayFile{}, false
}

// purge removes files strictly before the limit from decide, clamped to the oldest file
// a reader or the writer is in; keep, when set, may spare more files.
func (r *Relay) purge(decide func(subs []string) (relayFile, error), keep func(path string) bool) ([]string, error) {
	r.mu.Lock()
	if r.purging {
		r.mu.Unlock()
		return nil, errors.New("a purge of this relay is already in progress; retry when it ends")
	}
	r.purging = true
	open := []activeFile{r.active}
	for rd := range r.readers {
		s, f := rd.position()
		open = append(open, activeFile{subdir: s, file: f})
	}
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.purging = false; r.mu.Unlock() }()

	subs, err := readIndex(r.cfg.Dir)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	limit, err := decide(subs)
	if err != nil {
		return nil, err
	}
	for _, o := range open {
		if i := slices.Index(subs, o.subdir); i >= 0 && o.file != "" {
			if f := (relayFile{i, o.subdir, o.file}); f.compare(limit) < 0 {
				limit = f
			}
		}
	}
	var doomed []string
	for i, sub := range subs {
		if i > limit.subIdx {
			break
		}
		files, err := listFiles(filepath.Join(r.cfg.Dir, sub))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if (relayFile{i, sub, f}).compare(limit) >= 0 {
				break
			}
			p := filepath.Join(r.cfg.Dir, sub, f)
			if keep != nil && !keep(p) {
				break // time strategy: stop at the first file too new
			}
			doomed = append(doomed, p)
		}
	}
	return doomed, removeRelayFiles(r.cfg.Dir, doomed)
}

// removeRelayFiles deletes relay binlog files of the relay in dir: only names that are
// binlog files inside a sub-directory listed in the relay's own index.
func removeRelayFiles(dir string, paths []string) error {
	subs, err := readIndex(dir)
	if err != nil {
		return err
	}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		sub, name := filepath.Split(rel)
		if err != nil || !slices.Contains(subs, filepath.Clean(sub)) || !isBinlogName(name) {
			return fmt.Errorf("refusing to remove %s: not a relay file of %s", p, dir)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("purge relay: %w", err)
		}
	}
	return nil
}
