// Package load is shoplab's customer simulator: an open-model load generator
// that drives the gateway's REST API through sim/shopclient the way a crowd
// of customers would.
//
// The model follows k6's arrival-rate executors. Iterations (one journey of
// one customer) start on a deterministic schedule, evenly spaced at the
// instantaneous rate, whether or not earlier iterations have finished; when
// max_in_flight iterations are already running, the due iteration is
// dropped and counted, never queued, so a slow system cannot slow the offered
// load down (k6's dropped_iterations).
//
// Latency is measured from each iteration's intended start, not from the
// moment the simulator got round to it, so a stalled system or a stalled
// simulator shows up in the percentiles instead of being hidden (no
// coordinated omission). Every sample lands in HDR histograms (1µs..60s,
// 3 significant digits) kept per second, per journey and per endpoint; the
// per-second slices are kept packed, so any time range of a run can be
// aggregated afterwards (Result.Window) and the last seconds can be read
// while the run goes on (Runner.Snapshot).
//
// Every order attempt goes into a client-side ledger. An attempt whose
// outcome the client could not learn (a timeout, a transport error, a 5xx, a
// 202 PENDING) is settled after the load by retrying with the same
// Idempotency-Key and body, as a careful client would, and the ledger feeds
// sim/reconcile's invariants.
//
// A seed reproduces a run's decisions: the sequence of journeys, and inside
// iteration i every random choice (customer, products, pages), are drawn
// from generators seeded by (seed, i), independent of timing.
package load
