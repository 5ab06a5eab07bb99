package k6

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// Metric names in the generated script.
const (
	metricDuration = "http_req_duration"  // k6's, in ms
	metricReqs     = "http_reqs"          // k6's counter of requests
	metricDropped  = "dropped_iterations" // k6's, counted by arrival-rate executors
	metricErrors   = "errors"             // lib/shop.js's Rate: error_rate as sim/load classifies requests
	metricChaos    = "chaos_failures"     // lib/chaos.js's Counter: fault steps that did not go through
)

// Tags lib/shop.js puts on every request of the load, and the value of a
// recovery window tag.
const (
	tagScenario    = "scenario" // k6's own; "load" for the load scenario
	tagPhase       = "phase"
	tagJourney     = "journey"
	tagEndpoint    = "endpoint"
	recoveryDue    = "due"
	loadScenario   = "load"
	chaosScenario  = "chaos"
	recoveryPrefix = "recovery_"
)

// threshold is one key of options.thresholds with its conditions.
type threshold struct {
	Key     string
	Entries []thresholdEntry
}

// thresholdEntry is one condition on a metric, and what asked for it.
type thresholdEntry struct {
	Expr  string        // k6 threshold expression: p(95)<=900
	Abort time.Duration // abortOnFail with this delayAbortEval; -1: not an abort rule
	Why   []string      // the probes, recovery probes and abort rules it stands for
}

// JS writes the entry as an element of the thresholds array.
func (e thresholdEntry) JS() (string, error) {
	if e.Abort < 0 {
		return jsString(e.Expr), nil
	}
	o := jsObject{{"threshold", e.Expr}, {"abortOnFail", true}}
	if e.Abort > 0 {
		o = append(o, jsField{"delayAbortEval", e.Abort.String()})
	}
	return literal(o)
}

// tag is one tag=value a threshold selects requests by.
type tag struct{ key, value string }

// thresholdSet builds options.thresholds, and collects the places where
// k6 can only approximate what `shoplab run` checks.
type thresholdSet struct {
	s       *spec.Scenario
	spans   []spec.PhaseSpan
	byKey   map[string]*threshold
	notes   []string
	recTags map[string]string // recovery probe name -> its tag
}

func newThresholdSet(s *spec.Scenario, spans []spec.PhaseSpan) *thresholdSet {
	return &thresholdSet{s: s, spans: spans, byKey: map[string]*threshold{}, recTags: recoveryTags(s.Recovery)}
}

// taggable reports whether a metric can be restricted to a time window of
// the run through a tag. k6 computes a counter's rate over the whole test,
// so throughput cannot be; dropped iterations carry no tags of the script.
func taggable(m spec.Metric) bool { return m.IsLatency() || m == spec.ErrorRate }

func (ts *thresholdSet) probe(p *spec.Probe) {
	if p.Metric == spec.Throughput {
		ts.note("probe %s: k6 divides http_reqs by the whole test's duration, setup and the graceful stop included, so throughput reads a little low", p.Name)
	}
	if len(p.Phases) == 0 || slices.Contains(p.Phases, spec.PhaseContinuous) {
		ts.add(&p.Threshold, nil, -1, fmt.Sprintf("probe %s", p.Name))
		return
	}
	if !taggable(p.Metric) {
		ts.add(&p.Threshold, nil, -1, fmt.Sprintf("probe %s (whole run)", p.Name))
		ts.note("probe %s (%s, phases %s) is checked over the whole run: %s", p.Name, p.Metric, phaseList(p.Phases), untaggableWhy(p.Metric))
		return
	}
	for _, ph := range p.Phases {
		if !slices.ContainsFunc(ts.spans, func(sp spec.PhaseSpan) bool { return sp.Phase == ph }) {
			ts.note("probe %s: phase %s has no time in this run with the chosen grace, so k6 sees no request in it and the threshold passes empty", p.Name, ph)
		}
		ts.add(&p.Threshold, []tag{{tagPhase, string(ph)}}, -1, fmt.Sprintf("probe %s (%s)", p.Name, ph))
	}
}

func (ts *thresholdSet) recovery(r *spec.RecoveryProbe) {
	last, _ := ts.s.LastFaultEnd()
	deadline := last + r.Within.Std()
	if deadline >= ts.s.TotalDuration() {
		ts.note("recovery %s: its deadline (%v) is the end of the load, so no request is tagged due and the threshold passes empty", r.Name, deadline)
	}
	if !taggable(r.Metric) {
		ts.add(&r.Threshold, nil, -1, fmt.Sprintf("recovery %s (whole run)", r.Name))
		ts.note("recovery %s (%s) is checked over the whole run: %s", r.Name, r.Metric, untaggableWhy(r.Metric))
		return
	}
	ts.add(&r.Threshold, []tag{{ts.recTags[r.Name], recoveryDue}}, -1, fmt.Sprintf("recovery %s (from %v)", r.Name, deadline))
}

