// Package console is the live web console of a running env: each unit's
// health, throughput, error rate and latency percentiles per endpoint, the
// outbox backlog and consumer lag, active faults with their countdown, the
// last emails and analytics windows, a form over the chaos control API and
// kill/start buttons for every unit. One goroutine samples the env once a
// second; every open page gets the same snapshot over server-sent events.
// The page is plain HTML, CSS and a JavaScript module embedded in the
// binary: no CDN, no framework, nothing fetched from elsewhere.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"sort"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

//go:embed assets
var assets embed.FS

// Source is what the console reads from the env.
type Source interface {
	// Units reports each unit's health (any JSON value; the page reads
	// name, ready, running, error and the addresses).
	Units(ctx context.Context) any
	// Gather returns every unit's metrics.
	Gather() ([]*dto.MetricFamily, error)
	// Faults lists the active faults (chaos.ActiveFault values).
	Faults() any
	// Mailbox and Windows list the last emails and closed windows.
	Mailbox(ctx context.Context, limit int) (any, error)
	Windows(ctx context.Context, limit int) (any, error)
	// Journeys is the live journey table of the load driving the env
	// (shoplab run), nil when none does.
	Journeys() []Journey
}

// Journey is one shopper journey of the load generator over its last
// seconds, measured at the client from each iteration's scheduled start.
type Journey struct {
	Name        string  `json:"name"`
	RPS         float64 `json:"iterations_per_second"`
	FailureRate float64 `json:"failure_rate"`
	Dropped     int64   `json:"dropped"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
}

// Endpoint is one route or gRPC method over the last Window.
type Endpoint struct {
	Unit      string  `json:"unit"`
	Transport string  `json:"transport"`
	Method    string  `json:"method"`
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"`
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	Total     float64 `json:"total"` // requests since the unit started
}

// Snapshot is what the page shows, refreshed every Interval.
type Snapshot struct {
	At            time.Time          `json:"at"`
	WindowSeconds float64            `json:"window_seconds"`
	Units         any                `json:"units"`
	Endpoints     []Endpoint         `json:"endpoints"`
	Journeys      []Journey          `json:"journeys"`
	Gauges        map[string]float64 `json:"gauges"` // outbox backlog, consumer lag, ...
	Faults        any                `json:"faults"`
	Emails        any                `json:"emails"`
	Windows       any                `json:"windows"`
	Errors        []string           `json:"errors,omitempty"` // what could not be read this time
	// HPA is the twin's replica suggestion (Advisor), or why there is none.
	HPA any `json:"hpa"`
}

// Advisor turns the endpoint table into the HPA twin's replica suggestion
// (sim/hpa/live behind an adapter).
type Advisor interface {
	Advise(at time.Time, eps []Endpoint) any
	SetTrafficScale(f float64) error
}

// Options tune the sampler.
type Options struct {
	Interval time.Duration // how often the env is sampled; default 1s
	Window   time.Duration // rates and percentiles cover this much; default 10s
	Log      *slog.Logger
	Now      func() time.Time
	// Advisor, when set, adds the HPA twin's suggestion to every snapshot;
	// otherwise NoAdvisor says why there is none.
	Advisor   Advisor
	NoAdvisor string
}

// Console samples a Source and serves the page.
type Console struct {
	src  Source
	o    Options
	mu   sync.Mutex
	last Snapshot
	subs map[chan []byte]struct{}
	hist []sample // oldest first, spanning at least Window
}

// sample is the cumulative request counters and histograms at one time.
type sample struct {
	at     time.Time
	series map[string]series
}

type series struct {
	ep      Endpoint // identity fields only
	count   float64
	errors  float64
	buckets []bucket // cumulative, ascending upper bounds
}

type bucket struct {
	le    float64
	count float64
}

// New returns a console over src; Run samples it.
func New(src Source, o Options) *Console {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Console{src: src, o: o, subs: map[chan []byte]struct{}{}}
}

