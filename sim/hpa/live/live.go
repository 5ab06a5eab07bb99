// Package live runs the HPA twin beside a running env: it reads the calls
// per second each unit serves, prices them per call (model.Profile.PerCall:
// traffic from curl, k6 or a browser follows no journey), and replays that
// traffic, scaled to what the cluster would see, through every Deployment
// and HPA of a rendered overlay (platform.Simulate). Each Advise answers two questions: how many
// replicas each HPA would run now, had the cluster seen this env's traffic
// since the advisor started (its windows and rate limits included), and
// where it would settle if the current traffic held.
package live

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/hpa"
	"github.com/shoplab/shoplab/sim/hpa/model"
	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// Defaults of Options.
const (
	DefaultHistory = time.Hour
	DefaultHold    = 10 * time.Minute
)

// MaxTrafficScale bounds the factor a page may set.
const MaxTrafficScale = 100_000

// Options configure an Advisor.
type Options struct {
	// Overlay names the rendered manifests, for the page.
	Overlay string
	// TrafficScale multiplies the observed rates (a scenario's
	// hpa_traffic_scale: one machine's load scaled to a cluster's); 0 is 1.
	TrafficScale float64
	// History is how much traffic the live twin replays; older samples are
	// dropped, and the twin then starts that long ago at minReplicas.
	History time.Duration
	// Hold is how long the steady-state run holds the current traffic.
	Hold time.Duration
}

// Call is the rate at which one unit serves one method (an HTTP route or
// a gRPC method, as its metrics label them).
type Call struct {
	Unit, Transport, Method string
	RPS                     float64
}

// Advisor keeps the traffic history and answers Advise.
type Advisor struct {
	deps     []platform.Deployment
	prof     model.Profile // PerCall
	units    []string      // the units prof prices, one journey each
	journeys []string      // their journeys, in the order of units
	o        Options

	mu    sync.Mutex
	scale float64
	hist  []sample // one per Advise, oldest first
}

type sample struct {
	at    time.Time
	rates []float64 // calls per second per unit, unscaled
}

