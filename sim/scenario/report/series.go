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
// drops, and each journey's p95, all over the same time axis.
func charts(j *journal.Journal) []chartView {
	if len(j.Series) == 0 {
		return nil
	}
	tl := runTimeline(j)
	n := len(j.Series)
	xs := make([]float64, n)
	for i, s := range j.Series {
		xs[i] = s.At.Seconds() + 0.5 // a second's value belongs to its middle
	}
	return []chartView{
		tl.build(latencyChart(j, xs)),
		tl.build(throughputChart(j, xs)),
		tl.build(errorChart(j, xs)),
		tl.build(journeyChart(j, xs)),
	}
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
	n := len(j.Series)
	p50, p95, p99 := make([]float64, n), make([]float64, n), make([]float64, n)
	hover := make([]string, n)
	for i, s := range j.Series {
		at := formatSeconds(s.At.Seconds())
		if s.Requests == 0 {
			p50[i], p95[i], p99[i] = math.NaN(), math.NaN(), math.NaN()
			hover[i] = at + ": no requests"
			continue
		}
		p50[i], p95[i], p99[i] = ms(s.P50), ms(s.P95), ms(s.P99)
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
		yLabel:   "ms", yUnit: "ms", plotH: 230, clip: true, xs: xs, hover: hover, limits: limits,
		lines: []lineSpec{
			{name: "p50", color: colP50, ys: p50},
			{name: "p95", color: colP95, ys: p95},
			{name: "p99", color: colP99, dash: "5 3", ys: p99},
		},
	}
}

func throughputChart(j *journal.Journal, xs []float64) chartSpec {
	n := len(j.Series)
	req, errs := make([]float64, n), make([]float64, n)
	hover := make([]string, n)
	for i, s := range j.Series {
		req[i], errs[i] = float64(s.Requests), float64(s.Errors)
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
		lines: []lineSpec{
			{name: "requests/s", color: colReq, ys: req},
			{name: "errors/s", color: colErr, area: true, step: true, ys: errs},
		},
	}
}

func errorChart(j *journal.Journal, xs []float64) chartSpec {
	n := len(j.Series)
	errs, dropped := make([]float64, n), make([]float64, n)
	hover := make([]string, n)
	var any bool
	for i, s := range j.Series {
		errs[i], dropped[i] = float64(s.Errors), float64(s.Dropped)
		any = any || s.Errors > 0 || s.Dropped > 0
		hover[i] = fmt.Sprintf("%s: %s errors · %s iterations dropped", formatSeconds(s.At.Seconds()), formatCount(s.Errors), formatCount(s.Dropped))
	}
	spec := chartSpec{
		id: "chart-errors", title: "Errors and dropped iterations",
		subtitle: "per second, on their own scale; an iteration is dropped when max_in_flight iterations are already running",
		yLabel:   "per s", yUnit: "", plotH: 130, counts: true, xs: xs, hover: hover,
		lines: []lineSpec{
			{name: "errors/s", color: colErr, step: true, ys: errs},
			{name: "dropped iterations/s", color: colDropped, step: true, dash: "4 2", ys: dropped},
		},
	}
	if !any && n > 0 {
		spec.subtitle = "none in this run"
	}
	return spec
}

func journeyChart(j *journal.Journal, xs []float64) chartSpec {
	names := journeyNames(j.Series)
	n := len(j.Series)
	hover := make([]string, n)
	lines := make([]lineSpec, len(names))
	colour := map[string]string{}
	for k, name := range names {
		ys := make([]float64, n)
		for i, s := range j.Series {
			js, ok := s.Journeys[name]
			if !ok || js.Iterations == 0 {
				ys[i] = math.NaN()
				continue
			}
			ys[i] = ms(js.P95)
		}
		c := journeyCol[k%len(journeyCol)]
		dash := ""
		if k >= len(journeyCol) {
			dash = "6 3"
		}
		colour[name] = c
		lines[k] = lineSpec{name: name, color: c, dash: dash, ys: ys}
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
