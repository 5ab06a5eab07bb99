package k6

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// How lib/chaos.js applies a fault.
const (
	kindToxic = "toxic" // toxics created on toxiproxy proxies, deleted at the end
	kindDown  = "down"  // toxiproxy proxies disabled, enabled again at the end
	kindOps   = "ops"   // a fault posted to the shoplab ops chaos API
)

// faultPlan is one fault of the timeline as the script applies it.
type faultPlan struct {
	Name    string
	At, End time.Duration // End == At for a restart, which has nothing to undo
	Kind    string
	What    string // "latency on order->payment", for logs and the header
	Toxics  []toxicPlan
	Proxies []string      // kindDown
	Ops     []chaos.Fault // kindOps
}

// toxicPlan is one toxic as toxiproxy's API takes it.
type toxicPlan struct {
	Proxy      string
	Name       string
	Type       string
	Stream     string
	Toxicity   float64
	Attributes []toxicAttr
}

// toxicAttr is a toxic attribute in toxiproxy's own unit.
type toxicAttr struct {
	Name  string
	Value int64
	Unit  string // for people: "ms", "us", "KB/s", "bytes"
}

// toxicAttrSpec says how one attribute of a shoplab fault becomes the
// toxiproxy attribute of the same name.
type toxicAttrSpec struct {
	name    string
	unit    string
	convert func(v any) (int64, error)
}

// toxicSpecs are the toxiproxy attributes of every toxic fault type, in
// the units toxiproxy reads them in: a scenario writes "400ms", toxiproxy
// wants the integer 400. The conversion is the chaos engine's own
// (chaos/proxies.go, toxicAttributes): durations in milliseconds rounded
// up, so a 500µs timeout does not become 0, which means "never" to
// toxiproxy; the slicer's delay in microseconds; bandwidth in KB/s and
// sizes in bytes as written. An attribute left out takes the engine's
// default, 0 for every optional one. A test checks the table against what
// the engine itself installs.
var toxicSpecs = map[string][]toxicAttrSpec{
	chaos.Latency:   {{"latency", "ms", millisCeil}, {"jitter", "ms", millisCeil}},
	chaos.Bandwidth: {{"rate", "KB/s", integer}},
	chaos.SlowClose: {{"delay", "ms", millisCeil}},
	chaos.Timeout:   {{"timeout", "ms", millisCeil}},
	chaos.ResetPeer: {{"timeout", "ms", millisCeil}},
	chaos.Slicer:    {{"average_size", "bytes", integer}, {"size_variation", "bytes", integer}, {"delay", "us", micros}},
	chaos.LimitData: {{"bytes", "bytes", integer}},
}

// faultKinds maps every fault type to how the script applies it, from the
// chaos engine's registry: a type that appears there later is an ops
// fault unless it is a toxic, which needs an entry in toxicSpecs.
var faultKinds = func() map[string]string {
	m := map[string]string{}
	for _, t := range chaos.Types() {
		switch {
		case t.Name == chaos.Down:
			m[t.Name] = kindDown
		case t.Toxicity:
			m[t.Name] = kindToxic
		default:
			m[t.Name] = kindOps
		}
	}
	return m
}()

