// Package metrics holds the RED metrics (requests, errors, duration) every
// unit exports, on a registry of its own so that several units can share one
// process without colliding.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is one unit's metric registry, labelled with the unit's name.
type Registry struct {
	*prometheus.Registry
	Unit string

	Requests *prometheus.CounterVec   // by transport, method/route, code
	Errors   *prometheus.CounterVec   // by transport, method/route, code
	Duration *prometheus.HistogramVec // by transport, method/route
	Client   *prometheus.HistogramVec // outgoing calls by target, method, code
}

// New returns a registry for unit with the RED collectors registered. With
// process set it also exports Go runtime and process metrics (one unit per
// process should set it).
func New(unit string, process bool) *Registry {
	reg := prometheus.NewRegistry()
	if process {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	labels := prometheus.Labels{"unit": unit}
	r := &Registry{
		Registry: reg,
		Unit:     unit,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_requests_total", Help: "Requests served, by transport, method or route, and status code.", ConstLabels: labels,
		}, []string{"transport", "method", "code"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_request_errors_total", Help: "Requests that ended in a server-side error (5xx or a gRPC server error).", ConstLabels: labels,
		}, []string{"transport", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shoplab_request_duration_seconds", Help: "Time to serve a request.", ConstLabels: labels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"transport", "method"}),
		Client: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shoplab_client_call_duration_seconds", Help: "Outgoing calls to other units, by target, method and code.", ConstLabels: labels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"target", "method", "code"}),
	}
	reg.MustRegister(r.Requests, r.Errors, r.Duration, r.Client)
	return r
}

// Handler serves the registry in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	// No HandlerOpts.Registry: it would register promhttp's own counters in
	// every unit's registry, and the embedded env's merged /metrics would
	// then hold the same series twice and fail.
	return promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{})
}

// Counter registers and returns a unit-labelled counter.
func (r *Registry) Counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"unit": r.Unit}})
	r.MustRegister(c)
	return c
}

// CounterVec registers and returns a unit-labelled counter vector.
func (r *Registry) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"unit": r.Unit}}, labels)
	r.MustRegister(c)
	return c
}

// Gauge registers and returns a unit-labelled gauge.
func (r *Registry) Gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"unit": r.Unit}})
	r.MustRegister(g)
	return g
}

// GaugeVec registers and returns a unit-labelled gauge vector.
func (r *Registry) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"unit": r.Unit}}, labels)
	r.MustRegister(g)
	return g
}

// GaugeFunc registers a gauge whose value is read from f at scrape time.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"unit": r.Unit}}, f))
}
