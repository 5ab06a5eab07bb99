package console

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	// 100 requests: 50 under 10 ms, 40 more under 100 ms, 10 more under 1 s.
	bs := []bucket{{0.01, 50}, {0.1, 90}, {1, 100}, {math.Inf(1), 100}}
	for _, tc := range []struct{ q, want float64 }{
		{0.5, 0.01},            // rank 50 ends the first bucket
		{0.9, 0.1},             // rank 90 ends the second
		{0.95, 0.1 + 0.9*5/10}, // halfway into the third
		{0.25, 0.01 * 25 / 50}, // inside the first, from 0
		{0.99, 0.1 + 0.9*9/10},
	} {
		if got := quantile(tc.q, bs); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Everything in +Inf: the highest finite bound answers.
	if got := quantile(0.5, []bucket{{1, 0}, {math.Inf(1), 4}}); got != 1 {
		t.Errorf("+Inf quantile = %v", got)
	}
	if got := quantile(0.5, nil); got != 0 {
		t.Errorf("empty = %v", got)
	}
}

// fakeSource is an env whose metrics the test sets.
type fakeSource struct {
	reg *prometheus.Registry
}

func (f fakeSource) Units(context.Context) any {
	return []map[string]any{{"name": "gateway", "ready": true}}
}
func (f fakeSource) Gather() ([]*dto.MetricFamily, error) { return f.reg.Gather() }
func (f fakeSource) Faults() any                          { return []any{} }
func (f fakeSource) Mailbox(context.Context, int) (any, error) {
	return []map[string]string{{"to": "ada@example.com"}}, nil
}
func (f fakeSource) Windows(context.Context, int) (any, error) { return []any{}, nil }
func (f fakeSource) Journeys() []Journey {
	return []Journey{{Name: "checkout", RPS: 4, P95: 120}}
}

func TestSnapshotsRatesAndPercentilesOverTheWindow(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shoplab_request_duration_seconds", Buckets: []float64{.01, .1, 1}}, []string{"unit", "transport", "method"})
	errCount := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoplab_request_errors_total"}, []string{"unit", "transport", "method"})
	backlog := prometheus.NewGauge(prometheus.GaugeOpts{Name: "shoplab_order_outbox_backlog"})
	reg.MustRegister(h, errCount, backlog)
	now := time.Unix(1000, 0)
	c := New(fakeSource{reg}, Options{Window: 10 * time.Second, Now: func() time.Time { return now }})
	orders := h.WithLabelValues("gateway", "http", "POST /api/v1/orders")
	// Before: 100 fast requests, long ago.
	for range 100 {
		orders.Observe(0.005)
	}
	c.tick(context.Background())
	// Then 10 s of 20 slow requests, 2 of them errors.
	now = now.Add(10 * time.Second)
	for range 20 {
		orders.Observe(0.5)
	}
	errCount.WithLabelValues("gateway", "http", "POST /api/v1/orders").Add(2)
	backlog.Set(7)
	c.tick(context.Background())
	s := c.Last()
	if len(s.Endpoints) != 1 {
		t.Fatalf("endpoints: %+v", s.Endpoints)
	}
	e := s.Endpoints[0]
	if e.RPS != 2 || e.ErrorRate != 0.1 || e.Total != 120 {
		t.Errorf("rate %v err %v total %v, want 2/s 0.1 120", e.RPS, e.ErrorRate, e.Total)
	}
	// Only the slow requests are in the window: every percentile in 100 ms..1 s.
	if e.P50 < 100 || e.P99 > 1000 {
		t.Errorf("p50 %v p99 %v: the fast requests before the window leaked in", e.P50, e.P99)
	}
	if len(s.Journeys) != 1 || s.Journeys[0].Name != "checkout" {
		t.Errorf("journeys: %+v, want the load's table", s.Journeys)
	}
	if s.Gauges["outbox_backlog"] != 7 {
		t.Errorf("gauges: %v", s.Gauges)
	}

	// The page and its stream are served.
	mux := http.NewServeMux()
	c.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{"/console": "<title>shoplab console</title>", "/console/app.js": "EventSource", "/console/style.css": ".gauges"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body[:min(len(body), 80)])
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: no CSP", path)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ops/v1/console/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	event, _ := br.ReadString('\n')
	data, err := br.ReadString('\n')
	if err != nil || event != "event: snapshot\n" || !strings.HasPrefix(data, "data: ") {
		t.Fatalf("first frame %q %q: %v", event, data, err)
	}
	var got Snapshot
	if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &got); err != nil || len(got.Endpoints) != 1 {
		t.Errorf("frame is not the snapshot: %v %+v", err, got)
	}
}

