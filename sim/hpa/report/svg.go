package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart is a time-series chart drawn as inline SVG: no script, no fonts or
// libraries from the network, so a report opens anywhere, offline.
type chart struct {
	title  string
	yLabel string
	xMax   float64 // seconds
	yMax   float64 // 0: from the data
	counts bool    // whole numbers only: no tick between two integers
	series []series
	bands  []band  // shaded x ranges (saturation)
	hlines []hline // reference levels (min, max, target)
	vlines []vline // reference times (end of the load)
}

type series struct {
	name  string
	color string
	dash  string // stroke-dasharray, "" for solid
	step  bool   // hold each value until the next point
	xs    []float64
	ys    []float64 // NaN leaves a gap
}

type band struct {
	from, to float64
	color    string
	label    string
}

type hline struct {
	y     float64
	color string
	label string
}

type vline struct {
	x     float64
	label string
}

const (
	chartW = 760.0
	chartH = 190.0
	padL   = 52.0
	padR   = 12.0
	padT   = 40.0
	padB   = 30.0
)

func (c *chart) svg() string {
	yMax := c.yMax
	if yMax == 0 {
		for _, s := range c.series {
			for _, y := range s.ys {
				if !math.IsNaN(y) {
					yMax = max(yMax, y)
				}
			}
		}
		for _, h := range c.hlines {
			yMax = max(yMax, h.y)
		}
	}
	yStep := niceStep(yMax, 6)
	if c.counts {
		yStep = math.Max(yStep, 1)
	}
	yMax = math.Max(yStep, math.Ceil(yMax/yStep)*yStep)
	xMax := math.Max(c.xMax, 1)
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	x := func(v float64) float64 { return padL + v/xMax*plotW }
	y := func(v float64) float64 { return padT + plotH - v/yMax*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="system-ui,sans-serif" font-size="11" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%.0f" y="14" font-size="12" font-weight="600" fill="#222">%s</text>`, padL, html.EscapeString(c.title))
	for _, bd := range c.bands {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x(bd.from), padT, math.Max(x(bd.to)-x(bd.from), 0.5), plotH, bd.color, html.EscapeString(bd.label))
	}
	// Grid and axes.
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, padL, padL+plotW, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-4, y(v)+3, formatNumber(v))
	}
	xStep := niceTimeStep(xMax)
	for v := 0.0; v <= xMax+1e-9; v += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, x(v), x(v), padT, padT+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(v), padT+plotH+14, formatSeconds(v))
	}
	fmt.Fprintf(&b, `<text x="12" y="%.1f" text-anchor="middle" transform="rotate(-90 12 %.1f)">%s</text>`, padT+plotH/2, padT+plotH/2, html.EscapeString(c.yLabel))
	for _, v := range c.vlines {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="5 4"/><text x="%.1f" y="%.1f" font-size="10" fill="#777">%s</text>`,
			x(v.x), x(v.x), padT, padT+plotH, x(v.x)+3, padT+9, html.EscapeString(v.label))
	}
	for _, h := range c.hlines {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="2 3"/><text x="%.1f" y="%.1f" text-anchor="end" font-size="10" fill="%s">%s</text>`,
			padL, padL+plotW, y(h.y), y(h.y), h.color, padL+plotW-2, y(h.y)-3, h.color, html.EscapeString(h.label))
	}
	for _, s := range c.series {
		d := path(s, x, y)
		if d == "" {
			continue
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.6"%s/>`, d, s.color, dash)
	}
	// Legend, right-aligned on its own row under the title.
	lx := chartW - padR
	for i := len(c.series) - 1; i >= 0; i-- {
		s := c.series[i]
		w := 7*float64(len(s.name)) + 26
		lx -= w
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="26" y2="26" stroke="%s" stroke-width="2"%s/><text x="%.1f" y="30">%s</text>`,
			lx, lx+16, s.color, dash, lx+20, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// path draws a series as one SVG path, starting a new segment after a gap.
func path(s series, x, y func(float64) float64) string {
	var b strings.Builder
	pen := false
	for i := range s.xs {
		v := s.ys[i]
		if math.IsNaN(v) {
			pen = false
			continue
		}
		switch {
		case !pen:
			fmt.Fprintf(&b, "M%.1f %.1f", x(s.xs[i]), y(v))
			pen = true
		case s.step:
			fmt.Fprintf(&b, "H%.1fV%.1f", x(s.xs[i]), y(v))
		default:
			fmt.Fprintf(&b, "L%.1f %.1f", x(s.xs[i]), y(v))
		}
	}
	return b.String()
}

// niceStep returns a step of 1, 2 or 5 times a power of ten that cuts
// [0, span] into at most n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// niceTimeStep picks a tick interval that people count in.
func niceTimeStep(span float64) float64 {
	for _, s := range []float64{15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400} {
		if span/s <= 10 {
			return s
		}
	}
	return 86400 * math.Ceil(span/86400/10)
}

func formatSeconds(s float64) string {
	secs := int64(math.Round(s))
	h, m, sec := secs/3600, secs%3600/60, secs%60
	switch {
	case secs == 0:
		return "0"
	case h > 0 && m == 0 && sec == 0:
		return fmt.Sprintf("%dh", h)
	case h > 0 && sec == 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	case m > 0 && sec == 0:
		return fmt.Sprintf("%dm", m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
