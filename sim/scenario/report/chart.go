package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// A chart is computed here as pixel geometry and drawn by the page template,
// so every label that comes from the journal (fault, phase, journey and
// probe names) goes through html/template's escaping like the rest of the
// page; no SVG is assembled from strings.

// Chart geometry, in SVG user units; the SVG scales to the page width.
const (
	chartW     = 960.0
	chartPadL  = 64.0
	chartPadR  = 18.0
	laneH      = 14.0 // one row of fault labels above the plot
	chartPadB  = 60.0 // tick labels, phase strip and the x axis title
	hoverLimit = 1200 // seconds; longer runs get no per-second tooltips
)

// Colours, chosen to stay apart for the common forms of colour blindness;
// bands are pale so the lines stay readable on top of them.
var (
	colP50     = "#6baed6"
	colP95     = "#2171b5"
	colP99     = "#08306b"
	colReq     = "#2171b5"
	colErr     = "#d62728"
	colDropped = "#ff7f0e"
	colLimit   = "#b2182b"
	colAbort   = "#b2182b"
	bandCols   = []string{"#f28e2b", "#b07aa1", "#59a14f", "#e15759"}
	journeyCol = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f", "#edc948", "#ff9da7", "#bab0ac"}
)

// chartSpec is what a chart shows, in data units.
type chartSpec struct {
	id, title, subtitle string
	yLabel              string
	yUnit               string // appended to values in tooltips and notes
	plotH               float64
	counts              bool // integer ticks only
	clip                bool // cut outliers off instead of stretching the axis
	xs                  []float64
	lines               []lineSpec
	limits              []limitSpec
	hover               []string // one tooltip per x, "" for none
}

type lineSpec struct {
	name     string
	color    string
	dash     string
	area     bool      // fill down to zero
	step     bool      // hold each value for its whole second
	baseline bool      // a baseline run's overlay: drawn thin, under the run's lines
	xs       []float64 // the line's own seconds; nil for the chart's
	ys       []float64 // NaN leaves a gap
}

// baselineDash tells a baseline's line from the run's of the same colour.
const baselineDash = "1.5 2.5"

type limitSpec struct {
	y     float64
	label string
	color string
}

// timeline is what every chart of a run shares: fault bands, phases and the
// abort mark.
type timeline struct {
	xMax   float64
	faults []faultSpan
	phases []phaseSpan
	abort  *markSpec
}

type faultSpan struct {
	name, title string
	from, to    float64
	failed      bool
}

type phaseSpan struct {
	name     string
	from, to float64
}

type markSpec struct {
	x     float64
	label string
}

// chartView is the geometry the template draws.
type chartView struct {
	ID, Title, Subtitle string
	W, H                float64
	PlotX, PlotY        float64
	PlotW, PlotH        float64
	PlotB, PlotR        float64 // bottom and right edges
	YLabel              string
	YLabelX, YLabelY    float64
	XLabel              string
	XLabelX, XLabelY    float64
	XTickY, TickEnd     float64 // x tick labels; end of the tick marks
	YTicks, XTicks      []tickView
	Bands               []bandView
	Phases              []phaseView
	StripY              float64
	Boundaries          []float64 // x of phase boundaries inside the plot
	Marks               []markView
	Limits              []limitView
	Lines               []lineView
	Clips               []clipView
	Hover               []hoverView
	Legend              []legendView
	Notes               []string
	Empty               bool
}

type tickView struct {
	Pos   float64
	Label string
}

type bandView struct {
	X, W           float64
	LabelX, LabelY float64
	Label, Title   string
	Color          string
	Failed         bool
}

type phaseView struct {
	X, W, Mid float64
	Name      string
	Title     string
	Shade     bool
}

type markView struct {
	X, LabelY float64
	Label     string
	Color     string
}

type limitView struct {
	Y, LabelX float64
	Label     string
	Color     string
}

type lineView struct {
	Name, Color, Dash string
	D                 string
	Area, Baseline    bool
}

type clipView struct {
	D     string // a small triangle on the top edge
	Color string
	Title string
}

type hoverView struct {
	X, W  float64
	Title string
}

type legendView struct {
	Name, Color, Dash string
	Area, Baseline    bool
}

