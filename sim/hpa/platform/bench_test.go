package platform_test

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/hpa/platform"
	"github.com/shoplab/shoplab/sim/hpa/report"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// oneHour is the benchmark's scenario: an hour of production-sized load on
// the prod overlay, simulated to its end (3600 ticks and 241 syncs of five
// Deployments, three of them HPAs).
func oneHour(b *testing.B) *spec.Scenario {
	b.Helper()
	s, err := spec.Load(filepath.Join("testdata", "one-hour.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	s.HPA = nil // the load's hour only, without the settling time the checks add
	return s
}

// BenchmarkSimulateOneHour is the simulation alone: inputs rendered and
// loaded once. The budget is one simulated hour of all five Deployments in
// well under a second.
func BenchmarkSimulateOneHour(b *testing.B) {
	s := oneHour(b)
	deps := prodDeployments(b)
	prof, err := profiles.Local()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tl, _, err := platform.SimulateScenario(s, deps, prof, 0, platform.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if tl.Until != 3600 {
			b.Fatalf("simulated %ds, want 3600", tl.Until)
		}
	}
}

// BenchmarkSimulatePipelineOneHour is `shoplab hpa simulate` for the same
// hour end to end: render the prod overlay with kustomize, decode its
// Deployments and HPAs, load the profile and the scenario, simulate, and
// write timeline.json and report.html.
func BenchmarkSimulatePipelineOneHour(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		rendered, err := platform.RenderOverlay("prod")
		if err != nil {
			b.Fatal(err)
		}
		deps, err := platform.Deployments(rendered)
		if err != nil {
			b.Fatal(err)
		}
		prof, err := profiles.Local()
		if err != nil {
			b.Fatal(err)
		}
		s := oneHour(b)
		tl, _, err := platform.SimulateScenario(s, deps, prof, 0, platform.Options{Overlay: "prod"})
		if err != nil {
			b.Fatal(err)
		}
		if err := tl.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
		if err := report.HTML(io.Discard, tl, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOneHourUnderASecond keeps the speed budget honest in ordinary test
// runs, with a wide margin for slow CI machines and the race detector.
func TestOneHourUnderASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test; skipped in -short")
	}
	s, err := spec.Load(filepath.Join("testdata", "one-hour.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.HPA = nil
	deps := prodDeployments(t)
	prof := frozenProfile(t)
	start := time.Now()
	if _, _, err := platform.SimulateScenario(s, deps, prof, 0, platform.Options{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("one simulated hour of five Deployments took %s, budget 1s", d)
	}
}