// fakeAdvisor records what the console hands the HPA twin.
type fakeAdvisor struct {
	eps   []Endpoint
	scale float64
}

func (f *fakeAdvisor) Advise(_ time.Time, eps []Endpoint) any {
	f.eps = eps
	return map[string]any{"traffic_scale": f.scale, "units": []any{}}
}

func (f *fakeAdvisor) SetTrafficScale(v float64) error {
	if v <= 0 {
		return errs.InvalidField("traffic_scale", "must be above 0")
	}
	f.scale = v
	return nil
}

// TestHPASuggestionAndItsScale: every snapshot carries the advisor's answer
// over the endpoint table, and the page's scale goes through a JSON PUT
// that refuses what a form post or a bad value would send.
func TestHPASuggestionAndItsScale(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shoplab_request_duration_seconds"}, []string{"unit", "transport", "method"})
	reg.MustRegister(h)
	h.WithLabelValues("order", "grpc", "/shoplab.v1.OrderService/CreateOrder").Observe(0.01)
	adv := &fakeAdvisor{scale: 1}
	c := New(fakeSource{reg}, Options{Advisor: adv})
	c.tick(context.Background())
	if len(adv.eps) != 1 || adv.eps[0].Method != "/shoplab.v1.OrderService/CreateOrder" {
		t.Fatalf("advisor got %+v, want the endpoint table", adv.eps)
	}
	if got, ok := c.Last().HPA.(map[string]any); !ok || got["traffic_scale"] != 1.0 {
		t.Fatalf("snapshot hpa %#v", c.Last().HPA)
	}

	mux := http.NewServeMux()
	c.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	put := func(ct, body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/ops/v1/console/hpa/traffic-scale", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		ct, body string
		want     int
	}{
		{"application/json", `{"traffic_scale": 50}`, 200},
		{"text/plain", `{"traffic_scale": 60}`, 400},
		{"application/json", `{}`, 400},
		{"application/json", `{"traffic_scale": -2}`, 400},
		{"application/json", `{"traffic_scale": 5, "x": 1}`, 400},
	} {
		if got := put(tc.ct, tc.body); got != tc.want {
			t.Errorf("PUT %s %s: %d, want %d", tc.ct, tc.body, got, tc.want)
		}
	}
	if adv.scale != 50 {
		t.Errorf("scale %v after the PUTs, want 50 (only the good one applies)", adv.scale)
	}

	none := New(fakeSource{reg}, Options{NoAdvisor: "no profile for env host"})
	none.tick(context.Background())
	if got, _ := json.Marshal(none.Last().HPA); string(got) != `{"unavailable":"no profile for env host"}` {
		t.Errorf("no advisor: hpa %s", got)
	}
	mux2 := http.NewServeMux()
	none.Mount(mux2)
	srv2 := httptest.NewServer(mux2)
	defer srv2.Close()
	req, _ := http.NewRequest(http.MethodPut, srv2.URL+"/ops/v1/console/hpa/traffic-scale", strings.NewReader(`{"traffic_scale": 5}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("PUT without a twin: %d, want 409", resp.StatusCode)
	}
}
