package chaos

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// One store for network faults.
//
// The embedded toxiproxy server's proxies and toxics are the only record of
// which network faults exist. A fault of a toxic type (latency, bandwidth,
// ...) IS a toxic on a proxy, and a down fault IS a disabled proxy, whichever
// API made it:
//
//   - Active (GET /ops/v1/chaos/faults, `shoplab chaos list`, the console)
//     reads toxiproxy's collection at the moment it is called. A toxic
//     added through toxiproxy's API (toxiproxy-cli, its Go client) is listed
//     with the id "<proxy>/<toxic>" and Source "toxiproxy"; a proxy disabled
//     through it (`toxiproxy-cli toggle`) is a down fault with the id
//     "<proxy>". What is listed about a toxic (attributes, toxicity) is what
//     toxiproxy holds now, so a `toxiproxy-cli toxic update` shows at once.
//   - A fault applied through the engine installs toxics named
//     "chaos-<id>-<stream>" (or disables the proxy); GET /proxies shows them.
//     The engine keeps only what toxiproxy cannot hold: the fault's name,
//     start time and expiry timer. Those notes never decide whether the
//     fault exists: once toxiproxy no longer has its toxics (removed with
//     toxiproxy-cli, or by toxiproxy's reset) or its proxy is enabled
//     again, the fault is gone from every listing, and the note is dropped
//     the next time anything changes faults.
//   - Either reset (toxiproxy's POST /reset and the control API's reset)
//     removes everything: engine faults of every kind, then every toxic, and
//     every proxy is enabled.
//   - Either remove works on either kind: DELETE /ops/v1/chaos/faults/{id}
//     removes a toxic made through toxiproxy's API, and toxiproxy's
//     DELETE /proxies/{p}/toxics/{t} ends an engine fault's toxic.
//
// Nothing is copied between two lists, so nothing needs polling to agree.
// Faults with no toxiproxy form (kill, pause, storage, gRPC, HTTP, AWS) live
// in the engine alone; a pause's timeout toxics are shown by toxiproxy but
// belong to the pause, which lasts until it is removed through the engine.

// tpProxy is one proxy as toxiproxy holds it at a moment.
type tpProxy struct {
	name    string
	enabled bool
	toxics  []tpToxic
}

// tpToxic is one toxic as toxiproxy holds it.
type tpToxic struct {
	name     string
	typ      string
	stream   string
	toxicity float64
	attrs    map[string]any // toxiproxy's units: ms, µs, KB/s, bytes
}

