package spec

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// nameRE is the shape of scenario, fault and probe names: they end up in
// file names, metric labels and JUnit test names.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

const maxNameLen = 64

// endpointRE is a route as the gateway labels its metrics.
var endpointRE = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\S*$`)

// opsRE is a storage fault's ops attribute.
var opsRE = regexp.MustCompile(`^(all|exec|query|begin|commit)(,(all|exec|query|begin|commit))*$`)

// Validate checks a scenario built or changed in Go by the rules Parse
// applies (a zero optional field counts as its default). Problems have no
// line; the error is an *Error.
func (s *Scenario) Validate() error {
	if ps := s.validate(); len(ps) > 0 {
		return &Error{Problems: sortProblems(ps)}
	}
	return nil
}

var envNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func (s *Scenario) validate() problems {
	var ps problems
	switch {
	case s.Version == 0:
		ps.add("version", "required: write version: %d", Version)
	case s.Version != Version:
		ps.add("version", "must be %d, the only format version, not %d", Version, s.Version)
	}
	checkName(&ps, "name", s.Name)
	if strings.TrimSpace(s.Description) == "" {
		ps.add("description", "required: say what the scenario shows and why it should %s", s.ExpectedVerdict())
	}
	if s.Expect != "" && s.Expect != Pass && s.Expect != Fail {
		ps.add("expect", "must be %q or %q, not %q%s", Pass, Fail, s.Expect, suggest(string(s.Expect), []Verdict{Pass, Fail}))
	}
	if w := s.Env.AnalyticsWindow.Std(); w != 0 && w < time.Second {
		ps.add("env.analytics_window", "must be at least 1s, not %v", w)
	}
	if s.Env.ProcessorLatency < 0 {
		ps.add("env.processor_latency", "must not be negative")
	}
	if s.Env.RecoveryGrace < 0 {
		ps.add("env.recovery_grace", "must not be negative")
	}
	for i, e := range s.Envs {
		path := index("envs", i)
		switch {
		case !envNameRE.MatchString(e):
			ps.add(path, "%q is not an env name such as host or local (envs/*.yaml)", e)
		case slices.Index(s.Envs, e) < i:
			ps.add(path, "%q is listed twice", e)
		}
	}
	if s.Envs != nil && len(s.Envs) == 0 && s.given("envs") {
		ps.add("envs", "must list at least one env, or be left out for every env")
	}
	s.Load.validate(&ps, s.given)
	total := s.TotalDuration()
	s.validateFaults(&ps, total)

	probeNames := map[string]string{}
	uniqueProbe := func(path, name string) {
		if prev, ok := probeNames[name]; ok {
			ps.add(path, "probe name %q is also used by %s", name, prev)
			return
		}
		probeNames[name] = path
	}
	for i := range s.SteadyState {
		p := &s.SteadyState[i]
		path := index("steady_state", i)
		if checkName(&ps, path+".name", p.Name) {
			uniqueProbe(path+".name", p.Name)
		}
		s.validateThreshold(&ps, path, &p.Threshold)
		s.validatePhases(&ps, path+".phases", p.Phases, total)
	}
	for i := range s.Abort {
		a := &s.Abort[i]
		path := index("abort", i)
		switch {
		case a.Name == "":
			uniqueProbe(path+".name", defaultAbortName(i))
		case checkName(&ps, path+".name", a.Name):
			uniqueProbe(path+".name", a.Name)
		}
		s.validateThreshold(&ps, path, &a.Threshold)
		if a.For < 0 {
			ps.add(path+".for", "must not be negative")
		}
	}
	for i := range s.Recovery {
		r := &s.Recovery[i]
		path := index("recovery", i)
		if checkName(&ps, path+".name", r.Name) {
			uniqueProbe(path+".name", r.Name)
		}
		s.validateThreshold(&ps, path, &r.Threshold)
		s.validateRecovery(&ps, path, r, total)
	}
	for i, inv := range s.Invariants {
		path := index("invariants", i)
		switch {
		case !slices.Contains(Invariants, inv):
			ps.add(path, "%s", unknown("invariant", inv, Invariants))
		case slices.Index(s.Invariants, inv) < i:
			ps.add(path, "%q is listed twice", inv)
		}
	}
	for _, unit := range s.HPAUnits() {
		validateHPA(&ps, field("hpa", unit), unit, s.HPA[unit])
	}
	s.validateHPATrafficScale(&ps)
	return ps
}

// validateHPATrafficScale checks hpa_traffic_scale: a factor of at least 1,
// and only with an hpa section, the one consumer that reads it.
func (s *Scenario) validateHPATrafficScale(ps *problems) {
	const path = "hpa_traffic_scale"
	v := s.HPATrafficScale
	if v == 0 && !s.given(path) {
		return
	}
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 1:
		ps.add(path, "must be a factor of at least 1, not %v: the HPA twin multiplies the load's rates by it (leave it out for 1)", v)
	case len(s.HPA) == 0:
		ps.add(path, "scales the load for the HPA twin only, so it needs an hpa: section with expectations; add one or leave it out")
	}
}

// unknown words a problem with a value that is not one of known: the
// likely fix when there is one, else the whole list.
func unknown[S ~string](what string, got S, known []S) string {
	if hint := suggest(string(got), known); hint != "" {
		return fmt.Sprintf("unknown %s %q%s", what, got, hint)
	}
	return fmt.Sprintf("unknown %s %q (known: %s)", what, got, quoteList(known))
}

// checkName reports whether name is a usable name, adding a problem if not.
func checkName(ps *problems, path, name string) bool {
	switch {
	case name == "":
		ps.add(path, "required")
	case len(name) > maxNameLen:
		ps.add(path, "must be at most %d characters", maxNameLen)
	case !nameRE.MatchString(name):
		ps.add(path, "%q must be lower-case letters, digits, - and _, starting with a letter or digit", name)
	default:
		return true
	}
	return false
}

func (l *Workload) validate(ps *problems, given func(path string) bool) {
	positive := func(path string, v float64) {
		if math.IsNaN(v) || v <= 0 {
			ps.add(path, "must be more than 0 iterations per second, not %v", v)
		}
	}
	switch l.Executor {
	case ConstantArrivalRate:
		positive("load.rate", l.Rate)
		if l.Duration <= 0 {
			ps.add("load.duration", "required by %s: how long the load runs, e.g. 90s", l.Executor)
		}
		if l.StartRate != 0 || given("load.start_rate") {
			ps.add("load.start_rate", "belongs to %s, not %s: use rate", RampingArrivalRate, l.Executor)
		}
		if l.Stages != nil {
			ps.add("load.stages", "belong to %s, not %s: use rate and duration", RampingArrivalRate, l.Executor)
		}
	case RampingArrivalRate:
		if l.Rate != 0 || given("load.rate") {
			ps.add("load.rate", "belongs to %s, not %s: use start_rate and stages", ConstantArrivalRate, l.Executor)
		}
		if l.Duration != 0 || given("load.duration") {
			ps.add("load.duration", "belongs to %s, not %s: the stages' durations add up to the load's", ConstantArrivalRate, l.Executor)
		}
		if math.IsNaN(l.StartRate) || l.StartRate < 0 {
			ps.add("load.start_rate", "must not be negative")
		}
		if len(l.Stages) == 0 {
			ps.add("load.stages", "required by %s: at least one {target, duration}", l.Executor)
		}
		for i, st := range l.Stages {
			path := index("load.stages", i)
			if math.IsNaN(st.Target) || st.Target < 0 {
				ps.add(path+".target", "must not be negative")
			}
			if st.Duration < 0 {
				ps.add(path+".duration", "must not be negative")
			}
		}
		if len(l.Stages) > 0 && l.Total() <= 0 {
			ps.add("load.stages", "last 0s in all: give at least one stage a duration")
		}
		if len(l.Stages) > 0 && l.PeakRate() <= 0 {
			ps.add("load.stages", "never start an iteration: every target and start_rate is 0")
		}
	case "":
		ps.add("load.executor", "required: %s", quoteList(Executors))
	default:
		ps.add("load.executor", "%s", unknown("executor", l.Executor, Executors))
	}
	if l.MaxInFlight < 0 {
		ps.add("load.max_in_flight", "must be at least 1")
	}
	if l.Customers < 0 {
		ps.add("load.customers", "must be at least 1")
	}
	if len(l.Journeys) == 0 {
		ps.add("load.journeys", "required: the journeys and their weights, e.g. {browse: 6, checkout: 3, declined_checkout: 1}")
	}
	for _, j := range sortedKeys(l.Journeys) {
		path := field("load.journeys", string(j))
		if !slices.Contains(Journeys, j) {
			ps.add(path, "%s", unknown("journey", j, Journeys))
			continue
		}
		if w := l.Journeys[j]; math.IsNaN(w) || w <= 0 {
			ps.add(path, "weight must be more than 0, not %v (leave the journey out instead)", w)
		}
	}
}

func (s *Scenario) validateFaults(ps *problems, total time.Duration) {
	names := map[string]int{}
	for i := range s.Faults {
		f := &s.Faults[i]
		path := index("faults", i)
		before := len(*ps)
		if checkName(ps, path+".name", f.Name) {
			if j, dup := names[f.Name]; dup {
				ps.add(path+".name", "fault name %q is also used by faults[%d]", f.Name, j)
			} else {
				names[f.Name] = i
			}
		}
		_, known := faultTypes[f.Type]
		switch {
		case f.Type == "":
			ps.add(path+".type", "required: one of %s", quoteList(FaultTypes()))
		case !known:
			ps.add(path+".type", "%s", unknown("fault type", f.Type, FaultTypes()))
		}
		if known {
			validateTarget(ps, path+".target", f)
		}
		if (f.Type == chaos.Kill || f.Type == chaos.Restart) && slices.Contains(Parts, f.Target) && (len(s.Envs) == 0 || slices.Contains(s.Envs, "local")) {
			ps.add(path+".target", "%s is a real part, which only an env that runs it on this machine has: list envs: [host]", f.Target)
		}
		switch {
		case f.At < 0:
			ps.add(path+".at", "must not be negative")
		case total > 0 && f.Start() >= total:
			ps.add(path+".at", "%v is not before the load ends (%v)", f.At, total)
		}
		switch {
		case f.Duration < 0:
			ps.add(path+".duration", "must not be negative")
		case f.Type == chaos.Restart && (f.Duration != 0 || s.given(path+".duration")):
			ps.add(path+".duration", "restart is instantaneous: leave duration out, or use kill with a duration to keep the unit down")
		case known && f.Type != chaos.Restart && f.Duration == 0:
			ps.add(path+".duration", "required: how long %s lasts, e.g. 30s", f.Type)
		case total > 0 && f.Start() < total && f.End() > total:
			ps.add(path+".duration", "the fault ends at %v, after the load ends (%v)", f.End(), total)
		}
		if !known {
			continue
		}
		if isToxic(f.Type) {
			if math.IsNaN(f.Toxicity) || f.Toxicity < 0 || f.Toxicity > 1 {
				ps.add(path+".toxicity", "must be within (0, 1], not %v", f.Toxicity)
			}
			if f.Direction != "" && !slices.Contains(directions, f.Direction) {
				ps.add(path+".direction", "must be %s, not %q%s", quoteList(directions), f.Direction, suggest(f.Direction, directions))
			}
		} else {
			if f.Toxicity != 0 {
				ps.add(path+".toxicity", "applies to network toxics only, not %s%s", f.Type, rateHint(f.Type))
			}
			if f.Direction != "" {
				ps.add(path+".direction", "applies to network toxics only, not %s", f.Type)
			}
		}
		if validateAttributes(ps, path+".attributes", f) && len(*ps) == before {
			validateWithChaos(ps, path, f)
		}
	}
}

func rateHint(faultType string) string {
	if _, ok := attrInfo(faultType, "rate"); ok {
		return "; use attributes.rate"
	}
	return ""
}

func validateTarget(ps *problems, path string, f *Fault) {
	allowed := FaultTargets(f.Type)
	switch {
	case f.Target == "":
		ps.add(path, "required: one of %s", strings.Join(allowed, ", "))
	case slices.Contains(allowed, f.Target):
	case slices.Contains(allTargets(), f.Target):
		ps.add(path, "%s cannot act on %q (it acts on %s)", f.Type, f.Target, strings.Join(allowed, ", "))
	default:
		ps.add(path, "%s", unknown(f.Type+" target", f.Target, allowed))
	}
}

// validateAttributes checks attribute names and value types; it reports
// whether they are fit for chaos's own checks of values and relations.
func validateAttributes(ps *problems, path string, f *Fault) bool {
	info := faultTypes[f.Type]
	var names []string
	for _, a := range info.Attributes {
		names = append(names, a.Name)
	}
	ok := true
	for _, k := range sortedKeys(f.Attributes) {
		a, known := attrInfo(f.Type, k)
		if !known {
			if len(names) == 0 {
				ps.add(field(path, k), "%s takes no attributes", f.Type)
			} else {
				ps.add(field(path, k), "%s", unknown(f.Type+" attribute", k, names))
			}
			ok = false
			continue
		}
		if msg := checkAttrValue(a, f.Attributes[k]); msg != "" {
			ps.add(field(path, k), "%s", msg)
			ok = false
		}
	}
	for _, a := range info.Attributes {
		if _, set := f.Attributes[a.Name]; a.Required && !set {
			ps.add(field(path, a.Name), "required by %s: %s", f.Type, a.Doc)
			ok = false
		}
	}
	return ok
}

// awsCodeRE is an AWS error code, as the schema's aws_error.error pattern.
var awsCodeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// checkAttrValue checks that an attribute's value has the type a scenario
// file must give it (chaos itself is more lenient: it takes bare numbers of
// milliseconds, numeric strings and any case).
func checkAttrValue(a chaos.AttributeInfo, v any) string {
	switch a.Kind {
	case "duration":
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be a duration such as \"400ms\", not %v", v)
		}
		if _, err := ParseDuration(s); err != nil {
			return err.Error()
		}
	case "int", "http_status":
		if !isInteger(v) {
			return fmt.Sprintf("must be an integer, not %v", v)
		}
	case "rate":
		if !isNumber(v) {
			return fmt.Sprintf("must be a fraction within 0..1, not %v", v)
		}
	case "enum":
		if s, ok := v.(string); !ok || !slices.Contains(a.Values, s) {
			return fmt.Sprintf("must be %s, not %v%s", quoteList(a.Values), v, suggestAny(v, a.Values))
		}
	case "grpc_code":
		if s, ok := v.(string); !ok || !slices.Contains(grpcCodes, s) {
			return fmt.Sprintf("must be a gRPC status code such as \"UNAVAILABLE\", not %v%s", v, suggestAny(v, grpcCodes))
		}
	case "path":
		if s, ok := v.(string); !ok || !strings.HasPrefix(s, "/") {
			return fmt.Sprintf("must be a path prefix starting with /, not %v", v)
		}
	case "grpc_method":
		if a.Name == "error" { // aws_error's code (chaos shares the kind): a plain word, as AWS spells them
			if s, ok := v.(string); !ok || !awsCodeRE.MatchString(s) {
				return fmt.Sprintf("must be an AWS error code such as \"ProvisionedThroughputExceededException\", not %v", v)
			}
			return ""
		}
		if s, ok := v.(string); !ok || s == "" {
			return fmt.Sprintf("must be a gRPC method name such as \"Charge\", not %v", v)
		}
	case "sql_ops":
		if s, ok := v.(string); !ok || !opsRE.MatchString(s) {
			return fmt.Sprintf("must be \"all\" or a comma-separated list of exec, query, begin, commit, not %v", v)
		}
	}
	return ""
}

func suggestAny(v any, known []string) string {
	if s, ok := v.(string); ok {
		return suggest(s, known)
	}
	return ""
}

func isNumber(v any) bool {
	switch x := v.(type) {
	case int, int64, uint64:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return false
}

func isInteger(v any) bool {
	if f, ok := v.(float64); ok {
		return f == math.Trunc(f) && math.Abs(f) < 1<<53
	}
	return isNumber(v)
}

// validateWithChaos lets the chaos engine's own validation check values
// and relations between attributes, exactly as it will when it applies
// the fault.
func validateWithChaos(ps *problems, path string, f *Fault) {
	for _, cf := range f.Chaos() {
		cf.Name = "" // checked here, with the scenario's stricter rule
		if err := cf.Validate(); err != nil {
			msg := errs.MessageOf(err)
			if fld := errs.FieldOf(err); fld != "" {
				ps.add(path+"."+fld, "%s", msg)
			} else {
				ps.add(path, "%s", msg)
			}
			return
		}
	}
}

func (s *Scenario) validateThreshold(ps *problems, path string, t *Threshold) {
	switch {
	case t.Metric == "":
		ps.add(path+".metric", "required: one of %s", quoteList(Metrics))
		return
	case !slices.Contains(Metrics, t.Metric):
		ps.add(path+".metric", "%s", unknown("metric", t.Metric, Metrics))
		return
	}
	if t.Journey != "" {
		switch {
		case t.Metric == DroppedIterations:
			ps.add(path+".journey", "does not apply to %s, which counts iterations before a journey runs", t.Metric)
		case !slices.Contains(Journeys, t.Journey):
			ps.add(path+".journey", "%s", unknown("journey", t.Journey, Journeys))
		case len(s.Load.Journeys) > 0 && s.Load.Journeys[t.Journey] <= 0:
			ps.add(path+".journey", "%q is not in load.journeys, so the probe would never see a request", t.Journey)
		}
	}
	if t.Endpoint != "" {
		switch {
		case t.Journey != "":
			ps.add(path+".endpoint", "journey and endpoint exclusive: a probe selects by one or the other")
		case t.Metric == DroppedIterations:
			ps.add(path+".endpoint", "does not apply to %s, which counts iterations, not requests", t.Metric)
		case !endpointRE.MatchString(t.Endpoint):
			ps.add(path+".endpoint", "must be a method and a route such as \"POST /api/v1/orders\", not %q", t.Endpoint)
		}
	}
	if t.Min == nil && t.Max == nil {
		ps.add(path, "needs min, max or both")
		return
	}
	for _, b := range []struct {
		name  string
		bound *Bound
	}{{"min", t.Min}, {"max", t.Max}} {
		if b.bound == nil {
			continue
		}
		bp := path + "." + b.name
		v := b.bound.Value
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			ps.add(bp, "must be a finite number")
		case t.Metric.IsLatency() && !b.bound.IsDuration:
			ps.add(bp, "%s is a latency: write a duration such as \"900ms\", not %v", t.Metric, v)
		case !t.Metric.IsLatency() && b.bound.IsDuration:
			ps.add(bp, "%s is not a latency: write a number (%s), not %s", t.Metric, metricUnit(t.Metric), b.bound)
		case v < 0:
			ps.add(bp, "must not be negative")
		case t.Metric == ErrorRate && v > 1:
			ps.add(bp, "error_rate is a fraction within 0..1, not %v", v)
		case t.Metric == DroppedIterations && v != math.Trunc(v):
			ps.add(bp, "dropped_iterations is a count, not %v", v)
		}
	}
	if t.Min != nil && t.Max != nil && t.Min.IsDuration == t.Max.IsDuration && t.Min.Value > t.Max.Value {
		ps.add(path+".min", "%s is above max %s: no value could pass", t.Min, t.Max)
	}
}

func metricUnit(m Metric) string {
	switch m {
	case ErrorRate:
		return "a fraction within 0..1"
	case Throughput:
		return "requests per second"
	}
	return "a count"
}

func (s *Scenario) validatePhases(ps *problems, path string, phases []Phase, total time.Duration) {
	if phases != nil && len(phases) == 0 {
		ps.add(path, "is empty: leave phases out to check the probe continuously")
	}
	for i, ph := range phases {
		p := index(path, i)
		if !slices.Contains(ProbePhases, ph) {
			ps.add(p, "%s", unknown("phase", ph, ProbePhases))
			continue
		}
		if slices.Index(phases, ph) < i {
			ps.add(p, "%q is listed twice", ph)
			continue
		}
		if msg := s.phaseNeverOccurs(ph, total); msg != "" {
			ps.add(p, "phase %q never occurs: %s", ph, msg)
		}
	}
	if len(phases) > 1 && slices.Contains(phases, PhaseContinuous) {
		ps.add(path, "continuous already covers every phase: list it alone")
	}
}

// phaseNeverOccurs says why a phase has no time in the run, or "".
// The grace before "after" is the runner's, so it counts as 0 here.
func (s *Scenario) phaseNeverOccurs(ph Phase, total time.Duration) string {
	if total <= 0 {
		return ""
	}
	first, last := s.faultSpan()
	switch ph {
	case PhaseBefore:
		if len(s.Faults) > 0 && first <= 0 {
			return "the first fault starts at 0s"
		}
	case PhaseDuring:
		if !slices.ContainsFunc(s.Faults, func(f Fault) bool { return f.Duration > 0 }) {
			return "no fault lasts any time"
		}
	case PhaseAfter:
		if len(s.Faults) == 0 {
			return "the scenario has no faults (use before or continuous)"
		}
		if last >= total {
			return fmt.Sprintf("the last fault ends at %v, when the load ends", last)
		}
	}
	return ""
}

func (s *Scenario) validateRecovery(ps *problems, path string, r *RecoveryProbe, total time.Duration) {
	if r.Within <= 0 {
		ps.add(path+".within", "required: how long after the last fault ends the threshold must hold again, e.g. 20s")
		return
	}
	last, ok := s.LastFaultEnd()
	if !ok {
		ps.add(path, "a recovery probe needs faults to recover from")
		return
	}
	if total > 0 && last+r.Within.Std() > total {
		ps.add(path+".within", "the deadline (%v after the last fault ends at %v) falls after the load ends (%v)", r.Within, last, total)
	}
}

func validateHPA(ps *problems, path, unit string, h HPAExpectation) {
	if !slices.Contains(Deployments, unit) {
		ps.add(path, "%s", unknown("Deployment", unit, Deployments))
		return
	}
	if h == (HPAExpectation{}) {
		ps.add(path, "sets no expectation: give reaches/within, never_above, settles_to/settle_within or max_changes_per_5m")
		return
	}
	counts := []struct {
		name string
		v    int
	}{{"reaches", h.Reaches}, {"never_above", h.NeverAbove}, {"settles_to", h.SettlesTo}}
	for _, c := range counts {
		if c.v < 0 {
			ps.add(path+"."+c.name, "must be at least 1 replica")
		}
	}
	if h.MaxChangesPer5m != nil && *h.MaxChangesPer5m < 0 {
		ps.add(path+".max_changes_per_5m", "must not be negative")
	}
	switch {
	case h.Reaches > 0 && h.Within <= 0:
		ps.add(path+".within", "required with reaches: by when the replicas must reach %d", h.Reaches)
	case h.Reaches == 0 && h.Within != 0:
		ps.add(path+".reaches", "required with within: how many replicas by %v", h.Within)
	}
	switch {
	case h.SettlesTo > 0 && h.SettleWithin <= 0:
		ps.add(path+".settle_within", "required with settles_to: how long after the load ends the replicas must be back to %d", h.SettlesTo)
	case h.SettlesTo == 0 && h.SettleWithin != 0:
		ps.add(path+".settles_to", "required with settle_within: how many replicas to settle to")
	}
	if h.NeverAbove > 0 {
		if h.Reaches > h.NeverAbove {
			ps.add(path+".reaches", "%d is above never_above %d: the expectation contradicts itself", h.Reaches, h.NeverAbove)
		}
		if h.SettlesTo > h.NeverAbove {
			ps.add(path+".settles_to", "%d is above never_above %d: the expectation contradicts itself", h.SettlesTo, h.NeverAbove)
		}
	}
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// setDefaults fills the optional settings a file left out, so consumers see
// every value.
func (s *Scenario) setDefaults() {
	// Folded YAML text ends in a newline; reports want the text alone.
	s.Description = strings.TrimSpace(s.Description)
	// An empty list or mapping says the same as none: hold it as nil.
	s.Faults = nilIfEmpty(s.Faults)
	s.SteadyState = nilIfEmpty(s.SteadyState)
	s.Abort = nilIfEmpty(s.Abort)
	s.Recovery = nilIfEmpty(s.Recovery)
	s.Invariants = nilIfEmpty(s.Invariants)
	if len(s.HPA) == 0 {
		s.HPA = nil
	} else if s.HPATrafficScale == 0 {
		s.HPATrafficScale = 1
	}
	for i := range s.Faults {
		if len(s.Faults[i].Attributes) == 0 {
			s.Faults[i].Attributes = nil
		}
	}
	if s.Expect == "" {
		s.Expect = Pass
	}
	if s.Load.Customers == 0 {
		s.Load.Customers = DefaultCustomers
	}
	if s.Load.MaxInFlight == 0 {
		s.Load.MaxInFlight = DefaultMaxInFlight
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		if isToxic(f.Type) {
			if f.Toxicity == 0 {
				f.Toxicity = 1
			}
			if f.Direction == "" {
				f.Direction = "downstream"
			}
		}
	}
	for i := range s.SteadyState {
		if len(s.SteadyState[i].Phases) == 0 {
			s.SteadyState[i].Phases = []Phase{PhaseContinuous}
		}
	}
	for i := range s.Abort {
		if s.Abort[i].Name == "" {
			s.Abort[i].Name = defaultAbortName(i)
		}
	}
}

// defaultAbortName names the i-th abort rule when the file does not.
func defaultAbortName(i int) string { return fmt.Sprintf("abort-%d", i+1) }

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
