package dm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmkit/dmkit/filter"
	"github.com/dmkit/dmkit/internal/dumpfile"
	"github.com/dmkit/dmkit/loader"
	"github.com/dmkit/dmkit/syncer"
)

// What a task owns (issue 7): the target schemas and tables its rules route to, its
// checkpoint tables in the meta schema, and the dump files it wrote, in directories it
// claimed. Every destructive step checks that before it runs:
//   - schema-level DDL reaches the target only for schemas the task migrates as a whole,
//     and DROP DATABASE / DROP TABLE / TRUNCATE never a target other sources merge into
//     (ownScope, used by the syncer and the loader);
//   - a dump goes into an empty (or its own) directory inside the server's data area, is
//     listed in a manifest stamped with the task's identity, and only the listed files
//     are ever removed (dumpOwner, dumpfile.Claim/RemoveOwned);
//   - meta clean-up drops only the checkpoint tables the units create (dropTaskMeta);
//   - a task's identity is a generated id, not only its name, so a new task with a
//     deleted one's name never inherits its dump, worker state or records.

// newTaskID returns a fresh task identity.
func newTaskID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// dumpOwner is the owner a subtask's dump directory manifest names.
func dumpOwner(task, id, source string) string {
	return fmt.Sprintf("task %s (id %s) source %s", task, id, source)
}

// ownScope answers, for one source of a task, which target objects the task owns.
type ownScope struct {
	rules *subtaskRules
	// whole are the schema patterns of the source's schema-level rules (table ""); all
	// is set when the task has no rule for the source (everything is migrated).
	whole []*filter.Pattern
	all   bool
	// others are the rules of the task's other sources.
	others []*subtaskRules
}

func newOwnScope(t *Task, source string, rules *subtaskRules, caseSensitive bool) (*ownScope, error) {
	s := &ownScope{rules: rules, all: true}
	for _, r := range t.TableMigrateRule {
		if r.Source.SourceName != source {
			continue
		}
		s.all = false
		if r.Source.Table != "" {
			continue
		}
		p, err := filter.CompilePattern(r.Source.Schema, caseSensitive)
		if err != nil {
			return nil, err
		}
		s.whole = append(s.whole, p)
	}
	for _, sc := range t.SourceConfig.SourceConf {
		if sc.SourceName == source {
			continue
		}
		o, err := buildSubtaskRules(sc.SourceName, t.TableMigrateRule, t.BinlogFilterRule, caseSensitive)
		if err != nil {
			return nil, err
		}
		s.others = append(s.others, o)
	}
	return s, nil
}

// wholeSchema reports whether the task migrates source schema as a whole through a
// schema-level rule, so that the (routed) schema itself is the task's. A rule naming
// tables, even `schema.*`, owns those tables only: their target schema is created when
// a table needs it, and never dropped.
func (s *ownScope) wholeSchema(schema string) bool {
	if !s.rules.BA.Whole(schema) {
		return false
	}
	if s.all {
		return true
	}
	for _, p := range s.whole {
		if p.Match(schema) {
			return true
		}
	}
	return false
}

// shared reports whether the target of source schema.table (table "" for the schema)
// may also receive rows from other upstream objects: a merging route, or another source
// of the task that may write the same target name.
func (s *ownScope) shared(schema, table string) bool {
	if s.rules.Router.Merges(schema, table) {
		return true
	}
	ts, tt, err := s.rules.Router.Route(schema, table)
	if err != nil {
		return true
	}
	for _, o := range s.others {
		for _, r := range o.RouteRules {
			if strings.EqualFold(r.TargetSchema, ts) {
				return true
			}
		}
		if o.Router.Merges(ts, tt) || o.BA.Match(ts, tt) {
			return true
		}
	}
	return false
}

// checkDataDirs refuses, at create and update, a task whose dump directories would not
// be its own: outside the server's data area (and the roots the operator allowed), or —
// for the modes that dump — not empty and not holding this task's own dump. id is the
// task's identity ("" for a new task: nothing on disk can be its own yet).
func (c *Cluster) checkDataDirs(t *Task, id string) error {
	if t.TaskMode == ModeIncremental {
		return nil // never uses a data directory
	}
	for _, sc := range t.SourceConfig.SourceConf {
		dir := effectiveDataDir(c.cfg.DataDir, t, sc.SourceName)
		if err := c.confined(dir); err != nil {
			return invalidf("task %s: full_migrate_conf.data_dir %q: %v", t.Name, t.SourceConfig.FullMigrateConf.DataDir, err)
		}
		if t.TaskMode == ModeLoad {
			continue // a load only reads the directory
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
			continue
		}
		if err != nil {
			return invalidf("task %s: full_migrate_conf.data_dir: %s: %v", t.Name, dir, err)
		}
		if m, err := dumpfile.ReadManifest(dir); err == nil && id != "" && m.Owner == dumpOwner(t.Name, id, sc.SourceName) {
			continue
		}
		return invalidf("task %s: the dump directory %s (full_migrate_conf.data_dir %q) is not empty and holds no dump of this task; "+
			"choose a new data_dir, or empty the directory", t.Name, dir, t.SourceConfig.FullMigrateConf.DataDir)
	}
	return nil
}

