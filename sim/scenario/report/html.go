package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

//go:embed report.html.tmpl
var pageSource string

// pageTemplate draws the page, charts included. Nothing reaches it as
// template.HTML: every string from the journal is escaped for where it lands.
var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f": f1,
}).Parse(pageSource))

// WriteHTML writes the run as one self-contained HTML page: inline CSS,
// charts as inline SVG, no script and nothing fetched from the network, so
// it opens offline and as a CI artifact.
func WriteHTML(w io.Writer, j *journal.Journal) error {
	return pageTemplate.Execute(w, newPage(j, nil))
}

// Comparison is a baseline run and how a run compares with it, as
// `shoplab diff` found.
type Comparison struct {
	Name     string           // how the page names the baseline: its run dir or bundle
	Baseline *journal.Journal // its series are drawn over the run's
	Result   diff.Result      // diff.Compare(run, baseline, ...)
}

// WriteHTMLCompared writes the run's page as WriteHTML does, with the
// baseline's series overlaid on every chart and the comparison's table
// at the top. Runs of different scenarios are refused, as diff.Compare
// refuses them.
func WriteHTMLCompared(w io.Writer, j *journal.Journal, c Comparison) error {
	if c.Baseline == nil {
		return fmt.Errorf("no baseline journal to compare with")
	}
	if c.Baseline.Scenario != j.Scenario || c.Result.Scenario != j.Scenario {
		return fmt.Errorf("the run is of scenario %q, the baseline of %q and the comparison of %q", j.Scenario, c.Baseline.Scenario, c.Result.Scenario)
	}
	return pageTemplate.Execute(w, newPage(j, &c))
}

type page struct {
	J          *journal.Journal
	Compared   *comparedView // nil without a baseline
	Pass       bool
	Verdict    string
	Expected   string
	Matched    bool
	Abort      *journal.Abort
	AbortAt    string
	Facts      []fact
	Headline   []fact
	Charts     []chartView
	Probes     []probeRow
	ProbeSum   string
	Recovery   []recoveryRow
	RecSum     string
	Invariants []invariantRow
	InvSum     string
	Faults     []faultRow
	Phases     []phaseRow
	Journeys   []group
	Endpoints  []group
	Load       []fact
}

// comparedView is the baseline as the page names it, and the comparison.
type comparedView struct {
	Name, Scenario, Started, Verdict string
	Seed                             uint64
	Rows                             []diff.Row
	Sum                              string
}

type fact struct {
	Name, Value string
	Bad         bool
}

type probeRow struct {
	Name, Phase, Condition, Observed, Detail string
	Status                                   status
}

type recoveryRow struct {
	Name, Condition, Within, Recovered, Detail string
	Status                                     status
}

type invariantRow struct {
	Name, Detail string
	Status       status
}

type faultRow struct {
	Name, Target, Type, Attributes, Start, End, Error string
}

// status is a check's outcome as the page shows it.
type status struct {
	Text, Class string
}

var (
	statusOK      = status{"ok", "ok"}
	statusFail    = status{"FAIL", "fail"}
	statusSkipped = status{"skipped", "skip"}
)

type phaseRow struct {
	Name, Range, Seconds                             string
	Requests, Errors, ErrorRate, Throughput          string
	Iterations, Failures, Dropped, P50, P95, P99     string
	Total, HasErrors, HasFailures, HasDropped, Empty bool
}

// group is one journey or endpoint and its stats in every phase, so that
// before, during and after sit on adjacent rows.
type group struct {
	Name string
	Rows []groupRow
}

type groupRow struct {
	Phase                                    string
	Total                                    bool
	Count, Errors, Rate, Dropped, Throughput string
	P50, P95, P99                            string
	Bad                                      bool
}

func newPage(j *journal.Journal, c *Comparison) page {
	p := page{
		J:        j,
		Pass:     j.Verdict == journal.Pass,
		Verdict:  strings.ToUpper(j.Verdict),
		Expected: expected(j),
		Matched:  j.Verdict == expected(j),
		Abort:    j.Aborted,
	}
	if p.Verdict == "" {
		p.Verdict = "NO VERDICT"
	}
	if j.Aborted != nil {
		p.AbortAt = formatSeconds(j.Aborted.At)
	}
	p.Facts = facts(j)
	if total, ok := j.PhaseStat["total"]; ok {
		p.Headline = headline(total)
	}
	var base *journal.Journal
	if c != nil {
		base = c.Baseline
		p.Compared = &comparedView{
			Name: c.Name, Scenario: base.Scenario, Started: startedAt(base), Verdict: base.Verdict, Seed: base.Seed,
			Rows: c.Result.Rows, Sum: c.Result.Summary(),
		}
	}
	p.Charts = charts(j, base)
	p.Probes, p.ProbeSum = probeRows(j.Probes)
	p.Recovery, p.RecSum = recoveryRows(j.Recovery)
	p.Invariants, p.InvSum = invariantRows(j.Invariants)
	for _, f := range j.Faults {
		p.Faults = append(p.Faults, faultRow{
			Name: f.Name, Target: f.Target, Type: f.Type, Attributes: formatAttributes(f.Attributes),
			Start: formatSeconds(f.Start), End: formatSeconds(f.End), Error: f.Error,
		})
	}
	order := phaseOrder(j)
	p.Phases = phaseRows(j, order)
	p.Journeys, p.Endpoints = groups(j, order)
	p.Load = loadFacts(j.Load)
	return p
}

