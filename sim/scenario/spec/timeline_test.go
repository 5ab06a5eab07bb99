package spec

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
)

const s1 = time.Second

func mustParse(tb testing.TB, doc string) *Scenario {
	tb.Helper()
	s, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustLoad(tb testing.TB, name string) *Scenario {
	tb.Helper()
	s, err := Load(scenarioDir + "/" + name + ".yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestRateAt(t *testing.T) {
	constant := Workload{Executor: ConstantArrivalRate, Rate: 20, Duration: Duration(90 * s1)}
	ramping := Workload{Executor: RampingArrivalRate, StartRate: 5, Stages: []Stage{
		{Target: 50, Duration: Duration(30 * s1)}, // 5 -> 50
		{Target: 50, Duration: Duration(10 * s1)}, // hold
		{Target: 100, Duration: 0},                // jump
		{Target: 0, Duration: Duration(10 * s1)},  // 100 -> 0
	}}
	tests := []struct {
		name string
		load Workload
		at   time.Duration
		want float64
	}{
		{"constant before the start", constant, -s1, 0},
		{"constant at 0", constant, 0, 20},
		{"constant mid-way", constant, 45 * s1, 20},
		{"constant at the end", constant, 90 * s1, 0},
		{"ramping at 0", ramping, 0, 5},
		{"ramping one third up", ramping, 10 * s1, 20},
		{"ramping at the top", ramping, 30 * s1, 50},
		{"ramping holding", ramping, 35 * s1, 50},
		{"ramping after the jump", ramping, 40 * s1, 100},
		{"ramping down", ramping, 45 * s1, 50},
		{"ramping at the end", ramping, 50 * s1, 0},
		{"ramping after the end", ramping, time.Hour, 0},
	}
	for _, tt := range tests {
		if got := tt.load.RateAt(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: RateAt(%v) = %v, want %v", tt.name, tt.at, got, tt.want)
		}
	}
	if got := ramping.Total(); got != 50*s1 {
		t.Errorf("Total = %v", got)
	}
	if got := ramping.PeakRate(); got != 100 {
		t.Errorf("PeakRate = %v", got)
	}
	// 5->50 over 30s: 825; hold 10s: 500; jump; 100->0 over 10s: 500.
	if got := ramping.Iterations(); math.Abs(got-1825) > 1e-9 {
		t.Errorf("Iterations = %v, want 1825", got)
	}
	if got := constant.Iterations(); got != 1800 {
		t.Errorf("Iterations = %v, want 1800", got)
	}
	// Iterations is the integral of RateAt.
	var sum float64
	for at := time.Duration(0); at < ramping.Total(); at += time.Millisecond {
		sum += ramping.RateAt(at+time.Millisecond/2) / 1000
	}
	if math.Abs(sum-ramping.Iterations()) > 0.01 {
		t.Errorf("integral of RateAt = %v, Iterations = %v", sum, ramping.Iterations())
	}
}

func TestJourneyMix(t *testing.T) {
	l := Workload{Journeys: map[Journey]float64{DeclinedCheckout: 1, Browse: 6, Checkout: 3}}
	got := l.JourneyMix()
	want := []JourneyWeight{{Browse, 6, 0.6}, {Checkout, 3, 0.3}, {DeclinedCheckout, 1, 0.1}}
	if len(got) != len(want) {
		t.Fatalf("JourneyMix = %v", got)
	}
	for i := range want {
		if got[i].Journey != want[i].Journey || got[i].Weight != want[i].Weight || math.Abs(got[i].Share-want[i].Share) > 1e-12 {
			t.Errorf("JourneyMix[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPhaseAt(t *testing.T) {
	s := &Scenario{
		Load: Workload{Executor: ConstantArrivalRate, Rate: 1, Duration: Duration(100 * s1)},
		Faults: []Fault{
			{Name: "a", At: Duration(20 * s1), Duration: Duration(10 * s1)},
			{Name: "b", At: Duration(40 * s1), Duration: Duration(10 * s1)},
			{Name: "c", At: Duration(60 * s1), Type: chaos.Restart},
		},
	}
	const grace = 5 * s1
	tests := []struct {
		at   time.Duration
		want Phase
	}{
		{0, PhaseBefore},
		{20*s1 - 1, PhaseBefore},
		{20 * s1, PhaseDuring},
		{30*s1 - 1, PhaseDuring},
		{30 * s1, PhaseRecovering}, // between two faults
		{40 * s1, PhaseDuring},
		{50 * s1, PhaseRecovering},
		{60 * s1, PhaseRecovering}, // a restart starts no "during"
		{65*s1 - 1, PhaseRecovering},
		{65 * s1, PhaseAfter},
		{99 * s1, PhaseAfter},
	}
	for _, tt := range tests {
		if got := s.PhaseAt(tt.at, grace); got != tt.want {
			t.Errorf("PhaseAt(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
	want := []PhaseSpan{
		{PhaseBefore, 0, 20 * s1},
		{PhaseDuring, 20 * s1, 30 * s1},
		{PhaseRecovering, 30 * s1, 40 * s1},
		{PhaseDuring, 40 * s1, 50 * s1},
		{PhaseRecovering, 50 * s1, 65 * s1},
		{PhaseAfter, 65 * s1, 100 * s1},
	}
	if got := s.Phases(grace); !reflect.DeepEqual(got, want) {
		t.Errorf("Phases =\n%v\nwant\n%v", got, want)
	}
	if end, ok := s.LastFaultEnd(); !ok || end != 60*s1 {
		t.Errorf("LastFaultEnd = %v, %v", end, ok)
	}

	none := &Scenario{Load: s.Load}
	if got := none.PhaseAt(50*s1, grace); got != PhaseBefore {
		t.Errorf("without faults PhaseAt = %s, want before", got)
	}
	if got := none.Phases(grace); !reflect.DeepEqual(got, []PhaseSpan{{PhaseBefore, 0, 100 * s1}}) {
		t.Errorf("without faults Phases = %v", got)
	}
}

func TestProbeApplies(t *testing.T) {
	p := Probe{Phases: []Phase{PhaseBefore, PhaseAfter}}
	for ph, want := range map[Phase]bool{PhaseBefore: true, PhaseDuring: false, PhaseRecovering: false, PhaseAfter: true} {
		if got := p.Applies(ph); got != want {
			t.Errorf("Applies(%s) = %v", ph, got)
		}
	}
	for _, p := range []Probe{{}, {Phases: []Phase{PhaseContinuous}}} {
		if !p.Applies(PhaseRecovering) || !p.Applies(PhaseDuring) {
			t.Errorf("%v does not apply everywhere", p.Phases)
		}
	}
}

func TestThreshold(t *testing.T) {
	s := mustLoad(t, "payment-latency")
	p95 := s.SteadyState[0].Threshold
	if got := p95.Condition(); got != `latency_p95{journey="checkout"} <= 900ms` {
		t.Errorf("Condition = %s", got)
	}
	if !p95.Holds(0.9) || p95.Holds(0.901) || p95.Holds(math.NaN()) {
		t.Error("Holds is wrong around 900ms (0.9 s)")
	}
	if d := p95.Max.Duration(); d != 900*time.Millisecond {
		t.Errorf("Max.Duration = %v", d)
	}
	band := Threshold{Metric: Throughput, Min: NumberBound(10), Max: NumberBound(20)}
	if band.Holds(9) || !band.Holds(15) || band.Holds(21) {
		t.Error("a min/max band")
	}
	if got := band.Condition(); got != "10 <= throughput <= 20" {
		t.Errorf("Condition = %s", got)
	}
	ep := Threshold{Metric: LatencyP99, Endpoint: "POST /api/v1/orders", Max: DurationBound(1500 * time.Millisecond)}
	if got := ep.Condition(); got != `latency_p99{endpoint="POST /api/v1/orders"} <= 1.5s` {
		t.Errorf("Condition = %s", got)
	}
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, `version: 1
name: d
description: defaults
load: {executor: constant-arrival-rate, rate: 1, duration: 10s, journeys: {browse: 1}}
faults: [{name: f, at: 1s, duration: 1s, target: gateway->user, type: latency, attributes: {latency: 1ms}},
         {name: g, at: 2s, duration: 1s, target: user, type: kill}]
steady_state: [{name: p, metric: error_rate, max: 0}]
abort: [{metric: error_rate, max: 1}, {name: stop, metric: error_rate, max: 1}]
`)
	if s.Expect != Pass || s.Load.Customers != DefaultCustomers || s.Load.MaxInFlight != DefaultMaxInFlight {
		t.Errorf("top-level defaults: %+v", s)
	}
	if f := s.Faults[0]; f.Toxicity != 1 || f.Direction != "downstream" {
		t.Errorf("toxic defaults: %+v", f)
	}
	if f := s.Faults[1]; f.Toxicity != 0 || f.Direction != "" {
		t.Errorf("a kill has no toxicity: %+v", f)
	}
	if !slices.Equal(s.SteadyState[0].Phases, []Phase{PhaseContinuous}) {
		t.Errorf("phases = %v", s.SteadyState[0].Phases)
	}
	if s.Abort[0].Name != "abort-1" || s.Abort[1].Name != "stop" {
		t.Errorf("abort names %q, %q", s.Abort[0].Name, s.Abort[1].Name)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("a parsed scenario does not validate: %v", err)
	}
	if s.HPATrafficScale != 0 || s.HPARateFactor() != 1 {
		t.Errorf("without an hpa section: hpa_traffic_scale %v, factor %v; want unset, 1", s.HPATrafficScale, s.HPARateFactor())
	}

	// With an hpa section, hpa_traffic_scale defaults to 1.
	const withHPA = `version: 1
name: d
description: defaults
load: {executor: constant-arrival-rate, rate: 1, duration: 10s, journeys: {checkout: 1}}
hpa: {order: {never_above: 4}}
`
	if h := mustParse(t, withHPA); h.HPATrafficScale != 1 || h.HPARateFactor() != 1 {
		t.Errorf("hpa_traffic_scale %v, factor %v; want 1, 1", h.HPATrafficScale, h.HPARateFactor())
	}
	if h := mustParse(t, withHPA+"hpa_traffic_scale: 12.5\n"); h.HPATrafficScale != 12.5 || h.HPARateFactor() != 12.5 {
		t.Errorf("hpa_traffic_scale %v, factor %v; want 12.5", h.HPATrafficScale, h.HPARateFactor())
	}
}

func TestChaosFaults(t *testing.T) {
	s := mustLoad(t, "broker-outage")
	f := s.Faults[0]
	if got := f.Targets(); !slices.Equal(got, KafkaEdges) {
		t.Errorf("Targets = %v", got)
	}
	cf := f.Chaos()
	if len(cf) != 3 {
		t.Fatalf("Chaos = %v", cf)
	}
	for i, c := range cf {
		if c.Target != KafkaEdges[i] || c.Name != "broker-down@"+KafkaEdges[i] || c.Type != chaos.Down || c.Duration != 20*s1 {
			t.Errorf("Chaos[%d] = %+v", i, c)
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
	p := mustLoad(t, "payment-latency").Faults[0]
	got := p.Chaos()
	want := []chaos.Fault{{Name: "slow-payments", Target: "order->payment", Type: chaos.Latency,
		Attributes: map[string]any{"latency": "400ms", "jitter": "50ms"}, Toxicity: 1, Direction: "downstream", Duration: 30 * s1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Chaos = %+v, want %+v", got, want)
	}
	got[0].Attributes["latency"] = "1s"
	if p.Attributes["latency"] != "400ms" {
		t.Error("Chaos shares the attributes map with the scenario")
	}
}

func TestScale(t *testing.T) {
	s := mustLoad(t, "payment-latency")
	c := s.Scale(0.25)
	if c.TotalDuration() != 22500*time.Millisecond {
		t.Errorf("load %v, want 22.5s", c.TotalDuration())
	}
	f := c.Faults[0]
	if f.At.Std() != 7500*time.Millisecond || f.Duration.Std() != 7500*time.Millisecond {
		t.Errorf("fault at %v for %v, want 7.5s for 7.5s", f.At, f.Duration)
	}
	if f.Attributes["latency"] != "400ms" {
		t.Errorf("fault attributes scaled: %v", f.Attributes)
	}
	if c.Abort[0].For.Std() != 2500*time.Millisecond || c.Recovery[0].Within.Std() != 5*s1 {
		t.Errorf("abort for %v, recovery within %v", c.Abort[0].For, c.Recovery[0].Within)
	}
	if c.SteadyState[0].Max.Duration() != 900*time.Millisecond || c.Load.Rate != 20 {
		t.Error("thresholds or rates scaled")
	}
	h := mustLoad(t, "hpa-steady")
	if hc := h.Scale(0.25); !reflect.DeepEqual(hc.HPA, h.HPA) || len(hc.HPA) == 0 {
		t.Error("hpa scaled (the twin always runs the original timeline)")
	}
	if hc := h.Scale(0.25); hc.HPATrafficScale != h.HPATrafficScale || h.HPATrafficScale <= 1 {
		t.Errorf("hpa_traffic_scale %v, scaled %v: --short must not change the twin's traffic", h.HPATrafficScale, hc.HPATrafficScale)
	}
	if c.Original() != s || c.ScaleFactor() != 0.25 || s.ScaleFactor() != 1 || s.Original() != s {
		t.Error("Original or ScaleFactor")
	}
	// The copy is deep.
	c.Faults[0].Attributes["latency"] = "1s"
	c.SteadyState[0].Max.Value = 1
	c.Load.Journeys[Browse] = 100
	if s.Faults[0].Attributes["latency"] != "400ms" || s.SteadyState[0].Max.Value != 0.9 || s.Load.Journeys[Browse] != 6 {
		t.Error("Scale's copy shares memory with the original")
	}
	// Scaling a scaled copy multiplies, and still leads to the original.
	cc := c.Scale(0.5)
	if cc.Original() != s || cc.ScaleFactor() != 0.125 {
		t.Errorf("twice scaled: factor %v", cc.ScaleFactor())
	}

	// The floor: a 2s fault limits the factor to 0.5.
	short := mustLoad(t, "payment-latency")
	short.Faults[0].Duration = Duration(2 * s1)
	sc := short.Scale(0.25)
	if sc.ScaleFactor() != 0.5 || sc.Faults[0].Duration.Std() != s1 {
		t.Errorf("floor: factor %v, fault %v", sc.ScaleFactor(), sc.Faults[0].Duration)
	}
	for _, f := range []float64{0, -1, math.NaN(), math.Inf(1), 1} {
		u := s.Scale(f)
		if u.ScaleFactor() != 1 || u.Original() != u || u.TotalDuration() != s.TotalDuration() {
			t.Errorf("Scale(%v) changed the scenario", f)
		}
	}
	if l := s.Scale(2); l.TotalDuration() != 180*s1 || l.Faults[0].End() != 120*s1 {
		t.Errorf("Scale(2): load %v, fault ends %v", l.TotalDuration(), l.Faults[0].End())
	}
}

func TestScaleRamping(t *testing.T) {
	s := mustLoad(t, "hpa-diurnal")
	c := s.Scale(0.25)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := 30 * s1; c.TotalDuration() != want {
		t.Errorf("load %v, want %v", c.TotalDuration(), want)
	}
	// The shape holds: the rate at a scaled time is the rate at the original.
	for at := time.Duration(0); at < s.TotalDuration(); at += 4 * s1 {
		if a, b := s.Load.RateAt(at), c.Load.RateAt(at/4); math.Abs(a-b) > 1e-9 {
			t.Errorf("rate at %v = %v, scaled at %v = %v", at, a, at/4, b)
		}
	}
}
