package model_test

import (
	"math"
	"testing"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// TestPerCallPricesTheCalibrationMixAsTheJourneysDo: at equal journey
// rates, each unit's calls priced per call cost what the journeys cost.
func TestPerCallPricesTheCalibrationMixAsTheJourneysDo(t *testing.T) {
	prof, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	pc := prof.PerCall()
	if err := pc.Validate(); err != nil {
		t.Fatalf("per-call profile: %v", err)
	}
	const r = 10.0
	journeys := map[string]float64{}
	for j := range prof.Journeys {
		journeys[j] = r
	}
	for u := range prof.Units {
		calls := map[string]float64{}
		if rps := prof.RequestRate(u, journeys); rps > 0 {
			calls[model.PerCallJourney(u)] = rps
		}
		want, got := prof.PredictCPU(u, journeys), pc.PredictCPU(u, calls)
		if math.Abs(got-want) > 1e-9*max(1, want) {
			t.Errorf("%s: %.6g millicores per call, %.6g per journey", u, got, want)
		}
		if pc.RequestRate(u, calls) != prof.RequestRate(u, journeys) {
			t.Errorf("%s: request rates differ", u)
		}
	}
}