// build lays out spec over the run's timeline.
func (tl timeline) build(spec chartSpec) chartView {
	xMax := math.Max(tl.xMax, 1)
	lanes, laneOf, labelAt := faultLanes(tl.faults, xMax)
	top := 10 + float64(max(lanes, 1))*laneH
	v := chartView{
		ID: spec.id, Title: spec.title, Subtitle: spec.subtitle,
		W: chartW, PlotX: chartPadL, PlotY: top,
		PlotW: chartW - chartPadL - chartPadR, PlotH: spec.plotH,
		YLabel: spec.yLabel,
		XLabel: "seconds from the start of the load",
	}
	v.PlotB, v.PlotR = v.PlotY+v.PlotH, v.PlotX+v.PlotW
	v.H = v.PlotB + chartPadB
	v.XTickY, v.TickEnd = v.PlotB+15, v.PlotB+4
	v.StripY = v.PlotB + 22
	v.XLabelX, v.XLabelY = v.PlotX+v.PlotW/2, v.PlotB+52
	v.YLabelX, v.YLabelY = 16, v.PlotY+v.PlotH/2
	px := func(s float64) float64 { return v.PlotX + clamp(s, 0, xMax)/xMax*v.PlotW }

	// y scale.
	var all []float64
	for _, l := range spec.lines {
		for _, y := range l.ys {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				all = append(all, y)
			}
		}
	}
	v.Empty = len(all) == 0
	var limits []float64
	for _, l := range spec.limits {
		limits = append(limits, l.y)
	}
	top0, clipped := yTop(all, limits, spec.clip)
	step := niceStep(top0, 5)
	if spec.counts {
		step = math.Max(step, 1)
	}
	yMax := math.Max(step, math.Ceil(top0/step-1e-9)*step)
	py := func(y float64) float64 { return v.PlotB - clamp(y, 0, yMax)/yMax*v.PlotH }
	for i := 0.0; i*step <= yMax+step/2; i++ {
		v.YTicks = append(v.YTicks, tickView{Pos: py(i * step), Label: formatTick(i * step)})
	}
	xStep := niceTimeStep(xMax)
	for i := 0.0; i*xStep <= xMax+1e-9; i++ {
		v.XTicks = append(v.XTicks, tickView{Pos: px(i * xStep), Label: formatTick(i * xStep)})
	}

	// Faults, one lane of labels each so that overlapping faults stay legible.
	for i, f := range tl.faults {
		x0, x1 := px(f.from), px(f.to)
		label := f.name
		if f.failed {
			label += " (failed)"
		}
		v.Bands = append(v.Bands, bandView{
			X: x0, W: math.Max(x1-x0, 2),
			LabelX: v.PlotX + labelAt[i] + 2, LabelY: v.PlotY - 4 - float64(laneOf[i])*laneH,
			Label: label, Title: f.title, Color: bandCols[i%len(bandCols)], Failed: f.failed,
		})
	}
	for i, p := range tl.phases {
		x0, x1 := px(p.from), px(p.to)
		v.Phases = append(v.Phases, phaseView{
			X: x0, W: x1 - x0, Mid: (x0 + x1) / 2, Name: p.name,
			Title: fmt.Sprintf("%s: %s to %s", p.name, formatSeconds(p.from), formatSeconds(p.to)),
			Shade: i%2 == 0,
		})
		// A boundary within half a second of the axis's ends is the end.
		if p.from >= 0.5 && p.from < xMax-0.5 {
			v.Boundaries = appendOnce(v.Boundaries, x0)
		}
		if p.to >= 0.5 && p.to < xMax-0.5 {
			v.Boundaries = appendOnce(v.Boundaries, x1)
		}
	}
	if tl.abort != nil {
		v.Marks = append(v.Marks, markView{X: px(tl.abort.x), LabelY: v.PlotY + 11, Label: tl.abort.label, Color: colAbort})
	}

	// Reference levels; one beyond the axis is named in a note instead.
	for _, l := range spec.limits {
		if l.y > yMax {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: the level is above the axis.", l.label))
			continue
		}
		v.Limits = append(v.Limits, limitView{Y: py(l.y), LabelX: v.PlotR - 3, Label: l.label, Color: l.color})
	}

	// Lines, and a mark on the top edge for every point cut off.
	var nClipped int
	var worst struct {
		y, x float64
		name string
	}
	for _, l := range spec.lines {
		xs := spec.xs
		if l.xs != nil {
			xs = l.xs
		}
		v.Legend = append(v.Legend, legendView{Name: l.name, Color: l.color, Dash: l.dash, Area: l.area, Baseline: l.baseline})
		d := linePath(xs, l, px, py, v.PlotB)
		if d == "" {
			continue
		}
		v.Lines = append(v.Lines, lineView{Name: l.name, Color: l.color, Dash: l.dash, D: d, Area: l.area, Baseline: l.baseline})
		for i, y := range l.ys {
			if i >= len(xs) || math.IsNaN(y) || y <= yMax {
				continue
			}
			nClipped++
			if y > worst.y {
				worst.y, worst.x, worst.name = y, xs[i], l.name
			}
			x := px(xs[i])
			v.Clips = append(v.Clips, clipView{
				D:     fmt.Sprintf("M%s %sL%s %sL%s %sZ", f1(x-4), f1(v.PlotY+7), f1(x), f1(v.PlotY), f1(x+4), f1(v.PlotY+7)),
				Color: l.color,
				Title: fmt.Sprintf("%s %s %s at %s", l.name, formatValue(y), spec.yUnit, formatSeconds(math.Floor(xs[i]))),
			})
		}
	}
	// The run's lines go on top: the baseline is the background to compare with.
	slices.SortStableFunc(v.Lines, func(a, b lineView) int {
		switch {
		case a.Baseline && !b.Baseline:
			return -1
		case b.Baseline && !a.Baseline:
			return 1
		}
		return 0
	})
	if clipped && nClipped > 0 {
		points := "points"
		if nClipped == 1 {
			points = "point"
		}
		v.Notes = append([]string{fmt.Sprintf("%d %s above %s %s cut off at the top edge (▲); the highest is %s %s %s at %s.",
			nClipped, points, formatTick(yMax), spec.yUnit, worst.name, formatValue(worst.y), spec.yUnit, formatSeconds(math.Floor(worst.x)))}, v.Notes...)
	}

	// Tooltips: one transparent column per second.
	if len(spec.xs) <= hoverLimit {
		colW := v.PlotW / xMax
		for i, t := range spec.hover {
			if t == "" || i >= len(spec.xs) {
				continue
			}
			x0 := px(spec.xs[i] - 0.5)
			v.Hover = append(v.Hover, hoverView{X: x0, W: math.Min(colW, v.PlotR-x0), Title: t})
		}
	}
	return v
}

