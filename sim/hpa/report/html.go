// Package report writes what `shoplab hpa simulate` and `check` produce
// from a platform.Timeline: a self-contained HTML report with inline SVG
// charts, a JUnit file for CI and a plain-text table for the terminal.
package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// Colours of the charts, chosen to stay apart for the common forms of
// colour blindness.
const (
	colReplicas = "#1f5fa8"
	colReady    = "#5fa3e0"
	colCPU      = "#c4500e"
	colMemory   = "#6a3d9a"
	colTarget   = "#b2182b"
	colLatency  = "#1b7837"
	colBounds   = "#777777"
	colSat      = "rgba(214,39,40,0.14)"
	colOOM      = "rgba(106,61,154,0.16)"
)

var journeyColours = []string{"#1f5fa8", "#c4500e", "#1b7837", "#6a3d9a", "#8c6d31", "#d6616b"}

// HTML writes the report of a simulation; outcomes, when not nil, are the
// results of `hpa check` and come first.
func HTML(w io.Writer, tl *platform.Timeline, outcomes []platform.Outcome) error {
	page := pageData{
		Title:     title(tl),
		TL:        tl,
		Outcomes:  outcomes,
		Estimated: tl.ProfileSource != "measured",
		Load:      template.HTML(loadChart(tl).svg()),
	}
	for _, o := range outcomes {
		if !o.OK {
			page.Failed++
		}
	}
	for _, u := range tl.Units {
		page.Units = append(page.Units, unitSection(tl, u))
	}
	return pageTemplate.Execute(w, page)
}

type pageData struct {
	Title     string
	TL        *platform.Timeline
	Outcomes  []platform.Outcome
	Failed    int
	Estimated bool
	Load      template.HTML
	Units     []unitData
}

type unitData struct {
	U        *platform.UnitTimeline
	Scaling  string
	Replicas template.HTML
	Util     template.HTML
	Latency  template.HTML
	Row      summaryRow
}

type summaryRow struct {
	Replicas, FirstUp, PeakCPU, PeakMemory, MaxP95, Saturated, Dropped, OOM, PodHours, CPUUse string
	Bad                                                                                       bool
}

func title(tl *platform.Timeline) string {
	if tl.Scenario != "" {
		return "HPA twin: " + tl.Scenario
	}
	return "HPA twin simulation"
}

func times(u *platform.UnitTimeline) []float64 {
	xs := make([]float64, len(u.Points))
	for i, p := range u.Points {
		xs[i] = float64(p.T)
	}
	return xs
}

func loadChart(tl *platform.Timeline) *chart {
	c := &chart{title: "Load: journey iterations started per second", yLabel: "iterations/s", xMax: float64(tl.Until)}
	xs := make([]float64, len(tl.Load))
	total := make([]float64, len(tl.Load))
	for i, p := range tl.Load {
		xs[i], total[i] = float64(p.T), p.Rate
	}
	c.series = append(c.series, series{name: "total", color: "#222222", xs: xs, ys: total})
	for j, name := range tl.Journeys {
		ys := make([]float64, len(tl.Load))
		for i, p := range tl.Load {
			ys[i] = p.PerJourney[j]
		}
		c.series = append(c.series, series{name: name, color: journeyColours[j%len(journeyColours)], dash: "4 2", xs: xs, ys: ys})
	}
	c.vlines = loadEnd(tl)
	return c
}

func loadEnd(tl *platform.Timeline) []vline {
	if tl.LoadEnd > 0 && tl.LoadEnd < tl.Until {
		return []vline{{x: float64(tl.LoadEnd), label: "load ends"}}
	}
	return nil
}

// spans turns the points where flag holds into shaded bands, each from the
// sync before the first such point to the last one.
func spans(u *platform.UnitTimeline, flag func(platform.Point) bool, colour, label string) []band {
	var out []band
	for i, p := range u.Points {
		if !flag(p) {
			continue
		}
		from := float64(p.T)
		if i > 0 {
			from = float64(u.Points[i-1].T)
		}
		if n := len(out); n > 0 && out[n-1].to == from {
			out[n-1].to = float64(p.T)
			continue
		}
		out = append(out, band{from: from, to: float64(p.T), color: colour, label: label})
	}
	return out
}

