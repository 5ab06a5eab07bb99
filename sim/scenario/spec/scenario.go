package spec

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shoplab/shoplab/chaos"
)

// Version is the only scenario format version.
const Version = 1

// Defaults that Parse fills in when a file leaves a setting out.
const (
	DefaultCustomers   = 20  // customers registered before the load starts
	DefaultMaxInFlight = 200 // iterations running at once before new ones are dropped
)

// Scenario is one scenario file: a load, a fault timeline, what must hold
// while it runs and afterwards, and the verdict a healthy build gets.
//
// Parse returns a validated Scenario with defaults filled in; a Scenario
// built in Go should pass Validate, which reads a zero optional field as its
// default.
type Scenario struct {
	Version     int                       `yaml:"version" json:"version" spec:"required"`
	Name        string                    `yaml:"name" json:"name" spec:"required"`                        // lower-case words joined by -, the file name without .yaml
	Description string                    `yaml:"description" json:"description" spec:"required"`          // what it shows and why it should pass (or fail)
	Seed        uint64                    `yaml:"seed,omitempty" json:"seed,omitempty"`                    // seeds the load, the journeys and the faults' random streams
	Expect      Verdict                   `yaml:"expect,omitempty" json:"expect,omitempty" spec:"nonzero"` // the verdict of a healthy build; "" means pass
	Env         Env                       `yaml:"env,omitempty" json:"env,omitzero"`
	Envs        []string                  `yaml:"envs,omitempty" json:"envs,omitempty"` // the envs it makes sense in; empty = every env
	Load        Workload                  `yaml:"load" json:"load" spec:"required"`
	Faults      []Fault                   `yaml:"faults,omitempty" json:"faults,omitempty"`
	SteadyState []Probe                   `yaml:"steady_state,omitempty" json:"steady_state,omitempty"`
	Abort       []AbortRule               `yaml:"abort,omitempty" json:"abort,omitempty"`
	Recovery    []RecoveryProbe           `yaml:"recovery,omitempty" json:"recovery,omitempty"`
	Invariants  []Invariant               `yaml:"invariants,omitempty" json:"invariants,omitempty"`
	HPA         map[string]HPAExpectation `yaml:"hpa,omitempty" json:"hpa,omitempty"` // by Deployment name, see Deployments
	// HPATrafficScale is for the HPA twin only: it multiplies the load's
	// arrival rates by this factor (at least 1; Parse fills in 1 when the
	// file has an hpa section and leaves it out). The load is sized for one
	// machine, because the runner and the k6 scripts drive it for real and
	// ignore this field; the production cluster the twin models sees N
	// times more. Only valid with an hpa section; Scale leaves it alone.
	HPATrafficScale float64 `yaml:"hpa_traffic_scale,omitempty" json:"hpa_traffic_scale,omitempty"`

	orig    *Scenario       // the unscaled scenario, for a copy made by Scale
	factor  float64         // the factor Scale used; 0 means unscaled
	present map[string]bool // while Parse validates: the field paths the file sets
}

// SupportsEnv reports whether the scenario makes sense in the env named
// env (an envs/*.yaml name): it lists no envs, or lists that one.
func (s *Scenario) SupportsEnv(env string) bool {
	return len(s.Envs) == 0 || slices.Contains(s.Envs, env)
}

// Verdict is a run's outcome.
type Verdict string

// The verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
)

// Env overrides settings of the environment the scenario runs in; a zero
// field keeps the environment's default. These are properties of the
// system, not of the timeline, so Scale leaves them alone.
type Env struct {
	AnalyticsWindow  Duration `yaml:"analytics_window,omitempty" json:"analytics_window,omitempty" spec:"nonzero"` // tumbling window size (default 1m)
	ProcessorLatency Duration `yaml:"processor_latency,omitempty" json:"processor_latency,omitempty"`              // simulated card processor latency per charge
	CatalogSeed      int64    `yaml:"catalog_seed,omitempty" json:"catalog_seed,omitempty"`                        // seed of the generated catalog
	RecoveryGrace    Duration `yaml:"recovery_grace,omitempty" json:"recovery_grace,omitempty"`                    // age of a PENDING order before order's recovery loop settles it
}

