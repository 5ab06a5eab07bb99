package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// fixture builds the journal of testdata/journal.json (go test -update
// rewrites the file from it): payment-latency at 20 it/s for 90 s with a
// latency fault on payments from 30 s to 60 s, an overlapping connection
// reset fault on the order database that causes errors and dropped
// iterations, and a fault that failed to install. A p99 spike at 75 s must
// be cut off by the latency chart, and the second at 57 s has no requests.
// Probes include a failure and a skipped one; one recovery probe and one
// invariant fail, so the verdict is fail against an expected pass.
func fixture() *journal.Journal {
	rng := rand.New(rand.NewPCG(7, 42))
	jitter := func(v, spread float64) float64 { return v * (1 + spread*(2*rng.Float64()-1)) }
	msd := func(v float64) time.Duration { return time.Duration(math.Round(v*1000)) * time.Microsecond }

	type journeySpec struct {
		name           string
		share          float64
		requests       int // per iteration
		p95, slowExtra float64
	}
	journeys := []journeySpec{
		{"browse", 0.6, 4, 60, 0},
		{"checkout", 0.3, 6, 180, 920},
		{"declined_checkout", 0.1, 5, 150, 460},
	}
	// slow is how much of the payment fault's latency a second feels: the
	// fault's full effect from 30 s to 60 s, fading out over eight seconds.
	slow := func(t float64) float64 {
		switch {
		case t < 30:
			return 0
		case t < 60:
			return 1
		case t < 68:
			return (68 - t) / 8
		}
		return 0
	}
	resets := func(t float64) bool { return t >= 40 && t < 50 }

	var series []load.SecondStats
	for sec := range 90 {
		t := float64(sec)
		s := load.SecondStats{At: time.Duration(sec) * time.Second, Journeys: map[string]load.JourneyStats{}}
		if sec == 57 {
			series = append(series, s)
			continue
		}
		f := slow(t)
		for _, js := range journeys {
			it := int64(math.Round(jitter(20*js.share, 0.15)))
			var dropped, failed int64
			if resets(t) && js.name != "browse" {
				failed = int64(rng.IntN(2))
				if t >= 45 {
					dropped = int64(1 + rng.IntN(2))
				}
			}
			p95 := jitter(js.p95+f*js.slowExtra, 0.08)
			s.Journeys[js.name] = load.JourneyStats{
				Iterations: it, Failures: failed, Dropped: dropped,
				Latency: load.Latency{P50: msd(p95 * 0.55), P95: msd(p95), P99: msd(p95 * 1.25), Max: msd(p95 * 1.4)},
			}
			s.Iterations += it
			s.Dropped += dropped
			s.Requests += it * int64(js.requests)
		}
		if resets(t) {
			s.Errors = int64(2 + rng.IntN(4))
		} else if t > 60 && rng.IntN(12) == 0 {
			s.Errors = 1
		}
		p50 := jitter(8, 0.1)
		p95 := jitter(25+f*400, 0.06)
		p99 := jitter(45+f*430, 0.06)
		if sec == 75 {
			p99 = 4812.5 // a stalled connection pool, one second
		}
		s.Latency = load.Latency{P50: msd(p50), P95: msd(p95), P99: msd(p99), Max: msd(p99 * 1.3)}
		series = append(series, s)
	}

	phases := []journal.Phase{{Name: "before", From: 0, To: 30}, {Name: "during", From: 30, To: 60}, {Name: "after", From: 60, To: 90}}
	endpoints := []struct {
		name  string
		share float64
		base  float64
	}{
		{"GET /api/v1/products", 0.35, 6},
		{"GET /api/v1/products/{id}", 0.25, 5},
		{"POST /api/v1/cart/items", 0.15, 9},
		{"POST /api/v1/orders", 0.10, 22},
		{"GET /api/v1/orders/{id}", 0.10, 7},
		{"POST /api/v1/login", 0.05, 14},
	}
	stats := map[string]load.Stats{}
	window := func(name string, from, to int) {
		st := load.Stats{From: time.Duration(from) * time.Second, To: time.Duration(to) * time.Second, Seconds: float64(to - from)}
		var p50s, p95s, p99s []float64
		jl := map[string][]float64{}
		for _, s := range series[from:to] {
			st.Requests += s.Requests
			st.Errors += s.Errors
			st.Iterations += s.Iterations
			st.Dropped += s.Dropped
			if s.Requests > 0 {
				p50s = append(p50s, ms(s.P50))
				p95s = append(p95s, ms(s.P95))
				p99s = append(p99s, ms(s.P99))
			}
			for _, n := range []string{"browse", "checkout", "declined_checkout"} {
				if js, ok := s.Journeys[n]; ok {
					jl[n] = append(jl[n], ms(js.P95))
				}
			}
		}
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
		st.Throughput = float64(st.Requests) / st.Seconds
		st.Status5xx, st.Timeouts = st.Errors*2/3, st.Errors-st.Errors*2/3
		st.Latency = load.Latency{P50: msd(quantile(p50s, 0.5)), P95: msd(quantile(p95s, 0.9)), P99: msd(quantile(p99s, 0.95)), Max: msd(slices.Max(p99s))}
		st.Journeys = map[string]load.JourneyStats{}
		for _, js := range journeys {
			var a load.JourneyStats
			for _, s := range series[from:to] {
				x := s.Journeys[js.name]
				a.Iterations += x.Iterations
				a.Failures += x.Failures
				a.Dropped += x.Dropped
			}
			st.Failures += a.Failures
			p95 := quantile(jl[js.name], 0.9)
			a.Latency = load.Latency{P50: msd(p95 * 0.55), P95: msd(p95), P99: msd(p95 * 1.3), Max: msd(p95 * 1.5)}
			st.Journeys[js.name] = a
		}
		st.Endpoints = map[string]load.EndpointStats{}
		for _, e := range endpoints {
			es := load.EndpointStats{Requests: int64(math.Round(float64(st.Requests) * e.share))}
			base := e.base
			if name == "during" && (e.name == "POST /api/v1/orders") {
				base += 410
			}
			if e.name == "POST /api/v1/orders" {
				es.Errors = st.Errors
				es.Status5xx, es.Timeouts = st.Status5xx, st.Timeouts
				es.ErrorRate = float64(es.Errors) / float64(es.Requests)
			}
			es.Throughput = float64(es.Requests) / st.Seconds
			es.Latency = load.Latency{P50: msd(base), P95: msd(base * 2.4), P99: msd(base * 3.1), Max: msd(base * 4)}
			st.Endpoints[e.name] = es
		}
		stats[name] = st
	}
	for _, p := range phases {
		window(p.Name, int(p.From), int(p.To))
	}
	window("total", 0, 90)

	var dropped int64
	for _, s := range series {
		dropped += s.Dropped
	}
	f := func(v float64) *float64 { return &v }
	return &journal.Journal{
		Scenario:    "payment-latency",
		Description: "Payments slow to 400 ms; checkout stays inside its SLO and nothing is lost.",
		File:        "scenarios/payment-latency.yaml",
		Seed:        7,
		ScaleFactor: 1,
		Verdict:     journal.Fail,
		Expected:    journal.Pass,
		Reasons: []string{
			`probe checkout-p95 [during]: observed 1,104.7 ms, want latency_p95{journey="checkout"} <= 900ms`,
			"recovery errors-recover: never recovered within 10 s",
			"invariant one_email_per_order: 2 orders have 2 emails",
		},
		StartedAt:   time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Seconds:     104.372,
		LoadSeconds: 90,
		Phases:      phases,
		Probes: []journal.ProbeResult{
			{Name: "checkout-p95", Phase: "before", Metric: "latency_p95", Journey: "checkout", Condition: `latency_p95{journey="checkout"} <= 900ms`, Observed: f(182.4), Max: f(900), Unit: "ms", OK: true},
			{Name: "checkout-p95", Phase: "during", Metric: "latency_p95", Journey: "checkout", Condition: `latency_p95{journey="checkout"} <= 900ms`, Observed: f(1104.7), Max: f(900), Unit: "ms", OK: false},
			{Name: "checkout-p95", Phase: "after", Metric: "latency_p95", Journey: "checkout", Condition: `latency_p95{journey="checkout"} <= 900ms`, Observed: f(240.1), Max: f(900), Unit: "ms", OK: true},
			{Name: "errors", Phase: "before", Metric: "error_rate", Condition: "error_rate <= 0.01", Observed: f(0), Max: f(0.01), Unit: "ratio", OK: true},
			{Name: "errors", Phase: "after", Metric: "error_rate", Condition: "error_rate <= 0.01", Observed: f(0.0021), Max: f(0.01), Unit: "ratio", OK: true},
			{Name: "throughput", Phase: "during", Metric: "throughput", Condition: "throughput >= 60", Observed: f(88.2), Min: f(60), Unit: "req/s", OK: true},
			{Name: "refunds-p99", Phase: "during", Metric: "latency_p99", Endpoint: "POST /api/v1/refunds", Condition: `latency_p99{endpoint="POST /api/v1/refunds"} <= 1s`, Max: f(1000), Unit: "ms", OK: true, Skipped: true, Detail: "no matching requests in phase during"},
		},
		Recovery: []journal.RecoveryResult{
			{Name: "p95-recovers", Metric: "latency_p95", Journey: "checkout", Condition: `latency_p95{journey="checkout"} <= 300ms`, Within: 20, Recovered: f(7), OK: true, Detail: "inside the bound from 67 s on"},
			{Name: "errors-recover", Metric: "error_rate", Condition: "error_rate <= 0.001", Within: 10, OK: false, Detail: "error rate 0.0021 over the last 10 s of the load"},
		},
		Invariants: []journal.Invariant{
			{Name: "no_lost_orders", OK: true, Detail: "810 orders, all found"},
			{Name: "no_duplicate_charges", OK: true, Detail: "612 payments, none charged twice"},
			{Name: "one_email_per_order", OK: false, Detail: "2 orders have 2 emails: o-0417, o-0733"},
			{Name: "stock_consistent", OK: true},
			{Name: "analytics_reconciles", OK: true, Detail: "9 windows"},
		},
		Faults: []journal.FaultRecord{
			{Name: "slow-payments", Target: "order->payment", Type: "latency", Attributes: map[string]any{"latency": "400ms", "jitter": "50ms", "toxicity": 1.0}, Start: 30, End: 60},
			{Name: "order-db-resets", Target: "order->postgres", Type: "reset_peer", Attributes: map[string]any{"toxicity": 0.05}, Start: 40, End: 50},
			{Name: "kill-analytics", Target: "analytics", Type: "kill", Start: 70, End: 70, Error: "no such target: analytics"},
		},
		Load: journal.LoadSummary{
			Executor: "constant-arrival-rate", Scheduled: 1800, Started: 1800 - dropped, Dropped: dropped,
			Settled: 3, Unknown: 0, Orders: 810, Seconds: 90.02, PeakRate: 20,
		},
		PhaseStat: stats,
		Series:    series,
	}
}

func quantile(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[int(math.Ceil(q*float64(len(s))))-1]
}
