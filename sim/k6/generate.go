package k6

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// Defaults of Options. The addresses are those of `shoplab up` and of the
// compose stack's published ports; a script reads SHOPLAB_BASE_URL,
// SHOPLAB_TOXIPROXY_URL and SHOPLAB_OPS_URL first.
const (
	DefaultBaseURL      = "http://localhost:8080"
	DefaultToxiproxyURL = "http://localhost:8474"
	DefaultOpsURL       = "http://localhost:8090"
	// DefaultGrace is the grace of an unscaled scenario without recovery probes; a
	// scenario's own grace is spec.Scenario.AfterGrace, which the runner uses too.
	// It is how long after the last fault ends the "after" phase
	// starts (see spec.Scenario.PhaseAt): the system gets that long to
	// recover before the "after" probes look at it.
	DefaultGrace = spec.DefaultAfterGrace
	// DefaultLibDir is where a script imports lib/shop.js and lib/chaos.js
	// from: scripts are written next to scenarios/k6/lib.
	DefaultLibDir = "./lib"
)

// requestTimeout bounds every request of the load, sim/load's
// DefaultRequestTimeout (k6's own default is 60s).
const requestTimeout = 10 * time.Second

// chaosSlack is how long the chaos scenario may outlive the load: room
// for a kill or restart whose call waits for the unit, and for the last
// removal at the load's very end.
const chaosSlack = 30 * time.Second

// Options tune a generated script. The zero value is the committed
// scripts' settings.
type Options struct {
	BaseURL      string        // the gateway; default DefaultBaseURL
	ToxiproxyURL string        // toxiproxy's HTTP API; default DefaultToxiproxyURL
	OpsURL       string        // the ops API with the chaos control API; default DefaultOpsURL
	Grace        time.Duration // see DefaultGrace; 0 means the default
	LibDir       string        // import path of scenarios/k6/lib relative to the script; default DefaultLibDir
	Source       string        // the scenario's file name, for the header; default <name>.yaml
}

//go:embed script.js.tmpl
var scriptTemplate string

var tmpl = template.Must(template.New("script").Funcs(template.FuncMap{
	"js":    jsString,
	"jsKey": jsKey,
	"join":  strings.Join,
}).Parse(scriptTemplate))

// Generate writes the k6 script (an ES module for k6 v0.50 or later) that
// runs s: its load as one arrival-rate scenario, its fault timeline as a
// second one, its probes and abort rules as thresholds. The same scenario
// and options always give the same bytes.
func Generate(s *spec.Scenario, opts Options) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("k6: no scenario")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("k6: scenario %s: %w", s.Name, err)
	}
	opts, err := opts.withDefaults(s)
	if err != nil {
		return nil, err
	}
	data, err := newScript(s, opts)
	if err != nil {
		return nil, fmt.Errorf("k6: scenario %s: %w", s.Name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("k6: scenario %s: %w", s.Name, err)
	}
	return b.Bytes(), nil
}

func (o Options) withDefaults(s *spec.Scenario) (Options, error) {
	for _, u := range []struct {
		name string
		v    *string
		def  string
	}{{"base URL", &o.BaseURL, DefaultBaseURL}, {"toxiproxy URL", &o.ToxiproxyURL, DefaultToxiproxyURL}, {"ops URL", &o.OpsURL, DefaultOpsURL}} {
		if *u.v == "" {
			*u.v = u.def
		}
		p, err := url.Parse(*u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
			return o, fmt.Errorf("k6: %s %q must be an absolute http(s) URL such as %s", u.name, *u.v, u.def)
		}
		// The libraries append paths that start with "/".
		*u.v = strings.TrimRight(*u.v, "/")
	}
	switch {
	case o.Grace < 0:
		return o, fmt.Errorf("k6: grace must not be negative, not %v", o.Grace)
	case o.Grace == 0:
		o.Grace = s.AfterGrace()
	}
	if o.LibDir == "" {
		o.LibDir = DefaultLibDir
	}
	o.LibDir = strings.TrimRight(o.LibDir, "/")
	if o.LibDir != "." && o.LibDir != ".." && !strings.HasPrefix(o.LibDir, "./") && !strings.HasPrefix(o.LibDir, "../") && !strings.HasPrefix(o.LibDir, "/") {
		// k6 reads a bare path as a remote module name.
		o.LibDir = "./" + o.LibDir
	}
	if o.Source == "" {
		o.Source = s.Name + ".yaml"
	}
	return o, nil
}

