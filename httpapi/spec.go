package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// openapiYAML is the API's OpenAPI 3 document: the single source of truth for routes,
// parameters, request schemas and success statuses.
//
//go:embed openapi.yaml
var openapiYAML []byte

//go:embed docs.html.tmpl
var docsTemplateText string

// spec is the parsed OpenAPI document and its two served renderings.
type spec struct {
	doc  *openapi3.T
	json []byte // compact JSON, served at /api/v1/dm.json
	html []byte // the offline reference page, served at /api/v1/docs
}

// loadSpec parses and validates the embedded document and renders it once.
func loadSpec(ctx context.Context) (*spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		return nil, fmt.Errorf("parse embedded openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate embedded openapi.yaml: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render openapi.yaml as JSON: %w", err)
	}
	page, err := renderDocs(doc)
	if err != nil {
		return nil, fmt.Errorf("render API docs page: %w", err)
	}
	return &spec{doc: doc, json: js, html: page}, nil
}

// jsonWithServer returns the compact document with servers replaced by url alone.
func (s *spec) jsonWithServer(url string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(s.json, &m); err != nil {
		return nil, fmt.Errorf("rewrite OpenAPI servers: %w", err)
	}
	servers, err := json.Marshal([]map[string]string{{"url": url}})
	if err != nil {
		return nil, fmt.Errorf("rewrite OpenAPI servers: %w", err)
	}
	m["servers"] = servers
	return json.Marshal(m)
}

// methodOrder is the order operations of one path are listed and routed in.
var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// operations lists every (path, method, operation) of the document, sorted by path and
// then by methodOrder.
func (s *spec) operations() []specOp {
	var ops []specOp
	paths := s.doc.Paths.Map()
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item := paths[p]
		for _, m := range methodOrder {
			if op := item.GetOperation(m); op != nil {
				ops = append(ops, specOp{path: p, method: m, item: item, op: op})
			}
		}
	}
	return ops
}

// specOp is one operation of the document.
type specOp struct {
	path, method string
	item         *openapi3.PathItem
	op           *openapi3.Operation
}

// successStatus is the operation's only 2xx response code, and whether that response
// has a body.
func successStatus(op *openapi3.Operation) (status int, hasBody bool, err error) {
	for code, resp := range op.Responses.Map() {
		var n int
		if _, err := fmt.Sscanf(code, "%d", &n); err != nil || n < 200 || n > 299 {
			continue
		}
		if status != 0 {
			return 0, false, fmt.Errorf("operation %s has two success responses (%d and %d)", op.OperationID, status, n)
		}
		status, hasBody = n, resp.Value != nil && len(resp.Value.Content) > 0
	}
	if status == 0 {
		return 0, false, fmt.Errorf("operation %s has no 2xx response", op.OperationID)
	}
	return status, hasBody, nil
}

// requestSchema is the JSON schema of the operation's request body, or nil.
func requestSchema(op *openapi3.Operation) *openapi3.SchemaRef {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get(jsonMIME)
	if mt == nil {
		return nil
	}
	return mt.Schema
}

// ---- the HTML reference page ----

// docsPage is the view model of docs.html.tmpl.
type docsPage struct {
	Title, Version, Description string
	Groups                      []docsGroup
	Schemas                     []docsSchema
}

type docsGroup struct {
	Name, Description string
	Ops               []docsOp
}

type docsOp struct {
	ID, Method, Path, Summary, Description string
	Params                                 []docsField
	Body                                   *docsBody
	Responses                              []docsResponse
}

type docsBody struct {
	Required bool
	Type     []typePart
}

type docsResponse struct {
	Status, Description string
	Type                []typePart
}

type docsSchema struct {
	Name, Description string
	Type              []typePart
	Fields            []docsField
}

// docsField is a parameter or a schema property.
type docsField struct {
	Name, In, Description, Default, Enum string
	Type                                 []typePart
	Required, ReadOnly, Nullable         bool
}

// typePart is a piece of a rendered type: plain text, or a link to a named schema.
type typePart struct{ Text, Ref string }

