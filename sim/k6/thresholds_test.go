package k6

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func ms(d time.Duration) *spec.Bound { return spec.DurationBound(d) }
func n(v float64) *spec.Bound        { return spec.NumberBound(v) }

func TestThresholdKeyAndExpressions(t *testing.T) {
	tests := []struct {
		t      spec.Threshold
		window []tag
		key    string
		exprs  []string
	}{
		{spec.Threshold{Metric: spec.LatencyP95, Journey: spec.Checkout, Max: ms(900 * time.Millisecond)}, nil,
			"http_req_duration{journey:checkout}", []string{"p(95)<=900"}},
		{spec.Threshold{Metric: spec.LatencyP99, Endpoint: "POST /api/v1/orders", Max: ms(1500 * time.Millisecond)}, nil,
			"http_req_duration{endpoint:POST /api/v1/orders}", []string{"p(99)<=1500"}},
		// Every request of the load: setup's and chaos's are left out.
		{spec.Threshold{Metric: spec.LatencyP50, Max: ms(time.Second), Min: ms(time.Millisecond)}, nil,
			"http_req_duration{scenario:load}", []string{"p(50)<=1000", "p(50)>=1"}},
		{spec.Threshold{Metric: spec.LatencyP95, Max: ms(1500 * time.Microsecond)}, []tag{{tagPhase, "during"}},
			"http_req_duration{phase:during}", []string{"p(95)<=1.5"}},
		{spec.Threshold{Metric: spec.ErrorRate, Max: n(0.01)}, nil,
			"errors", []string{"rate<=0.01"}},
		{spec.Threshold{Metric: spec.ErrorRate, Journey: spec.Browse, Max: n(0.01)}, []tag{{tagPhase, "before"}},
			"errors{journey:browse,phase:before}", []string{"rate<=0.01"}},
		{spec.Threshold{Metric: spec.ErrorRate, Max: n(0)}, []tag{{"recovery_x", recoveryDue}},
			"errors{recovery_x:due}", []string{"rate<=0"}},
		{spec.Threshold{Metric: spec.Throughput, Min: n(15)}, nil,
			"http_reqs{scenario:load}", []string{"rate>=15"}},
		{spec.Threshold{Metric: spec.Throughput, Journey: spec.Search, Min: n(2.5)}, nil,
			"http_reqs{journey:search}", []string{"rate>=2.5"}},
		{spec.Threshold{Metric: spec.DroppedIterations, Max: n(0)}, nil,
			"dropped_iterations{scenario:load}", []string{"count<=0"}},
	}
	for _, tt := range tests {
		if got := thresholdKey(&tt.t, tt.window); got != tt.key {
			t.Errorf("%s: key %q, want %q", tt.t.Condition(), got, tt.key)
		}
		if got := thresholdExprs(&tt.t); !slices.Equal(got, tt.exprs) {
			t.Errorf("%s: expressions %q, want %q", tt.t.Condition(), got, tt.exprs)
		}
	}
}

// outage is a payment outage with probes of every shape.
const outage = `
version: 1
name: outage
description: The order->payment edge goes down for 20 s.
seed: 11
load: {executor: constant-arrival-rate, rate: 15, duration: 90s, journeys: {browse: 6, checkout: 3, declined_checkout: 1}}
faults:
  - {name: payment-down, at: 30s, duration: 20s, target: order->payment, type: down}
steady_state:
  - {name: checkout-p95, metric: latency_p95, journey: checkout, max: 900ms, phases: [before, after]}
  - {name: errors, metric: error_rate, max: 0.01, phases: [before, after]}
  - {name: orders-fail-fast, metric: latency_p99, endpoint: "POST /api/v1/orders", max: 3500ms, phases: [during]}
  - {name: browse-unaffected, metric: error_rate, journey: browse, max: 0.01, phases: [continuous]}
abort:
  - {metric: error_rate, max: 0.5, for: 10s}
recovery:
  - {name: checkout-works-again, metric: error_rate, journey: checkout, max: 0.01, within: 20s}
`

