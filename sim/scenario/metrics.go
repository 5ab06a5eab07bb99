package scenario

import (
	"math"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// observe reads a threshold's metric from stats, in the unit its bounds are
// written in: latencies in seconds (spec.Bound holds durations as seconds),
// error rates as fractions, throughput in req/s, dropped as a count. ok is
// false when the stats hold no matching data, so a probe over an empty
// stretch is skipped rather than passed or failed on a made-up zero.
func observe(t *spec.Threshold, st load.Stats) (v float64, ok bool) {
	lat := func(l load.Latency) float64 {
		switch t.Metric {
		case spec.LatencyP50:
			return l.P50.Seconds()
		case spec.LatencyP95:
			return l.P95.Seconds()
		}
		return l.P99.Seconds()
	}
	switch {
	case t.Journey != "":
		j, found := st.Journeys[string(t.Journey)]
		if !found || j.Iterations+j.Dropped == 0 {
			return math.NaN(), false
		}
		switch {
		case t.Metric.IsLatency():
			if j.Iterations == 0 {
				return math.NaN(), false
			}
			return lat(j.Latency), true
		case t.Metric == spec.ErrorRate:
			if j.Iterations == 0 {
				return math.NaN(), false
			}
			return float64(j.Failures) / float64(j.Iterations), true
		case t.Metric == spec.Throughput:
			return float64(j.Iterations) / math.Max(st.Seconds, 1e-9), st.Seconds > 0
		case t.Metric == spec.DroppedIterations:
			return float64(j.Dropped), true
		}
	case t.Endpoint != "":
		e, found := st.Endpoints[t.Endpoint]
		if !found || e.Requests == 0 {
			return math.NaN(), false
		}
		switch {
		case t.Metric.IsLatency():
			return lat(e.Latency), true
		case t.Metric == spec.ErrorRate:
			return float64(e.Errors) / float64(e.Requests), true
		case t.Metric == spec.Throughput:
			return float64(e.Requests) / math.Max(st.Seconds, 1e-9), st.Seconds > 0
		case t.Metric == spec.DroppedIterations:
			return float64(st.Dropped), true
		}
	default:
		switch {
		case t.Metric == spec.DroppedIterations:
			return float64(st.Dropped), st.Seconds > 0
		case t.Metric == spec.Throughput:
			return st.Throughput, st.Seconds > 0
		case st.Requests == 0:
			return math.NaN(), false
		case t.Metric.IsLatency():
			return lat(st.Latency), true
		case t.Metric == spec.ErrorRate:
			return st.ErrorRate, true
		}
	}
	return math.NaN(), false
}

// display converts an observed value to the unit reports show: latencies in
// milliseconds, everything else as is.
func display(m spec.Metric, v float64) (float64, string) {
	switch {
	case m.IsLatency():
		return v * 1000, "ms"
	case m == spec.ErrorRate:
		return v, "ratio"
	case m == spec.Throughput:
		return v, "req/s"
	}
	return v, "count"
}

func bound(m spec.Metric, b *spec.Bound) *float64 {
	if b == nil {
		return nil
	}
	v, _ := display(m, b.Value)
	return &v
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
