package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// charts draws the run's series: overall latency, throughput, errors and
// drops, and each journey's p95, all over the same time axis. With a
// baseline, its series go on the same charts, second by second from its
// own load start, as thin dashed lines named "baseline ...".
func charts(j, base *journal.Journal) []chartView {
	if len(j.Series) == 0 {
		return nil
	}
	tl := runTimeline(j)
	xs := seriesXs(j.Series)
	names := journeyNames(j.Series)
	if base != nil {
		names = journeyNames(slices.Concat(j.Series, base.Series))
		if n := len(base.Series); n > 0 {
			tl.xMax = math.Max(tl.xMax, base.Series[n-1].At.Seconds()+1)
		}
	}
	specs := []chartSpec{latencyChart(j, xs), throughputChart(j, xs), errorChart(j, xs), journeyChart(j, xs, names)}
	if base != nil {
		bxs := seriesXs(base.Series)
		for i, lines := range [][]lineSpec{latencyLines(base.Series), throughputLines(base.Series), errorLines(base.Series), journeyLines(base.Series, names)} {
			specs[i].lines = append(specs[i].lines, asBaseline(lines, bxs)...)
		}
	}
	views := make([]chartView, len(specs))
	for i, s := range specs {
		views[i] = tl.build(s)
	}
	return views
}

// seriesXs places each second at its middle: a second's value belongs there.
func seriesXs(series []load.SecondStats) []float64 {
	xs := make([]float64, len(series))
	for i, s := range series {
		xs[i] = s.At.Seconds() + 0.5
	}
	return xs
}

// asBaseline turns a baseline run's lines into overlays: same colour, thin
// and dashed, never filled, on the baseline's own seconds.
func asBaseline(lines []lineSpec, xs []float64) []lineSpec {
	out := make([]lineSpec, len(lines))
	for i, l := range lines {
		out[i] = lineSpec{name: "baseline " + l.name, color: l.color, dash: baselineDash, step: l.step, baseline: true, xs: xs, ys: l.ys}
	}
	return out
}

// runTimeline spans the load, however it ended: scheduled, as run, or as
// far as the series or a phase reaches.
func runTimeline(j *journal.Journal) timeline {
	xMax := math.Max(j.LoadSeconds, j.Load.Seconds)
	if n := len(j.Series); n > 0 {
		xMax = math.Max(xMax, j.Series[n-1].At.Seconds()+1)
	}
	for _, p := range j.Phases {
		xMax = math.Max(xMax, p.To)
	}
	tl := timeline{xMax: xMax}
	for _, f := range j.Faults {
		end := f.End
		if end < f.Start {
			end = f.Start
		}
		title := fmt.Sprintf("%s: %s on %s, %s to %s", f.Name, f.Type, f.Target, formatSeconds(f.Start), formatSeconds(f.End))
		if a := formatAttributes(f.Attributes); a != "" {
			title += "; " + a
		}
		if f.Error != "" {
			title += "; failed: " + f.Error
		}
		tl.faults = append(tl.faults, faultSpan{name: f.Name, title: title, from: f.Start, to: end, failed: f.Error != ""})
	}
	for _, p := range j.Phases {
		if p.To > p.From {
			tl.phases = append(tl.phases, phaseSpan{name: p.Name, from: p.From, to: p.To})
		}
	}
	if a := j.Aborted; a != nil {
		tl.abort = &markSpec{x: a.At, label: "aborted: " + a.Rule}
	}
	return tl
}

func latencyChart(j *journal.Journal, xs []float64) chartSpec {
	lines := latencyLines(j.Series)
	p50, p95, p99 := lines[0].ys, lines[1].ys, lines[2].ys
	hover := make([]string, len(j.Series))
	for i, s := range j.Series {
		at := formatSeconds(s.At.Seconds())
		if s.Requests == 0 {
			hover[i] = at + ": no requests"
			continue
		}
		hover[i] = fmt.Sprintf("%s: %s requests · p50 %s · p95 %s · p99 %s", at, formatCount(s.Requests), formatMs(p50[i]), formatMs(p95[i]), formatMs(p99[i]))
	}
	var limits []limitSpec
	for _, p := range j.Probes {
		if p.Unit == "ms" && p.Journey == "" && p.Endpoint == "" && strings.HasPrefix(p.Metric, "latency_") {
			limits = appendLimits(limits, p, colLimit)
		}
	}
	return chartSpec{
		id: "chart-latency", title: "Request latency",
		subtitle: "p50, p95 and p99 of every request finished in each second; linear scale, outliers cut off at the top edge",
		yLabel:   "ms", yUnit: "ms", plotH: 230, clip: true, xs: xs, hover: hover, limits: limits, lines: lines,
	}
}

// latencyLines are p50, p95 and p99 per second; a second without requests
// is a gap.
func latencyLines(series []load.SecondStats) []lineSpec {
	n := len(series)
	p50, p95, p99 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, s := range series {
		if s.Requests == 0 {
			p50[i], p95[i], p99[i] = math.NaN(), math.NaN(), math.NaN()
			continue
		}
		p50[i], p95[i], p99[i] = ms(s.P50), ms(s.P95), ms(s.P99)
	}
	return []lineSpec{
		{name: "p50", color: colP50, ys: p50},
		{name: "p95", color: colP95, ys: p95},
		{name: "p99", color: colP99, dash: "5 3", ys: p99},
	}
}

