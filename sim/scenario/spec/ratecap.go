package spec

// CapRate returns a copy of s whose load peaks at maxRate iterations per
// second, and the factor applied: an env whose parts cannot serve a
// scenario's peak (the host env's moto serves the catalog on one thread)
// runs the same shape slower instead of failing for want of capacity.
// Every arrival rate (rate, start_rate, the stages' targets) and every
// throughput bound of a probe or an abort rule is multiplied by the
// factor; latency and error budgets, times, faults and invariants stay as
// they are, so the scenario asks the same of the platform at a lower rate.
// A peak at or below maxRate, or maxRate <= 0, returns s and 1.
func (s *Scenario) CapRate(maxRate float64) (*Scenario, float64) {
	peak := s.Load.PeakRate()
	if maxRate <= 0 || peak <= maxRate {
		return s, 1
	}
	f := maxRate / peak
	c := s.clone()
	c.Load.Rate *= f
	c.Load.StartRate *= f
	for i := range c.Load.Stages {
		c.Load.Stages[i].Target *= f
	}
	scale := func(t *Threshold) {
		if t.Metric != Throughput {
			return
		}
		for _, b := range []*Bound{t.Min, t.Max} {
			if b != nil {
				b.Value *= f
			}
		}
	}
	for i := range c.SteadyState {
		scale(&c.SteadyState[i].Threshold)
	}
	for i := range c.Abort {
		scale(&c.Abort[i].Threshold)
	}
	for i := range c.Recovery {
		scale(&c.Recovery[i].Threshold)
	}
	return c, f
}

// ScaleLatency returns a copy of s whose latency bounds (of probes, abort
// rules and recovery rules) are multiplied by f, and the factor applied: an
// env whose parts are emulators on a shared machine (the host env's
// moto_server is one Python thread) has a tail several times the cloud's,
// so a budget written for the platform would judge the emulator instead.
// Error budgets, throughput bounds, times, faults and invariants stay as
// they are. f <= 1 returns s and 1.
func (s *Scenario) ScaleLatency(f float64) (*Scenario, float64) {
	if f <= 1 {
		return s, 1
	}
	c := s.clone()
	scale := func(t *Threshold) {
		if !t.Metric.IsLatency() {
			return
		}
		for _, b := range []*Bound{t.Min, t.Max} {
			if b != nil {
				b.Value *= f
			}
		}
	}
	for i := range c.SteadyState {
		scale(&c.SteadyState[i].Threshold)
	}
	for i := range c.Abort {
		scale(&c.Abort[i].Threshold)
	}
	for i := range c.Recovery {
		scale(&c.Recovery[i].Threshold)
	}
	return c, f
}