func unitSection(tl *platform.Timeline, u *platform.UnitTimeline) unitData {
	xs := times(u)
	xMax := float64(tl.Until)
	saturated := spans(u, func(p platform.Point) bool { return p.Saturated }, colSat, "saturated: requests arrive faster than the Ready pods serve them")
	oom := spans(u, func(p platform.Point) bool { return p.OverMemoryLimit }, colOOM, "memory per pod above the limit: OOM kills")

	replicas := make([]float64, len(xs))
	ready := make([]float64, len(xs))
	cpu := make([]float64, len(xs))
	mem := make([]float64, len(xs))
	p95 := make([]float64, len(xs))
	for i, p := range u.Points {
		replicas[i], ready[i] = float64(p.Replicas), float64(p.Ready)
		cpu[i], mem[i] = p.CPUUtilization, p.MemoryUtilization
		p95[i] = math.NaN()
		if p.P95 != nil {
			p95[i] = *p.P95
		}
	}

	rc := &chart{title: "Replicas", yLabel: "pods", xMax: xMax, counts: true, yMax: float64(u.Summary.MaxReplicas) + 1, bands: saturated, vlines: loadEnd(tl)}
	rc.series = []series{
		{name: "replicas", color: colReplicas, step: true, xs: xs, ys: replicas},
		{name: "ready", color: colReady, dash: "4 3", step: true, xs: xs, ys: ready},
	}
	scaling := fmt.Sprintf("fixed at %d replicas (no HPA)", u.FixedReplicas)
	if h := u.HPA; h != nil {
		rc.hlines = []hline{
			{y: float64(h.MinReplicas), color: colBounds, label: "min"},
			{y: float64(h.MaxReplicas), color: colBounds, label: "max"},
		}
		rc.yMax = float64(h.MaxReplicas) + 1
		scaling = fmt.Sprintf("HPA %s: %d-%d replicas on %s", h.Name, h.MinReplicas, h.MaxReplicas, strings.Join(h.Targets, ", "))
	}

	uc := &chart{title: "Utilization (percent of the Ready pods' requests)", yLabel: "%", xMax: xMax, bands: oom, vlines: loadEnd(tl)}
	uc.series = []series{
		{name: "cpu", color: colCPU, xs: xs, ys: cpu},
		{name: "memory", color: colMemory, xs: xs, ys: mem},
	}
	if h := u.HPA; h != nil && h.TargetUtilization > 0 {
		uc.hlines = []hline{{y: float64(h.TargetUtilization), color: colTarget, label: h.TargetResource + " target"}}
	}

	lc := &chart{title: "Modelled p95 latency of a call in the unit (without its callees)", yLabel: "ms", xMax: xMax, bands: saturated, vlines: loadEnd(tl)}
	lc.series = []series{{name: "p95", color: colLatency, xs: xs, ys: p95}}

	return unitData{
		U: u, Scaling: scaling,
		Replicas: template.HTML(rc.svg()),
		Util:     template.HTML(uc.svg()),
		Latency:  template.HTML(lc.svg()),
		Row:      row(u),
	}
}