// confined reports why dir is not inside the server's data directory or one of the
// roots the operator allowed (Config.DataDirRoots); symbolic links are resolved for the
// part of the path that exists.
func (c *Cluster) confined(dir string) error {
	real, err := resolvePath(dir)
	if err != nil {
		return err
	}
	roots := append([]string{c.cfg.DataDir}, c.cfg.DataDirRoots...)
	for _, root := range roots {
		r, err := resolvePath(root)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(r, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil
		}
	}
	return fmt.Errorf("resolves to %s, outside the server's data directory %s; use a path inside it, or let the operator allow "+
		"another root with dm-server --allow-data-dir-root", real, c.cfg.DataDir)
}

// resolvePath makes p absolute and clean, resolving symbolic links in its longest
// existing prefix.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	cur := abs
	for {
		if real, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(real, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// removeTaskDumps removes the dumps a deleted full/all task left (they are its
// intermediate files; a dump task's output is the user's and stays), listed files only.
func (c *Cluster) removeTaskDumps(t *Task, id string) {
	if t.TaskMode != ModeFull && t.TaskMode != ModeAll {
		return
	}
	for _, sc := range t.SourceConfig.SourceConf {
		dir := effectiveDataDir(c.cfg.DataDir, t, sc.SourceName)
		if err := dumpfile.RemoveOwned(dir, dumpOwner(t.Name, id, sc.SourceName), nil); err != nil {
			c.log.Warn("task deleted, but its dump directory was not cleaned", "task", t.Name, "dir", dir, "err", err)
		}
	}
}

// The units own their checkpoint tables' names.
var (
	loaderCheckpointSuffix = loader.CheckpointTableName("")
	syncerCheckpointSuffix = syncer.CheckpointTableName("")
)

// dropTaskMeta drops the checkpoint tables of a task's units in its target (the sync's
// include its online DDL records, `<task>_onlineddl`) and the workers' fence
// (`<task>_worker_fence`, fence.go): nothing else (DM's Lightning and validator tables and `<meta_schema>_<task>` are never created
// by dmkit and may be a user's), and no identifier that cannot exist.
func dropTaskMeta(ctx context.Context, t *Task) error {
	db, err := openTarget(ctx, t)
	if err != nil {
		return err
	}
	defer db.Close()
	return errors.Join(
		loader.DropCheckpoints(ctx, db, t.MetaSchema, t.Name),
		syncer.DropCheckpoints(ctx, db, t.MetaSchema, t.Name),
		dropFence(ctx, db, t.MetaSchema, t.Name),
	)
}

// staleMetaKey names the record of a deleted task whose checkpoints could not be dropped.
func staleMetaKey(task string) string { return "stale-meta/" + task }

// rememberStaleMeta records that a deleted task's checkpoints remain in its target, so
// that a new task of the same name does not resume from them (only keep_meta=true hands
// checkpoints on, as in DM).
func (c *Cluster) rememberStaleMeta(ctx context.Context, t *Task) {
	raw, err := json.Marshal(t)
	if err == nil {
		err = c.update(ctx, func(w *writeTxn) error {
			w.put(kindMeta, &metaRecord{Name: staleMetaKey(t.Name), Value: raw})
			return nil
		})
	}
	if err != nil {
		c.log.Warn("record the deleted task's leftover checkpoints", "task", t.Name, "err", err)
	}
}

// cleanStaleMeta drops the checkpoints a deleted task of t's name left behind before t
// is created. If they cannot be dropped and they are in t's target, t is refused: it
// would resume from another task's progress.
func (c *Cluster) cleanStaleMeta(ctx context.Context, t *Task) error {
	r, ok := getRecord(c.read(), kindMeta, staleMetaKey(t.Name)).(*metaRecord)
	if !ok {
		return nil
	}
	var old Task
	if err := json.Unmarshal(r.Value, &old); err != nil {
		return fmt.Errorf("read the leftover checkpoints record of task %s: %w", t.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := dropTaskMeta(cctx, &old); err != nil {
		sameTarget := old.TargetConfig.Host == t.TargetConfig.Host && old.TargetConfig.Port == t.TargetConfig.Port && old.MetaSchema == t.MetaSchema
		if sameTarget {
			return NewError(CodeDBDriver, "task %s: checkpoints of a deleted task with this name remain in %s:%d (%s) and cannot be dropped: %v; "+
				"drop the tables %s_loader_checkpoint, %s_syncer_checkpoint and %s_onlineddl there, or choose another task name",
				t.Name, old.TargetConfig.Host, old.TargetConfig.Port, old.MetaSchema, err, t.Name, t.Name, t.Name).withCause(err)
		}
		c.log.Warn("a deleted task's checkpoints remain in its old target", "task", t.Name, "target", fmt.Sprintf("%s:%d", old.TargetConfig.Host, old.TargetConfig.Port), "err", err)
	}
	return c.update(ctx, func(w *writeTxn) error {
		if rec := w.get(kindMeta, staleMetaKey(t.Name)); rec != nil {
			w.del(kindMeta, rec)
		}
		return nil
	})
}
