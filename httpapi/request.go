package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/dmkit/dmkit/dm"
)

const (
	jsonMIME        = "application/json"
	jsonContentType = "application/json; charset=utf-8"
)

// handler serves one operation: it decodes what it needs from x, calls one Cluster method
// and returns the response body (nil for an empty body; a rawBody is written as is).
type handler func(x *call) (any, error)

// rawBody is a response body written verbatim.
type rawBody struct {
	contentType string
	data        []byte
}

// call is one validated request on its way to a Cluster method.
type call struct {
	ctx    context.Context
	r      *http.Request
	params map[string]string // URL-decoded path parameters
	body   []byte            // the validated JSON body; nil when none was sent
	err    error             // the first query-parameter error, see boolQuery
	values url.Values        // the parsed query string, see queryValues
}

// param returns a path parameter.
func (x *call) param(name string) string { return x.params[name] }

// boolQuery parses a boolean query parameter (absent: false). A malformed value records
// x.err, which the handler must return before calling the cluster.
func (x *call) boolQuery(name string) bool {
	v := x.optBoolQuery(name)
	return v != nil && *v
}

// optBoolQuery is boolQuery with absence reported as nil.
func (x *call) optBoolQuery(name string) *bool {
	vals, ok := x.queryValues()[name]
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(vals[0])
	if err != nil {
		if x.err == nil {
			x.err = invalidRequest("query parameter %q: %q is not a boolean; use true or false", name, vals[0])
		}
		return nil
	}
	return &b
}

// query returns a string query parameter ("" when absent).
func (x *call) query(name string) string { return x.queryValues().Get(name) }

// queryList returns an array query parameter in form/explode style (?a=1&a=2).
func (x *call) queryList(name string) []string { return x.queryValues()[name] }

// queryValues parses the query string strictly: a malformed one (with_status=%zz) is a
// 400, not silently an absent parameter as url.URL.Query would have it.
func (x *call) queryValues() url.Values {
	if x.values != nil {
		return x.values
	}
	v, err := url.ParseQuery(x.r.URL.RawQuery)
	if err != nil && x.err == nil {
		x.err = invalidRequest("query string %q: %v; percent-encode special characters", x.r.URL.RawQuery, err)
	}
	x.values = v
	return v
}

// decode unmarshals the body into v; without a body v is left as is (the zero request).
func (x *call) decode(v any) error {
	if x.body == nil {
		return nil
	}
	if err := json.Unmarshal(x.body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalidRequest("request body: /%s: expected %s, got a JSON %s", strings.ReplaceAll(te.Field, ".", "/"), te.Type, te.Value)
		}
		return invalidRequest("request body: %v", err)
	}
	return nil
}

// serve validates the request against rt's operation, runs its handler and writes the
// answer.
func (s *server) serve(w http.ResponseWriter, r *http.Request, rt *route, params map[string]string) {
	x := &call{ctx: r.Context(), r: r, params: params}
	if rec, ok := w.(*recorder); ok {
		rec.op = rt.op.OperationID
	}
	if err := s.validateParams(r, rt, params); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rt.op.RequestBody != nil {
		body, err := s.readBody(w, r, rt.op.RequestBody.Value)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		x.body = body
	}
	resp, err := rt.handle(x)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch v := resp.(type) {
	case nil:
		w.WriteHeader(rt.status)
	case rawBody:
		w.Header().Set("Content-Type", v.contentType)
		w.WriteHeader(rt.status)
		_, _ = w.Write(v.data)
	default:
		s.writeJSON(w, r, rt.status, v)
	}
}

// validateParams checks path and query parameters against the document (kin-openapi).
func (s *server) validateParams(r *http.Request, rt *route, params map[string]string) error {
	in := &openapi3filter.RequestValidationInput{
		Request:     r,
		PathParams:  params,
		QueryParams: r.URL.Query(),
		Route:       &routers.Route{Spec: s.spec.doc, Path: rt.path, PathItem: rt.item, Method: rt.method, Operation: rt.op},
		Options:     &openapi3filter.Options{ExcludeRequestBody: true},
	}
	err := openapi3filter.ValidateRequest(r.Context(), in)
	if err == nil {
		return nil
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) && re.Parameter != nil {
		reason := re.Reason
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			reason = se.Reason
		} else if re.Err != nil {
			reason = re.Err.Error()
		}
		return invalidRequest("%s parameter %q: %s", re.Parameter.In, re.Parameter.Name, reason)
	}
	return invalidRequest("request: %v", err)
}