// script is what the template writes.
type script struct {
	Header       []string
	LibDir       string
	BaseURL      string
	ToxiproxyURL string
	OpsURL       string
	Shop         string // the SHOP constant
	Faults       string // the FAULTS constant; "" without faults
	Load         string // options.scenarios.load
	Chaos        string // options.scenarios.chaos; "" without faults
	Thresholds   []renderedThreshold
	SetupTimeout string
}

type renderedThreshold struct {
	Key     string
	Entries []renderedEntry
}

type renderedEntry struct {
	JS  string
	Why string
}

func newScript(s *spec.Scenario, o Options) (*script, error) {
	spans := s.Phases(o.Grace)
	faults, err := planFaults(s)
	if err != nil {
		return nil, err
	}
	ts := newThresholdSet(s, spans)
	for i := range s.SteadyState {
		ts.probe(&s.SteadyState[i])
	}
	for i := range s.Recovery {
		ts.recovery(&s.Recovery[i])
	}
	for i := range s.Abort {
		ts.abort(&s.Abort[i])
	}
	if len(faults) > 0 {
		ts.byKey[metricChaos] = &threshold{Key: metricChaos, Entries: []thresholdEntry{{
			Expr: "count==0", Abort: -1, Why: []string{"every step of the fault timeline went through"},
		}}}
	}

	d := &script{
		LibDir: o.LibDir, BaseURL: o.BaseURL, ToxiproxyURL: o.ToxiproxyURL, OpsURL: o.OpsURL,
		SetupTimeout: "2m",
	}
	load, loadNote, err := loadScenarioJS(&s.Load)
	if err != nil {
		return nil, err
	}
	if loadNote != "" {
		ts.note("%s", loadNote)
	}
	if d.Load, err = pretty(load, 4); err != nil {
		return nil, err
	}
	if d.Shop, err = pretty(shopJS(s, spans, ts.recTags), 0); err != nil {
		return nil, err
	}
	if len(faults) > 0 {
		list := make([]jsObject, len(faults))
		for i, f := range faults {
			list[i] = f.js()
		}
		if d.Faults, err = pretty(list, 0); err != nil {
			return nil, err
		}
		chaos := jsObject{
			{"executor", "shared-iterations"},
			{"exec", chaosScenario},
			{"vus", 1},
			{"iterations", 1},
			{"maxDuration", (s.TotalDuration() + chaosSlack).String()},
		}
		if d.Chaos, err = pretty(chaos, 4); err != nil {
			return nil, err
		}
	}
	for _, th := range ts.sorted() {
		rt := renderedThreshold{Key: th.Key}
		for _, e := range th.Entries {
			js, err := e.JS()
			if err != nil {
				return nil, err
			}
			rt.Entries = append(rt.Entries, renderedEntry{JS: js, Why: strings.Join(e.Why, "; ")})
		}
		d.Thresholds = append(d.Thresholds, rt)
	}
	d.Header = header(s, o, spans, faults, ts)
	return d, nil
}

// shopJS is the SHOP constant: what lib/shop.js needs to run the load as
// sim/load does.
func shopJS(s *spec.Scenario, spans []spec.PhaseSpan, recTags map[string]string) jsObject {
	var journeys []jsObject
	for _, j := range s.Load.JourneyMix() {
		journeys = append(journeys, jsObject{{"name", string(j.Journey)}, {"weight", j.Weight}})
	}
	phases := make([]jsObject, len(spans))
	for i, sp := range spans {
		phases[i] = jsObject{{"phase", string(sp.Phase)}, {"from", millis(sp.From)}, {"to", millis(sp.To)}}
	}
	recovery := []jsObject{}
	last, _ := s.LastFaultEnd()
	for _, r := range s.Recovery {
		recovery = append(recovery, jsObject{{"tag", recTags[r.Name]}, {"from", millis(last + r.Within.Std())}})
	}
	return jsObject{
		{"baseURL", jsRaw("BASE_URL")},
		// Accounts are named after the seed as sim/load names them, so the
		// Go simulator and k6 share them, and a rerun logs them in again.
		{"seedHex", strconv.FormatUint(s.Seed, 16)},
		// JavaScript numbers hold 53 bits: the PRNG takes a 32-bit fold.
		{"seed32", uint32(s.Seed) ^ uint32(s.Seed>>32)},
		{"customers", s.Load.Customers},
		{"journeys", journeys},
		{"phases", phases},
		{"recovery", recovery},
		{"requestTimeout", requestTimeout.String()},
	}
}

