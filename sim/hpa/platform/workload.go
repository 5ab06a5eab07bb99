package platform

import (
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/hpa/model"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// Workload is the shoppers' traffic: the arrival rate of each journey over
// time, in an open model (iterations start whether or not earlier ones have
// finished, as real shoppers do).
type Workload struct {
	// Journeys names the journeys, in the order Rates fills.
	Journeys []string
	// Rates writes each journey's iterations per second at t (from the start
	// of the load) into out, which has len(Journeys) entries. It must be a
	// pure function of t: the simulation's reproducibility depends on it.
	Rates func(t time.Duration, out []float64)
	// End is when the load ends; the simulation runs on after it (see
	// Options.Until) with whatever Rates says, normally nothing.
	End time.Duration
	// Scale multiplies every rate Rates gives: a scenario's
	// hpa_traffic_scale, a load sized for one machine scaled up to what the
	// cluster sees. 0 means 1. The timeline records it, and its Load holds
	// the multiplied rates, the ones the Deployments served.
	Scale float64
}

// MixWorkload is a total arrival rate split among journeys in fixed shares
// (any positive weights; they are normalised).
func MixWorkload(end time.Duration, rateAt func(time.Duration) float64, journeys []string, weights []float64) (Workload, error) {
	if len(journeys) == 0 || len(journeys) != len(weights) {
		return Workload{}, errs.InvalidField("journeys", "needs one weight per journey, got %d journeys and %d weights", len(journeys), len(weights))
	}
	sum := 0.0
	for i, w := range weights {
		if !(w >= 0) {
			return Workload{}, errs.InvalidField("journeys."+journeys[i], "weight must not be negative, got %g", w)
		}
		sum += w
	}
	if sum <= 0 {
		return Workload{}, errs.InvalidField("journeys", "needs a positive weight")
	}
	shares := make([]float64, len(weights))
	for i, w := range weights {
		shares[i] = w / sum
	}
	return Workload{
		Journeys: journeys,
		End:      end,
		Rates: func(t time.Duration, out []float64) {
			r := rateAt(t)
			for i, s := range shares {
				out[i] = r * s
			}
		},
	}, nil
}

// ScenarioWorkload is a scenario's load as the cluster sees it: Load.RateAt
// (0 outside the load) split by the journeys' weights, scaled by the
// scenario's hpa_traffic_scale. Journeys with weight 0 are left out.
func ScenarioWorkload(s *spec.Scenario) (Workload, error) {
	mix := s.Load.JourneyMix()
	journeys := make([]string, len(mix))
	weights := make([]float64, len(mix))
	for i, jw := range mix {
		journeys[i], weights[i] = string(jw.Journey), jw.Share
	}
	load := s.Load // a copy: the workload must not change under the caller
	w, err := MixWorkload(load.Total(), load.RateAt, journeys, weights)
	if err != nil {
		return Workload{}, err
	}
	w.Scale = s.HPARateFactor()
	return w, nil
}

// ScenarioExpectations converts a scenario's hpa section.
func ScenarioExpectations(s *spec.Scenario) map[string]Expectation {
	out := make(map[string]Expectation, len(s.HPA))
	for unit, h := range s.HPA {
		e := Expectation{
			Reaches:      int32(h.Reaches),
			Within:       h.Within.Std(),
			NeverAbove:   int32(h.NeverAbove),
			SettlesTo:    int32(h.SettlesTo),
			SettleWithin: h.SettleWithin.Std(),
		}
		if h.MaxChangesPer5m != nil {
			n := *h.MaxChangesPer5m
			e.MaxChangesPer5m = &n
		}
		out[unit] = e
	}
	return out
}

// SimulateScenario simulates a scenario's load and checks its hpa section,
// if it has one. The simulation runs to the end of the load plus extend,
// and at least as far as the expectations need (see Horizon).
func SimulateScenario(s *spec.Scenario, deps []Deployment, prof model.Profile, extend time.Duration, opts Options) (*Timeline, []Outcome, error) {
	if extend < 0 {
		return nil, nil, errs.InvalidField("extend", "must not be negative, got %s", extend)
	}
	// A copy scaled down for a short run keeps its original timeline, which
	// is the one the expectations are written against.
	s = s.Original()
	w, err := ScenarioWorkload(s)
	if err != nil {
		return nil, nil, err
	}
	exps := ScenarioExpectations(s)
	opts.Until = max(w.End+extend, Horizon(w.End, exps))
	if opts.Scenario == "" {
		opts.Scenario = s.Name
	}
	tl, err := Simulate(deps, prof, w, opts)
	if err != nil {
		return nil, nil, err
	}
	if len(exps) == 0 {
		return tl, nil, nil
	}
	outcomes, err := Check(tl, exps)
	if err != nil {
		return nil, nil, err
	}
	return tl, outcomes, nil
}