// planFaults turns the scenario's fault timeline into what lib/chaos.js
// runs, in the file's order.
func planFaults(s *spec.Scenario) ([]faultPlan, error) {
	out := make([]faultPlan, 0, len(s.Faults))
	for i := range s.Faults {
		f := &s.Faults[i]
		p, err := planFault(f)
		if err != nil {
			return nil, fmt.Errorf("faults[%d] (%s): %w", i, f.Name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func planFault(f *spec.Fault) (faultPlan, error) {
	kind, ok := faultKinds[f.Type]
	if !ok {
		return faultPlan{}, fmt.Errorf("unknown fault type %q", f.Type)
	}
	targets := f.Targets()
	p := faultPlan{
		Name: f.Name, At: f.Start(), End: f.End(), Kind: kind,
		What: f.Type + " on " + strings.Join(targets, ", "),
	}
	switch kind {
	case kindDown:
		p.Proxies = targets
	case kindToxic:
		specs, ok := toxicSpecs[f.Type]
		if !ok {
			return faultPlan{}, fmt.Errorf("no toxiproxy mapping for the toxic %q: add it to toxicSpecs", f.Type)
		}
		attrs, err := toxicAttributes(f.Type, specs, f.Attributes)
		if err != nil {
			return faultPlan{}, err
		}
		toxicity := f.Toxicity
		if toxicity == 0 {
			toxicity = 1 // chaos.Fault's default, for a Scenario built in Go
		}
		for _, target := range targets {
			for _, stream := range streams(f.Direction) {
				p.Toxics = append(p.Toxics, toxicPlan{
					Proxy: target, Name: toxicName(f.Name, stream), Type: f.Type,
					Stream: stream, Toxicity: toxicity, Attributes: attrs,
				})
			}
		}
	case kindOps:
		// The ops API applies exactly what the Go runner would: the same
		// names, so the engine's seeded decisions (a grpc_error's rate)
		// come out the same, and the duration, so the engine removes the
		// fault on its own even if k6 dies without running teardown.
		p.Ops = f.Chaos()
	}
	return p, nil
}

// toxicName names the toxic a fault installs on one stream; the prefix
// says who put it there when someone lists toxiproxy's toxics.
func toxicName(fault, stream string) string { return "k6-" + fault + "-" + stream }

// streams maps a fault's direction to toxiproxy streams, in the chaos
// engine's order.
func streams(direction string) []string {
	switch direction {
	case "both":
		return []string{"upstream", "downstream"}
	case "":
		return []string{"downstream"}
	}
	return []string{direction}
}

func toxicAttributes(faultType string, specs []toxicAttrSpec, in map[string]any) ([]toxicAttr, error) {
	for k := range in {
		if !slices.ContainsFunc(specs, func(s toxicAttrSpec) bool { return s.name == k }) {
			return nil, fmt.Errorf("attributes.%s: not an attribute of %s", k, faultType)
		}
	}
	out := make([]toxicAttr, 0, len(specs))
	for _, s := range specs {
		var n int64
		if v, ok := in[s.name]; ok {
			var err error
			if n, err = s.convert(v); err != nil {
				return nil, fmt.Errorf("attributes.%s: %w", s.name, err)
			}
		}
		out = append(out, toxicAttr{Name: s.name, Value: n, Unit: s.unit})
	}
	return out, nil
}

func millisCeil(v any) (int64, error) {
	d, err := duration(v)
	return int64((d + time.Millisecond - 1) / time.Millisecond), err
}

func micros(v any) (int64, error) {
	d, err := duration(v)
	return d.Microseconds(), err
}

// duration reads a duration attribute: a Go duration string, as scenario
// files write them, or a number of milliseconds, as chaos also accepts
// from a Scenario built in Go.
func duration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil || d < 0 {
			return 0, fmt.Errorf("must be a duration such as \"400ms\", not %q", x)
		}
		return d, nil
	case time.Duration:
		if x < 0 {
			return 0, fmt.Errorf("must not be negative, not %v", x)
		}
		return x, nil
	case spec.Duration:
		return duration(x.Std())
	}
	ms, err := integer(v)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"400ms\", not %v", v)
	}
	if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, fmt.Errorf("%d is not a usable number of milliseconds", ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is too large", x)
		}
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("must be an integer, not %v", x)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("must be an integer, not %q", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("must be an integer, not %v (%T)", v, v)
}

// js is the fault as the FAULTS constant of the script holds it.
func (p faultPlan) js() jsObject {
	o := jsObject{
		{"name", p.Name},
		{"at", millis(p.At)},
		{"end", millis(p.End)},
		{"kind", p.Kind},
		{"what", p.What},
	}
	switch p.Kind {
	case kindToxic:
		toxics := make([]jsObject, len(p.Toxics))
		for i, t := range p.Toxics {
			attrs := make(jsObject, len(t.Attributes))
			for j, a := range t.Attributes {
				attrs[j] = jsField{a.Name, a.Value}
			}
			toxics[i] = jsObject{
				{"proxy", t.Proxy},
				{"toxic", jsObject{
					{"name", t.Name}, {"type", t.Type}, {"stream", t.Stream},
					{"toxicity", t.Toxicity}, {"attributes", attrs},
				}},
			}
		}
		o = append(o, jsField{"toxics", toxics})
	case kindDown:
		o = append(o, jsField{"proxies", p.Proxies})
	case kindOps:
		faults := make([]jsObject, len(p.Ops))
		for i, f := range p.Ops {
			faults[i] = opsFaultJS(f)
		}
		o = append(o, jsField{"faults", faults})
	}
	return o
}

// opsFaultJS is f as chaos.Fault's JSON, the body of POST
// /ops/v1/chaos/faults: attribute values stay as the scenario wrote them
// ("30ms", "UNAVAILABLE", 0.2), which the engine parses itself.
func opsFaultJS(f chaos.Fault) jsObject {
	o := jsObject{{"name", f.Name}, {"target", f.Target}, {"type", f.Type}}
	if len(f.Attributes) > 0 {
		o = append(o, jsField{"attributes", f.Attributes})
	}
	if f.Toxicity != 0 {
		o = append(o, jsField{"toxicity", f.Toxicity})
	}
	if f.Direction != "" {
		o = append(o, jsField{"direction", f.Direction})
	}
	if f.Duration != 0 {
		o = append(o, jsField{"duration", f.Duration.String()})
	}
	return o
}

// describe is the fault in one line of the script's header.
func (p faultPlan) describe() string {
	var b strings.Builder
	b.WriteString(p.What)
	switch p.Kind {
	case kindToxic:
		t := p.Toxics[0]
		dirs := make([]string, 0, 2)
		for _, x := range p.Toxics {
			if !slices.Contains(dirs, x.Stream) {
				dirs = append(dirs, x.Stream)
			}
		}
		fmt.Fprintf(&b, " (%s, toxicity %s): toxiproxy", strings.Join(dirs, "+"), strconv.FormatFloat(t.Toxicity, 'f', -1, 64))
		for i, a := range t.Attributes {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s %s %d %s", sep, a.Name, a.Value, a.Unit)
		}
	case kindDown:
		b.WriteString(": toxiproxy proxy disabled")
	case kindOps:
		b.WriteString(": ops API")
		if attrs := p.Ops[0].Attributes; len(attrs) > 0 {
			keys := make([]string, 0, len(attrs))
			for k := range attrs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for i, k := range keys {
				sep := ","
				if i == 0 {
					sep = ""
				}
				fmt.Fprintf(&b, "%s %s %v", sep, k, attrs[k])
			}
		}
	}
	return b.String()
}

// millis is d in milliseconds, the unit of JavaScript's clock.
func millis(d time.Duration) any {
	if d%time.Millisecond == 0 {
		return d.Milliseconds()
	}
	return float64(d) / float64(time.Millisecond)
}
