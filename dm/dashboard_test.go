package dm

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dmkit/dmkit/metrics"
)

// TestDashboardUsesOurMetrics: every metric the shipped Grafana dashboard queries is one
// this package exports, so a renamed metric cannot leave a dead panel behind.
func TestDashboardUsesOurMetrics(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/dmkit.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	known := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	newStatusCollector(nil, nil).Describe(ch)
	close(ch)
	nameRE := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		known[nameRE.FindStringSubmatch(d.String())[1]] = true
	}
	reg := prometheus.NewRegistry()
	if _, err := metrics.NewHTTP(reg); err != nil {
		t.Fatal(err)
	}
	known["dmkit_http_requests_total"], known["dmkit_http_request_duration_seconds"] = true, true

	metricRE := regexp.MustCompile(`\b(dm|dmkit)_[a-z_]+\b`)
	if len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricRE.FindAllString(tg.Expr, -1) {
				if !known[m] && !strings.HasSuffix(m, "_bucket") {
					t.Errorf("panel %q queries %s, which dmkit does not export", p.Title, m)
				}
			}
		}
	}
}