// New returns an Advisor over the Deployments and the cost profile.
func New(deps []platform.Deployment, prof model.Profile, o Options) (*Advisor, error) {
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	prof = prof.PerCall()
	if len(deps) == 0 {
		return nil, errs.E(errs.Invalid, "no Deployments to advise on")
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.Hold <= 0 {
		o.Hold = DefaultHold
	}
	a := &Advisor{deps: deps, prof: prof, o: o, scale: 1}
	for u := range prof.Units {
		if _, ok := prof.Journeys[model.PerCallJourney(u)]; ok {
			a.units = append(a.units, u)
		}
	}
	slices.Sort(a.units)
	for _, u := range a.units {
		a.journeys = append(a.journeys, model.PerCallJourney(u))
	}
	if o.TrafficScale != 0 {
		if err := a.SetTrafficScale(o.TrafficScale); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// SetTrafficScale changes the factor applied to the observed traffic, for
// the history already recorded too.
func (a *Advisor) SetTrafficScale(f float64) error {
	if !(f > 0) || f > MaxTrafficScale || math.IsInf(f, 0) {
		return errs.InvalidField("traffic_scale", "must be a factor above 0 and at most %d, got %v", MaxTrafficScale, f)
	}
	a.mu.Lock()
	a.scale = f
	a.mu.Unlock()
	return nil
}

// Suggestion is what the page shows.
type Suggestion struct {
	Overlay       string  `json:"overlay"`
	ProfileSource string  `json:"profile_source"`
	TrafficScale  float64 `json:"traffic_scale"`
	// Seconds is the traffic the live twin has replayed.
	Seconds int64 `json:"seconds"`
	// Calls is the calls per second each priced unit serves, scaled.
	Calls map[string]float64 `json:"calls"`
	Units []UnitAdvice       `json:"units"`
	Error string             `json:"error,omitempty"`
}

// UnitAdvice is one Deployment.
type UnitAdvice struct {
	Name string `json:"name"`
	// Targets is the HPA's metrics ("cpu 70%"); empty for a Deployment
	// scaled by hand, whose replicas are fixed.
	Targets []string `json:"targets,omitempty"`
	Min     int32    `json:"min_replicas"`
	Max     int32    `json:"max_replicas"`
	// Replicas is the live twin's scale now; Desired what its metrics ask
	// for before windows and limits, and Reason why they differ.
	Replicas       int32   `json:"replicas"`
	Desired        *int32  `json:"desired,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	RPS            float64 `json:"rps"`
	CPUUtilization float64 `json:"cpu_utilization"`
	// Settles is the scale after Hold of the current traffic from a cold
	// start, and Peak the most it reached on the way.
	Settles   int32 `json:"settles_to"`
	Peak      int32 `json:"peak"`
	Saturated bool  `json:"saturated,omitempty"`
}

// Advise records the calls per second observed at at and answers the
// suggestion. Calls to units the profile does not price are left out.
func (a *Advisor) Advise(at time.Time, calls []Call) Suggestion {
	rates := make([]float64, len(a.units))
	for _, c := range calls {
		if i, ok := slices.BinarySearch(a.units, c.Unit); ok && c.RPS > 0 {
			rates[i] += c.RPS
		}
	}

	a.mu.Lock()
	scale := a.scale
	if n := len(a.hist); n > 0 && !at.After(a.hist[n-1].at) {
		a.hist = a.hist[:0] // the clock went back: start over
	}
	a.hist = append(a.hist, sample{at: at, rates: rates})
	for len(a.hist) > 1 && at.Sub(a.hist[0].at) > a.o.History {
		a.hist = a.hist[1:]
	}
	hist := slices.Clone(a.hist)
	a.mu.Unlock()

	s := Suggestion{Overlay: a.o.Overlay, ProfileSource: a.prof.Source, TrafficScale: scale, Calls: map[string]float64{}}
	for i, u := range a.units {
		s.Calls[u] = round(rates[i]*scale, 3)
	}
	now, err := a.replay(hist, scale)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	steady, err := a.hold(rates, scale)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Seconds = now.Until
	for i, u := range now.Units {
		last := u.Points[len(u.Points)-1]
		ua := UnitAdvice{
			Name: u.Name, Replicas: last.Replicas, Desired: last.Desired, Reason: last.Reason,
			RPS: last.RPS, CPUUtilization: last.CPUUtilization, Saturated: last.Saturated,
			Min: u.FixedReplicas, Max: u.FixedReplicas,
		}
		if u.HPA != nil {
			ua.Targets, ua.Min, ua.Max = u.HPA.Targets, u.HPA.MinReplicas, u.HPA.MaxReplicas
		}
		st := steady.Units[i].Summary
		ua.Settles, ua.Peak = st.FinalReplicas, st.MaxReplicas
		s.Units = append(s.Units, ua)
	}
	return s
}

// replay runs the twin over the recorded traffic, one rate per second of
// history (the sample at or before it), to the last sync before now.
func (a *Advisor) replay(hist []sample, scale float64) (*platform.Timeline, error) {
	t0 := hist[0].at
	elapsed := hist[len(hist)-1].at.Sub(t0)
	sync := hpa.DefaultConfig().SyncPeriod // the period Simulate runs the controller at
	until := elapsed / sync * sync
	w := platform.Workload{
		Journeys: a.journeys, End: until, Scale: scale,
		Rates: func(t time.Duration, out []float64) {
			at := t0.Add(t)
			k, _ := slices.BinarySearchFunc(hist, at, func(s sample, at time.Time) int { return s.at.Compare(at) })
			if k == len(hist) || (k > 0 && hist[k].at.After(at)) {
				k--
			}
			k = max(k, 0)
			copy(out, hist[k].rates)
		},
	}
	return platform.Simulate(a.deps, a.prof, w, platform.Options{Until: until, Overlay: a.o.Overlay})
}

// hold runs the twin from a cold start under the current traffic.
func (a *Advisor) hold(rates []float64, scale float64) (*platform.Timeline, error) {
	w := platform.Workload{
		Journeys: a.journeys, End: a.o.Hold, Scale: scale,
		Rates: func(_ time.Duration, out []float64) { copy(out, rates) },
	}
	return platform.Simulate(a.deps, a.prof, w, platform.Options{Until: a.o.Hold, Overlay: a.o.Overlay})
}

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
