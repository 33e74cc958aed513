package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/julienschmidt/httprouter"

	"github.com/dmkit/dmkit/dm"
)

// DefaultMaxBodyBytes is the request-body limit used when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 4 << 20

// Options configures New.
type Options struct {
	// Logger receives one line per request and every internal error; nil discards them.
	// Request bodies are never logged (they carry passwords).
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; a larger body gets 413 with code 49103.
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Observe, when set, is called after every request with the OpenAPI operationId ("" for
	// a path outside the document), the status and the duration: the seam for metrics, so
	// this package does not depend on a metrics library.
	Observe func(operation string, status int, d time.Duration)
}

// New returns the HTTP handler of DM's OpenAPI (/api/v1/...) served by c.
//
// Every route of the embedded OpenAPI document is mounted; requests are validated against
// that document before the matching Cluster method is called, and every error answers with
// `{"error_msg": "...", "error_code": <int>}`. New panics only if the embedded document is
// broken, which the package tests rule out.
func New(c *dm.Cluster, opts Options) http.Handler {
	s, err := newServer(c, opts)
	if err == nil {
		err = s.mount(s.handlers())
	}
	if err != nil {
		panic("httpapi: " + err.Error())
	}
	return s
}

// server is the http.Handler New returns.
type server struct {
	cluster *dm.Cluster
	log     *slog.Logger
	maxBody int64
	spec    *spec
	observe func(operation string, status int, d time.Duration)

	router *httprouter.Router
	routes []*route  // every mounted route, in document order
	tasks  pathTable // the routes under tasksPrefix, which httprouter cannot hold
}

// route is one operation of the document bound to its handler.
type route struct {
	method, path string // path as in the document: /api/v1/sources/{source-name}
	item         *openapi3.PathItem
	op           *openapi3.Operation
	status       int // the document's success status
	handle       handler
}

// tasksPrefix roots the routes that DM puts at the same level as a literal and a
// parameter (/tasks/templates next to /tasks/{task-name}); httprouter v1.3.0 refuses that,
// so one catch-all route hands them to a pathTable.
const tasksPrefix = "/api/v1/tasks/"

func newServer(c *dm.Cluster, opts Options) (*server, error) {
	sp, err := loadSpec(context.Background())
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	s := &server{cluster: c, log: log, maxBody: maxBody, spec: sp, observe: opts.Observe}
	s.router = &httprouter.Router{
		// No redirects: an API client gets a 404 body rather than a redirect it may not
		// follow. OPTIONS is not served (it answers 405 like any other method).
		RedirectTrailingSlash:  false,
		RedirectFixedPath:      false,
		HandleOPTIONS:          false,
		HandleMethodNotAllowed: true,
		NotFound:               http.HandlerFunc(s.notFound),
		MethodNotAllowed:       http.HandlerFunc(s.methodNotAllowed),
	}
	return s, nil
}

// mount binds every operation of the document to hs[operationId]. Every operation must
// have a handler and every handler an operation.
func (s *server) mount(hs map[string]handler) error {
	used := map[string]bool{}
	taskMethods := map[string]bool{}
	for _, so := range s.spec.operations() {
		h := hs[so.op.OperationID]
		if h == nil {
			return fmt.Errorf("operation %s (%s %s) has no handler", so.op.OperationID, so.method, so.path)
		}
		used[so.op.OperationID] = true
		status, _, err := successStatus(so.op)
		if err != nil {
			return err
		}
		rt := &route{method: so.method, path: so.path, item: so.item, op: so.op, status: status, handle: h}
		s.routes = append(s.routes, rt)
		if strings.HasPrefix(so.path, tasksPrefix) {
			s.tasks.add(rt)
			taskMethods[so.method] = true
			continue
		}
		s.router.Handle(so.method, routerPath(so.path), func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
			params := make(map[string]string, len(ps))
			for _, p := range ps {
				params[p.Key] = p.Value
			}
			s.serve(w, r, rt, params)
		})
	}
	for id := range hs {
		if !used[id] {
			return fmt.Errorf("handler %s matches no operation of the document", id)
		}
	}
	for m := range taskMethods {
		s.router.Handle(m, tasksPrefix+"*rest", s.serveTasks)
	}
	return nil
}

// routerPath turns /a/{b}/c into httprouter's /a/:b/c.
func routerPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if name, ok := paramName(seg); ok {
			segs[i] = ":" + name
		}
	}
	return strings.Join(segs, "/")
}

// paramName returns the name of a {name} path segment.
func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// serveTasks dispatches the routes under tasksPrefix.
func (s *server) serveTasks(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	entry, params := s.tasks.lookup(r.URL.Path)
	if entry == nil {
		s.notFound(w, r)
		return
	}
	rt := entry.routes[r.Method]
	if rt == nil {
		s.writeMethodNotAllowed(w, r, entry.methods())
		return
	}
	s.serve(w, r, rt, params)
}