// faultLanes gives each fault the first row of labels where neither its
// band nor its label would run into an earlier one, and the x offset in the
// plot where its label starts: at the band, or pulled left of it when the
// label would run off the chart.
func faultLanes(faults []faultSpan, xMax float64) (lanes int, laneOf []int, labelAt []float64) {
	plotW := chartW - chartPadL - chartPadR
	var busy []float64 // per lane, the x up to which it is taken
	laneOf = make([]int, len(faults))
	labelAt = make([]float64, len(faults))
	for i, f := range faults {
		x0 := clamp(f.from, 0, xMax) / xMax * plotW
		x1 := clamp(f.to, 0, xMax) / xMax * plotW
		chars := len([]rune(f.name)) + 2
		if f.failed {
			chars += 9
		}
		w := 6.2 * float64(chars)
		l0 := math.Max(math.Min(x0, plotW+chartPadR-w), -chartPadL)
		lane := slices.IndexFunc(busy, func(b float64) bool { return b <= math.Min(x0, l0) })
		if lane < 0 {
			lane = len(busy)
			busy = append(busy, 0)
		}
		busy[lane] = math.Max(x1, l0+w)
		laneOf[i], labelAt[i] = lane, l0
	}
	return len(busy), laneOf, labelAt
}

// yTop picks the top of the y axis. With clip, a value is an outlier when it
// is more than 1.5 times the 98th percentile of all values: one stalled
// second must not flatten the other ninety. Reference levels close to the
// data stretch the axis so their line shows.
func yTop(values, limits []float64, clip bool) (top float64, clipped bool) {
	for _, v := range values {
		top = math.Max(top, v)
	}
	if clip && len(values) >= 10 {
		s := slices.Clone(values)
		slices.Sort(s)
		q := s[int(math.Ceil(0.98*float64(len(s))))-1]
		if q > 0 && top > 1.5*q {
			top, clipped = 1.5*q, true
		}
	}
	base := top
	for _, l := range limits {
		if l > top && (base == 0 || l <= 2*base) {
			top = l * 1.08
		}
	}
	if top <= 0 {
		top = 1
	}
	return top, clipped
}

// linePath draws one series as an SVG path, lifting the pen over gaps. An
// area is closed down to the x axis.
func linePath(xs []float64, l lineSpec, px, py func(float64) float64, base float64) string {
	var b strings.Builder
	pen := false
	var segStart float64
	var last float64
	closeArea := func() {
		if l.area && pen {
			fmt.Fprintf(&b, "L%s %sL%s %sZ", f1(last), f1(base), f1(segStart), f1(base))
		}
	}
	for i, y := range l.ys {
		if i >= len(xs) {
			break
		}
		if math.IsNaN(y) {
			closeArea()
			pen = false
			continue
		}
		x0, x1 := xs[i], xs[i]
		if l.step {
			x0, x1 = xs[i]-0.5, xs[i]+0.5
		}
		switch {
		case !pen && l.area:
			segStart = px(x0)
			fmt.Fprintf(&b, "M%s %sL%s %s", f1(segStart), f1(base), f1(segStart), f1(py(y)))
		case !pen:
			segStart = px(x0)
			fmt.Fprintf(&b, "M%s %s", f1(segStart), f1(py(y)))
		default:
			fmt.Fprintf(&b, "L%s %s", f1(px(x0)), f1(py(y)))
		}
		if l.step {
			fmt.Fprintf(&b, "L%s %s", f1(px(x1)), f1(py(y)))
		}
		last = px(x1)
		pen = true
	}
	closeArea()
	return b.String()
}

// niceStep returns 1, 2 or 5 times a power of ten that cuts [0, span] into
// at most n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw-1e-12 {
			return m * p
		}
	}
	return 10 * p
}

// niceTimeStep picks a tick interval people count in: at most 12 ticks.
func niceTimeStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if span/s <= 12 {
			return s
		}
	}
	return 3600 * math.Ceil(span/3600/12)
}

func appendOnce(xs []float64, x float64) []float64 {
	for _, v := range xs {
		if math.Abs(v-x) < 0.5 {
			return xs
		}
	}
	return append(xs, x)
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// f1 formats a coordinate: one decimal is finer than a pixel and keeps the
// output stable.
func f1(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}