// loadScenarioJS is options.scenarios.load. k6 takes integer rates per
// timeUnit, so a fractional rate (12.5/s) is written over a longer unit
// (25 per 2s), which k6 spreads evenly as the simulator does. The note
// says when no unit up to 1000s makes every rate whole.
func loadScenarioJS(l *spec.Workload) (jsObject, string, error) {
	rates := []float64{l.Rate}
	if l.Executor == spec.RampingArrivalRate {
		rates = []float64{l.StartRate}
		for _, st := range l.Stages {
			rates = append(rates, st.Target)
		}
	}
	unit, exact := timeUnit(rates)
	perUnit := func(r float64) int64 { return int64(math.Round(r * unit)) }
	unitStr := (time.Duration(unit) * time.Second).String()
	note := ""
	if !exact {
		note = fmt.Sprintf("arrival rates are rounded to whole iterations per %s (k6 takes integer rates)", unitStr)
	}
	// k6 starts with preAllocatedVUs and initialises more, up to maxVUs,
	// while the test runs (which costs time at the worst moment). Enough
	// VUs for iterations averaging a second at the peak rate covers the
	// journeys' usual length; maxVUs is max_in_flight, past which k6 drops
	// iterations exactly as the simulator does.
	pre := min(l.MaxInFlight, max(1, int(math.Ceil(l.PeakRate()))))
	o := jsObject{{"executor", string(l.Executor)}, {"exec", loadScenario}}
	switch l.Executor {
	case spec.ConstantArrivalRate:
		o = append(o,
			jsField{"rate", perUnit(l.Rate)},
			jsField{"timeUnit", unitStr},
			jsField{"duration", l.Duration.String()},
		)
	case spec.RampingArrivalRate:
		stages := make([]jsObject, len(l.Stages))
		for i, st := range l.Stages {
			stages[i] = jsObject{{"target", perUnit(st.Target)}, {"duration", st.Duration.String()}}
		}
		o = append(o,
			jsField{"startRate", perUnit(l.StartRate)},
			jsField{"timeUnit", unitStr},
			jsField{"stages", stages},
		)
	default:
		return nil, "", fmt.Errorf("unknown executor %q", l.Executor)
	}
	o = append(o, jsField{"preAllocatedVUs", pre}, jsField{"maxVUs", l.MaxInFlight})
	return o, note, nil
}

// timeUnit is the shortest whole number of seconds over which every rate
// is a whole number of iterations, up to 1000.
func timeUnit(rates []float64) (float64, bool) {
	for m := 1.0; m <= 1000; m++ {
		whole := true
		for _, r := range rates {
			x := r * m
			if math.Abs(x-math.Round(x)) > 1e-9*max(1, math.Abs(x)) {
				whole = false
				break
			}
		}
		if whole {
			return m, true
		}
	}
	return 1000, false
}

