package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// baselineFixture is the fixture's scenario run earlier and faster: every
// latency halved, and only the first seconds of the load recorded, so
// that its curves end before the run's and the run regresses against it.
func baselineFixture(seconds int) *journal.Journal {
	b := fixture()
	b.Seed = 3
	b.Verdict = journal.Pass
	b.StartedAt = time.Date(2026, 3, 13, 17, 2, 11, 0, time.UTC)
	half := func(l load.Latency) load.Latency {
		return load.Latency{P50: l.P50 / 2, P95: l.P95 / 2, P99: l.P99 / 2, Max: l.Max / 2}
	}
	if seconds < len(b.Series) {
		b.Series = b.Series[:seconds]
	}
	for seconds > len(b.Series) {
		s := b.Series[len(b.Series)-1]
		s.At += time.Second
		b.Series = append(b.Series, s)
	}
	for i, s := range b.Series {
		s.Latency = half(s.Latency)
		js := map[string]load.JourneyStats{}
		for n, x := range s.Journeys {
			x.Latency = half(x.Latency)
			js[n] = x
		}
		s.Journeys = js
		b.Series[i] = s
	}
	for name, st := range b.PhaseStat {
		st.Latency = half(st.Latency)
		b.PhaseStat[name] = st
	}
	return b
}

func renderCompared(tb testing.TB, j, base *journal.Journal) (string, diff.Result) {
	tb.Helper()
	res, err := diff.Compare(j, base, diff.DefaultTolerance)
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTMLCompared(&b, j, Comparison{Name: "runs/base.tar.gz", Baseline: base, Result: res}); err != nil {
		tb.Fatal(err)
	}
	return b.String(), res
}

// The baseline lines each chart must carry, by the figure's id.
var wantBaseline = map[string][]string{
	"chart-latency":    {"baseline p50", "baseline p95", "baseline p99"},
	"chart-throughput": {"baseline requests/s", "baseline errors/s"},
	"chart-errors":     {"baseline errors/s", "baseline dropped iterations/s"},
	"chart-journeys":   {"baseline browse", "baseline checkout", "baseline declined_checkout"},
}