// Executor is how the load's arrival rate is shaped, named after k6's
// open-model executors.
type Executor string

// The executors.
const (
	// ConstantArrivalRate starts Rate iterations per second for Duration.
	ConstantArrivalRate Executor = "constant-arrival-rate"
	// RampingArrivalRate starts at StartRate iterations per second and moves
	// linearly to each stage's target over the stage's duration.
	RampingArrivalRate Executor = "ramping-arrival-rate"
)

// Executors lists the executors.
var Executors = []Executor{ConstantArrivalRate, RampingArrivalRate}

// Workload is the load section, the customers' traffic: an open model
// where iterations (one journey each) start at a given rate whether or not
// earlier ones finished. (The type is not called Load: that is the
// function that reads a file.)
type Workload struct {
	Executor    Executor            `yaml:"executor" json:"executor" spec:"required"`
	Rate        float64             `yaml:"rate,omitempty" json:"rate,omitempty"`                                  // constant-arrival-rate: iterations per second
	Duration    Duration            `yaml:"duration,omitempty" json:"duration,omitempty"`                          // constant-arrival-rate: how long
	StartRate   float64             `yaml:"start_rate,omitempty" json:"start_rate,omitempty"`                      // ramping-arrival-rate: iterations per second at 0
	Stages      []Stage             `yaml:"stages,omitempty" json:"stages,omitempty"`                              // ramping-arrival-rate: the ramps, in order
	MaxInFlight int                 `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty" spec:"nonzero"` // iterations at once; more are dropped (k6's maxVUs)
	Customers   int                 `yaml:"customers,omitempty" json:"customers,omitempty" spec:"nonzero"`         // accounts registered before the load starts
	Journeys    map[Journey]float64 `yaml:"journeys" json:"journeys" spec:"required"`                              // relative weight of each journey
}

// Stage is one ramp of a ramping-arrival-rate load: the rate moves linearly
// from the previous stage's target (or the start rate) to Target over
// Duration. A zero Duration jumps to Target.
type Stage struct {
	Target   float64  `yaml:"target" json:"target" spec:"required"` // iterations per second at the stage's end
	Duration Duration `yaml:"duration" json:"duration" spec:"required"`
}

// Journey is what one iteration of the load does.
type Journey string

// The journeys.
const (
	Browse           Journey = "browse"            // list products, view a few
	Search           Journey = "search"            // list products by category
	Checkout         Journey = "checkout"          // browse, then place an order paid with a good card
	DeclinedCheckout Journey = "declined_checkout" // place an order paid with a card that is declined (402 expected)
)

// Journeys lists the journeys in their canonical order.
var Journeys = []Journey{Browse, Search, Checkout, DeclinedCheckout}

// JourneyWeight is one journey of a load's mix.
type JourneyWeight struct {
	Journey Journey
	Weight  float64 // as written
	Share   float64 // Weight over the sum of weights
}

// Fault is one fault of the timeline: Type on Target from At for Duration.
// The attributes, toxicity and direction are those of chaos.Fault.
type Fault struct {
	Name       string         `yaml:"name" json:"name" spec:"required"`                              // unique in the scenario; also seeds the fault's random stream
	At         Duration       `yaml:"at" json:"at" spec:"required"`                                  // from the start of the load
	Duration   Duration       `yaml:"duration,omitempty" json:"duration,omitempty"`                  // required, except for restart, which is instantaneous
	Target     string         `yaml:"target" json:"target" spec:"required"`                          // an edge, a unit or KafkaTarget, by Type; see FaultTargets
	Type       string         `yaml:"type" json:"type" spec:"required"`                              // one of FaultTypes
	Attributes map[string]any `yaml:"attributes,omitempty" json:"attributes,omitempty"`              // by Type, see chaos.Types; durations as strings such as "400ms"
	Toxicity   float64        `yaml:"toxicity,omitempty" json:"toxicity,omitempty" spec:"nonzero"`   // network toxics: share of connections affected, (0,1]; default 1
	Direction  string         `yaml:"direction,omitempty" json:"direction,omitempty" spec:"nonzero"` // network toxics: downstream (default), upstream or both
}

