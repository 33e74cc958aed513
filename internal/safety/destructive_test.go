package safety

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// site is one function that performs a destructive operation.
type site struct{ file, fn string }

// guard says why a site only ever touches what a task owns. in must occur in the
// function's own source; when callers is set the function must be called only from
// those functions, and each of them must contain its guard text.
type guard struct {
	why     string
	in      string
	callers map[site]string
}

// guards lists every destructive site of the module. Keep it current: the test fails on
// an unlisted site and on an entry whose site or guard text has gone.
var guards = map[site]guard{
	// Target: the task's own checkpoint tables, by the names only the units build.
	{"loader/checkpoint.go", "DropCheckpoints"}: {
		why: "drops <meta>.<task>_loader_checkpoint only", in: "CheckpointTableName(task)",
		callers: map[site]string{{"dm/ownership.go", "dropTaskMeta"}: "loader.DropCheckpoints(ctx, db, t.MetaSchema, t.Name)"},
	},
	{"syncer/checkpoint.go", "DropCheckpoints"}: {
		why: "drops <meta>.<task>_syncer_checkpoint and <meta>.<task>_onlineddl only", in: "[]string{checkpointTable(metaSchema, task), onlineDDLTable(metaSchema, task)}",
		callers: map[site]string{{"dm/ownership.go", "dropTaskMeta"}: "syncer.DropCheckpoints(ctx, db, t.MetaSchema, t.Name)"},
	},
	{"dm/fence.go", "dropFence"}: {
		why: "drops <meta>.<task>_worker_fence only", in: "fenceTable(metaSchema, task)",
		callers: map[site]string{{"dm/ownership.go", "dropTaskMeta"}: "dropFence(ctx, db, t.MetaSchema, t.Name)"},
	},
	// Target: truncating the routed tables of a dump being redone.
	{"loader/checkpoint.go", "ResetForRedo"}: {
		why: "truncates only the tables the caller passes", in: "for _, t := range truncate",
		callers: map[site]string{{"dm/units_full.go", "resetLoad"}: "p.rules.migrateTargets(tables)"},
	},
	// Target: replicated DDL (DROP/TRUNCATE/RENAME/ALTER) runs only after ddlScope.
	{"syncer/ddl.go", "applyDDL"}: {
		why: "executes the DDL handleStatement kept", in: "r.execDDL(ctx, d",
		callers: map[site]string{{"syncer/ddl.go", "handleStatement"}: "r.ddlScope(d)"},
	},
	{"syncer/scope.go", "ownedDrops"}: {
		why: "drops only tables the rules replicate that no other source feeds", in: "!r.replicated(d.schema, tbl) || r.cfg.Shared(d.schema, tbl)",
	},
	// Files: a dump's own files, listed in a manifest stamped with its owner.
	{"internal/dumpfile/manifest.go", "RemoveOwned"}: {
		why: "removes listed files of the caller's own manifest", in: "info.Owner != owner",
	},
	{"internal/dumpfile/manifest.go", "removeFiles"}: {
		why: "removes the files a manifest lists", in: "info.Files",
		callers: map[site]string{
			{"internal/dumpfile/manifest.go", "RemoveOwned"}: "info.Owner != owner",
			{"internal/dumpfile/manifest.go", "Claim"}:       "prev.Owner != owner",
		},
	},
	{"internal/dumpfile/manifest.go", "removeStrays"}: {
		why: "removes dump-named files from a directory the same owner claimed empty", in: "n.Kind != KindData && n.Kind != KindTableSchema && n.Kind != KindSchemaCreate",
		callers: map[site]string{{"internal/dumpfile/manifest.go", "Claim"}: "prev.Owner != owner"},
	},
	{"internal/dumpfile/dumpfile.go", "WriteFile"}: {why: "removes its own temporary file", in: "os.CreateTemp(dir"},
	{"dumper/writer.go", "writeSQLFile"}:           {why: "removes its own temporary file", in: "tmp := path + tmpSuffix"},
	{"dumper/writer.go", "closeFile"}:              {why: "removes its own temporary file", in: "w.path+tmpSuffix"},
	{"dumper/writer.go", "abort"}:                  {why: "removes its own temporary file", in: "w.path + tmpSuffix"},
	{"dm/filestore.go", "Scrub"}:                   {why: "removes its own half-written copy of the store", in: `tmp := s.path + ".scrub"`},
	{"examples/migrate/main.go", "run"}:            {why: "removes the temp dump dir it created", in: `os.MkdirTemp("", "dmkit-migrate-")`},
	// Relay files: binlog-named files of the relay's own sub-directories, only before
	// the oldest file a task, a reader or the writer needs.
	{"relay/purge.go", "removeRelayFiles"}: {
		why: "removes binlog files inside sub-directories listed in the relay's own index", in: "!slices.Contains(subs, filepath.Clean(sub)) || !isBinlogName(name)",
		callers: map[site]string{{"relay/purge.go", "purge"}: "(relayFile{i, sub, f}).compare(limit) >= 0"},
	},
	// Test and benchmark tooling, never reached by a task.
	{"internal/mysqltest/server.go", "Stop"}:             {why: "removes the throwaway server's own temp dir", in: "s.Dir"},
	{"internal/etcdtest/etcdtest.go", "Stop"}:            {why: "removes the embedded etcd's own temp dir", in: `strings.Contains(s.Dir, "etcdtest-")`},
	{"scripts/bench/phases/pipeline.go", "freshPipeDir"}: {why: "benchmark empties its own pipelined dump dir", in: `o.dir + "-pipe"`},
	{"scripts/bench/phases/main.go", "resetTarget"}:      {why: "benchmark drops its own bench schemas", in: "o.schema"},
}

