package live_test

import (
	"testing"
	"time"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/hpa/live"
	"github.com/shoplab/shoplab/sim/hpa/model"
	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// prodDeployments is the prod overlay's Deployments and the local profile.
func prodDeployments(t *testing.T) ([]platform.Deployment, model.Profile) {
	t.Helper()
	rendered, err := platform.RenderOverlay("prod")
	if err != nil {
		t.Fatal(err)
	}
	deps, err := platform.Deployments(rendered)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	return deps, prof
}

func newAdvisor(t *testing.T) (*live.Advisor, model.Profile) {
	t.Helper()
	deps, prof := prodDeployments(t)
	a, err := live.New(deps, prof, live.Options{Overlay: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	return a, prof
}

// callsOf is the calls a journey mix makes, as the units' metrics count
// them: one row per unit and method.
func callsOf(prof model.Profile, rates map[string]float64) []live.Call {
	var out []live.Call
	for j, r := range rates {
		for _, c := range prof.Journeys[j] {
			out = append(out, live.Call{Unit: c.To, Method: c.Method, RPS: r * c.PerIteration})
		}
	}
	return out
}

func unit(t *testing.T, s live.Suggestion, name string) live.UnitAdvice {
	t.Helper()
	if s.Error != "" {
		t.Fatalf("advise: %s", s.Error)
	}
	for _, u := range s.Units {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no unit %s in %+v", name, s.Units)
	return live.UnitAdvice{}
}

// TestAdvisorFollowsTheTraffic drives the twin with a checkout surge
// scaled to a cluster's size, then silence: the live twin scales order up
// under the surge and keeps it up through the downscale stabilization
// window after, while the steady answer drops back to minReplicas at once.
func TestAdvisorFollowsTheTraffic(t *testing.T) {
	a, prof := newAdvisor(t)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var s live.Suggestion
	sec := 0
	advise := func(n int, calls []live.Call) {
		for range n {
			s = a.Advise(t0.Add(time.Duration(sec)*time.Second), calls)
			sec++
		}
	}

	advise(60, nil)
	idle := unit(t, s, "order")
	if idle.Targets == nil || idle.Replicas != idle.Min || idle.Settles != idle.Min {
		t.Fatalf("idle order: %+v, want an HPA at its minReplicas", idle)
	}

	if err := a.SetTrafficScale(200); err != nil {
		t.Fatal(err)
	}
	surge := callsOf(prof, map[string]float64{"checkout": 4, "browse": 2})
	advise(240, surge)
	if got := s.Calls["order"]; got < 799.99 || got > 800.01 {
		t.Errorf("order serves %.6g calls/s in the cluster, want 800 (4 checkouts/s x 200)", got)
	}
	up := unit(t, s, "order")
	if up.Replicas <= up.Min || up.Settles <= up.Min || up.Settles > up.Max {
		t.Fatalf("order under 800 checkouts/s: live %d, settles %d (min %d, max %d); want above min and within max", up.Replicas, up.Settles, up.Min, up.Max)
	}
	t.Logf("order under the surge: live %d replicas, settles to %d, peak %d, cpu %.0f%%", up.Replicas, up.Settles, up.Peak, up.CPUUtilization)

	advise(90, nil)
	after := unit(t, s, "order")
	if after.Replicas <= after.Min {
		t.Errorf("order 90 s after the surge: live %d replicas, want still above min %d (5-minute downscale stabilization)", after.Replicas, after.Min)
	}
	if after.Settles != after.Min {
		t.Errorf("order with no traffic settles to %d, want min %d", after.Settles, after.Min)
	}
	if s.Seconds < 375 {
		t.Errorf("live twin replayed %d s, want the whole 390 s of history up to the last sync", s.Seconds)
	}
}

func TestAdvisorRefusesBadScale(t *testing.T) {
	a, _ := newAdvisor(t)
	for _, f := range []float64{0, -1, 1e9} {
		if err := a.SetTrafficScale(f); err == nil {
			t.Errorf("traffic scale %g accepted", f)
		}
	}
}

// TestAdvisorForgetsOldTraffic: the live twin replays at most History.
func TestAdvisorForgetsOldTraffic(t *testing.T) {
	deps, prof := prodDeployments(t)
	a, err := live.New(deps, prof, live.Options{History: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var s live.Suggestion
	for i := range 300 {
		s = a.Advise(t0.Add(time.Duration(i)*time.Second), nil)
	}
	if s.Seconds > 60 {
		t.Errorf("replayed %d s with a history of one minute", s.Seconds)
	}
}

// TestPerCallPricingStaysNearTheJourneys: for journey-shaped traffic, the
// live twin's steady answer (calls priced per call) is within one replica
// of `shoplab hpa simulate`'s (journeys priced as journeys), for every
// Deployment with an HPA.
func TestPerCallPricingStaysNearTheJourneys(t *testing.T) {
	deps, _ := prodDeployments(t)
	for _, mix := range []map[string]float64{
		{"checkout": 1},
		{"declined_checkout": 1},
		{"browse": 3, "search": 1, "checkout": 1},
	} {
		a, prof := newAdvisor(t)
		if err := a.SetTrafficScale(300); err != nil {
			t.Fatal(err)
		}
		s := a.Advise(time.Unix(0, 0), callsOf(prof, mix))
		var journeys []string
		var weights []float64
		for j, w := range mix {
			journeys, weights = append(journeys, j), append(weights, w)
		}
		w, err := platform.MixWorkload(live.DefaultHold, func(time.Duration) float64 {
			sum := 0.0
			for _, v := range mix {
				sum += v
			}
			return sum
		}, journeys, weights)
		if err != nil {
			t.Fatal(err)
		}
		w.Scale = 300
		tl, err := platform.Simulate(deps, prof, w, platform.Options{Until: live.DefaultHold})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range tl.Units {
			if u.HPA == nil {
				continue
			}
			got, want := unit(t, s, u.Name).Settles, u.Summary.FinalReplicas
			t.Logf("%v x300: %s settles to %d priced per call, %d per journey", mix, u.Name, got, want)
			if got < want-1 || got > want+1 {
				t.Errorf("%v x300: %s settles to %d priced per call, %d priced per journey", mix, u.Name, got, want)
			}
		}
	}
}