// Fault directions.
var directions = []string{"downstream", "upstream", "both"}

// Start is when the fault is applied, from the start of the load.
func (f *Fault) Start() time.Duration { return time.Duration(f.At) }

// End is when the fault is removed; a restart's End is its Start.
func (f *Fault) End() time.Duration { return time.Duration(f.At + f.Duration) }

// ActiveAt reports whether the fault is in force at t.
func (f *Fault) ActiveAt(t time.Duration) bool { return f.Start() <= t && t < f.End() }

// Targets returns the chaos targets the fault acts on: KafkaTarget becomes
// every Kafka edge, anything else is itself.
func (f *Fault) Targets() []string {
	if f.Target == KafkaTarget && f.Type != chaos.Kill && f.Type != chaos.Restart { // kill/restart: the broker itself
		return slices.Clone(KafkaEdges)
	}
	return []string{f.Target}
}

// Chaos returns the chaos faults that apply f, one per target (see
// Targets), each removed by the engine after f.Duration. A fault expanded
// to several edges gets names such as "broker-down@order->kafka".
func (f *Fault) Chaos() []chaos.Fault {
	targets := f.Targets()
	out := make([]chaos.Fault, 0, len(targets))
	for _, t := range targets {
		name := f.Name
		if len(targets) > 1 {
			name += "@" + t
		}
		var attrs map[string]any
		if f.Attributes != nil {
			attrs = make(map[string]any, len(f.Attributes))
			for k, v := range f.Attributes {
				attrs[k] = v
			}
		}
		out = append(out, chaos.Fault{
			Name: name, Target: t, Type: f.Type, Attributes: attrs,
			Toxicity: f.Toxicity, Direction: f.Direction, Duration: time.Duration(f.Duration),
		})
	}
	return out
}

// Metric is what a probe measures. Every value is in its base unit:
// seconds for latencies, a fraction for error_rate, per second for
// throughput and a count for dropped_iterations.
type Metric string

// The metrics.
const (
	LatencyP50        Metric = "latency_p50"        // median request latency
	LatencyP95        Metric = "latency_p95"        // 95th percentile request latency
	LatencyP99        Metric = "latency_p99"        // 99th percentile request latency
	ErrorRate         Metric = "error_rate"         // share of requests with an unexpected answer (a 402 in declined_checkout is expected)
	Throughput        Metric = "throughput"         // requests answered per second
	DroppedIterations Metric = "dropped_iterations" // iterations not started because max_in_flight were running
)

// Metrics lists the metrics.
var Metrics = []Metric{LatencyP50, LatencyP95, LatencyP99, ErrorRate, Throughput, DroppedIterations}

// IsLatency reports whether the metric is a latency, whose bounds are
// durations.
func (m Metric) IsLatency() bool { return strings.HasPrefix(string(m), "latency_") }

// Threshold is a metric, the requests it covers and the bounds it must stay
// within. With neither Journey nor Endpoint it covers every request.
type Threshold struct {
	Metric   Metric  `yaml:"metric" json:"metric" spec:"required"`
	Journey  Journey `yaml:"journey,omitempty" json:"journey,omitempty" spec:"nonzero"`   // only the requests of this journey
	Endpoint string  `yaml:"endpoint,omitempty" json:"endpoint,omitempty" spec:"nonzero"` // only this route, e.g. "POST /api/v1/orders"
	Min      *Bound  `yaml:"min,omitempty" json:"min,omitempty"`                          // the value must be >= Min
	Max      *Bound  `yaml:"max,omitempty" json:"max,omitempty"`                          // the value must be <= Max
}

// Holds reports whether v, in the metric's base unit, is within the
// bounds. NaN (no data) never holds.
func (t *Threshold) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	return (t.Min == nil || v >= t.Min.Value) && (t.Max == nil || v <= t.Max.Value)
}

