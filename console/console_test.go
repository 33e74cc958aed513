package console

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/dashboard/", 200, `<script src="app.js">`},
		{"GET", "/dashboard/app.js", 200, "async function refresh"},
		{"GET", "/dashboard/style.css", 200, "table"},
		{"GET", "/dashboard", 301, ""},
		{"POST", "/dashboard/", 405, ""},
		{"GET", "/dashboard/nope.js", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s = %d (want %d), body %.80q", tc.method, tc.path, rec.Code, tc.status, rec.Body.String())
		}
		if tc.status == 200 && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no CSP", tc.path)
		}
	}
}

// TestNoNetworkAssets: the console works offline, so nothing it loads may come from
// another origin.
func TestNoNetworkAssets(t *testing.T) {
	for _, name := range []string{"assets/index.html", "assets/app.js", "assets/style.css"} {
		b, err := assets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s references %s", name, bad)
			}
		}
	}
}