func renderDocs(doc *openapi3.T) ([]byte, error) {
	tmpl, err := template.New("docs").Parse(docsTemplateText)
	if err != nil {
		return nil, err
	}
	page := docsPage{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	groups := map[string]*docsGroup{}
	var order []string
	for _, t := range doc.Tags {
		groups[t.Name] = &docsGroup{Name: t.Name, Description: t.Description}
		order = append(order, t.Name)
	}
	s := &spec{doc: doc}
	for _, so := range s.operations() {
		tag := "other"
		if len(so.op.Tags) > 0 {
			tag = so.op.Tags[0]
		}
		g := groups[tag]
		if g == nil {
			g = &docsGroup{Name: tag}
			groups[tag] = g
			order = append(order, tag)
		}
		g.Ops = append(g.Ops, docsOperation(so))
	}
	for _, name := range order {
		if g := groups[name]; len(g.Ops) > 0 {
			page.Groups = append(page.Groups, *g)
		}
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sc := doc.Components.Schemas[name].Value
		ds := docsSchema{Name: name, Description: sc.Description, Type: typeOf(&openapi3.SchemaRef{Value: sc})}
		ds.Fields = schemaFields("", sc)
		page.Schemas = append(page.Schemas, ds)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func docsOperation(so specOp) docsOp {
	d := docsOp{ID: so.op.OperationID, Method: so.method, Path: so.path, Summary: so.op.Summary, Description: so.op.Description}
	params := append(slices.Clone(so.item.Parameters), so.op.Parameters...)
	for _, p := range params {
		pv := p.Value
		f := docsField{Name: pv.Name, In: pv.In, Description: pv.Description, Required: pv.Required}
		if pv.Schema != nil {
			f.Type = typeOf(pv.Schema)
			f.Enum = enumText(pv.Schema.Value)
		}
		d.Params = append(d.Params, f)
	}
	if rb := so.op.RequestBody; rb != nil && rb.Value != nil {
		d.Body = &docsBody{Required: rb.Value.Required}
		if sc := requestSchema(so.op); sc != nil {
			d.Body.Type = typeOf(sc)
		}
	}
	codes := make([]string, 0, so.op.Responses.Len())
	for code := range so.op.Responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		r := so.op.Responses.Value(code).Value
		dr := docsResponse{Status: code}
		if r.Description != nil {
			dr.Description = *r.Description
		}
		for _, mt := range r.Content {
			if mt.Schema != nil {
				dr.Type = typeOf(mt.Schema)
			}
		}
		d.Responses = append(d.Responses, dr)
	}
	return d
}

// schemaFields lists the properties of an object schema; inline object properties are
// flattened with dotted names.
func schemaFields(prefix string, sc *openapi3.Schema) []docsField {
	names := make([]string, 0, len(sc.Properties))
	for name := range sc.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	var fields []docsField
	for _, name := range names {
		ref := sc.Properties[name]
		p := ref.Value
		f := docsField{
			Name: prefix + name, Description: p.Description, Type: typeOf(ref),
			Required: slices.Contains(sc.Required, name), ReadOnly: p.ReadOnly, Nullable: p.Nullable,
			Enum: enumText(p),
		}
		if p.Default != nil {
			b, _ := json.Marshal(p.Default)
			f.Default = string(b)
		}
		fields = append(fields, f)
		if ref.Ref == "" && p.Type.Is(openapi3.TypeObject) && len(p.Properties) > 0 {
			fields = append(fields, schemaFields(prefix+name+".", p)...)
		}
	}
	return fields
}

func enumText(sc *openapi3.Schema) string {
	if sc == nil || len(sc.Enum) == 0 {
		return ""
	}
	vals := make([]string, len(sc.Enum))
	for i, v := range sc.Enum {
		b, _ := json.Marshal(v)
		vals[i] = string(b)
	}
	return strings.Join(vals, ", ")
}

// typeOf renders a schema's type, linking named schemas.
func typeOf(ref *openapi3.SchemaRef) []typePart {
	if ref == nil {
		return nil
	}
	if ref.Ref != "" {
		return []typePart{{Ref: ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]}}
	}
	sc := ref.Value
	switch {
	case len(sc.OneOf) > 0:
		var parts []typePart
		for i, alt := range sc.OneOf {
			if i > 0 {
				parts = append(parts, typePart{Text: " or "})
			}
			parts = append(parts, typeOf(alt)...)
		}
		return parts
	case sc.Type.Is(openapi3.TypeArray):
		return append([]typePart{{Text: "array of "}}, typeOf(sc.Items)...)
	case sc.Type.Is(openapi3.TypeObject) && sc.AdditionalProperties.Schema != nil:
		return append([]typePart{{Text: "map of "}}, typeOf(sc.AdditionalProperties.Schema)...)
	case sc.Type != nil && len(sc.Type.Slice()) > 0:
		return []typePart{{Text: strings.Join(sc.Type.Slice(), " | ")}}
	}
	return []typePart{{Text: "any"}}
}
