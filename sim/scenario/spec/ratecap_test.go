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

func TestScaleLatencyScalesLatencyBoundsOnly(t *testing.T) {
	s, err := spec.Load("../../../scenarios/payment-latency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, f := s.ScaleLatency(2)
	if f != 2 {
		t.Fatalf("factor = %v, want 2", f)
	}
	check := func(kind, name string, got, was spec.Threshold) {
		t.Helper()
		want := 1.0
		if was.Metric.IsLatency() {
			want = 2
		}
		for _, b := range [][2]*spec.Bound{{got.Max, was.Max}, {got.Min, was.Min}} {
			if b[1] != nil && b[0].Value != b[1].Value*want {
				t.Errorf("%s %s (%s): bound %v, want %v", kind, name, was.Metric, b[0].Value, b[1].Value*want)
			}
		}
	}
	latency := 0
	for i, p := range c.SteadyState {
		check("probe", p.Name, p.Threshold, s.SteadyState[i].Threshold)
		if p.Metric.IsLatency() {
			latency++
		}
	}
	for i, r := range c.Recovery {
		check("recovery", r.Name, r.Threshold, s.Recovery[i].Threshold)
	}
	for i, a := range c.Abort {
		check("abort", string(a.Metric), a.Threshold, s.Abort[i].Threshold)
	}
	if latency == 0 || len(c.Recovery) == 0 {
		t.Fatal("payment-latency.yaml lost its latency probes or recovery rule: the test checks nothing")
	}
	if s.SteadyState[0].Max.Value == c.SteadyState[0].Max.Value {
		t.Errorf("ScaleLatency changed nothing, or changed the original too")
	}
	if c.TotalDuration() != s.TotalDuration() || c.Load.PeakRate() != s.Load.PeakRate() {
		t.Errorf("times or rates changed")
	}
	if same, f1 := s.ScaleLatency(1); same != s || f1 != 1 {
		t.Errorf("factor 1 changed the scenario (factor %v)", f1)
	}
}
