package loader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/internal/sqlq"
)

// dispatch hands each new file of files to the workers on work, in arrival order, until
// files is closed and every job is handed out, ctx is done, or a file is rejected (fail).
// CREATE DATABASE files are applied inline; CREATE TABLE files are applied by up to
// Threads goroutines in parallel (each costs the target a file creation and commits,
// ~0.1–0.2 s under load), and a data file's job waits in its worker until its table's
// schema file is applied. It returns after those goroutines.
func (l *Loader) dispatch(ctx context.Context, files <-chan string, work chan<- *job, fail func(error)) {
	seen := map[string]bool{}
	ready := map[[2]string]chan struct{}{} // source table → closed once its schema is applied
	slots := make(chan struct{}, l.cfg.Threads)
	var schemas sync.WaitGroup
	defer schemas.Wait()
	var queue []*job
	in := files
	for in != nil || len(queue) > 0 {
		var out chan<- *job
		var head *job
		if len(queue) > 0 {
			out, head = work, queue[0]
		}
		select {
		case <-ctx.Done():
			return
		case p, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if seen[filepath.Base(p)] { // one job per file, however its path is spelled
				continue
			}
			seen[filepath.Base(p)] = true
			if info, err := dumpfile.Parse(filepath.Base(p)); err == nil && info.Kind == dumpfile.KindTableSchema {
				done := make(chan struct{})
				ready[[2]string{info.Schema, info.Table}] = done
				schemas.Go(func() {
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return
					}
					defer func() { <-slots }()
					if _, err := l.accept(ctx, p); err != nil {
						fail(err)
						return
					}
					close(done)
				})
				continue
			}
			j, err := l.accept(ctx, p)
			if err != nil {
				fail(err)
				return
			}
			if j != nil {
				j.ready = ready[[2]string{j.info.Schema, j.info.Table}]
				queue = append(queue, j)
			}
		case out <- head:
			queue[0] = nil
			queue = queue[1:]
		}
	}
}

// accept classifies one arriving path: schema files are applied now, data files become
// jobs, anything else is skipped.
func (l *Loader) accept(ctx context.Context, p string) (*job, error) {
	if filepath.Base(p) == p {
		p = filepath.Join(l.cfg.Dir, p)
	}
	name := filepath.Base(p)
	info, err := dumpfile.Parse(name)
	if err != nil {
		l.log.Warn("skipping a file that is not a dump file", "file", p, "err", err)
		return nil, nil
	}
	switch info.Kind {
	case dumpfile.KindSchemaCreate, dumpfile.KindTableSchema:
		return nil, l.applySchemaFile(ctx, p, name, info)
	case dumpfile.KindData:
	default:
		return nil, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("load dump file: %w", err)
	}
	if len(name) > 255 {
		return nil, fmt.Errorf("dump file name %s is longer than the 255 characters a checkpoint can hold; use shorter table names or a route", name)
	}
	ts, tt, err := l.cfg.Route(info.Schema, info.Table)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", sqlq.QuoteTable(info.Schema, info.Table), err)
	}
	l.track(name, fi.Size())
	return &job{
		path:   p,
		name:   name,
		info:   info,
		size:   fi.Size(),
		prefix: []byte(l.verb + sqlq.QuoteTable(ts, tt)),
	}, nil
}