func facts(j *journal.Journal) []fact {
	short := "no"
	if j.Short {
		short = "yes (--short)"
	}
	scale := "×1 (times as written)"
	if j.ScaleFactor != 0 && j.ScaleFactor != 1 {
		scale = fmt.Sprintf("×%s (times in the file multiplied by this)", formatTick(j.ScaleFactor))
	}
	fs := []fact{
		{Name: "file", Value: j.File},
		{Name: "seed", Value: fmt.Sprint(j.Seed)},
		{Name: "short", Value: short},
		{Name: "scale", Value: scale},
		{Name: "started", Value: startedAt(j)},
		{Name: "run time", Value: formatSeconds(round1(j.Seconds))},
		{Name: "load", Value: fmt.Sprintf("%s scheduled, %s ran", formatSeconds(round1(j.LoadSeconds)), formatSeconds(round1(j.Load.Seconds)))},
	}
	if j.File == "" {
		fs = fs[1:]
	}
	return fs
}

func startedAt(j *journal.Journal) string {
	if j.StartedAt.IsZero() {
		return "–"
	}
	return j.StartedAt.UTC().Format(time.RFC3339)
}

func headline(t load.Stats) []fact {
	return []fact{
		{Name: "requests", Value: formatCount(t.Requests)},
		{Name: "throughput", Value: fmt.Sprintf("%.1f req/s", t.Throughput)},
		{Name: "error rate", Value: formatPercent(t.ErrorRate), Bad: t.Errors > 0},
		{Name: "p50", Value: formatDur(t.P50)},
		{Name: "p95", Value: formatDur(t.P95)},
		{Name: "p99", Value: formatDur(t.P99)},
		{Name: "iterations", Value: formatCount(t.Iterations)},
		{Name: "failed iterations", Value: formatCount(t.Failures), Bad: t.Failures > 0},
		{Name: "dropped iterations", Value: formatCount(t.Dropped), Bad: t.Dropped > 0},
	}
}

func loadFacts(l journal.LoadSummary) []fact {
	return []fact{
		{Name: "executor", Value: l.Executor},
		{Name: "peak arrival rate", Value: fmt.Sprintf("%s it/s", formatValue(l.PeakRate))},
		{Name: "iterations scheduled", Value: formatCount(l.Scheduled)},
		{Name: "iterations started", Value: formatCount(l.Started)},
		{Name: "iterations dropped", Value: formatCount(l.Dropped), Bad: l.Dropped > 0},
		{Name: "load ran for", Value: formatSeconds(round1(l.Seconds))},
		{Name: "order attempts", Value: formatCount(int64(l.Orders))},
		{Name: "unknown outcomes settled", Value: formatCount(int64(l.Settled))},
		{Name: "still unknown", Value: formatCount(int64(l.Unknown)), Bad: l.Unknown > 0},
	}
}

func probeRows(ps []journal.ProbeResult) ([]probeRow, string) {
	var rows []probeRow
	var ok, failed, skipped int
	for _, p := range ps {
		st := probeStatus(p)
		switch st {
		case statusFail:
			failed++
		case statusSkipped:
			skipped++
		default:
			ok++
		}
		rows = append(rows, probeRow{
			Name: p.Name, Phase: p.Phase, Condition: p.Condition, Observed: formatObserved(p.Observed, p.Unit), Detail: p.Detail, Status: st,
		})
	}
	return rows, summary(ok, failed, skipped)
}

// probeStatus is a probe's outcome: a failure stays a failure even when
// the phase was empty, since it fails the verdict.
func probeStatus(p journal.ProbeResult) status {
	switch {
	case !p.OK:
		return statusFail
	case p.Skipped:
		return statusSkipped
	}
	return statusOK
}

