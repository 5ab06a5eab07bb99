// Package diff compares two runs of one scenario (a run and its baseline):
// probes, latency percentiles and throughput per phase, error rates and
// invariants, and says which differences are regressions beyond a
// tolerance, so CI can keep a baseline and fail on a regression.
package diff

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// Tolerance is how much worse a figure may get before it is a regression.
type Tolerance struct {
	Latency    float64       // relative: 0.25 lets a percentile grow by 25 %
	MinLatency time.Duration // and by at least this much, so noise on 2 ms never counts
	Throughput float64       // relative drop allowed
	ErrorRate  float64       // absolute rise allowed (0.01 = one point)
}

// DefaultTolerance suits a shared, noisy 2-core machine.
var DefaultTolerance = Tolerance{Latency: 0.25, MinLatency: 5 * time.Millisecond, Throughput: 0.10, ErrorRate: 0.01}

// Row is one compared figure.
type Row struct {
	What       string `json:"what"`
	Baseline   string `json:"baseline"`
	Current    string `json:"current"`
	Change     string `json:"change"`
	Regression bool   `json:"regression"`
}

// Result is the comparison.
type Result struct {
	Scenario string `json:"scenario"`
	Rows     []Row  `json:"rows"`
}

// Regressions counts the rows that regressed.
func (r Result) Regressions() int {
	n := 0
	for _, row := range r.Rows {
		if row.Regression {
			n++
		}
	}
	return n
}

// Summary says in one sentence whether anything regressed.
func (r Result) Summary() string {
	if n := r.Regressions(); n > 0 {
		return fmt.Sprintf("%d regression(s) beyond the tolerance.", n)
	}
	return "No regression beyond the tolerance."
}

// Compare compares cur against base. Runs of different scenarios are an
// error: their figures mean different things.
func Compare(cur, base *journal.Journal, tol Tolerance) (Result, error) {
	if cur.Scenario != base.Scenario {
		return Result{}, fmt.Errorf("the runs are of different scenarios: %q and baseline %q", cur.Scenario, base.Scenario)
	}
	res := Result{Scenario: cur.Scenario}
	add := func(r Row) { res.Rows = append(res.Rows, r) }

	add(Row{What: "verdict", Baseline: base.Verdict, Current: cur.Verdict, Change: same(base.Verdict, cur.Verdict),
		Regression: base.Verdict == journal.Pass && cur.Verdict != journal.Pass})

	for _, phase := range phaseNames(base, cur) {
		b, okB := base.PhaseStat[phase]
		c, okC := cur.PhaseStat[phase]
		if !okB || !okC || b.Requests == 0 || c.Requests == 0 {
			continue
		}
		for _, p := range []struct {
			name string
			b, c time.Duration
		}{{"p50", b.P50, c.P50}, {"p95", b.P95, c.P95}, {"p99", b.P99, c.P99}} {
			grew := p.c - p.b
			add(Row{What: fmt.Sprintf("%s latency %s", phase, p.name), Baseline: ms(p.b), Current: ms(p.c), Change: relChange(float64(p.b), float64(p.c)),
				Regression: grew > tol.MinLatency && float64(p.c) > float64(p.b)*(1+tol.Latency)})
		}
		add(Row{What: phase + " throughput", Baseline: fmt.Sprintf("%.1f req/s", b.Throughput), Current: fmt.Sprintf("%.1f req/s", c.Throughput),
			Change: relChange(b.Throughput, c.Throughput), Regression: c.Throughput < b.Throughput*(1-tol.Throughput)})
		add(errorRow(phase, b, c, tol))
	}

	baseProbes := map[string]journal.ProbeResult{}
	for _, p := range base.Probes {
		baseProbes[p.Name+"/"+p.Phase] = p
	}
	for _, p := range cur.Probes {
		bp, ok := baseProbes[p.Name+"/"+p.Phase]
		if !ok {
			add(Row{What: "probe " + p.Name + " " + p.Phase, Baseline: "absent", Current: probeState(p), Change: "new"})
			continue
		}
		change := same(probeState(bp), probeState(p))
		if bp.Observed != nil && p.Observed != nil {
			change = relChange(*bp.Observed, *p.Observed)
		}
		add(Row{What: "probe " + p.Name + " " + p.Phase, Baseline: probeState(bp), Current: probeState(p), Change: change,
			Regression: bp.OK && !bp.Skipped && !p.OK && !p.Skipped})
	}
	baseInv := map[string]bool{}
	for _, i := range base.Invariants {
		baseInv[i.Name] = i.OK
	}
	for _, i := range cur.Invariants {
		bOK, ok := baseInv[i.Name]
		bs := "absent"
		if ok {
			bs = okWord(bOK)
		}
		add(Row{What: "invariant " + i.Name, Baseline: bs, Current: okWord(i.OK), Change: same(bs, okWord(i.OK)), Regression: ok && bOK && !i.OK})
	}
	return res, nil
}

func errorRow(phase string, b, c load.Stats, tol Tolerance) Row {
	return Row{What: phase + " error rate", Baseline: pct(b.ErrorRate), Current: pct(c.ErrorRate),
		Change: fmt.Sprintf("%+.2f pt", 100*(c.ErrorRate-b.ErrorRate)), Regression: c.ErrorRate > b.ErrorRate+tol.ErrorRate}
}

// phaseNames lists the phases both runs have, in the runs' order, then total.
func phaseNames(base, cur *journal.Journal) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range cur.Phases {
		if _, ok := base.PhaseStat[p.Name]; ok && !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, p.Name)
		}
	}
	return append(out, "total")
}

// Print writes the comparison as a table and a last line with the count.
func Print(w io.Writer, r Result) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\tbaseline\tcurrent\tchange\n", r.Scenario)
	for _, row := range r.Rows {
		mark := "  "
		if row.Regression {
			mark = "✗ "
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, row.What, row.Baseline, row.Current, row.Change)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%s\n", r.Summary())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func relChange(b, c float64) string {
	if b == 0 {
		if c == 0 {
			return "="
		}
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", 100*(c-b)/b)
}

func same(a, b string) string {
	if a == b {
		return "="
	}
	return "changed"
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func probeState(p journal.ProbeResult) string {
	switch {
	case p.Skipped:
		return "skipped"
	case p.Observed == nil:
		return okWord(p.OK)
	}
	return fmt.Sprintf("%s %.4g %s", strings.ToLower(okWord(p.OK)), *p.Observed, p.Unit)
}
