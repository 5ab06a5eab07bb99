package spec_test

import (
	"testing"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func TestCapRateScalesRatesAndThroughputOnly(t *testing.T) {
	s, err := spec.Load("../../../scenarios/flash-sale.yaml")
	if err != nil {
		t.Fatal(err)
	}
	peak := s.Load.PeakRate()
	c, f := s.CapRate(20)
	if got := c.Load.PeakRate(); got < 19.999 || got > 20.001 {
		t.Fatalf("capped peak = %v, want 20 (from %v)", got, peak)
	}
	if want := 20 / peak; f != want {
		t.Errorf("factor = %v, want %v", f, want)
	}
	if c.Load.StartRate != s.Load.StartRate*f {
		t.Errorf("start_rate = %v, want %v", c.Load.StartRate, s.Load.StartRate*f)
	}
	if s.Load.PeakRate() != peak {
		t.Errorf("CapRate changed the original: peak %v, was %v", s.Load.PeakRate(), peak)
	}
	for i, p := range c.SteadyState {
		o := s.SteadyState[i]
		switch {
		case p.Metric == spec.Throughput && p.Min != nil && p.Min.Value != o.Min.Value*f:
			t.Errorf("%s: throughput min %v, want %v", p.Name, p.Min.Value, o.Min.Value*f)
		case p.Metric != spec.Throughput && p.Max != nil && p.Max.Value != o.Max.Value:
			t.Errorf("%s: %s bound changed: %v, was %v", p.Name, p.Metric, p.Max.Value, o.Max.Value)
		}
	}
	if c.TotalDuration() != s.TotalDuration() {
		t.Errorf("duration changed: %v, was %v", c.TotalDuration(), s.TotalDuration())
	}
	if same, f1 := s.CapRate(peak); same != s || f1 != 1 {
		t.Errorf("a cap at the peak changed the scenario (factor %v)", f1)
	}
}
