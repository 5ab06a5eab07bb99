// Package k6 writes a k6 script for a scenario file, so that the one file
// that drives the built-in simulator locally (`shoplab run`) also drives k6
// in the compose stack (`shoplab k6 <scenario.yaml>`).
//
// A script is an ES module for k6 v0.50 or later. It holds only data and
// glue; the behaviour lives in two hand-written modules it imports from
// scenarios/k6/lib:
//
//   - shop.js: sim/load's journeys (browse, search, checkout,
//     declined_checkout) against the gateway's REST API, the setup that
//     registers the customers and loads a catalog snapshot, the journey
//     draw (seeded per iteration index, so two runs make the same sequence
//     whatever their timing), and the tags every request carries: journey,
//     endpoint, phase and the recovery windows.
//   - chaos.js: the fault timeline. Network toxics go to toxiproxy's HTTP
//     API (POST /proxies/{edge}/toxics, removed at the fault's end), down
//     disables the edge's proxy, and every other fault (process, storage,
//     L7) is posted to the shoplab ops chaos API (POST /ops/v1/chaos/faults).
//     resetAll, run by setup and teardown, removes every fault of the
//     timeline by name.
//
// # Mapping
//
// The load becomes a constant-arrival-rate or ramping-arrival-rate k6
// scenario "load" with maxVUs = max_in_flight, so k6 drops iterations
// when the system falls behind, as the simulator does. The fault timeline
// is a second scenario "chaos" (one VU, one iteration) that sleeps until
// each fault's time.
//
// Steady-state probes, recovery probes and abort rules become thresholds:
// latency_pXX on http_req_duration (ms), error_rate on the Rate errors,
// throughput on http_reqs, dropped_iterations on k6's counter. k6
// thresholds cannot be limited to a time range, so the script tags each
// request with the phase it starts in (spec.Scenario.Phases with a grace,
// DefaultGrace) and a phase-scoped probe becomes one threshold per phase
// on that tag, which is how the runner judges it. What k6 can only
// approximate (throughput over a phase, abort rules' sliding windows,
// recovery times) is listed in each script's header.
//
// Toxiproxy's attributes have their own units (latency and timeouts in
// integer ms, the slicer's delay in µs, bandwidth in KB/s). The generator
// converts the scenario's durations exactly as the chaos engine does, so
// the script posts ready toxiproxy attributes.
//
// k6 itself is not a dependency: its Go module is AGPL, and it runs as its
// own binary or container.
package k6

//go:generate go run ../.. k6 --all --dir ../../scenarios
