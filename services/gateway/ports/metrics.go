package ports

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// gatewayMetrics are the edge's business counters, next to the RED metrics
// httpx.Observe records per route. Every label has a closed set of values.
type gatewayMetrics struct {
	orders       *prometheus.CounterVec // outcome, replayed
	authFailures *prometheus.CounterVec // reason
}

func newGatewayMetrics(reg *metrics.Registry) (*gatewayMetrics, error) {
	labels := prometheus.Labels{"unit": reg.Unit}
	orders, err := registerCounterVec(reg, prometheus.CounterOpts{
		Name:        "shoplab_gateway_orders_total",
		Help:        "POST /api/v1/orders answers by outcome (paid, pending, a failure code, rejected, error) and whether they were idempotent replays.",
		ConstLabels: labels,
	}, "outcome", "replayed")
	if err != nil {
		return nil, err
	}
	auth, err := registerCounterVec(reg, prometheus.CounterOpts{
		Name:        "shoplab_gateway_auth_failures_total",
		Help:        "Refused authentications by reason: missing, malformed, invalid, expired (bearer tokens) and bad_credentials (login).",
		ConstLabels: labels,
	}, "reason")
	if err != nil {
		return nil, err
	}
	return &gatewayMetrics{orders: orders, authFailures: auth}, nil
}

// registerCounterVec registers a counter vector, or returns the one already
// registered under the same description, so that building a second router
// on one registry (tests do) shares the counters instead of failing.
func registerCounterVec(reg *metrics.Registry, opts prometheus.CounterOpts, labels ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(opts, labels)
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

// orderOutcome names the outcome of an order request with a bounded label.
func orderOutcome(placed gateway.PlacedOrder, err error) string {
	if placed.Order.ID != "" {
		switch placed.Order.Status {
		case gateway.StatusPaid:
			return "paid"
		case gateway.StatusPending:
			return "pending"
		case gateway.StatusFailed:
			switch placed.Order.FailureCode {
			case gateway.FailurePaymentDeclined, gateway.FailureOutOfStock, gateway.FailureProductNotFound,
				gateway.FailurePaymentUnavailable, gateway.FailureDependencyUnavailable:
				return placed.Order.FailureCode
			}
			return "failed_other"
		}
	}
	if err != nil && httpx.StatusOf(errs.CodeOf(err)) < 500 {
		return "rejected"
	}
	return "error"
}

func (m *gatewayMetrics) observeOrder(placed gateway.PlacedOrder, err error) {
	m.orders.WithLabelValues(orderOutcome(placed, err), strconv.FormatBool(placed.Replayed)).Inc()
}
