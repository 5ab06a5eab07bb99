package model

import "sort"

// PerCallJourney names the journey of a PerCall profile that stands for
// the calls unit serves.
func PerCallJourney(unit string) string { return "calls-" + unit }

// PerCall returns a profile that prices requests instead of journeys: one
// journey per unit, "calls-<unit>", one call from the client to that unit
// per iteration, costing the unit's mean CPU per call over the profile's
// journeys at equal rates (the mix calibrate measures them at). It prices
// traffic from any client by the calls each unit serves, which is all a
// unit's metrics tell, at the cost of the journeys' call graph: a call's
// time in its callees is not in its caller's in-flight count.
//
// At equal journey rates PerCall's CPU is the journeys' own, unit by unit;
// for another mix it is off by as much as the unit's cost per call differs
// between journeys: in profiles/local.json order's 2.4-3.0 ms and
// payment's 1.6-1.8 ms are close, product's 0.35-1.3 ms
// are not (its HPA reads memory).
func (p Profile) PerCall() Profile {
	out := Profile{Version: p.Version, Source: p.Source, Note: p.Note, Units: map[string]UnitCost{}, Journeys: map[string][]Call{}}
	calls := CallsPerIteration(p.Journeys)
	units := make([]string, 0, len(p.Units))
	for u := range p.Units {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		cost := p.Units[u]
		cpu, n := 0.0, 0.0
		for _, j := range sortedKeys(p.Journeys) {
			if c := calls[j][u]; c > 0 {
				cpu += cost.CPUSecondsPerIteration[j]
				n += c
			}
		}
		cost.CPUSecondsPerIteration = map[string]float64{}
		if n > 0 {
			j := PerCallJourney(u)
			cost.CPUSecondsPerIteration[j] = cpu / n
			out.Journeys[j] = []Call{{From: Client, To: u, Method: "any", PerIteration: 1}}
		}
		out.Units[u] = cost
	}
	return out
}