// snapshot reads every proxy and toxic from toxiproxy, sorted by proxy
// name. It must run without e.mu: reading a toxic waits for toxiproxy's
// collection lock, which a draining RemoveToxic holds.
func (e *Engine) snapshot() []tpProxy {
	proxies := e.tp.Collection.Proxies()
	out := make([]tpProxy, 0, len(proxies))
	for name, p := range proxies {
		p.Lock()
		tp := tpProxy{name: name, enabled: p.Enabled}
		p.Unlock()
		list := p.Toxics.GetToxicArray()
		// toxiproxy updates a toxic's attributes in place under the
		// collection's lock, so they are read under it too.
		p.Toxics.Lock()
		for _, t := range list {
			w, ok := t.(*toxics.ToxicWrapper)
			if !ok {
				continue
			}
			tt := tpToxic{name: w.Name, typ: w.Type, stream: w.Stream, toxicity: float64(w.Toxicity), attrs: map[string]any{}}
			if b, err := json.Marshal(w.Toxic); err == nil {
				_ = json.Unmarshal(b, &tt.attrs)
			}
			tp.toxics = append(tp.toxics, tt)
		}
		p.Toxics.Unlock()
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func findProxy(snap []tpProxy, name string) (tpProxy, bool) {
	for _, p := range snap {
		if p.name == name {
			return p, true
		}
	}
	return tpProxy{}, false
}

// engineToxicRE matches the toxics the engine names with toxicName.
var engineToxicRE = regexp.MustCompile(`^chaos-(f[0-9]+)-(upstream|downstream)$`)

// faultOfToxic is the engine fault id a toxic was installed for, or "".
func faultOfToxic(name string) string {
	if m := engineToxicRE.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// noted is an engine fault as the engine reports it, before toxiproxy's
// state is laid over it.
type noted struct {
	report    ActiveFault
	class     class
	installed bool
}

// Active lists the faults in effect: the engine's, oldest first, then
// those made through toxiproxy's API, by proxy. Network faults are read
// from toxiproxy (see the comment at the top of store.go).
func (e *Engine) Active() []ActiveFault {
	e.mu.Lock()
	list := make([]*activeFault, 0, len(e.faults))
	for _, af := range e.faults {
		list = append(list, af)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	notes := make([]noted, len(list))
	for i, af := range list {
		notes[i] = noted{report: e.report(af), class: af.plan.spec.class, installed: af.installed}
	}
	e.mu.Unlock()
	// Read after the notes: a fault seen installed has its toxics in
	// toxiproxy by now, unless something removed them since.
	return merge(notes, e.snapshot())
}

// merge lays toxiproxy's state over the engine's notes.
func merge(notes []noted, snap []tpProxy) []ActiveFault {
	byID := map[string]*noted{}
	for i := range notes {
		byID[notes[i].report.ID] = &notes[i]
	}
	out := make([]ActiveFault, 0, len(notes))
	downHeld := map[string]bool{} // proxies an engine down fault accounts for
	for _, n := range notes {
		r := n.report
		switch {
		case n.class == classToxic && n.installed:
			p, _ := findProxy(snap, r.Fault.Target)
			var mine []tpToxic
			for _, t := range p.toxics {
				if faultOfToxic(t.name) == r.ID {
					mine = append(mine, t)
				}
			}
			if len(mine) == 0 {
				continue // its toxics were removed through toxiproxy's API
			}
			r.Fault.Attributes = faultAttributes(mine[len(mine)-1], r.Fault.Attributes)
			r.Fault.Toxicity = mine[len(mine)-1].toxicity
			r.Fault.Direction = mine[0].stream
			if len(mine) > 1 {
				r.Fault.Direction = "both"
			}
			r.Scope = []string{r.Fault.Target}
		case n.class == classDown && n.installed:
			if p, ok := findProxy(snap, r.Fault.Target); !ok || p.enabled {
				continue // enabled again through toxiproxy's API
			}
			downHeld[r.Fault.Target] = true
		}
		out = append(out, r)
	}
	for _, p := range snap {
		if !p.enabled && !downHeld[p.name] {
			out = append(out, ActiveFault{ID: p.name, Fault: Fault{Target: p.name, Type: Down}, Scope: []string{p.name}, Source: SourceToxiproxy})
		}
		for _, t := range p.toxics {
			if n, ok := byID[faultOfToxic(t.name)]; ok && (n.class == classToxic || n.class == classPause) {
				continue // an engine fault's toxic, listed with it
			}
			out = append(out, ActiveFault{
				ID:     p.name + "/" + t.name,
				Fault:  Fault{Name: t.name, Target: p.name, Type: t.typ, Attributes: faultAttributes(t, nil), Toxicity: t.toxicity, Direction: t.stream},
				Scope:  []string{p.name},
				Source: SourceToxiproxy,
			})
		}
	}
	return out
}

// faultAttributes turns a toxic's attributes (toxiproxy's units) into a
// fault's canonical ones: durations as strings, sizes as integers. prev
// are the attributes the engine was asked for: where toxiproxy's value
// means the same (it rounds durations up to whole milliseconds), the
// asked-for form is kept.
func faultAttributes(t tpToxic, prev map[string]any) map[string]any {
	unit := map[string]time.Duration{}
	switch t.typ {
	case Latency:
		unit = map[string]time.Duration{"latency": time.Millisecond, "jitter": time.Millisecond}
	case SlowClose:
		unit = map[string]time.Duration{"delay": time.Millisecond}
	case Timeout, ResetPeer:
		unit = map[string]time.Duration{"timeout": time.Millisecond}
	case Slicer:
		unit = map[string]time.Duration{"delay": time.Microsecond}
	}
	out := make(map[string]any, len(t.attrs))
	for k, v := range t.attrs {
		f, isNum := v.(float64)
		switch u, isDur := unit[k]; {
		case isDur && isNum:
			d := time.Duration(f) * u
			if p, ok := prev[k].(string); ok {
				if pd, err := time.ParseDuration(p); err == nil && (pd+u-1)/u*u == d {
					d = pd
				}
			}
			out[k] = d.String()
		case isNum && f == math.Trunc(f) && math.Abs(f) < 1<<53:
			out[k] = int64(f)
		default:
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Fault returns the active fault id, of either source.
func (e *Engine) Fault(id string) (ActiveFault, bool) {
	for _, af := range e.Active() {
		if af.ID == id {
			return af, true
		}
	}
	return ActiveFault{}, false
}

// pruneStale drops the notes of toxic and down faults that toxiproxy no
// longer holds, so that their timers stop and a down fault that was
// enabled through toxiproxy's API no longer keeps its edge down when
// another one ends. It runs with e.applyMu held (no install under way).
func (e *Engine) pruneStale() {
	snap := e.snapshot()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, af := range e.faults {
		if !af.installed {
			continue
		}
		target := af.plan.fault.Target
		p, ok := findProxy(snap, target)
		gone := false
		switch af.plan.spec.class {
		case classToxic:
			gone = true
			for _, t := range p.toxics {
				if faultOfToxic(t.name) == id {
					gone = false
				}
			}
		case classDown:
			gone = !ok || p.enabled
		default:
			continue
		}
		if gone {
			e.forgetLocked(af)
			e.log.Info("chaos: fault ended through toxiproxy's API", "fault", id, "type", af.plan.fault.Type, "target", target)
		}
	}
}

// downHeldLocked reports whether an engine down fault still holds edge.
// It runs with e.mu held.
func (e *Engine) downHeldLocked(edge string) bool {
	for _, af := range e.faults {
		if af.plan.spec.class == classDown && af.plan.fault.Target == edge {
			return true
		}
	}
	return false
}

// removeExternal removes a fault made through toxiproxy's API: the toxic
// "<proxy>/<toxic>", or the disabled proxy "<proxy>" (enabled again). It
// runs with e.applyMu held.
func (e *Engine) removeExternal(ctx context.Context, id string) error {
	for _, af := range e.Active() {
		if af.ID != id {
			continue
		}
		p, err := e.tp.Collection.Get(af.Fault.Target)
		if err != nil {
			break
		}
		if af.Fault.Type == Down && af.ID == af.Fault.Target {
			if err := startProxy(p); err != nil {
				return errs.Wrap(errs.FailedPrecondition, err, "enable %s: %v", af.Fault.Target, err)
			}
			return nil
		}
		if err := p.Toxics.RemoveToxic(ctx, af.Fault.Name); err != nil {
			return errs.Wrap(errs.FailedPrecondition, err, "remove toxic %s from %s: %v", af.Fault.Name, af.Fault.Target, err)
		}
		e.log.Info("chaos: toxic removed", "fault", id)
		return nil
	}
	return errs.E(errs.NotFound, "no active fault %q", id)
}

// serialised runs a toxiproxy API handler that changes proxies or toxics
// as one step among the engine's changes (applyMu), then drops the notes
// of faults the change ended (a toggle that enabled a downed proxy, a
// deleted toxic or proxy).
func (e *Engine) serialised(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.applyMu.Lock()
		defer e.applyMu.Unlock()
		next(w, r)
		e.pruneStale()
	}
}
