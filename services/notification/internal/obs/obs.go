// Package obs registers the notification unit's collectors so that building
// a component twice on one registry (a unit restarted in-process by the
// chaos engine, two runners in a test) reuses the collectors instead of
// panicking on a duplicate registration.
package obs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Counter returns the unit-labelled counter name on reg, registering it on
// first use. A nil reg gives a working counter that nothing exports.
func Counter(reg *metrics.Registry, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels(reg)})
	return register(reg, c)
}

// CounterVec is Counter for a vector with the given labels.
func CounterVec(reg *metrics.Registry, name, help string, labelNames ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels(reg)}, labelNames)
	return register(reg, c)
}

// GaugeVec is Counter for a gauge vector with the given labels.
func GaugeVec(reg *metrics.Registry, name, help string, labelNames ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels(reg)}, labelNames)
	return register(reg, g)
}

func labels(reg *metrics.Registry) prometheus.Labels {
	if reg == nil {
		return nil
	}
	return prometheus.Labels{"unit": reg.Unit}
}

func register[C prometheus.Collector](reg *metrics.Registry, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a collector of another type or help text is a
		// programming error; keep the component working, unexported.
		return c
	}
	return c
}