func (ts *thresholdSet) abort(a *spec.AbortRule) {
	ts.add(&a.Threshold, nil, a.For.Std(), fmt.Sprintf("abort %s (broken for %v)", a.Name, a.For))
}

func untaggableWhy(m spec.Metric) string {
	if m == spec.Throughput {
		return "k6 divides a counter by the whole test's duration, so a rate cannot be limited to a phase"
	}
	return "k6 counts dropped iterations per scenario only"
}

// add records the conditions of t on the requests selected by window;
// abort < 0 means an ordinary threshold.
func (ts *thresholdSet) add(t *spec.Threshold, window []tag, abort time.Duration, why string) {
	key := thresholdKey(t, window)
	th := ts.byKey[key]
	if th == nil {
		th = &threshold{Key: key}
		ts.byKey[key] = th
	}
	for _, expr := range thresholdExprs(t) {
		// A probe checked in several phases, or two probes with the same
		// bound, must not print the same condition twice.
		i := slices.IndexFunc(th.Entries, func(e thresholdEntry) bool { return e.Expr == expr && e.Abort == abort })
		if i >= 0 {
			th.Entries[i].Why = append(th.Entries[i].Why, why)
			continue
		}
		th.Entries = append(th.Entries, thresholdEntry{Expr: expr, Abort: abort, Why: []string{why}})
	}
}

func (ts *thresholdSet) note(format string, args ...any) {
	ts.notes = append(ts.notes, fmt.Sprintf(format, args...))
}

// sorted returns the thresholds by key.
func (ts *thresholdSet) sorted() []threshold {
	out := make([]threshold, 0, len(ts.byKey))
	for _, th := range ts.byKey {
		out = append(out, *th)
	}
	slices.SortFunc(out, func(a, b threshold) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// thresholdKey is the metric a threshold reads, with the tags that select
// its requests: http_req_duration{journey:checkout,phase:before}. A
// threshold on every request of the load selects scenario:load, because
// the requests of setup and of the chaos scenario also land in k6's
// http_* metrics; errors is only ever fed by the load.
func thresholdKey(t *spec.Threshold, window []tag) string {
	var tags []tag
	switch {
	case t.Journey != "":
		tags = append(tags, tag{tagJourney, string(t.Journey)})
	case t.Endpoint != "":
		tags = append(tags, tag{tagEndpoint, t.Endpoint})
	}
	tags = append(tags, window...)
	metric := metricFor(t.Metric)
	if len(tags) == 0 && metric != metricErrors {
		tags = []tag{{tagScenario, loadScenario}}
	}
	if len(tags) == 0 {
		return metric
	}
	parts := make([]string, len(tags))
	for i, tg := range tags {
		parts[i] = tg.key + ":" + tg.value
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

func metricFor(m spec.Metric) string {
	switch {
	case m.IsLatency():
		return metricDuration
	case m == spec.ErrorRate:
		return metricErrors
	case m == spec.Throughput:
		return metricReqs
	}
	return metricDropped
}

// thresholdExprs are t's bounds as k6 expressions. A bound is inclusive,
// as spec.Threshold.Holds reads it, so max is <= and min is >=.
// Latencies are in milliseconds, k6's unit for http_req_duration.
func thresholdExprs(t *spec.Threshold) []string {
	var agg string
	switch t.Metric {
	case spec.LatencyP50:
		agg = "p(50)"
	case spec.LatencyP95:
		agg = "p(95)"
	case spec.LatencyP99:
		agg = "p(99)"
	case spec.ErrorRate, spec.Throughput:
		agg = "rate"
	default:
		agg = "count"
	}
	value := func(b *spec.Bound) string {
		v := b.Value
		if b.IsDuration {
			v = float64(b.Duration()) / float64(time.Millisecond)
		}
		s, _ := jsNumber(v) // Validate refused non-finite bounds
		return s
	}
	var out []string
	if t.Max != nil {
		out = append(out, agg+"<="+value(t.Max))
	}
	if t.Min != nil {
		out = append(out, agg+">="+value(t.Min))
	}
	return out
}

// recoveryTags names the tag of each recovery probe's window. Tags become
// label names in Prometheus outputs, which allow only [a-zA-Z0-9_], so a
// probe name's dashes become underscores; a clash gets a number.
func recoveryTags(probes []spec.RecoveryProbe) map[string]string {
	out := map[string]string{}
	used := map[string]bool{}
	for i, r := range probes {
		t := recoveryPrefix + strings.ReplaceAll(r.Name, "-", "_")
		if used[t] {
			t = fmt.Sprintf("%s_%d", t, i+1)
		}
		used[t] = true
		out[r.Name] = t
	}
	return out
}

func phaseList(ph []spec.Phase) string {
	s := make([]string, len(ph))
	for i, p := range ph {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}
