package app

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Metrics are the order unit's own metrics, on top of the RED metrics of its transports.
type Metrics struct {
	Orders        *prometheus.CounterVec   // CreateOrder results by outcome
	Recovery      *prometheus.CounterVec   // recovery-loop settlements by outcome
	Stage         *prometheus.HistogramVec // time spent in each step of placing an order
	Published     prometheus.Counter       // outbox rows the broker acked
	ProduceErrors prometheus.Counter       // outbox rows a publish attempt failed to deliver
	Backlog       *BacklogGauge            // unpublished outbox rows, read at scrape time
}

// NewMetrics registers the order metrics on reg. A unit restarted in the
// same process (the chaos engine's restart fault) gets the collectors the
// first instance registered, so counters carry on instead of the second
// registration failing.
func NewMetrics(reg *metrics.Registry) *Metrics {
	labels := prometheus.Labels{"unit": reg.Unit}
	return &Metrics{
		Orders: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_order_orders_total", ConstLabels: labels,
			Help: "CreateOrder results by outcome: paid, a failure code, pending (not settled yet), replayed, rejected or unavailable (nothing recorded), error.",
		}, []string{"outcome"})),
		Recovery: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_order_recovery_settlements_total", ConstLabels: labels,
			Help: "Orders the recovery loop tried to settle, by outcome: paid, a failure code, pending, error.",
		}, []string{"outcome"})),
		Stage: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shoplab_order_stage_duration_seconds", ConstLabels: labels,
			Help:    "Time spent in each step of placing an order: user, insert, reserve, payment, commit, release, settle.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"stage"})),
		Published: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoplab_order_outbox_published_total", ConstLabels: labels,
			Help: "Outbox rows published and acked by the broker.",
		})),
		ProduceErrors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoplab_order_kafka_produce_errors_total", ConstLabels: labels,
			Help: "Outbox rows a publish attempt failed to deliver; they stay in the backlog and are sent again.",
		})),
		Backlog: register(reg, &BacklogGauge{desc: prometheus.NewDesc("shoplab_order_outbox_backlog",
			"Outbox rows not yet acked by the broker.", nil, labels)}),
	}
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg *metrics.Registry, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	// Any other error means a name clash with a different metric: the
	// collector still works, unexported, rather than failing the unit.
	return c
}

// BacklogGauge is a gauge read from a function at scrape time, like
// prometheus.GaugeFunc, whose function can be replaced: a restarted unit
// points it at its own store.
type BacklogGauge struct {
	desc *prometheus.Desc
	fn   atomic.Pointer[func() float64]
}

// Set makes the gauge read f and returns a function that stops it, unless
// a later Set (a restarted unit) has replaced f meanwhile.
func (g *BacklogGauge) Set(f func() float64) (unset func()) {
	p := &f
	g.fn.Store(p)
	return func() { g.fn.CompareAndSwap(p, nil) }
}

// Describe implements prometheus.Collector.
func (g *BacklogGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *BacklogGauge) Collect(ch chan<- prometheus.Metric) {
	if f := g.fn.Load(); f != nil {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, (*f)())
	}
}