// Run samples the env every Interval until ctx ends.
func (c *Console) Run(ctx context.Context) {
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		c.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Console) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s := Snapshot{At: c.o.Now().UTC(), Gauges: map[string]float64{}, Faults: c.src.Faults()}
	s.Units = c.src.Units(ctx)
	s.Journeys = c.src.Journeys()
	mfs, err := c.src.Gather()
	if err != nil {
		s.Errors = append(s.Errors, "metrics: "+err.Error())
	}
	cur := sample{at: s.At, series: readSeries(mfs)}
	readGauges(mfs, s.Gauges)
	if s.Emails, err = c.src.Mailbox(ctx, 8); err != nil {
		s.Errors = append(s.Errors, "mailbox: "+err.Error())
	}
	if s.Windows, err = c.src.Windows(ctx, 6); err != nil {
		s.Errors = append(s.Errors, "analytics: "+err.Error())
	}
	c.mu.Lock()
	c.hist = append(c.hist, cur)
	// Keep the newest sample at least Window old as the base of the rates.
	for len(c.hist) > 2 && cur.at.Sub(c.hist[1].at) >= c.o.Window {
		c.hist = c.hist[1:]
	}
	base := c.hist[0]
	s.WindowSeconds = cur.at.Sub(base.at).Seconds()
	s.Endpoints = endpoints(base, cur)
	if c.o.Advisor != nil {
		s.HPA = c.o.Advisor.Advise(s.At, s.Endpoints)
	} else {
		s.HPA = map[string]string{"unavailable": c.o.NoAdvisor}
	}
	c.last = s
	data, _ := json.Marshal(s)
	for ch := range c.subs {
		select {
		case ch <- data:
		default: // a slow page skips a frame rather than hold the sampler
		}
	}
	c.mu.Unlock()
}

// Last is the latest snapshot.
func (c *Console) Last() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Mount serves the page at /console and its data under /ops/v1/console/.
func (c *Console) Mount(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console", http.StatusFound)
	})
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/"
		secure(w)
		files.ServeHTTP(w, r2)
	})
	mux.Handle("GET /console/", http.StripPrefix("/console", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /ops/v1/console/snapshot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Last())
	})
	mux.HandleFunc("GET /ops/v1/console/events", c.serveEvents)
	mux.HandleFunc("PUT /ops/v1/console/hpa/traffic-scale", c.putTrafficScale)
}