// readBody reads a request body of at most s.maxBody bytes and validates it against the
// document. It returns nil for an empty optional body.
func (s *server) readBody(w http.ResponseWriter, r *http.Request, rb *openapi3.RequestBody) ([]byte, error) {
	if r.ContentLength > s.maxBody {
		return nil, bodyTooLarge(s.maxBody)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, bodyTooLarge(s.maxBody)
		}
		return nil, invalidRequest("reading request body: %v", err)
	}
	schemaRef := rb.Content.Get(jsonMIME).Schema
	if len(bytes.TrimSpace(data)) == 0 {
		if rb.Required {
			return nil, invalidRequest("request body is required: send a JSON %s object with Content-Type: application/json", schemaName(schemaRef))
		}
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != jsonMIME {
		return nil, invalidRequest("request body: Content-Type is %q; send JSON with Content-Type: application/json", ct)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, invalidRequest("request body is not valid JSON: %s", jsonSyntaxError(data, err))
	}
	schema := schemaRef.Value
	if len(schema.OneOf) > 0 {
		schema = oneOfBranch(schema, v)
	}
	if err := schema.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.DisableReadOnlyValidation()); err != nil {
		return nil, invalidRequest("request body: %s", schemaErrorText(err))
	}
	return data, nil
}

// oneOfBranch picks the branch of a oneOf request schema a body is meant to match, so that
// errors name that shape's fields instead of "matches no schema". A body is the wrapped
// shape when it holds an object under a property that a branch requires and declares as an
// object (create source: {"source": {...}}, see wrappedSource); otherwise it is the first
// branch.
func oneOfBranch(schema *openapi3.Schema, body any) *openapi3.Schema {
	obj, _ := body.(map[string]any)
	for _, alt := range schema.OneOf {
		for _, req := range alt.Value.Required {
			prop := alt.Value.Properties[req]
			if _, isObj := obj[req].(map[string]any); isObj && prop != nil && prop.Value.Type.Is(openapi3.TypeObject) {
				return alt.Value
			}
		}
	}
	return schema.OneOf[0].Value
}

// schemaErrorText renders a kin-openapi schema error as "/json/pointer: reason".
func schemaErrorText(err error) string {
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return err.Error()
	}
	ptr := se.JSONPointer()
	if se.SchemaField == "required" && len(ptr) > 0 {
		// The pointer ends with the missing property, which the reason names already.
		ptr = ptr[:len(ptr)-1]
	}
	if len(ptr) == 0 {
		return se.Reason
	}
	return "/" + strings.Join(ptr, "/") + ": " + se.Reason
}

// jsonSyntaxError describes a JSON decoding error with its line and column.
func jsonSyntaxError(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err.Error()
	}
	before := data[:min(int(se.Offset), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n') - 1
	return fmt.Sprintf("%v (line %d, column %d)", err, line, col)
}

// schemaName is the component name of a $ref'd schema, for messages.
func schemaName(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Ref == "" {
		return "object"
	}
	return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
}

// invalidRequest is a 400 with code 49100.
func invalidRequest(format string, args ...any) *dm.Error {
	return dm.NewError(dm.CodeInvalidRequest, format, args...)
}

func bodyTooLarge(limit int64) *dm.Error {
	err := dm.NewError(dm.CodeBodyTooLarge, "request body is larger than %d bytes", limit)
	err.Status = http.StatusRequestEntityTooLarge
	return err
}

// errorBody is the body of every error answer.
type errorBody struct {
	ErrorMsg  string `json:"error_msg"`
	ErrorCode int    `json:"error_code"`
}

// writeError is the one place an error becomes an answer: a *dm.Error anywhere in err's
// chain gives its HTTP status and code; anything else is an internal error (500, 49105).
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := http.StatusInternalServerError, errorBody{ErrorMsg: err.Error(), ErrorCode: dm.CodeInternal}
	var de *dm.Error
	if errors.As(err, &de) {
		status, body.ErrorCode = de.HTTPStatus(), de.Code
	} else {
		body.ErrorMsg = "internal error: " + body.ErrorMsg
	}
	if status >= http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", logText(body.ErrorMsg))
	} else if rec, ok := w.(*recorder); ok {
		// A refusal's reason goes on the request's own log line (ServeHTTP), at INFO.
		rec.errCode, rec.errMsg = body.ErrorCode, body.ErrorMsg
	}
	s.writeJSON(w, r, status, body)
}

// maxLogText bounds an error message in the log: messages may quote request content.
const maxLogText = 512

// logText is s cut to maxLogText bytes, on one line.
func logText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxLogText {
		s = s[:maxLogText] + "…"
	}
	return s
}

// writeJSON writes v pretty-printed with a 4-space indent, as DM does.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encode response", "method", r.Method, "path", r.URL.Path, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(errorBody{ErrorMsg: "internal error: encode response: " + err.Error(), ErrorCode: dm.CodeInternal})
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
