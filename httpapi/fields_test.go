package httpapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// fieldEntry is one field of fields.yaml.
type fieldEntry struct {
	Effect  []string `yaml:"effect"`
	Refused *struct {
		Value   any    `yaml:"value"`
		Message string `yaml:"message"`
	} `yaml:"refused"`
	Response bool   `yaml:"response"`
	Open     string `yaml:"open"`
}

// testDirs maps the package names fields.yaml cites to their directories.
var testDirs = map[string]string{"dm": "../dm", "dumper": "../dumper", "loader": "../loader", "syncer": "../syncer", "dbconn": "../internal/dbconn",
	"precheck": "../dm/internal/precheck", "relay": "../relay"}

// TestEveryFieldActsOrIsRefused walks every field of the Task and Source objects of our
// OpenAPI document and checks fields.yaml accounts for it (issue 11): each field has tests
// that show its effect, a value that is refused (sent here, expecting 400), is
// response-only, or is open on a named branch. A field added to the document without an
// entry fails the test.
func TestEveryFieldActsOrIsRefused(t *testing.T) {
	b, err := os.ReadFile("fields.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var list map[string]fieldEntry
	if err := yaml.Unmarshal(b, &list); err != nil {
		t.Fatalf("fields.yaml: %v", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{} // path → readOnly
	walkFields("task", doc.Components.Schemas["Task"], fields, 0)
	walkFields("source", doc.Components.Schemas["Source"], fields, 0)
	if len(fields) < 50 {
		t.Fatalf("walked only %d fields; the walker is broken", len(fields))
	}

	var missing, gone []string
	for f := range fields {
		if _, ok := list[f]; !ok {
			missing = append(missing, f)
		}
	}
	for f := range list {
		if _, ok := fields[f]; !ok {
			gone = append(gone, f)
		}
	}
	sort.Strings(missing)
	sort.Strings(gone)
	if len(missing) > 0 {
		t.Errorf("openapi.yaml fields missing from fields.yaml (add each with the test proving its effect, or refuse it):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(gone) > 0 {
		t.Errorf("fields.yaml lists fields openapi.yaml does not have:\n  %s", strings.Join(gone, "\n  "))
	}

	tests := map[string]map[string]bool{}
	var open []string
	for _, f := range sortedKeys(list) {
		e := list[f]
		if e.Response != fields[f] {
			t.Errorf("%s: response=%v in fields.yaml, readOnly=%v in openapi.yaml", f, e.Response, fields[f])
		}
		if !e.Response && len(e.Effect) == 0 && e.Refused == nil && e.Open == "" {
			t.Errorf("%s: neither an effect test, a refused value nor an open branch", f)
		}
		if e.Open != "" {
			open = append(open, f+" ("+e.Open+")")
		}
		for _, name := range e.Effect {
			pkg, fn, ok := strings.Cut(name, ".")
			dir := testDirs[pkg]
			if !ok || dir == "" {
				t.Errorf("%s: effect %q is not package.TestName with a package of %v", f, name, slices.Sorted(mapKeys(testDirs)))
				continue
			}
			if tests[pkg] == nil {
				tests[pkg] = testNames(t, dir)
			}
			if !tests[pkg][fn] {
				t.Errorf("%s: effect test %s does not exist in %s", f, name, dir)
			}
		}
	}
	if len(open) > 0 {
		// Every branch has landed: a field still open is accepted and ignored.
		t.Errorf("fields accepted without an effect (nothing may be accepted and ignored):\n  %s", strings.Join(open, "\n  "))
	}

	h := New(newTestCluster(t), Options{})
	for _, f := range sortedKeys(list) {
		e := list[f]
		if e.Refused == nil {
			continue
		}
		t.Run(f, func(t *testing.T) {
			if !strings.HasPrefix(f, "task.") {
				t.Fatalf("refused values are sent for task fields only; prove %s with an effect test", f)
			}
			body := baseTaskBody(t)
			setPath(t, body, strings.Split(strings.TrimPrefix(f, "task."), "."), e.Refused.Value)
			raw, err := json.Marshal(map[string]any{"task": body})
			if err != nil {
				t.Fatal(err)
			}
			send(t, h, "POST", "/api/v1/tasks", string(raw)).wantError(t, http.StatusBadRequest, 0, e.Refused.Message)
		})
	}
}

// walkFields records every property path under sc (readOnly flags), following $refs,
// array items ("[]") and map values ("*").
func walkFields(prefix string, ref *openapi3.SchemaRef, out map[string]bool, depth int) {
	if ref == nil || ref.Value == nil || depth > 8 {
		return
	}
	sc := ref.Value
	if sc.Items != nil && sc.Items.Value != nil && len(sc.Items.Value.Properties) > 0 {
		walkFields(prefix+"[]", sc.Items, out, depth+1)
		return
	}
	if ap := sc.AdditionalProperties.Schema; ap != nil {
		walkFields(prefix+".*", ap, out, depth+1)
	}
	for name, p := range sc.Properties {
		path := prefix + "." + name
		if v := p.Value; v != nil && !v.ReadOnly && (len(v.Properties) > 0 || v.AdditionalProperties.Schema != nil ||
			(v.Items != nil && v.Items.Value != nil && len(v.Items.Value.Properties) > 0)) {
			walkFields(path, p, out, depth+1)
			continue
		}
		out[path] = p.Value != nil && p.Value.ReadOnly
	}
}

// baseTaskBody is validTask's task, which passes validation.
func baseTaskBody(t *testing.T) map[string]any {
	var req struct {
		Task map[string]any `json:"task"`
	}
	if err := json.Unmarshal([]byte(validTask), &req); err != nil {
		t.Fatal(err)
	}
	return req.Task
}

// setPath sets the value at path in a JSON object, creating objects on the way; "x[]"
// addresses the first element of array x and "*" the first value of a map.
func setPath(t *testing.T, obj map[string]any, path []string, v any) {
	t.Helper()
	key := path[0]
	if len(path) == 1 {
		obj[key] = v
		return
	}
	if name, ok := strings.CutSuffix(key, "[]"); ok {
		arr, _ := obj[name].([]any)
		if len(arr) == 0 {
			arr = []any{map[string]any{}}
			obj[name] = arr
		}
		setPath(t, arr[0].(map[string]any), path[1:], v)
		return
	}
	if path[1] == "*" {
		m, _ := obj[key].(map[string]any)
		if len(m) == 0 {
			m = map[string]any{"rule-1": map[string]any{}}
			obj[key] = m
		}
		for _, k := range sortedKeys(m) {
			setPath(t, m[k].(map[string]any), path[2:], v)
			return
		}
	}
	next, _ := obj[key].(map[string]any)
	if next == nil {
		next = map[string]any{}
		obj[key] = next
	}
	setPath(t, next, path[1:], v)
}

var testFuncRE = regexp.MustCompile(`(?m)^func (Test\w+)\(`)

// testNames lists the Test functions of the _test.go files in dir.
func testNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s: %v", dir, err)
	}
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testFuncRE.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(mapKeys(m)) }

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