// putTrafficScale sets the factor between this env's traffic and the
// cluster's that the HPA twin sees: {"traffic_scale": 50}.
func (c *Console) putTrafficScale(w http.ResponseWriter, r *http.Request) {
	// A JSON content type cannot be sent cross-site without a preflight,
	// as on the chaos API.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		httpx.WriteError(w, r, nil, errs.E(errs.Invalid, "Content-Type must be application/json"))
		return
	}
	if c.o.Advisor == nil {
		httpx.WriteError(w, r, nil, errs.E(errs.FailedPrecondition, "no HPA twin on this env: %s", c.o.NoAdvisor))
		return
	}
	var body struct {
		TrafficScale *float64 `json:"traffic_scale"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &body); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	if body.TrafficScale == nil {
		httpx.WriteError(w, r, nil, errs.InvalidField("traffic_scale", "is required"))
		return
	}
	if err := c.o.Advisor.SetTrafficScale(*body.TrafficScale); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]float64{"traffic_scale": *body.TrafficScale})
}

// secure keeps the page to its own origin: no inline script, nothing from
// elsewhere, no framing by another site.
func secure(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// serveEvents streams snapshots as server-sent events until the page goes.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := make(chan []byte, 2)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	first, _ := json.Marshal(c.last)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}()
	write := func(data []byte) bool {
		if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !write(first) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case data := <-ch:
			if !write(data) {
				return
			}
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func key(unit, transport, method string) string { return unit + "|" + transport + "|" + method }

// readSeries collects the request histograms and error counters by
// unit, transport and method.
func readSeries(mfs []*dto.MetricFamily) map[string]series {
	out := map[string]series{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "shoplab_request_duration_seconds":
			for _, m := range mf.GetMetric() {
				h := m.GetHistogram()
				ep := Endpoint{Unit: label(m, "unit"), Transport: label(m, "transport"), Method: label(m, "method")}
				k := key(ep.Unit, ep.Transport, ep.Method)
				s := out[k]
				s.ep, s.count = ep, float64(h.GetSampleCount())
				s.buckets = s.buckets[:0]
				for _, b := range h.GetBucket() {
					s.buckets = append(s.buckets, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
				}
				s.buckets = append(s.buckets, bucket{le: math.Inf(1), count: float64(h.GetSampleCount())})
				out[k] = s
			}
		case "shoplab_request_errors_total":
			for _, m := range mf.GetMetric() {
				k := key(label(m, "unit"), label(m, "transport"), label(m, "method"))
				s := out[k]
				s.errors += m.GetCounter().GetValue()
				out[k] = s
			}
		}
	}
	return out
}

// gauges the page shows, summed over their labels.
var gaugeNames = map[string]string{
	"shoplab_order_outbox_backlog":              "outbox_backlog",
	"shoplab_notification_consumer_lag":         "notification_lag",
	"shoplab_analytics_watermark_lag_seconds":   "analytics_watermark_lag_seconds",
	"shoplab_analytics_open_windows":            "analytics_open_windows",
	"shoplab_notification_emails_sent_total":    "emails_sent",
	"shoplab_analytics_windows_closed_total":    "windows_closed",
	"shoplab_notification_dlq_records_total":    "dlq_records",
	"shoplab_order_kafka_produce_errors_total":  "kafka_produce_errors",
	"shoplab_analytics_late_events_total":       "analytics_late_events",
	"shoplab_notification_handler_errors_total": "notification_handler_errors",
}

func readGauges(mfs []*dto.MetricFamily, out map[string]float64) {
	for _, mf := range mfs {
		name, ok := gaugeNames[mf.GetName()]
		if !ok {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			}
		}
		out[name] += sum
	}
}

// endpoints computes each series' rate, error rate and percentiles between
// base and cur. A series that restarted (counters went down) counts from zero.
func endpoints(base, cur sample) []Endpoint {
	dt := cur.at.Sub(base.at).Seconds()
	out := make([]Endpoint, 0, len(cur.series))
	for k, s := range cur.series {
		if s.ep.Method == "" {
			continue
		}
		ep := s.ep
		ep.Total = s.count
		b, ok := base.series[k]
		if !ok || b.count > s.count {
			b = series{}
		}
		n := s.count - b.count
		if dt > 0 {
			ep.RPS = n / dt
		}
		if n > 0 {
			ep.ErrorRate = math.Max(0, s.errors-b.errors) / n
			delta := make([]bucket, len(s.buckets))
			for i, bk := range s.buckets {
				delta[i] = bucket{le: bk.le, count: bk.count - countAt(b.buckets, bk.le)}
			}
			ep.P50, ep.P95, ep.P99 = 1000*quantile(0.50, delta), 1000*quantile(0.95, delta), 1000*quantile(0.99, delta)
		}
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Transport != out[j].Transport {
			return out[i].Transport == "http" // the public API first
		}
		if out[i].Unit != out[j].Unit {
			return out[i].Unit < out[j].Unit
		}
		return out[i].Method < out[j].Method
	})
	return out
}

func countAt(bs []bucket, le float64) float64 {
	for _, b := range bs {
		if b.le == le {
			return b.count
		}
	}
	return 0
}

// quantile is Prometheus's histogram_quantile: linear interpolation inside
// the bucket that holds the rank; the +Inf bucket answers with the highest
// finite bound.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return 0
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return 0
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for i, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				if i == 0 {
					return 0
				}
				return bs[i-1].le
			}
			inBucket := b.count - prevCount
			if inBucket <= 0 {
				return b.le
			}
			return prevLE + (b.le-prevLE)*(rank-prevCount)/inBucket
		}
		prevLE, prevCount = b.le, b.count
	}
	return prevLE
}
