package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

type serviceMetrics struct {
	payments  *prometheus.CounterVec   // by outcome: captured, declined, error
	refunds   *prometheus.CounterVec   // by result: refunded, voided, compensated
	recovered prometheus.Counter       // PROCESSING payments settled from the processor's ledger
	processor *prometheus.HistogramVec // processor calls by operation and result
}

func newServiceMetrics(reg *metrics.Registry) (*serviceMetrics, error) {
	labels := prometheus.Labels{"unit": reg.Unit}
	m := &serviceMetrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_payments_total", Help: "Charge attempts by outcome: captured, declined, or error (the processor refused or failed the call and charged nothing; retryable when unavailable).", ConstLabels: labels,
		}, []string{"outcome"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoplab_payment_refunds_total", Help: "Refunds by result: refunded (a capture given back), voided (no capture; tombstone), compensated (a charge that raced a void given back).", ConstLabels: labels,
		}, []string{"result"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoplab_payment_recovered_total", Help: "PROCESSING payments settled from the processor's ledger after their own attempt failed to record the verdict.", ConstLabels: labels,
		}),
		processor: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shoplab_payment_processor_duration_seconds", Help: "Card processor calls by operation (charge, lookup, refund, count) and result.", ConstLabels: labels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "result"}),
	}
	for _, c := range []prometheus.Collector{m.payments, m.refunds, m.recovered, m.processor} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observedProcessor bounds every processor call with a deadline and times
// it. It measures with the wall clock, not the injected one: latency is a
// fact about this run.
type observedProcessor struct {
	next    Processor
	m       *serviceMetrics
	timeout time.Duration
}

func (o observedProcessor) observe(op string, start time.Time, err error, ok string) {
	result := ok
	if err != nil {
		result = string(errs.CodeOf(err))
	}
	o.m.processor.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
}

// Charge implements Processor.
func (o observedProcessor) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	ch, err := o.next.Charge(ctx, req)
	ok := "captured"
	if ch.Declined {
		ok = "declined"
	}
	o.observe("charge", start, err, ok)
	return ch, err
}

// Lookup implements Processor.
func (o observedProcessor) Lookup(ctx context.Context, key string) (Charge, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	ch, err := o.next.Lookup(ctx, key)
	if errs.Is(err, errs.NotFound) {
		o.observe("lookup", start, nil, "not_found")
		return ch, err
	}
	o.observe("lookup", start, err, "found")
	return ch, err
}

// Refund implements Processor.
func (o observedProcessor) Refund(ctx context.Context, chargeID string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	err := o.next.Refund(ctx, chargeID)
	o.observe("refund", start, err, "ok")
	return err
}

// CapturedCharges implements Processor.
func (o observedProcessor) CapturedCharges(ctx context.Context, orderIDs []string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	n, err := o.next.CapturedCharges(ctx, orderIDs)
	o.observe("count", start, err, "ok")
	return n, err
}
