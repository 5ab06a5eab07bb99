package scenario_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/journal"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// sloBreach slows payments to 1.5 s for 5 s against a checkout p95 SLO of
// 1 s: the "during" probe must fail, the others must hold, and nothing may
// be lost. The margins are wide on purpose: the test must not depend on how
// busy the machine is (the whole suite runs beside it).
const sloBreach = `version: 1
name: slo-breach-test
description: A fault that really breaks the checkout SLO, to prove the verdict can fail.
seed: 3
expect: fail
env: {analytics_window: 2s}
load:
  executor: constant-arrival-rate
  rate: 10
  duration: 12s
  customers: 5
  journeys: {browse: 1, checkout: 2}
faults:
  - {name: slow-payments, at: 3s, duration: 5s, target: order->payment, type: latency, attributes: {latency: 1500ms}}
steady_state:
  - {name: checkout-p95, metric: latency_p95, journey: checkout, max: 1s, phases: [before, during]}
  - {name: errors, metric: error_rate, max: 0.01}
invariants: [no_lost_orders, no_duplicate_charges, one_email_per_order, stock_consistent, analytics_reconciles]
`

func TestRunCatchesAnSLOBreach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and runs 12 s of load")
	}
	s, err := spec.Parse("slo-breach-test.yaml", []byte(sloBreach))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	j, err := scenario.Run(ctx, s, scenario.Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if j.Verdict != journal.Fail {
		t.Fatalf("verdict %s, want fail; probes %+v", j.Verdict, j.Probes)
	}
	probe := map[string]journal.ProbeResult{}
	for _, p := range j.Probes {
		probe[p.Name+"/"+p.Phase] = p
	}
	if p := probe["checkout-p95/during"]; p.OK || p.Observed == nil || *p.Observed < 1400 {
		t.Errorf("the during probe should fail with p95 >= 1.4 s: %+v", p)
	}
	if p := probe["checkout-p95/before"]; !p.OK || p.Skipped {
		t.Errorf("the before probe should pass: %+v", p)
	}
	if p := probe["errors/continuous"]; !p.OK {
		t.Errorf("no errors expected: %+v", p)
	}
	if len(j.Invariants) != 5 {
		t.Fatalf("%d invariants checked, want 5", len(j.Invariants))
	}
	for _, inv := range j.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s: %s", inv.Name, inv.Detail)
		}
	}
	if len(j.Faults) != 1 || j.Faults[0].Error != "" || j.Faults[0].End <= j.Faults[0].Start {
		t.Errorf("fault record %+v", j.Faults)
	}
	if len(j.Reasons) != 1 || !strings.Contains(j.Reasons[0], "checkout-p95 [during]") {
		t.Errorf("reasons %q, want exactly the during probe", j.Reasons)
	}
	for _, f := range []string{"journal.json", "report.html", "junit.xml"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	back, err := journal.ReadFile(filepath.Join(out, "journal.json"))
	if err != nil || back.Verdict != j.Verdict || len(back.Series) == 0 {
		t.Errorf("journal.json does not round-trip: %v", err)
	}
}

func TestObserve(t *testing.T) {
	ms := time.Millisecond
	st := load.Stats{
		Seconds: 10, Requests: 200, Errors: 4, ErrorRate: 0.02, Throughput: 20, Dropped: 3,
		Latency:   load.Latency{P50: 5 * ms, P95: 40 * ms, P99: 90 * ms},
		Journeys:  map[string]load.JourneyStats{"checkout": {Iterations: 50, Failures: 1, Latency: load.Latency{P95: 120 * ms}}},
		Endpoints: map[string]load.EndpointStats{"POST /api/v1/orders": {Requests: 50, Errors: 5, Latency: load.Latency{P99: 300 * ms}}},
	}
	tests := []struct {
		name string
		th   spec.Threshold
		want float64
		ok   bool
	}{
		{"overall p95", spec.Threshold{Metric: spec.LatencyP95}, 0.040, true},
		{"journey p95", spec.Threshold{Metric: spec.LatencyP95, Journey: spec.Checkout}, 0.120, true},
		{"endpoint p99", spec.Threshold{Metric: spec.LatencyP99, Endpoint: "POST /api/v1/orders"}, 0.300, true},
		{"error rate", spec.Threshold{Metric: spec.ErrorRate}, 0.02, true},
		{"journey error rate", spec.Threshold{Metric: spec.ErrorRate, Journey: spec.Checkout}, 0.02, true},
		{"endpoint error rate", spec.Threshold{Metric: spec.ErrorRate, Endpoint: "POST /api/v1/orders"}, 0.1, true},
		{"throughput", spec.Threshold{Metric: spec.Throughput}, 20, true},
		{"dropped", spec.Threshold{Metric: spec.DroppedIterations}, 3, true},
		{"unknown journey has no data", spec.Threshold{Metric: spec.LatencyP95, Journey: spec.Search}, math.NaN(), false},
		{"unknown endpoint has no data", spec.Threshold{Metric: spec.ErrorRate, Endpoint: "GET /x"}, math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := scenario.Observe(&tt.th, st)
			if ok != tt.ok || (ok && math.Abs(got-tt.want) > 1e-9) {
				t.Fatalf("observe = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := scenario.Observe(&spec.Threshold{Metric: spec.LatencyP95}, load.Stats{}); ok {
		t.Error("an empty range must have no data, not a zero latency")
	}
}

func TestInwardKeepsPhasesApart(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		from, to time.Duration
		want     load.Range
		ok       bool
	}{
		{0, 7500 * ms, load.Range{From: 0, To: 7 * time.Second}, true},
		{7500 * ms, 10 * time.Second, load.Range{From: 8 * time.Second, To: 10 * time.Second}, true},
		{2 * time.Second, 3 * time.Second, load.Range{From: 2 * time.Second, To: 3 * time.Second}, true},
		{2100 * ms, 2900 * ms, load.Range{}, false},
	}
	for _, tt := range tests {
		got, ok := scenario.Inward(tt.from, tt.to)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("inward(%v, %v) = %v, %v; want %v, %v", tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
}
