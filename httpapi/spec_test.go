package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestSpecDocument(t *testing.T) {
	sp, err := loadSpec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The served JSON is compact and is the same document.
	if bytes.Contains(sp.json, []byte("\n")) {
		t.Error("dm.json is not compact")
	}
	again, err := openapi3.NewLoader().LoadFromData(sp.json)
	if err != nil {
		t.Fatalf("dm.json does not load: %v", err)
	}
	if err := again.Validate(context.Background()); err != nil {
		t.Errorf("dm.json does not validate: %v", err)
	}

	// dmkit's decisions are in the document.
	schemas := sp.doc.Components.Schemas
	task := schemas["Task"].Value
	if got := enumText(task.Properties["on_duplicate"].Value); !strings.Contains(got, `"overwrite"`) {
		t.Errorf("on_duplicate enum = %s, want overwrite accepted", got)
	}
	if d := task.Properties["meta_schema"].Value.Default; d != "dm_meta" {
		t.Errorf("meta_schema default = %v, want dm_meta", d)
	}
	if d := schemas["Source"].Value.Properties["enable"].Value.Default; d != nil {
		t.Errorf("source enable has default %v; omitted means true on create and unchanged on update", d)
	}
	if n := len(schemas["CreateSourceBody"].Value.OneOf); n != 2 {
		t.Errorf("CreateSourceBody has %d alternatives, want flat Source and the wrapped request", n)
	}
	for _, so := range (&spec{doc: sp.doc}).operations() {
		if so.op.OperationID == "" || len(so.op.Tags) == 0 || so.op.Summary == "" {
			t.Errorf("%s %s lacks an operationId, a tag or a summary", so.method, so.path)
		}
	}

	withServer, err := sp.jsonWithServer("http://127.0.0.1:18261")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []map[string]string `json:"servers"`
		Paths   map[string]any      `json:"paths"`
	}
	if err := json.Unmarshal(withServer, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0]["url"] != "http://127.0.0.1:18261" || len(doc.Paths) != sp.doc.Paths.Len() {
		t.Errorf("rewritten document: servers %v, %d paths", doc.Servers, len(doc.Paths))
	}
}

// TestDocsPage checks that the HTML reference lists every operation and schema and loads
// nothing from the network.
func TestDocsPage(t *testing.T) {
	sp, err := loadSpec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	page := string(sp.html)
	for _, so := range sp.operations() {
		if !strings.Contains(page, `id="op-`+so.op.OperationID+`"`) {
			t.Errorf("docs page lacks %s", so.op.OperationID)
		}
	}
	for name := range sp.doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("docs page lacks schema %s", name)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindString(page); m != "" {
		t.Errorf("docs page loads from the network: %s", m)
	}
	for _, bad := range []string{"<script", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("docs page contains %s", bad)
		}
	}
	// Links to schemas resolve.
	for _, m := range regexp.MustCompile(`href="#(schema-[A-Za-z]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("dangling link #%s", m[1])
		}
	}
}