func throughputChart(j *journal.Journal, xs []float64) chartSpec {
	hover := make([]string, len(j.Series))
	for i, s := range j.Series {
		hover[i] = fmt.Sprintf("%s: %s requests · %s errors (%s) · %s iterations", formatSeconds(s.At.Seconds()),
			formatCount(s.Requests), formatCount(s.Errors), formatPercent(ratio(s.Errors, s.Requests)), formatCount(s.Iterations))
	}
	var limits []limitSpec
	for _, p := range j.Probes {
		if p.Metric == "throughput" && p.Journey == "" && p.Endpoint == "" {
			limits = appendLimits(limits, p, colLimit)
		}
	}
	return chartSpec{
		id: "chart-throughput", title: "Throughput",
		subtitle: "requests finished per second; errors (timeouts, transport errors, 5xx, unexpected 4xx) shaded",
		yLabel:   "req/s", yUnit: "req/s", plotH: 200, counts: true, xs: xs, hover: hover, limits: limits,
		lines: throughputLines(j.Series),
	}
}

func throughputLines(series []load.SecondStats) []lineSpec {
	req, errs := make([]float64, len(series)), make([]float64, len(series))
	for i, s := range series {
		req[i], errs[i] = float64(s.Requests), float64(s.Errors)
	}
	return []lineSpec{
		{name: "requests/s", color: colReq, ys: req},
		{name: "errors/s", color: colErr, area: true, step: true, ys: errs},
	}
}

func errorChart(j *journal.Journal, xs []float64) chartSpec {
	hover := make([]string, len(j.Series))
	var any bool
	for i, s := range j.Series {
		any = any || s.Errors > 0 || s.Dropped > 0
		hover[i] = fmt.Sprintf("%s: %s errors · %s iterations dropped", formatSeconds(s.At.Seconds()), formatCount(s.Errors), formatCount(s.Dropped))
	}
	spec := chartSpec{
		id: "chart-errors", title: "Errors and dropped iterations",
		subtitle: "per second, on their own scale; an iteration is dropped when max_in_flight iterations are already running",
		yLabel:   "per s", yUnit: "", plotH: 130, counts: true, xs: xs, hover: hover,
		lines: errorLines(j.Series),
	}
	if !any && len(j.Series) > 0 {
		spec.subtitle = "none in this run"
	}
	return spec
}

func errorLines(series []load.SecondStats) []lineSpec {
	errs, dropped := make([]float64, len(series)), make([]float64, len(series))
	for i, s := range series {
		errs[i], dropped[i] = float64(s.Errors), float64(s.Dropped)
	}
	return []lineSpec{
		{name: "errors/s", color: colErr, step: true, ys: errs},
		{name: "dropped iterations/s", color: colDropped, step: true, dash: "4 2", ys: dropped},
	}
}

func journeyChart(j *journal.Journal, xs []float64, names []string) chartSpec {
	n := len(j.Series)
	hover := make([]string, n)
	lines := journeyLines(j.Series, names)
	colour := map[string]string{}
	for _, l := range lines {
		colour[l.name] = l.color
	}
	for i, s := range j.Series {
		parts := []string{formatSeconds(s.At.Seconds())}
		for _, name := range names {
			if js, ok := s.Journeys[name]; ok && js.Iterations > 0 {
				fail := ""
				if js.Failures > 0 {
					fail = fmt.Sprintf(", %s failed", formatCount(js.Failures))
				}
				parts = append(parts, fmt.Sprintf("%s %s (%s it%s)", name, formatDur(js.P95), formatCount(js.Iterations), fail))
			}
		}
		if len(parts) == 1 {
			parts = append(parts, "no iterations")
		}
		hover[i] = parts[0] + ": " + strings.Join(parts[1:], " · ")
	}
	var limits []limitSpec
	for _, p := range j.Probes {
		if p.Unit == "ms" && p.Journey != "" && p.Metric == "latency_p95" {
			c, ok := colour[p.Journey]
			if !ok {
				c = colLimit
			}
			limits = appendLimits(limits, p, c)
		}
	}
	return chartSpec{
		id: "chart-journeys", title: "Journey p95",
		subtitle: "p95 of whole iterations finished in each second, from their scheduled start; linear scale, outliers cut off",
		yLabel:   "ms", yUnit: "ms", plotH: 230, clip: true, xs: xs, hover: hover, lines: lines, limits: limits,
	}
}

// journeyLines draws each journey of names the series has, its p95 per
// second; a journey's colour is its place in names, so that a run and its
// baseline agree on it.
func journeyLines(series []load.SecondStats, names []string) []lineSpec {
	has := map[string]bool{}
	for _, name := range journeyNames(series) {
		has[name] = true
	}
	var lines []lineSpec
	for k, name := range names {
		if !has[name] {
			continue
		}
		ys := make([]float64, len(series))
		for i, s := range series {
			js, ok := s.Journeys[name]
			if !ok || js.Iterations == 0 {
				ys[i] = math.NaN()
				continue
			}
			ys[i] = ms(js.P95)
		}
		dash := ""
		if k >= len(journeyCol) {
			dash = "6 3"
		}
		lines = append(lines, lineSpec{name: name, color: journeyCol[k%len(journeyCol)], dash: dash, ys: ys})
	}
	return lines
}

// appendLimits adds a probe's bounds as reference lines, once per probe
// name and value however many phases the probe covers.
func appendLimits(ls []limitSpec, p journal.ProbeResult, colour string) []limitSpec {
	add := func(v *float64, op string) {
		if v == nil {
			return
		}
		label := fmt.Sprintf("%s %s %s", p.Name, op, formatValue(*v))
		if p.Unit != "" && p.Unit != "count" && p.Unit != "ratio" {
			label += " " + p.Unit
		}
		for _, l := range ls {
			if l.label == label {
				return
			}
		}
		ls = append(ls, limitSpec{y: *v, label: label, color: colour})
	}
	add(p.Max, "≤")
	add(p.Min, "≥")
	return ls
}

func journeyNames(series []load.SecondStats) []string {
	var names []string
	for _, s := range series {
		for n := range s.Journeys {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