func recoveryRows(rs []journal.RecoveryResult) ([]recoveryRow, string) {
	var rows []recoveryRow
	var ok, failed int
	for _, r := range rs {
		st := statusOK
		if r.OK {
			ok++
		} else {
			st = statusFail
			failed++
		}
		rec := "never"
		if r.Recovered != nil {
			rec = "after " + formatSeconds(round1(*r.Recovered))
		}
		rows = append(rows, recoveryRow{
			Name: r.Name, Condition: r.Condition,
			Within: formatSeconds(r.Within), Recovered: rec, Detail: r.Detail, Status: st,
		})
	}
	return rows, summary(ok, failed, 0)
}

func invariantRows(is []journal.Invariant) ([]invariantRow, string) {
	var rows []invariantRow
	var ok, failed int
	for _, i := range is {
		st := statusOK
		if i.OK {
			ok++
		} else {
			st = statusFail
			failed++
		}
		rows = append(rows, invariantRow{Name: i.Name, Detail: i.Detail, Status: st})
	}
	return rows, summary(ok, failed, 0)
}

func summary(ok, failed, skipped int) string {
	parts := []string{fmt.Sprintf("%d ok", ok)}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", skipped))
	}
	return strings.Join(parts, ", ")
}

// phaseOrder lists the PhaseStat keys: the phases in run order, then any
// other key sorted, then "total".
func phaseOrder(j *journal.Journal) []string {
	var order []string
	seen := map[string]bool{"total": true}
	for _, p := range j.Phases {
		if _, ok := j.PhaseStat[p.Name]; ok && !seen[p.Name] {
			order = append(order, p.Name)
			seen[p.Name] = true
		}
	}
	var rest []string
	for name := range j.PhaseStat {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	order = append(order, rest...)
	if _, ok := j.PhaseStat["total"]; ok {
		order = append(order, "total")
	}
	return order
}

func phaseRows(j *journal.Journal, order []string) []phaseRow {
	var rows []phaseRow
	for _, name := range order {
		s := j.PhaseStat[name]
		rows = append(rows, phaseRow{
			Name:       name,
			Range:      fmt.Sprintf("%s – %s", formatSeconds(s.From.Seconds()), formatSeconds(s.To.Seconds())),
			Seconds:    formatSeconds(round1(s.Seconds)),
			Requests:   formatCount(s.Requests),
			Errors:     formatCount(s.Errors),
			ErrorRate:  formatPercent(s.ErrorRate),
			Throughput: fmt.Sprintf("%.1f", s.Throughput),
			Iterations: formatCount(s.Iterations),
			Failures:   formatCount(s.Failures),
			Dropped:    formatCount(s.Dropped),
			P50:        formatDur(s.P50), P95: formatDur(s.P95), P99: formatDur(s.P99),
			Total:     name == "total",
			HasErrors: s.Errors > 0, HasFailures: s.Failures > 0, HasDropped: s.Dropped > 0,
			Empty: s.Requests == 0 && s.Iterations == 0,
		})
	}
	return rows
}

func groups(j *journal.Journal, order []string) (journeys, endpoints []group) {
	var jNames, eNames []string
	for _, st := range j.PhaseStat {
		for n := range st.Journeys {
			jNames = append(jNames, n)
		}
		for n := range st.Endpoints {
			eNames = append(eNames, n)
		}
	}
	slices.Sort(jNames)
	slices.Sort(eNames)
	for _, n := range slices.Compact(jNames) {
		g := group{Name: n}
		for _, ph := range order {
			s, ok := j.PhaseStat[ph].Journeys[n]
			if !ok {
				continue
			}
			g.Rows = append(g.Rows, groupRow{
				Phase: ph, Total: ph == "total",
				Count: formatCount(s.Iterations), Errors: formatCount(s.Failures),
				Rate: formatPercent(ratio(s.Failures, s.Iterations)), Dropped: formatCount(s.Dropped),
				P50: formatDur(s.P50), P95: formatDur(s.P95), P99: formatDur(s.P99),
				Bad: s.Failures > 0 || s.Dropped > 0,
			})
		}
		journeys = append(journeys, g)
	}
	for _, n := range slices.Compact(eNames) {
		g := group{Name: n}
		for _, ph := range order {
			s, ok := j.PhaseStat[ph].Endpoints[n]
			if !ok {
				continue
			}
			g.Rows = append(g.Rows, groupRow{
				Phase: ph, Total: ph == "total",
				Count: formatCount(s.Requests), Errors: formatCount(s.Errors),
				Rate: formatPercent(s.ErrorRate), Throughput: fmt.Sprintf("%.1f", s.Throughput),
				P50: formatDur(s.P50), P95: formatDur(s.P95), P99: formatDur(s.P99),
				Bad: s.Errors > 0,
			})
		}
		endpoints = append(endpoints, g)
	}
	return journeys, endpoints
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
