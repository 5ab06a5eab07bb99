package scenario_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func TestNarrateSaysWhatBrokeAndWhatHeld(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	j := &journal.Journal{
		Faults: []journal.FaultRecord{
			{Name: "slow-payments", Target: "order->payment", Type: "latency", Attributes: map[string]any{"latency": "300ms", "jitter": "30ms"}, Start: 10, End: 20},
			{Name: "product-killed", Target: "product", Type: "kill", Start: 24, End: 30},
			{Name: "cut", Target: "order->kafka", Type: "down", Start: 31, End: 33, Error: "no such proxy"},
		},
		Probes: []journal.ProbeResult{
			{Name: "checkout-p95", Phase: "during", Condition: "latency_p95 <= 2s", Observed: v(333), Unit: "ms", OK: true},
			{Name: "errors", Phase: "after", Condition: "error_rate <= 0.01", Observed: v(0.2), Unit: "ratio", OK: false},
			{Name: "skipped", Phase: "after", Skipped: true},
		},
		Recovery:   []journal.RecoveryResult{{Name: "errors-recover", OK: true, Detail: "back within bound 2s after the last fault"}},
		Invariants: []reconcile.Result{{Name: "no_lost_orders", OK: true, Detail: "94 orders seen by clients, all settled"}},
	}
	var b bytes.Buffer
	scenario.Narrate(&b, j)
	out := b.String()
	for _, want := range []string{
		"What was broken:",
		"slow-payments: every call on order->payment was slowed by 300ms (± 30ms), from 10s to 20s",
		"product-killed: the product unit was killed, and started again after 6s, from 24s to 30s",
		"the connection order->kafka was cut",
		"(the fault could not be applied: no such proxy)",
		"What held:\n  - checkout-p95 during the faults: observed 333 ms against latency_p95 <= 2s",
		"errors-recover: back within bound",
		"no lost orders: 94 orders seen by clients, all settled",
		"What did not hold:\n  - errors after the faults: observed 0.2 ratio against error_rate <= 0.01",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("narrative lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("a skipped probe is narrated:\n%s", out)
	}

	b.Reset()
	scenario.Narrate(&b, &journal.Journal{})
	if !strings.Contains(b.String(), "nothing; this run injected no fault") {
		t.Errorf("a run without faults: %q", b.String())
	}
}