func TestComparedOverlaysBaseline(t *testing.T) {
	j := MustFixture(t)
	page, res := renderCompared(t, j, baselineFixture(80))
	checkSelfContained(t, page)
	doc := parseDOM(t, page)

	figures := doc.all(func(n *node) bool { return n.name == "figure" })
	if len(figures) != len(wantBaseline) {
		t.Fatalf("%d figures, want %d", len(figures), len(wantBaseline))
	}
	for _, fig := range figures {
		id := fig.attr["id"]
		want := wantBaseline[id]
		if want == nil {
			t.Errorf("unexpected figure %q", id)
			continue
		}
		// The legend names every run line and every baseline line once.
		legend := map[string]string{} // name -> colour of its sample
		for _, span := range fig.all(func(n *node) bool { return n.name == "span" && n.parent.attr["class"] == "legend" }) {
			sample := span.first(func(n *node) bool { return n.name == "line" || n.name == "rect" })
			legend[strings.TrimSpace(span.text())] = sample.attr["stroke"]
		}
		var paths []*node
		for _, p := range fig.all(func(n *node) bool { return n.name == "path" && n.attr["class"] == "baseline" }) {
			paths = append(paths, p)
		}
		var got []string
		for _, p := range paths {
			name := p.text()
			got = append(got, name)
			run := strings.TrimPrefix(name, "baseline ")
			if c, ok := legend[run]; !ok || c != p.attr["stroke"] {
				t.Errorf("%s: %q is drawn in %s, the run's %q in %q (in the legend: %v)", id, name, p.attr["stroke"], run, c, ok)
			}
			if p.attr["stroke-dasharray"] == "" || p.attr["fill"] != "none" {
				t.Errorf("%s: %q is not a dashed line: %v", id, name, p.attr)
			}
			if len(pathPoints(p.attr["d"])) < 10 {
				t.Errorf("%s: %q has %d points", id, name, len(pathPoints(p.attr["d"])))
			}
			if _, ok := legend[name]; !ok {
				t.Errorf("%s: the legend does not name %q: %v", id, name, legend)
			}
		}
		slices.Sort(got)
		if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
			t.Errorf("%s: baseline paths %v, want %v", id, got, want)
		}
	}

	// Aligned on seconds from the load start: the baseline's 80 s sit on
	// the run's first 80 s, point for point, at its own (halved) values.
	lat := doc.first(func(n *node) bool { return n.name == "figure" && n.attr["id"] == "chart-latency" })
	runP95 := pathPoints(lat.first(func(n *node) bool {
		return n.name == "path" && n.attr["stroke"] == colP95 && n.attr["class"] == ""
	}).attr["d"])
	baseP95 := pathPoints(lat.first(func(n *node) bool { return n.attr["class"] == "baseline" && n.text() == "baseline p95" }).attr["d"])
	if len(baseP95) != 79 || len(runP95) != 89 { // one second in each has no requests
		t.Fatalf("p95 points: run %d, baseline %d; want 89 and 79", len(runP95), len(baseP95))
	}
	var lower int
	for i, bp := range baseP95 {
		if bp[0] != runP95[i][0] {
			t.Fatalf("baseline point %d at x %v, the run's at %v", i, bp[0], runP95[i][0])
		}
		if bp[1] > runP95[i][1] { // further down: faster
			lower++
		}
	}
	if lower < 70 {
		t.Errorf("only %d of 79 baseline p95 points lie below the run's; the baseline is twice as fast", lower)
	}

	// The top says what the run is compared with.
	cmp := doc.first(func(n *node) bool { return n.name == "p" && n.attr["class"] == "compared" })
	if cmp == nil {
		t.Fatal("no compared-with line")
	}
	for _, want := range []string{"runs/base.tar.gz", "payment-latency", "2026-03-13T17:02:11Z", "seed 3", "verdict pass", res.Summary()} {
		if !strings.Contains(cmp.text(), want) {
			t.Errorf("the compared-with line %q lacks %q", cmp.text(), want)
		}
	}

	// The table has every row of the comparison, regressions marked and
	// only those.
	table := doc.first(func(n *node) bool { return n.name == "table" && n.attr["class"] == "diff" })
	if table == nil {
		t.Fatal("no comparison table")
	}
	rows := table.all(func(n *node) bool { return n.name == "tr" && n.parent.name == "tbody" })
	if len(rows) != len(res.Rows) {
		t.Fatalf("%d table rows, the comparison has %d", len(rows), len(res.Rows))
	}
	if res.Regressions() == 0 {
		t.Fatal("the fixture does not regress against its baseline")
	}
	for i, tr := range rows {
		cells := tr.all(func(n *node) bool { return n.name == "td" })
		r := res.Rows[i]
		if cells[0].text() != r.What || cells[1].text() != r.Baseline || cells[2].text() != r.Current || cells[3].text() != r.Change {
			t.Errorf("row %d: %q %q %q %q, want %+v", i, cells[0].text(), cells[1].text(), cells[2].text(), cells[3].text(), r)
		}
		if marked := tr.attr["class"] == "fail" && cells[4].text() == "regressed"; marked != r.Regression {
			t.Errorf("row %q: marked as regressed %v, regression %v", r.What, marked, r.Regression)
		}
	}
	if h := doc.first(func(n *node) bool { return n.name == "h2" && n.attr["id"] == "baseline" }); h == nil || !strings.Contains(h.text(), res.Summary()) {
		t.Errorf("the section's heading does not say %q", res.Summary())
	}
}

