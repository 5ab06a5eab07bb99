package scenario_test

import (
	"testing"

	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func TestMissedOnTimingOnly(t *testing.T) {
	v := 1.0
	probe := func(metric string, ok bool) journal.ProbeResult {
		return journal.ProbeResult{Name: metric, Metric: metric, Observed: &v, OK: ok}
	}
	for _, tc := range []struct {
		name string
		j    journal.Journal
		want bool
	}{
		{"nothing failed", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", true)}}, false},
		{"a latency probe", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", false), probe("error_rate", true)}}, true},
		{"throughput and dropped", journal.Journal{Probes: []journal.ProbeResult{probe("throughput", false), probe("dropped_iterations", false)}}, true},
		{"a latency recovery", journal.Journal{Recovery: []journal.RecoveryResult{{Metric: "latency_p95"}}}, true},
		{"an error budget", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", false), probe("error_rate", false)}}, false},
		{"an error recovery", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p99", false)}, Recovery: []journal.RecoveryResult{{Metric: "error_rate"}}}, false},
		{"an invariant", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", false)}, Invariants: []journal.Invariant{{Name: "no_lost_orders", OK: false}}}, false},
		{"a fault error", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", false)}, Faults: []journal.FaultRecord{{Name: "x", Error: "toxiproxy: 500"}}}, false},
		{"an abort", journal.Journal{Probes: []journal.ProbeResult{probe("latency_p95", false)}, Aborted: &journal.Abort{Detail: "error_rate > 0.5"}}, false},
		{"a skipped probe is not a miss", journal.Journal{Probes: []journal.ProbeResult{{Metric: "error_rate", Skipped: true}}}, false},
	} {
		if got := scenario.MissedOnTimingOnly(&tc.j); got != tc.want {
			t.Errorf("%s: MissedOnTimingOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}
