package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// timeline is a small hand-made timeline: an HPA that scales 2 -> 4 and
// saturates for a sync, and a fixed Deployment.
func timeline() *platform.Timeline {
	p95 := func(v float64) *float64 { return &v }
	hpaUnit := &platform.UnitTimeline{
		Name: "order", CPURequestMilli: 500, CPULimitMilli: 2000, MemoryRequestBytes: 384 << 20, MemoryLimitBytes: 480 << 20,
		HPA: &platform.HPAInfo{Name: "order", MinReplicas: 2, MaxReplicas: 10, Targets: []string{"cpu 70%"}, TargetUtilization: 70, TargetResource: "cpu"},
		Points: []platform.Point{
			{T: 0, Replicas: 2, Ready: 2, CPUUtilization: 10, P95: p95(5)},
			{T: 15, Replicas: 4, Ready: 2, CPUUtilization: 140, P95: p95(900), Saturated: true, Backlog: 12},
			{T: 30, Replicas: 4, Ready: 4, CPUUtilization: 70, P95: p95(6)},
			{T: 45, Replicas: 4, Ready: 4, CPUUtilization: 0},
		},
		Summary: platform.Summary{MinReplicas: 2, MaxReplicas: 4, MaxAt: 15, FinalReplicas: 4, Changes: 1, FirstScaleUp: 15, SaturatedSeconds: 9, MaxP95: p95(900)},
	}
	fixed := &platform.UnitTimeline{
		Name: "gate<way>", FixedReplicas: 3, CPURequestMilli: 250, CPULimitMilli: 1000,
		Points:  []platform.Point{{T: 0, Replicas: 3, Ready: 3}, {T: 15, Replicas: 3, Ready: 3}, {T: 30, Replicas: 3, Ready: 3}, {T: 45, Replicas: 3, Ready: 3}},
		Summary: platform.Summary{MinReplicas: 3, MaxReplicas: 3, FinalReplicas: 3, FirstScaleUp: -1},
	}
	return &platform.Timeline{
		Scenario: `flash "sale" <b>`, Overlay: "prod", ProfileSource: "estimated", SyncSeconds: 15, LoadEnd: 30, Until: 45,
		Journeys: []string{"checkout"},
		Load:     []platform.LoadPoint{{T: 0, Rate: 0, PerJourney: []float64{0}}, {T: 15, Rate: 50, PerJourney: []float64{50}}, {T: 30, Rate: 50, PerJourney: []float64{50}}, {T: 45, PerJourney: []float64{0}}},
		Units:    []*platform.UnitTimeline{fixed, hpaUnit},
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	outcomes := []platform.Outcome{{Unit: "order", Expectation: "reaches 6 within 1m30s", Observed: "at most 4 by 90s", OK: false}}
	if err := HTML(&buf, timeline(), outcomes); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<script") {
		t.Error("the report has a script; it must work with none")
	}
	// Nothing loads from the network: the only URL is SVG's namespace.
	for _, u := range regexp.MustCompile(`(?:src|href)\s*=\s*"[^"]*"|url\(|https?://[^"\s]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the report refers to %q", u)
		}
	}
	if n := strings.Count(page, "<svg"); n != 1+3*2 {
		t.Errorf("%d charts, want the load and three per Deployment (7)", n)
	}
	for _, want := range []string{
		"flash &#34;sale&#34; &lt;b&gt;", // names are escaped
		"gate&lt;way&gt;",
		"reaches 6 within 1m30s", ">FAIL<", "1 broken",
		"HPA order: 2-10 replicas on cpu 70%", "fixed at 3 replicas",
		"estimated", "cpu target", "load ends",
		"saturated: requests arrive faster", // the band's tooltip
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(page, `flash "sale" <b>`) {
		t.Error("the scenario name is not escaped")
	}
}

func TestChartGeometry(t *testing.T) {
	c := &chart{title: "t", xMax: 100, yMax: 10, series: []series{
		{name: "s", color: "#000", step: true, xs: []float64{0, 50, 100}, ys: []float64{0, 10, 5}},
	}}
	svg := c.svg()
	// plot: x from padL to chartW-padR, y from padT to chartH-padB.
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	want := "M" + ftoa(padL) + " " + ftoa(padT+plotH) + "H" + ftoa(padL+plotW/2) + "V" + ftoa(padT) + "H" + ftoa(padL+plotW) + "V" + ftoa(padT+plotH/2)
	if !strings.Contains(svg, `d="`+want+`"`) {
		t.Fatalf("step path not drawn as %s:\n%s", want, svg)
	}
	gap := path(series{xs: []float64{0, 1, 2, 3}, ys: []float64{1, nanValue(), 1, 1}}, func(v float64) float64 { return v }, func(v float64) float64 { return v })
	if gap != "M0.0 1.0M2.0 1.0L3.0 1.0" {
		t.Fatalf("a NaN must break the line: %s", gap)
	}
}

func TestNiceSteps(t *testing.T) {
	for _, tt := range []struct{ span, want float64 }{{10, 2}, {11, 2}, {400, 100}, {0.9, 0.2}, {0, 1}} {
		if got := niceStep(tt.span, 6); got != tt.want {
			t.Errorf("niceStep(%g) = %g, want %g", tt.span, got, tt.want)
		}
	}
	for _, tt := range []struct{ span, want float64 }{{120, 15}, {2220, 300}, {5400, 600}, {7 * 86400, 86400}} {
		if got := niceTimeStep(tt.span); got != tt.want {
			t.Errorf("niceTimeStep(%g) = %g, want %g", tt.span, got, tt.want)
		}
	}
	for _, tt := range []struct {
		s    float64
		want string
	}{{0, "0"}, {45, "45s"}, {75, "1m15s"}, {120, "2m"}, {3600, "1h"}, {5400, "1h30m"}, {3615, "1h00m15s"}} {
		if got := formatSeconds(tt.s); got != tt.want {
			t.Errorf("formatSeconds(%g) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestJUnitAndTable(t *testing.T) {
	suites := []Suite{
		{Name: "hpa-flash-sale", File: "scenarios/hpa-flash-sale.yaml", Outcomes: []platform.Outcome{
			{Unit: "order", Expectation: "reaches 6 within 1m30s", Observed: "at most 2 by 90s", OK: false},
			{Unit: "order", Expectation: "never above 10", Observed: "max 2 at 0s", OK: true},
		}},
		{Name: "broken", File: "scenarios/broken.yaml", Err: errors.New("broken.yaml:3: load: required\nbroken.yaml:4: name: required")},
	}
	var buf bytes.Buffer
	if err := JUnit(&buf, suites); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Fatalf("tests %d failures %d errors %d suites %d; want 3, 1, 1, 2", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	c := doc.Suites[0].Cases[0]
	if c.Name != "order: reaches 6 within 1m30s" || c.ClassName != "hpa.hpa-flash-sale" || c.Failure == nil || !strings.Contains(c.Failure.Message, "observed at most 2 by 90s") {
		t.Fatalf("first case = %+v", c)
	}
	if doc.Suites[0].Cases[1].Failure != nil {
		t.Fatal("a passing expectation has a failure")
	}
	if e := doc.Suites[1].Cases[0].Error; e == nil || e.Message != "broken.yaml:3: load: required" || !strings.Contains(e.Text, "name: required") {
		t.Fatalf("invalid scenario case = %+v", doc.Suites[1].Cases[0])
	}

	buf.Reset()
	if err := Table(&buf, suites); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SCENARIO") || !strings.HasSuffix(lines[1], "FAIL") || !strings.HasSuffix(lines[2], "ok") || !strings.HasSuffix(lines[3], "ERROR") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func nanValue() float64 { return math.NaN() }
