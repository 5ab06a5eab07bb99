// Package spec is the scenario file format: the types the runner, the k6
// generator and the HPA twin read, the loader that checks a file against
// scenarios/schema.json and against the rules a schema cannot state, and the
// helpers every consumer needs (the arrival rate at a time, the phase at a
// time, a scaled copy for short runs).
//
// A scenario file is YAML (JSON works too, being YAML):
//
//	version: 1
//	name: payment-latency
//	description: Payments slow to 400 ms; checkout stays inside its SLO.
//	seed: 7
//	expect: pass
//	env: {analytics_window: 10s}
//	load:
//	  executor: constant-arrival-rate
//	  rate: 20
//	  duration: 90s
//	  journeys: {browse: 6, checkout: 3, declined_checkout: 1}
//	faults:
//	  - {name: slow-payments, at: 30s, duration: 30s, target: order->payment, type: latency, attributes: {latency: 400ms}}
//	steady_state:
//	  - {name: checkout-p95, metric: latency_p95, journey: checkout, max: 900ms, phases: [before, during, after]}
//	abort:
//	  - {metric: error_rate, max: 0.5, for: 10s}
//	recovery:
//	  - {name: p95-recovers, metric: latency_p95, journey: checkout, max: 300ms, within: 20s}
//	invariants: [no_lost_orders, no_duplicate_charges]
//	hpa_traffic_scale: 30
//	hpa:
//	  order: {reaches: 6, within: 120s, never_above: 10}
//
// Times are Go duration strings ("90s", "400ms", "1m30s"), held as
// [Duration]. Every time in a file counts from the start of the load.
//
// The load is sized for the machine that runs the scenario for real. The
// hpa section is checked by the HPA twin against the production overlay,
// whose cluster sees far more: hpa_traffic_scale multiplies the load's
// arrival rates for the twin alone (the runner and the k6 scripts ignore
// it, and Scale leaves it alone).
//
// # Validation
//
// [Parse] checks a file twice: against the JSON Schema (scenarios/schema.json,
// the same document embedded here and returned by [Schema]) and with Go rules
// that also cover what a schema cannot say (a fault must end before the load
// does, a phase a probe names must occur, names are unique, ...). Every
// problem names its field path and its line:
//
//	payment-latency.yaml:14: faults[0].type: unknown fault type "latecny" (did you mean "latency"?)
//
// # Phases
//
// The fault timeline splits a run into phases that steady-state probes
// select: before (until the first fault starts), during (while any fault is
// active), after (from the end of the last fault plus a grace the runner
// chooses, to the end of the load) and, only as a probe's choice, continuous
// (the whole run). Between two faults, and during the grace, the phase is
// recovering: only continuous probes apply there. See [Scenario.PhaseAt].
package spec