// A longer baseline stretches the axis instead of piling its last seconds
// on the right edge.
func TestComparedLongerBaseline(t *testing.T) {
	j := MustFixture(t)
	page, _ := renderCompared(t, j, baselineFixture(120))
	doc := parseDOM(t, page)
	lat := doc.first(func(n *node) bool { return n.name == "figure" && n.attr["id"] == "chart-latency" })
	base := pathPoints(lat.first(func(n *node) bool { return n.attr["class"] == "baseline" && n.text() == "baseline p50" }).attr["d"])
	run := pathPoints(lat.first(func(n *node) bool { return n.name == "path" && n.attr["stroke"] == colP50 && n.attr["class"] == "" }).attr["d"])
	plotR := chartW - chartPadR
	last := base[len(base)-1][0]
	if last >= plotR || last <= run[len(run)-1][0] {
		t.Errorf("the baseline's last point at x %v: want past the run's %v and inside the plot (%v)", last, run[len(run)-1][0], plotR)
	}
	xs := map[float64]bool{}
	for _, p := range base {
		if xs[p[0]] {
			t.Fatalf("two baseline points at x %v", p[0])
		}
		xs[p[0]] = true
	}
}

func TestComparedRefusesOtherScenario(t *testing.T) {
	j := MustFixture(t)
	base := baselineFixture(80)
	res, err := diff.Compare(j, base, diff.DefaultTolerance)
	if err != nil {
		t.Fatal(err)
	}
	other := baselineFixture(80)
	other.Scenario = "broker-outage"
	wrongRes := res
	wrongRes.Scenario = "broker-outage"
	for name, c := range map[string]Comparison{
		"baseline of another scenario":   {Name: "b", Baseline: other, Result: res},
		"comparison of another scenario": {Name: "b", Baseline: base, Result: wrongRes},
		"no baseline":                    {Name: "b", Result: res},
	} {
		var b bytes.Buffer
		if err := WriteHTMLCompared(&b, j, c); err == nil || b.Len() != 0 {
			t.Errorf("%s: err %v, %d bytes written", name, err, b.Len())
		}
	}
}

// A page without a baseline has none of its marks; TestGolden holds it to
// the very bytes it had before baselines existed.
func TestNoBaselineNoOverlay(t *testing.T) {
	page := string(render(t, WriteHTML, MustFixture(t)))
	for _, mark := range []string{`class="baseline"`, `class="compared"`, `id="baseline"`, "baseline p95", ".compared{"} {
		if strings.Contains(page, mark) {
			t.Errorf("the page without a baseline contains %q", mark)
		}
	}
}

// node is an element of the page, parsed as XML (checkWellFormed holds
// the page to that).
type node struct {
	name   string
	attr   map[string]string
	kids   []*node
	chars  []string // text directly inside, in order
	parent *node
}

func parseDOM(t *testing.T, page string) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	root := &node{name: "#document", attr: map[string]string{}}
	cur := root
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			t.Fatalf("parse the page: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			n := &node{name: e.Name.Local, attr: map[string]string{}, parent: cur}
			for _, a := range e.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			cur.kids = append(cur.kids, n)
			cur = n
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			cur.chars = append(cur.chars, string(e))
		}
	}
}

func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	for _, k := range n.kids {
		if match(k) {
			out = append(out, k)
		}
		out = append(out, k.all(match)...)
	}
	return out
}

func (n *node) first(match func(*node) bool) *node {
	if all := n.all(match); len(all) > 0 {
		return all[0]
	}
	return nil
}

// text is all the text inside n, with runs of space folded.
func (n *node) text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		b.WriteString(strings.Join(n.chars, " "))
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

var pathCoord = regexp.MustCompile(`[ML](-?[0-9.]+) (-?[0-9.]+)`)

// pathPoints lists the points an SVG path of M and L commands visits.
func pathPoints(d string) [][2]float64 {
	var out [][2]float64
	for _, m := range pathCoord.FindAllStringSubmatch(d, -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		y, _ := strconv.ParseFloat(m[2], 64)
		out = append(out, [2]float64{x, y})
	}
	return out
}
