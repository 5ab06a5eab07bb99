package diff_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func run(p95 time.Duration, rps, errRate float64, probeOK, invOK bool) *journal.Journal {
	obs := float64(p95.Milliseconds())
	verdict := journal.Pass
	if !probeOK || !invOK {
		verdict = journal.Fail
	}
	st := load.Stats{Requests: 1000, Throughput: rps, ErrorRate: errRate, Latency: load.Latency{P50: p95 / 4, P95: p95, P99: 2 * p95}}
	return &journal.Journal{
		Scenario: "payment-latency", Verdict: verdict,
		Phases:     []journal.Phase{{Name: "before", From: 0, To: 30}, {Name: "during", From: 30, To: 60}},
		PhaseStat:  map[string]load.Stats{"before": st, "during": st, "total": st},
		Probes:     []journal.ProbeResult{{Name: "checkout-p95", Phase: "during", Observed: &obs, Unit: "ms", OK: probeOK}},
		Invariants: []reconcile.Result{{Name: "no_lost_orders", OK: invOK}},
	}
}

func TestCompareFindsRegressionsBeyondTolerance(t *testing.T) {
	base := run(100*time.Millisecond, 50, 0.001, true, true)
	for _, tc := range []struct {
		name string
		cur  *journal.Journal
		want []string // rows that must regress; empty = none
	}{
		{"same", run(100*time.Millisecond, 50, 0.001, true, true), nil},
		{"within tolerance", run(120*time.Millisecond, 47, 0.005, true, true), nil},
		{"slower", run(200*time.Millisecond, 50, 0.001, true, true), []string{"before latency p95", "during latency p99", "total latency p95"}},
		{"less throughput", run(100*time.Millisecond, 30, 0.001, true, true), []string{"before throughput"}},
		{"more errors", run(100*time.Millisecond, 50, 0.05, true, true), []string{"during error rate"}},
		{"probe broke", run(100*time.Millisecond, 50, 0.001, false, true), []string{"verdict", "probe checkout-p95 during"}},
		{"invariant broke", run(100*time.Millisecond, 50, 0.001, true, false), []string{"verdict", "invariant no_lost_orders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := diff.Compare(tc.cur, base, diff.DefaultTolerance)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, row := range r.Rows {
				if row.Regression {
					got[row.What] = true
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("%q did not regress; regressions: %v", w, got)
				}
			}
			if len(tc.want) == 0 && r.Regressions() != 0 {
				t.Errorf("regressions where none are expected: %v", got)
			}
			var b bytes.Buffer
			diff.Print(&b, r)
			if len(tc.want) > 0 && !strings.Contains(b.String(), "regression(s) beyond the tolerance") {
				t.Errorf("printout:\n%s", b.String())
			}
		})
	}
	// Small absolute growth on tiny latencies is noise, not a regression.
	r, _ := diff.Compare(run(4*time.Millisecond, 50, 0, true, true), run(2*time.Millisecond, 50, 0, true, true), diff.DefaultTolerance)
	if r.Regressions() != 0 {
		t.Errorf("2 ms -> 4 ms counted as a regression: %+v", r.Rows)
	}
}

func TestCompareRefusesDifferentScenarios(t *testing.T) {
	a, b := run(time.Millisecond, 1, 0, true, true), run(time.Millisecond, 1, 0, true, true)
	b.Scenario = "baseline"
	if _, err := diff.Compare(a, b, diff.DefaultTolerance); err == nil || !strings.Contains(err.Error(), "different scenarios") {
		t.Fatalf("err = %v", err)
	}
}