func TestProbesByPhase(t *testing.T) {
	s := MustParse(t, outage)
	ts := newThresholdSet(s, s.Phases(s.AfterGrace()))
	for i := range s.SteadyState {
		ts.probe(&s.SteadyState[i])
	}
	got := map[string][]string{}
	for _, th := range ts.sorted() {
		for _, e := range th.Entries {
			got[th.Key] = append(got[th.Key], e.Expr+" "+strings.Join(e.Why, "; "))
		}
	}
	want := map[string][]string{
		// phases: [before, after]: one threshold per phase.
		"http_req_duration{journey:checkout,phase:before}":             {"p(95)<=900 probe checkout-p95 (before)"},
		"http_req_duration{journey:checkout,phase:after}":              {"p(95)<=900 probe checkout-p95 (after)"},
		"errors{phase:before}":                                         {"rate<=0.01 probe errors (before)"},
		"errors{phase:after}":                                          {"rate<=0.01 probe errors (after)"},
		"http_req_duration{endpoint:POST /api/v1/orders,phase:during}": {"p(99)<=3500 probe orders-fail-fast (during)"},
		// continuous: the whole run.
		"errors{journey:browse}": {"rate<=0.01 probe browse-unaffected"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("thresholds:\n got %v\nwant %v", got, want)
	}
	if len(ts.notes) != 0 {
		t.Errorf("notes %q: every probe of payment-outage maps exactly", ts.notes)
	}
}

func TestUntaggableProbesAreNoted(t *testing.T) {
	s := MustParse(t, outage)
	s.SteadyState = append(s.SteadyState,
		spec.Probe{Name: "keeps-up", Threshold: spec.Threshold{Metric: spec.Throughput, Min: n(10)}, Phases: []spec.Phase{spec.PhaseDuring}},
		spec.Probe{Name: "no-drops", Threshold: spec.Threshold{Metric: spec.DroppedIterations, Max: n(0)}, Phases: []spec.Phase{spec.PhaseBefore, spec.PhaseAfter}},
	)
	ts := newThresholdSet(s, s.Phases(s.AfterGrace()))
	for i := range s.SteadyState {
		ts.probe(&s.SteadyState[i])
	}
	if th := ts.byKey["http_reqs{scenario:load}"]; th == nil || th.Entries[0].Expr != "rate>=10" {
		t.Errorf("a phase-scoped throughput probe = %+v, want a whole-run threshold", th)
	}
	if th := ts.byKey["dropped_iterations{scenario:load}"]; th == nil || len(th.Entries) != 1 {
		t.Errorf("a dropped_iterations probe over two phases = %+v, want one whole-run threshold", th)
	}
	notes := strings.Join(ts.notes, "\n")
	for _, want := range []string{"keeps-up (throughput, phases during) is checked over the whole run", "no-drops (dropped_iterations, phases before, after)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestAbortRules(t *testing.T) {
	s := MustParse(t, noFaults)
	ts := newThresholdSet(s, s.Phases(s.AfterGrace()))
	for i := range s.SteadyState {
		ts.probe(&s.SteadyState[i])
	}
	s.Abort = append(s.Abort, spec.AbortRule{Name: "at-once", Threshold: spec.Threshold{Metric: spec.ErrorRate, Max: n(0.9)}})
	for i := range s.Abort {
		ts.abort(&s.Abort[i])
	}
	var got []string
	for _, e := range ts.byKey["errors"].Entries {
		js, err := e.JS()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, js)
	}
	want := []string{
		`'rate<=0.01'`,
		`{ threshold: 'rate<=0.5', abortOnFail: true, delayAbortEval: '10s' }`,
		// for: 0 aborts at the first breach: no delay.
		`{ threshold: 'rate<=0.9', abortOnFail: true }`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors thresholds:\n got %q\nwant %q", got, want)
	}
}

func TestSameConditionIsWrittenOnce(t *testing.T) {
	s := MustParse(t, noFaults)
	ts := newThresholdSet(s, s.Phases(s.AfterGrace()))
	p := spec.Probe{Name: "a", Threshold: spec.Threshold{Metric: spec.ErrorRate, Max: n(0.01)}}
	q := p
	q.Name = "b"
	ts.probe(&p)
	ts.probe(&q)
	es := ts.byKey["errors"].Entries
	if len(es) != 1 || !slices.Equal(es[0].Why, []string{"probe a", "probe b"}) {
		t.Errorf("two probes with one condition = %+v, want one entry naming both", es)
	}
}

func TestRecoveryTags(t *testing.T) {
	got := recoveryTags([]spec.RecoveryProbe{{Name: "p95-recovers"}, {Name: "p95_recovers"}, {Name: "errors"}})
	want := map[string]string{"p95-recovers": "recovery_p95_recovers", "p95_recovers": "recovery_p95_recovers_2", "errors": "recovery_errors"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTimeUnit(t *testing.T) {
	tests := []struct {
		rates []float64
		unit  float64
		exact bool
	}{
		{[]float64{20}, 1, true},
		{[]float64{12.5}, 2, true},
		{[]float64{5, 0.1, 150}, 10, true},
		{[]float64{1.0 / 3}, 3, true},
		{[]float64{0.25, 1.5}, 4, true},
		{[]float64{math.Pi}, 1000, false},
	}
	for _, tt := range tests {
		unit, exact := timeUnit(tt.rates)
		if unit != tt.unit || exact != tt.exact {
			t.Errorf("timeUnit(%v) = %v, %v; want %v, %v", tt.rates, unit, exact, tt.unit, tt.exact)
		}
	}
	l := spec.Workload{Executor: spec.ConstantArrivalRate, Rate: 12.5, Duration: spec.Duration(time.Minute), MaxInFlight: 100}
	o, note, err := loadScenarioJS(&l)
	if err != nil || note != "" {
		t.Fatal(err, note)
	}
	got, _ := literal(o)
	if want := `{ executor: 'constant-arrival-rate', exec: 'load', rate: 25, timeUnit: '2s', duration: '1m0s', preAllocatedVUs: 13, maxVUs: 100 }`; got != want {
		t.Errorf("12.5/s =\n %s\nwant\n %s", got, want)
	}
}

// k6Threshold checks a thresholds key and expression the way k6 parses
// them (metrics.ParseMetricName, the thresholds parser) and that the
// aggregation exists for the metric's type, which k6 checks at start-up.
func k6Threshold(key, expr string) error {
	name, tags := key, ""
	open, closing := strings.IndexByte(key, '{'), strings.LastIndexByte(key, '}')
	switch {
	case open < 0 && closing < 0:
	case open < 0 || closing < 0 || closing < open:
		return fmt.Errorf("%q: unmatched braces", key)
	case closing != len(key)-1:
		return fmt.Errorf("%q: the closing brace is not last", key)
	default:
		name, tags = key[:open], key[open+1:closing]
		for _, t := range strings.Split(tags, ",") {
			kv := strings.SplitN(t, ":", 2)
			if len(kv) != 2 || kv[1] == "" || strings.TrimSpace(kv[0]) == "" {
				return fmt.Errorf("%q: tag expression %q is malformed", key, t)
			}
		}
	}
	types := map[string]string{
		metricDuration: "trend", metricReqs: "counter", metricDropped: "counter",
		metricErrors: "rate", metricChaos: "counter",
	}
	aggs := map[string]*regexp.Regexp{
		"trend":   regexp.MustCompile(`^(avg|min|max|med|p\(\d+(\.\d+)?\))$`),
		"counter": regexp.MustCompile(`^(count|rate)$`),
		"rate":    regexp.MustCompile(`^rate$`),
	}
	typ, ok := types[name]
	if !ok {
		return fmt.Errorf("%q: unknown metric %q", key, name)
	}
	m := regexp.MustCompile(`^([a-z]+(?:\(\d+(?:\.\d+)?\))?)(<=|>=|==|!=|<|>)(\d+(?:\.\d+)?)$`).FindStringSubmatch(expr)
	if m == nil {
		return fmt.Errorf("%q: %q is not a k6 threshold expression", key, expr)
	}
	if !aggs[typ].MatchString(m[1]) {
		return fmt.Errorf("%q: %s has no %s", key, typ, m[1])
	}
	return nil
}

func TestShippedThresholdsParseAsK6Does(t *testing.T) {
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := newScript(s, mustDefaults(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Thresholds) == 0 {
			t.Errorf("%s: no thresholds", s.Name)
		}
		ts := newThresholdSet(s, s.Phases(s.AfterGrace()))
		for i := range s.SteadyState {
			ts.probe(&s.SteadyState[i])
		}
		for i := range s.Recovery {
			ts.recovery(&s.Recovery[i])
		}
		for i := range s.Abort {
			ts.abort(&s.Abort[i])
		}
		for _, th := range ts.sorted() {
			for _, e := range th.Entries {
				if err := k6Threshold(th.Key, e.Expr); err != nil {
					t.Errorf("%s: %v", s.Name, err)
				}
			}
		}
	}
	if err := k6Threshold(metricChaos, "count==0"); err != nil {
		t.Error(err)
	}
}

func mustDefaults(tb testing.TB, s *spec.Scenario) Options {
	tb.Helper()
	o, err := Options{}.withDefaults(s)
	if err != nil {
		tb.Fatal(err)
	}
	return o
}