// Condition describes the threshold for reports, e.g.
// `latency_p95{journey="checkout"} <= 900ms`.
func (t *Threshold) Condition() string {
	sel := string(t.Metric)
	switch {
	case t.Journey != "":
		sel += fmt.Sprintf("{journey=%q}", t.Journey)
	case t.Endpoint != "":
		sel += fmt.Sprintf("{endpoint=%q}", t.Endpoint)
	}
	switch {
	case t.Min != nil && t.Max != nil:
		return fmt.Sprintf("%s <= %s <= %s", t.Min, sel, t.Max)
	case t.Min != nil:
		return fmt.Sprintf("%s >= %s", sel, t.Min)
	case t.Max != nil:
		return fmt.Sprintf("%s <= %s", sel, t.Max)
	}
	return sel
}

// Probe is a steady-state hypothesis: a threshold that must hold in the
// phases it names.
type Probe struct {
	Name      string `yaml:"name" json:"name" spec:"required"`
	Threshold `yaml:",inline"`
	Phases    []Phase `yaml:"phases,omitempty" json:"phases,omitempty"` // empty means continuous
}

// Applies reports whether the probe is checked in phase ph.
func (p *Probe) Applies(ph Phase) bool {
	return len(p.Phases) == 0 || slices.Contains(p.Phases, PhaseContinuous) || slices.Contains(p.Phases, ph)
}

// AbortRule stops a run early, removes every fault and fails the verdict
// when its threshold has been broken for For without a break.
type AbortRule struct {
	Name      string `yaml:"name,omitempty" json:"name,omitempty" spec:"nonzero"` // default "abort-N", N counting from 1
	Threshold `yaml:",inline"`
	For       Duration `yaml:"for,omitempty" json:"for,omitempty"` // 0: at the first breach
}

// RecoveryProbe must hold again no later than Within after the last fault
// ends.
type RecoveryProbe struct {
	Name      string `yaml:"name" json:"name" spec:"required"`
	Threshold `yaml:",inline"`
	Within    Duration `yaml:"within" json:"within" spec:"required"`
}

// Invariant is a property of the system's state that reconciliation checks
// after the run (see sim/reconcile).
type Invariant string

// The invariants.
const (
	NoLostOrders        Invariant = "no_lost_orders"       // every order a client saw accepted exists and is settled
	NoDuplicateCharges  Invariant = "no_duplicate_charges" // no order charged twice, whatever the retries
	OneEmailPerOrder    Invariant = "one_email_per_order"  // every paid order has exactly one email
	StockConsistent     Invariant = "stock_consistent"     // initial stock = available + reserved + sold
	AnalyticsReconciles Invariant = "analytics_reconciles" // window totals match the paid orders
)

// Invariants lists the invariants in the order they are checked.
var Invariants = []Invariant{NoLostOrders, NoDuplicateCharges, OneEmailPerOrder, StockConsistent, AnalyticsReconciles}

// HPAExpectation is what the HPA twin must predict for one Deployment. A
// zero field sets no expectation. Times count from the start of the load,
// except SettleWithin, which counts from its end (after it, the twin sees
// no load). They are not scaled: the twin is cheap, so it always runs the
// original timeline (see Scenario.Original).
type HPAExpectation struct {
	Reaches         int      `yaml:"reaches,omitempty" json:"reaches,omitempty" spec:"nonzero"`             // at least this many replicas...
	Within          Duration `yaml:"within,omitempty" json:"within,omitempty" spec:"nonzero"`               // ...by this time
	NeverAbove      int      `yaml:"never_above,omitempty" json:"never_above,omitempty" spec:"nonzero"`     // replicas stay <= this throughout
	SettlesTo       int      `yaml:"settles_to,omitempty" json:"settles_to,omitempty" spec:"nonzero"`       // replicas come back to this...
	SettleWithin    Duration `yaml:"settle_within,omitempty" json:"settle_within,omitempty" spec:"nonzero"` // ...this long after the load ends
	MaxChangesPer5m *int     `yaml:"max_changes_per_5m,omitempty" json:"max_changes_per_5m,omitempty"`      // replica changes in any 5-minute window; nil: no limit
}