func row(u *platform.UnitTimeline) summaryRow {
	s := u.Summary
	r := summaryRow{
		Replicas:   fmt.Sprintf("%d-%d (ends at %d, %d changes)", s.MinReplicas, s.MaxReplicas, s.FinalReplicas, s.Changes),
		FirstUp:    "none",
		PeakCPU:    fmt.Sprintf("%.0f%%", s.PeakCPUPercent),
		PeakMemory: fmt.Sprintf("%.0f%%", s.PeakMemoryPercent),
		MaxP95:     "-",
		Saturated:  formatSeconds(float64(s.SaturatedSeconds)),
		Dropped:    fmt.Sprintf("%.0f", s.Dropped),
		OOM:        "-",
		PodHours:   fmt.Sprintf("%.2f", float64(s.PodSeconds)/3600),
		CPUUse:     "-",
	}
	if s.FirstScaleUp >= 0 {
		r.FirstUp = formatSeconds(float64(s.FirstScaleUp))
	}
	if s.MaxP95 != nil {
		r.MaxP95 = fmt.Sprintf("%.1f ms", *s.MaxP95)
	}
	if s.OverMemoryLimitSyncs > 0 {
		r.OOM = fmt.Sprintf("%d syncs", s.OverMemoryLimitSyncs)
	}
	if s.CPUReservedCoreSecs > 0 {
		r.CPUUse = fmt.Sprintf("%.0f%%", 100*s.CPUUsedCoreSecs/s.CPUReservedCoreSecs)
	}
	r.Bad = s.SaturatedSeconds > 0 || s.OverMemoryLimitSyncs > 0 || s.Dropped > 0
	return r
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"seconds": func(s int64) string { return formatSeconds(float64(s)) },
	"mib":     func(b int64) string { return fmt.Sprintf("%.0fMi", float64(b)/(1<<20)) },
	"join":    func(ss []string) string { return strings.Join(slices.Clone(ss), ", ") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 2px;border-top:1px solid #ddd;padding-top:16px}
.meta{color:#555}.warn{background:#fff4d6;border:1px solid #e8c46a;padding:8px 12px;border-radius:4px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.ok{color:#1b7837;font-weight:600}td.bad{color:#b2182b;font-weight:600}tr.bad td:first-child{border-left:3px solid #b2182b}
svg{display:block;margin:6px 0}svg text{font-family:system-ui,sans-serif}
details{margin:12px 0}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">overlay <b>{{or .TL.Overlay "?"}}</b> · cost profile <b>{{.TL.ProfileSource}}</b> · traffic ×{{.TL.TrafficScale}} the scenario's load · load {{seconds .TL.LoadEnd}}, simulated to {{seconds .TL.Until}} · HPA sync every {{.TL.SyncSeconds}}s · journeys {{join .TL.Journeys}}</p>
{{if .Estimated}}<p class="warn">The cost profile is <b>estimated</b>, not measured: replica counts and latencies are only as good as its guesses. Run <code>shoplab calibrate</code> to measure it.</p>{{end}}
{{if .Outcomes}}
<h2>Expectations: {{if .Failed}}{{.Failed}} broken{{else}}all hold{{end}}</h2>
<table><tr><th>Deployment</th><th>expectation</th><th>observed</th><th></th></tr>
{{range .Outcomes}}<tr{{if not .OK}} class="bad"{{end}}><td>{{.Unit}}</td><td>{{.Expectation}}</td><td>{{.Observed}}</td>{{if .OK}}<td class="ok">ok</td>{{else}}<td class="bad">FAIL</td>{{end}}</tr>
{{end}}</table>
{{end}}
<h2>Summary</h2>
<table><tr><th>Deployment</th><th>scaling</th><th>replicas</th><th>first scale-up</th><th>peak CPU</th><th>peak memory</th><th>max p95</th><th>saturated</th><th>requests dropped</th><th>over memory limit</th><th>pod-hours</th><th>CPU used / requested</th></tr>
{{range .Units}}<tr{{if .Row.Bad}} class="bad"{{end}}><td>{{.U.Name}}</td><td>{{.Scaling}}</td><td>{{.Row.Replicas}}</td><td>{{.Row.FirstUp}}</td><td>{{.Row.PeakCPU}}</td><td>{{.Row.PeakMemory}}</td><td>{{.Row.MaxP95}}</td><td>{{.Row.Saturated}}</td><td>{{.Row.Dropped}}</td><td>{{.Row.OOM}}</td><td>{{.Row.PodHours}}</td><td>{{.Row.CPUUse}}</td></tr>
{{end}}</table>
<details><summary>How to read this report</summary>
<p>Each Deployment of the overlay has three charts over simulated time. <b>Replicas</b>: the scale the HPA (or the fixed count) sets, solid, and the pods Ready, dashed; a new pod counts as Ready only after its startup time, and only Ready pods serve. <b>Utilization</b>: CPU used by the Ready pods, averaged over the metric window and capped by their limits, and memory per pod, both in percent of the requests; the dashed red line is the HPA's target. <b>Latency</b>: the modelled p95 of one call inside the unit (an M/M/c queue on the pods' CPU plus the call's own I/O), not counting the calls it makes to other units. Red bands mark saturation: requests arrive faster than the Ready pods can serve them, and a backlog builds up, up to the call timeout (3 s), beyond which requests are dropped; purple bands mark memory above the limit, where the kubelet would OOM-kill pods. The dashed vertical line is the end of the load.</p>
<p>The numbers come from the HPA controller's own rules (sim/hpa) applied to the rendered manifests, and from the cost profile. Node capacity, the cluster autoscaler, metrics-server jitter, pod restarts and client timeouts are not modelled: see docs/hpa-twin.md.</p>
</details>
<h2>Load</h2>
{{.Load}}
{{range .Units}}
<h2>{{.U.Name}}</h2>
<p class="meta">{{.Scaling}} · requests {{.U.CPURequestMilli}}m CPU, {{mib .U.MemoryRequestBytes}} memory · limits {{.U.CPULimitMilli}}m, {{mib .U.MemoryLimitBytes}} · {{.U.ServersPerPod}} CPU server(s) per pod · pod startup {{.U.StartupSeconds}}s</p>
{{.Replicas}}
{{.Util}}
{{.Latency}}
{{end}}
</body>
</html>
`))
