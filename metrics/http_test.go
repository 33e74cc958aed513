package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTTPObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.Observe("DMAPIGetTask", 200, time.Millisecond)
	h.Observe("DMAPIGetTask", 200, time.Millisecond)
	h.Observe("", 404, time.Millisecond)
	if n := testutil.ToFloat64(h.requests.WithLabelValues("DMAPIGetTask", "200")); n != 2 {
		t.Errorf("GetTask 200 = %v", n)
	}
	if n := testutil.ToFloat64(h.requests.WithLabelValues("unknown", "404")); n != 1 {
		t.Errorf("unknown 404 = %v", n)
	}
	if _, err := NewHTTP(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}