// header is the script's opening comment: what it runs, and where k6
// cannot check exactly what `shoplab run` checks.
func header(s *spec.Scenario, o Options, spans []spec.PhaseSpan, faults []faultPlan, ts *thresholdSet) []string {
	var h []string
	add := func(lines ...string) { h = append(h, lines...) }
	para := func(text string) { add(wrap(text, 76)...) }
	bullet := func(text string) {
		for i, l := range wrap(text, 72) {
			if i == 0 {
				add("  - " + l)
			} else {
				add("    " + l)
			}
		}
	}

	add(fmt.Sprintf("Code generated by \"shoplab k6\" from %s; DO NOT EDIT.", o.Source))
	add("Regenerate with `shoplab k6 <scenario.yaml>`; the committed scripts of", "scenarios/k6 with `shoplab k6 --all` (or go generate ./sim/k6).", "")
	para(fmt.Sprintf("%s (seed %d, expect %s): %s", s.Name, s.Seed, s.ExpectedVerdict(), s.Description))
	if s.ExpectedVerdict() == spec.Fail {
		add("")
		para("This scenario is a negative control: on a healthy build its thresholds must fail and k6 must exit 99.")
	}
	add("")
	para("Run with k6 v0.50 or later: k6 run <this file>. SHOPLAB_BASE_URL (the gateway), SHOPLAB_TOXIPROXY_URL and SHOPLAB_OPS_URL override the addresses below; the compose stack sets them.")
	add("")

	l := &s.Load
	var load string
	if l.Executor == spec.RampingArrivalRate {
		load = fmt.Sprintf("Load: ramping-arrival-rate from %s iterations/s through %d stages (peak %s/s) for %v", num(l.StartRate), len(l.Stages), num(l.PeakRate()), l.Total())
	} else {
		load = fmt.Sprintf("Load: constant-arrival-rate, %s iterations/s for %v", num(l.Rate), l.Duration)
	}
	mix := make([]string, 0, len(l.Journeys))
	for _, j := range l.JourneyMix() {
		mix = append(mix, fmt.Sprintf("%s %s", j.Journey, num(j.Weight)))
	}
	para(fmt.Sprintf("%s, at most %d in flight (maxVUs: k6 drops the rest and counts them, as the simulator does); %d customers; journeys %s, drawn per iteration index from the seed.", load, l.MaxInFlight, l.Customers, strings.Join(mix, ", ")))
	add("")

	if len(faults) > 0 {
		add("Fault timeline, from the start of the load (teardown removes every fault,")
		add("also after an abort or a first Ctrl-C):")
		for _, f := range faults {
			when := f.At.String()
			if f.End > f.At {
				when += "-" + f.End.String()
			}
			for i, line := range wrap(fmt.Sprintf("%s: %s", f.Name, f.describe()), 60) {
				if i == 0 {
					add(fmt.Sprintf("  %-12s%s", when, line))
				} else {
					add(fmt.Sprintf("  %-12s  %s", "", line))
				}
			}
		}
		add("")
	}
	parts := make([]string, len(spans))
	for i, sp := range spans {
		parts[i] = fmt.Sprintf("%s %v-%v", sp.Phase, sp.From, sp.To)
	}
	phases := "Phases, by each request's start: " + strings.Join(parts, ", ") + "."
	if len(faults) > 0 {
		phases += fmt.Sprintf(" \"after\" starts %v after the last fault ends (the grace).", o.Grace)
	}
	para(phases)
	add("")

	add("From the verdict of `shoplab run` to k6 thresholds:")
	bullet("a probe checked in some phases is one threshold per phase, on the requests tagged with that phase, as the runner judges each phase on its own; continuous probes and abort rules are whole-run thresholds;")
	if len(s.Recovery) > 0 {
		bullet("a recovery probe must hold on every request from its deadline (the last fault's end plus within) to the end, tagged recovery_<name>=due; the runner asks when the metric came back instead;")
	}
	if len(s.Abort) > 0 {
		bullet("an abort rule aborts the run (abortOnFail) once it fails, evaluated from its for (delayAbortEval) on, over the run so far: k6 has no sliding window;")
	}
	bullet("error_rate is the Rate errors: a 5xx, a timeout, a transport error or a 4xx the journey does not expect (402 in declined_checkout, 409 for stock, the 401 before a re-login are expected);")
	bullet("latency is http_req_duration, the request alone; the simulator measures each request from its intended start, so time spent waiting to be sent counts there too.")
	if len(ts.notes) > 0 {
		add("Approximations in this scenario:")
		for _, n := range ts.notes {
			bullet(n + ".")
		}
	}
	var unchecked []string
	if len(s.Invariants) > 0 {
		inv := make([]string, len(s.Invariants))
		for i, v := range s.Invariants {
			inv[i] = string(v)
		}
		unchecked = append(unchecked, fmt.Sprintf("the invariants (%s) need reconciliation against the env's stores after the run", strings.Join(inv, ", ")))
	}
	if len(s.HPA) > 0 {
		unchecked = append(unchecked, "the hpa expectations belong to `shoplab hpa check`")
	}
	if len(unchecked) > 0 {
		add("")
		para("Not checked by k6: " + strings.Join(unchecked, "; ") + ".")
	}
	return h
}

// num writes a rate or a weight as the scenario file would.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// wrap breaks text into lines of at most width runes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, w := range strings.Fields(text) {
		if cur.Len() > 0 && len([]rune(cur.String()))+1+len([]rune(w)) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
