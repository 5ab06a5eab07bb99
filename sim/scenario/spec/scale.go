package spec

import (
	"maps"
	"math"
	"slices"
	"time"
)

// ScaleFloor is the shortest stretch of the timeline Scale produces from
// one that was at least that long.
const ScaleFloor = time.Second

// Scale returns a copy of s with every time of its timeline multiplied by
// f: the load's duration and stages, the faults' at and duration, the abort
// rules' for and the recovery probes' within. Rates, thresholds, fault
// attributes (a 400ms latency stays 400ms) and env settings do not change,
// so the scenario's logic does not either: `--short` runs it with f = 0.25.
//
// The timeline is scaled as a whole, points rather than lengths, and
// rounded to the millisecond, so a fault that ended before the load still
// does, and the phases keep their order. f is raised as far as needed (up
// to 1) for every stretch of at least ScaleFloor to stay at least
// ScaleFloor long: phases never shrink to nothing, and ScaleFactor reports
// the factor used. f <= 0, NaN or Inf means 1.
//
// HPA expectations are not scaled: the twin simulates hours in
// milliseconds, so it always runs the original timeline, which Original
// returns.
func (s *Scenario) Scale(f float64) *Scenario {
	orig := s.Original()
	base := s.ScaleFactor()
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		f = 1
	}
	if f < 1 {
		if shortest := s.shortestStretch(); shortest > 0 {
			f = min(1, max(f, float64(ScaleFloor)/float64(shortest)))
		}
	}
	c := s.clone()
	c.orig, c.factor = orig, base*f
	if c.factor == 1 {
		c.orig, c.factor = nil, 0
	}
	at := func(t time.Duration) time.Duration {
		return time.Duration(math.Round(float64(t)*f/float64(time.Millisecond))) * time.Millisecond
	}
	if c.Load.Executor == RampingArrivalRate {
		var end time.Duration
		for i := range c.Load.Stages {
			st := &c.Load.Stages[i]
			next := end + st.Duration.Std()
			st.Duration = Duration(at(next) - at(end))
			end = next
		}
	} else {
		c.Load.Duration = Duration(at(c.Load.Duration.Std()))
	}
	lastEnd, hasFaults := s.LastFaultEnd()
	for i := range c.Faults {
		flt := &c.Faults[i]
		start, end := flt.Start(), flt.End()
		flt.At, flt.Duration = Duration(at(start)), Duration(at(end)-at(start))
	}
	for i := range c.Abort {
		c.Abort[i].For = Duration(at(c.Abort[i].For.Std()))
	}
	for i := range c.Recovery {
		r := &c.Recovery[i]
		if hasFaults {
			// A deadline is a point after the last fault: scale the point.
			r.Within = Duration(at(lastEnd+r.Within.Std()) - at(lastEnd))
		} else {
			r.Within = Duration(at(r.Within.Std()))
		}
	}
	return c
}

// Original returns the scenario Scale started from, or s itself when s is
// not a scaled copy. The HPA twin runs it.
func (s *Scenario) Original() *Scenario {
	if s.orig != nil {
		return s.orig
	}
	return s
}

// ScaleFactor is the factor between s and Original: 1 unless s was made by
// Scale.
func (s *Scenario) ScaleFactor() float64 {
	if s.factor == 0 {
		return 1
	}
	return s.factor
}

// shortestStretch is the shortest length, among those of at least
// ScaleFloor, between two points of the timeline (stage ends, fault starts
// and ends, recovery deadlines), or of an abort's for or a recovery's
// within; 0 when there is none.
func (s *Scenario) shortestStretch() time.Duration {
	points := []time.Duration{0, s.TotalDuration()}
	if s.Load.Executor == RampingArrivalRate {
		var end time.Duration
		for _, st := range s.Load.Stages {
			end += st.Duration.Std()
			points = append(points, end)
		}
	}
	for i := range s.Faults {
		points = append(points, s.Faults[i].Start(), s.Faults[i].End())
	}
	var lengths []time.Duration
	lastEnd, hasFaults := s.LastFaultEnd()
	for _, r := range s.Recovery {
		lengths = append(lengths, r.Within.Std())
		if hasFaults {
			points = append(points, lastEnd+r.Within.Std())
		}
	}
	for _, a := range s.Abort {
		lengths = append(lengths, a.For.Std())
	}
	slices.Sort(points)
	for i := 1; i < len(points); i++ {
		lengths = append(lengths, points[i]-points[i-1])
	}
	var shortest time.Duration
	for _, l := range lengths {
		if l >= ScaleFloor && (shortest == 0 || l < shortest) {
			shortest = l
		}
	}
	return shortest
}

// clone returns a deep copy of s.
func (s *Scenario) clone() *Scenario {
	c := *s
	c.Load.Stages = slices.Clone(s.Load.Stages)
	c.Load.Journeys = maps.Clone(s.Load.Journeys)
	c.Faults = slices.Clone(s.Faults)
	for i := range c.Faults {
		c.Faults[i].Attributes = maps.Clone(s.Faults[i].Attributes)
	}
	c.SteadyState = slices.Clone(s.SteadyState)
	for i := range c.SteadyState {
		c.SteadyState[i].Phases = slices.Clone(s.SteadyState[i].Phases)
		c.SteadyState[i].Threshold = s.SteadyState[i].Threshold.clone()
	}
	c.Abort = slices.Clone(s.Abort)
	for i := range c.Abort {
		c.Abort[i].Threshold = s.Abort[i].Threshold.clone()
	}
	c.Recovery = slices.Clone(s.Recovery)
	for i := range c.Recovery {
		c.Recovery[i].Threshold = s.Recovery[i].Threshold.clone()
	}
	c.Invariants = slices.Clone(s.Invariants)
	if s.HPA != nil {
		c.HPA = make(map[string]HPAExpectation, len(s.HPA))
		for k, h := range s.HPA {
			if h.MaxChangesPer5m != nil {
				n := *h.MaxChangesPer5m
				h.MaxChangesPer5m = &n
			}
			c.HPA[k] = h
		}
	}
	return &c
}

func (t Threshold) clone() Threshold {
	if t.Min != nil {
		b := *t.Min
		t.Min = &b
	}
	if t.Max != nil {
		b := *t.Max
		t.Max = &b
	}
	return t
}