// destructive matches SQL that destroys data at the start of a string literal (the
// code base writes SQL keywords in upper case; messages are lower case).
var destructive = regexp.MustCompile(`^"\s*(DROP\s+(TABLE|DATABASE|SCHEMA)|TRUNCATE\s+)`)

func TestDestructiveOperationsAreGuarded(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	found := map[site]string{}   // site → what was found
	bodies := map[site]string{}  // site → function source
	calls := map[string][]site{} // called name → calling sites
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			s := site{rel, fn.Name.Name}
			bodies[s] = string(src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset])
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BasicLit:
					if x.Kind == token.STRING && destructive.MatchString(x.Value) {
						found[s] = "SQL " + x.Value
					}
				case *ast.CallExpr:
					name := callName(x)
					calls[name] = append(calls[name], s)
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && (sel.Sel.Name == "Remove" || sel.Sel.Name == "RemoveAll") {
							found[s] = "os." + sel.Sel.Name
						}
					}
					if name == "execDDL" {
						found[s] = "replicated DDL"
					}
				case *ast.CompositeLit:
					// The schema tracker's statements change its in-memory model only.
					if sel, ok := x.Type.(*ast.SelectorExpr); ok && (sel.Sel.Name == "DropTableStmt" || sel.Sel.Name == "DropDatabaseStmt" || sel.Sel.Name == "TruncateTableStmt") &&
						!strings.HasPrefix(rel, "syncer/tracker/") {
						found[s] = "built " + sel.Sel.Name
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// splitDDL rebuilds DROP TABLE per table: no new target, the caller checks each part.
	delete(found, site{"syncer/ddlast.go", "splitDDL"})

	var names []site
	for s := range found {
		names = append(names, s)
	}
	sort.Slice(names, func(i, j int) bool { return names[i].file+names[i].fn < names[j].file+names[j].fn })
	for _, s := range names {
		g, ok := guards[s]
		if !ok {
			t.Errorf("%s %s: %s is a destructive operation without a listed guard; make it check what the task owns and list it in guards", s.file, s.fn, found[s])
			continue
		}
		t.Logf("%s %s: %s — %s", s.file, s.fn, found[s], g.why)
	}
	for s, g := range guards {
		body, ok := bodies[s]
		if !ok {
			t.Errorf("guards lists %s %s, which no longer exists; remove the entry", s.file, s.fn)
			continue
		}
		if _, ok := found[s]; !ok && !strings.Contains(s.fn, "applyDDL") {
			// applyDDL is a sink by its call of execDDL.
			t.Errorf("guards lists %s %s, which no longer does anything destructive; remove the entry", s.file, s.fn)
		}
		if !strings.Contains(body, g.in) {
			t.Errorf("%s %s: its guard %q is gone (%s)", s.file, s.fn, g.in, g.why)
		}
		if g.callers == nil {
			continue
		}
		for _, caller := range calls[s.fn] {
			if caller == s {
				continue
			}
			want, ok := g.callers[caller]
			if !ok {
				if caller.file == s.file || sameName(g.callers, caller) {
					continue
				}
				t.Errorf("%s %s is called from %s %s, which is not a listed guarded caller", s.file, s.fn, caller.file, caller.fn)
				continue
			}
			if !strings.Contains(bodies[caller], want) {
				t.Errorf("%s %s calls %s without its guard %q", caller.file, caller.fn, s.fn, want)
			}
		}
		for caller, want := range g.callers {
			if !strings.Contains(bodies[caller], want) {
				t.Errorf("listed caller %s %s of %s lacks its guard %q", caller.file, caller.fn, s.fn, want)
			}
		}
	}
}

// sameName reports whether callers lists a function of that name (a same-named method
// elsewhere is a different function; only the file decides).
func sameName(callers map[site]string, s site) bool {
	_, ok := callers[s]
	return ok
}

func callName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