// HPARateFactor is what the HPA twin multiplies the load's arrival rates
// by: HPATrafficScale, or 1 when it is unset.
func (s *Scenario) HPARateFactor() float64 {
	if s.HPATrafficScale == 0 {
		return 1
	}
	return s.HPATrafficScale
}

// given reports whether the file being parsed sets the field at path. It
// lets a rule refuse a setting that is present but zero where the Go zero
// value cannot tell (start_rate: 0 on a constant load); a Scenario built in
// Go has no such record, and its zero values read as unset.
func (s *Scenario) given(path string) bool { return s.present[path] }

// TotalDuration is the length of the load, which every time in the
// scenario must fit. The runner may wait longer afterwards for the system
// to settle before it reconciles.
func (s *Scenario) TotalDuration() time.Duration { return s.Load.Total() }

// ExpectedVerdict is Expect with its default applied.
func (s *Scenario) ExpectedVerdict() Verdict {
	if s.Expect == "" {
		return Pass
	}
	return s.Expect
}

// HPAUnits lists the Deployments the hpa section names, sorted.
func (s *Scenario) HPAUnits() []string {
	units := make([]string, 0, len(s.HPA))
	for u := range s.HPA {
		units = append(units, u)
	}
	slices.Sort(units)
	return units
}

// Total is how long the load runs.
func (l *Workload) Total() time.Duration {
	if l.Executor == RampingArrivalRate {
		var d time.Duration
		for _, st := range l.Stages {
			d += time.Duration(st.Duration)
		}
		return d
	}
	return time.Duration(l.Duration)
}

// RateAt is the arrival rate, in iterations per second, at t from the start
// of the load: Rate for a constant load; for a ramping one, the linear
// interpolation k6's ramping-arrival-rate uses between the previous target
// (or StartRate) and the current stage's target. Outside [0, Total) it is 0.
func (l *Workload) RateAt(t time.Duration) float64 {
	if t < 0 || t >= l.Total() {
		return 0
	}
	if l.Executor != RampingArrivalRate {
		return l.Rate
	}
	from, start := l.StartRate, time.Duration(0)
	for _, st := range l.Stages {
		d := time.Duration(st.Duration)
		if t < start+d {
			return from + (st.Target-from)*float64(t-start)/float64(d)
		}
		from, start = st.Target, start+d
	}
	return from
}

// PeakRate is the highest arrival rate the load reaches.
func (l *Workload) PeakRate() float64 {
	if l.Executor != RampingArrivalRate {
		return l.Rate
	}
	peak := l.StartRate
	for _, st := range l.Stages {
		peak = max(peak, st.Target)
	}
	return peak
}

// Iterations is the number of iterations the load starts if none is
// dropped: the integral of RateAt.
func (l *Workload) Iterations() float64 {
	if l.Executor != RampingArrivalRate {
		return l.Rate * l.Duration.Std().Seconds()
	}
	n, from := 0.0, l.StartRate
	for _, st := range l.Stages {
		n += (from + st.Target) / 2 * st.Duration.Std().Seconds()
		from = st.Target
	}
	return n
}

// JourneyMix returns the journeys with a positive weight in canonical order
// (see Journeys), so that a seeded choice among them is reproducible.
func (l *Workload) JourneyMix() []JourneyWeight {
	var sum float64
	for _, w := range l.Journeys {
		if w > 0 {
			sum += w
		}
	}
	var out []JourneyWeight
	for _, j := range Journeys {
		if w := l.Journeys[j]; w > 0 {
			out = append(out, JourneyWeight{Journey: j, Weight: w, Share: w / sum})
		}
	}
	return out
}

// Phase is a part of a run, as the fault timeline defines it.
type Phase string