// ServeHTTP recovers panics, routes and logs the request.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic while serving a request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rec.wrote {
				err := dm.NewError(dm.CodeInternal, "internal error while serving %s %s; the server log has the details", r.Method, r.URL.Path)
				err.Status = http.StatusInternalServerError
				s.writeError(rec, r, err)
			}
		}
		level := slog.LevelInfo
		if rec.status < 300 && r.Method == http.MethodGet {
			level = slog.LevelDebug
		}
		d := time.Since(start)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", d}
		if rec.status >= 400 && rec.status < 500 {
			// Every refusal is one INFO line with its reason; bodies are never logged.
			level = slog.LevelInfo
			attrs = append(attrs, "error_code", rec.errCode, "error", logText(rec.errMsg))
		}
		s.log.Log(r.Context(), level, "http request", attrs...)
		if s.observe != nil {
			s.observe(rec.op, rec.status, d)
		}
	}()
	s.router.ServeHTTP(rec, r)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	err := dm.NewError(dm.CodeRouteNotFound, "no route for %s %s; every route is under /api/v1, see GET /api/v1/docs", r.Method, r.URL.Path)
	err.Status = http.StatusNotFound
	s.writeError(w, r, err)
}

// methodNotAllowed answers for httprouter, which has set Allow to the path's methods.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, tasksPrefix) {
		// The catch-all route knows nothing of the real task paths.
		entry, _ := s.tasks.lookup(r.URL.Path)
		if entry == nil {
			w.Header().Del("Allow")
			s.notFound(w, r)
			return
		}
		s.writeMethodNotAllowed(w, r, entry.methods())
		return
	}
	// httprouter lists the methods alphabetically, OPTIONS included, which is not served
	// here; answer in methodOrder like the task routes.
	listed := strings.Split(w.Header().Get("Allow"), ",")
	for i := range listed {
		listed[i] = strings.TrimSpace(listed[i])
	}
	var allow []string
	for _, m := range methodOrder {
		if slices.Contains(listed, m) {
			allow = append(allow, m)
		}
	}
	s.writeMethodNotAllowed(w, r, allow)
}

func (s *server) writeMethodNotAllowed(w http.ResponseWriter, r *http.Request, allow []string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	err := dm.NewError(dm.CodeMethodNotAllowed, "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))
	err.Status = http.StatusMethodNotAllowed
	s.writeError(w, r, err)
}

// recorder remembers the status written, for the request log and panic recovery.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	op     string // the operationId served, once routed

	errCode int // the refusal's code and message, for the request's log line
	errMsg  string
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// pathTable matches request paths against document path templates segment by segment, a
// literal segment beating a parameter at the first place they differ, as OpenAPI
// prescribes ("/tasks/templates" over "/tasks/{task-name}").
type pathTable struct {
	entries []*pathEntry
}

// pathEntry is one document path and its routes by method.
type pathEntry struct {
	segs   []string
	routes map[string]*route
}

func (t *pathTable) add(rt *route) {
	segs := strings.Split(rt.path, "/")
	for _, e := range t.entries {
		if slices.Equal(e.segs, segs) {
			e.routes[rt.method] = rt
			return
		}
	}
	t.entries = append(t.entries, &pathEntry{segs: segs, routes: map[string]*route{rt.method: rt}})
}

// lookup returns the best entry for path and its path parameters, or nil.
func (t *pathTable) lookup(path string) (*pathEntry, map[string]string) {
	parts := strings.Split(path, "/")
	var best *pathEntry
	for _, e := range t.entries {
		if e.match(parts) && (best == nil || e.moreLiteral(best)) {
			best = e
		}
	}
	if best == nil {
		return nil, nil
	}
	params := map[string]string{}
	for i, seg := range best.segs {
		if name, ok := paramName(seg); ok {
			params[name] = parts[i]
		}
	}
	return best, params
}

func (e *pathEntry) match(parts []string) bool {
	if len(parts) != len(e.segs) {
		return false
	}
	for i, seg := range e.segs {
		if _, ok := paramName(seg); ok {
			if parts[i] == "" {
				return false
			}
		} else if seg != parts[i] {
			return false
		}
	}
	return true
}

// moreLiteral reports whether e has a literal where o has a parameter, at the first
// segment where they differ in kind.
func (e *pathEntry) moreLiteral(o *pathEntry) bool {
	for i := range e.segs {
		_, ep := paramName(e.segs[i])
		_, op := paramName(o.segs[i])
		if ep != op {
			return !ep
		}
	}
	return false
}

// methods lists the entry's methods in methodOrder.
func (e *pathEntry) methods() []string {
	var ms []string
	for _, m := range methodOrder {
		if e.routes[m] != nil {
			ms = append(ms, m)
		}
	}
	return ms
}