// The phases.
const (
	PhaseBefore Phase = "before" // from the start until the first fault
	PhaseDuring Phase = "during" // while any fault is in force
	PhaseAfter  Phase = "after"  // from the end of the last fault plus a grace, to the end
	// PhaseRecovering is between two faults, and during the grace after the
	// last one. PhaseAt returns it; a probe cannot name it (only continuous
	// probes are checked then).
	PhaseRecovering Phase = "recovering"
	// PhaseContinuous is a probe's choice only: every phase.
	PhaseContinuous Phase = "continuous"
)

// ProbePhases lists the phases a probe may name.
var ProbePhases = []Phase{PhaseBefore, PhaseDuring, PhaseAfter, PhaseContinuous}

// PhaseAt returns the phase at t from the start of the load. grace is how
// long the system gets after the last fault ends before "after" starts: the
// runner's setting (it is not env.recovery_grace, the age at which order's
// recovery loop settles a PENDING order). Without faults the whole run is
// "before". A restart, being instantaneous, starts no "during".
func (s *Scenario) PhaseAt(t, grace time.Duration) Phase {
	if len(s.Faults) == 0 {
		return PhaseBefore
	}
	first, last := s.faultSpan()
	switch {
	case t < first:
		return PhaseBefore
	case s.anyActive(t):
		return PhaseDuring
	case t >= last+max(grace, 0):
		return PhaseAfter
	}
	return PhaseRecovering
}

// PhaseSpan is one stretch of a run in one phase, [From, To).
type PhaseSpan struct {
	Phase    Phase
	From, To time.Duration
}

// Phases splits [0, TotalDuration) into the phases of PhaseAt, for reports
// and for the runner's bookkeeping.
func (s *Scenario) Phases(grace time.Duration) []PhaseSpan {
	total := s.TotalDuration()
	points := []time.Duration{0, total}
	if len(s.Faults) > 0 {
		_, last := s.faultSpan()
		points = append(points, last+max(grace, 0))
	}
	for i := range s.Faults {
		points = append(points, s.Faults[i].Start(), s.Faults[i].End())
	}
	slices.Sort(points)
	points = slices.Compact(points)
	var spans []PhaseSpan
	for i := 0; i+1 < len(points); i++ {
		from, to := points[i], points[i+1]
		if from < 0 || to > total || from == to {
			continue
		}
		ph := s.PhaseAt(from, grace)
		if n := len(spans); n > 0 && spans[n-1].Phase == ph && spans[n-1].To == from {
			spans[n-1].To = to
			continue
		}
		spans = append(spans, PhaseSpan{Phase: ph, From: from, To: to})
	}
	return spans
}

// DefaultAfterGrace is AfterGrace of an unscaled scenario without recovery probes.
const DefaultAfterGrace = 5 * time.Second

// AfterGrace is how long after the last fault ends the "after" phase
// starts, the grace the runner and the k6 scripts both pass to Phases: the
// longest recovery deadline, or DefaultAfterGrace scaled with the scenario,
// and at least ScaleFloor.
func (s *Scenario) AfterGrace() time.Duration {
	g := time.Duration(float64(DefaultAfterGrace) * s.ScaleFactor())
	for i := range s.Recovery {
		g = max(g, s.Recovery[i].Within.Std())
	}
	return max(g, ScaleFloor)
}

// LastFaultEnd is when the last fault ends, the origin of recovery
// deadlines; ok is false without faults.
func (s *Scenario) LastFaultEnd() (end time.Duration, ok bool) {
	if len(s.Faults) == 0 {
		return 0, false
	}
	_, last := s.faultSpan()
	return last, true
}

// faultSpan returns when the first fault starts and the last one ends.
func (s *Scenario) faultSpan() (first, last time.Duration) {
	first = time.Duration(math.MaxInt64)
	for i := range s.Faults {
		first = min(first, s.Faults[i].Start())
		last = max(last, s.Faults[i].End())
	}
	return first, last
}

func (s *Scenario) anyActive(t time.Duration) bool {
	for i := range s.Faults {
		if s.Faults[i].ActiveAt(t) {
			return true
		}
	}
	return false
}
