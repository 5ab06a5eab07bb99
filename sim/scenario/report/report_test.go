package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

var update = flag.Bool("update", false, "rewrite testdata/journal.json from fixture() and the golden files from it")

const fixtureFile = "testdata/journal.json"

// MustFixture reads testdata/journal.json, first rewriting it under -update.
func MustFixture(tb testing.TB) *journal.Journal {
	tb.Helper()
	if *update {
		if err := fixture().WriteFile(fixtureFile); err != nil {
			tb.Fatal(err)
		}
	}
	j, err := journal.ReadFile(fixtureFile)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

func render(tb testing.TB, write func(io.Writer, *journal.Journal) error, j *journal.Journal) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := write(&b, j); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	j := MustFixture(t)
	for _, tt := range []struct {
		golden string
		write  func(io.Writer, *journal.Journal) error
	}{
		{"testdata/report.html.golden", WriteHTML},
		{"testdata/junit.xml.golden", WriteJUnit},
	} {
		t.Run(filepath.Base(tt.golden), func(t *testing.T) {
			got := render(t, tt.write, j)
			if again := render(t, tt.write, j); !bytes.Equal(got, again) {
				t.Fatal("two renderings of the same journal differ")
			}
			if *update {
				if err := os.WriteFile(tt.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering (go test -update rewrites it):\n%s", tt.golden, firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows the first line where got and want part.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got:  " + clip(gl) + "\n want: " + clip(wl)
		}
	}
	return "(same lines)"
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestHTMLSelfContained checks that the page needs nothing from anywhere:
// no URL, no external script, stylesheet, font or image, and only links to
// its own sections.
func TestHTMLSelfContained(t *testing.T) {
	page := string(render(t, WriteHTML, MustFixture(t)))
	checkSelfContained(t, page)
	if n := strings.Count(page, `<svg class="chart"`); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
}

func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, banned := range []string{"http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "@font-face"} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		ids[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "#") || !ids[m[1][1:]] {
			t.Errorf("link %q does not point to a section of the page", m[1])
		}
	}
	checkWellFormed(t, page)
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("html/template rejected a value as unsafe where it landed (ZgotmplZ)")
	}
}

// checkWellFormed parses the page as XML: every element, each <svg> and
// everything in it included, must be closed, and nested properly.
func checkWellFormed(t *testing.T, page string) {
	t.Helper()
	if o, c := strings.Count(page, "<svg"), strings.Count(page, "</svg>"); o != c {
		t.Errorf("%d <svg> opened, %d closed", o, c)
	}
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v (inside %v)", err, stack)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			stack = append(stack, e.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements: %v", stack)
	}
}

// TestHTMLEscapes renders a journal whose every name tries to break out of
// where it lands: text, attributes, SVG titles and labels.
func TestHTMLEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	j := fixture()
	j.Scenario = evil
	j.Description = `</svg><img src=x onerror=alert(1)> & "quotes"`
	j.Reasons = append(j.Reasons, evil)
	j.Aborted = &journal.Abort{Rule: `error_rate"><script>`, At: 61, Observed: 0.6, Detail: "</div>"}
	j.Phases[1].Name = "<b>during</b>"
	j.Faults[0].Name = `"><script>alert(1)</script>`
	j.Faults[0].Attributes["x<y"] = "</title>"
	j.Probes[0].Condition = `latency_p95{journey="<checkout>"} <= 900ms`
	j.Invariants[0].Detail = "a < b && c > d"
	j.Series[3].Journeys["<i>evil</i>"] = load.JourneyStats{Iterations: 1, Latency: load.Latency{P95: time.Millisecond}}
	total := j.PhaseStat["total"]
	total.Endpoints[`GET /x?a=<b>&c="d"`] = load.EndpointStats{Requests: 1}
	j.PhaseStat[`<phase onclick="x">`] = load.Stats{}

	page := string(render(t, WriteHTML, j))
	for _, raw := range []string{"<script", "<img", "<b>during", "<i>evil", "<phase", `onclick="x"`, "· </div>", "=</title>", `a=<b>`} {
		if strings.Contains(page, raw) {
			t.Errorf("the page contains %q unescaped", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;/svg&gt;&lt;img src=x", "a &lt; b &amp;&amp; c &gt; d"} {
		if !strings.Contains(page, escaped) {
			t.Errorf("the page lacks %q", escaped)
		}
	}
	checkWellFormed(t, page)

	// CDATA cannot hold "]]>" as it is, nor what XML cannot hold at all.
	j.Invariants[2].Detail = "2 orders]]><x>\x1b[31m\x00 twice\xff\nsecond line"
	j.Reasons = append(j.Reasons, "]]>")
	doc, err := parseJUnit(render(t, WriteJUnit, j))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range doc.Suites[0].Cases {
		if c.Name == "invariant one_email_per_order" {
			found = c.Failure != nil && c.Failure.Message == "2 orders]]><x>\uFFFD[31m\uFFFD twice\uFFFD" && c.Failure.Text == "second line"
		}
	}
	if !found {
		t.Errorf("invariant failure lost its detail: %+v", doc.Suites[0].Cases)
	}
	if s := doc.Suites[0].Name; s != "scenario."+evil {
		t.Errorf("suite name %q", s)
	}
}

type parsedSuites struct {
	Tests    int           `xml:"tests,attr"`
	Failures int           `xml:"failures,attr"`
	Errors   int           `xml:"errors,attr"`
	Skipped  int           `xml:"skipped,attr"`
	Time     float64       `xml:"time,attr"`
	Suites   []parsedSuite `xml:"testsuite"`
}

type parsedSuite struct {
	Name       string  `xml:"name,attr"`
	Tests      int     `xml:"tests,attr"`
	Failures   int     `xml:"failures,attr"`
	Errors     int     `xml:"errors,attr"`
	Skipped    int     `xml:"skipped,attr"`
	Time       float64 `xml:"time,attr"`
	Timestamp  string  `xml:"timestamp,attr"`
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []parsedCase `xml:"testcase"`
}

type parsedCase struct {
	Name      string  `xml:"name,attr"`
	ClassName string  `xml:"classname,attr"`
	Time      float64 `xml:"time,attr"`
	Failure   *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
}

func parseJUnit(b []byte) (parsedSuites, error) {
	var s parsedSuites
	err := xml.Unmarshal(b, &s)
	return s, err
}

func TestJUnit(t *testing.T) {
	j := MustFixture(t)
	doc, err := parseJUnit(render(t, WriteJUnit, j))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "scenario.payment-latency" {
		t.Errorf("suite name %q", s.Name)
	}
	// Counts as the attributes say and as the cases are.
	var failures, skipped int
	var caseTime float64
	byName := map[string]parsedCase{}
	for _, c := range s.Cases {
		if c.ClassName != "shoplab.scenario."+j.Scenario {
			t.Errorf("%s: classname %q", c.Name, c.ClassName)
		}
		if _, dup := byName[c.Name]; dup {
			t.Errorf("two cases named %q", c.Name)
		}
		byName[c.Name] = c
		if c.Failure != nil {
			failures++
		}
		if c.Skipped != nil {
			skipped++
		}
		if c.Failure != nil && c.Skipped != nil {
			t.Errorf("%s both failed and skipped", c.Name)
		}
		caseTime += c.Time
	}
	want := struct{ tests, failures, skipped int }{1 + 7 + 2 + 5, 4, 1}
	for _, got := range []struct {
		what                     string
		tests, failures, skipped int
	}{
		{"suite attributes", s.Tests, s.Failures, s.Skipped},
		{"testsuites attributes", doc.Tests, doc.Failures, doc.Skipped},
		{"cases", len(s.Cases), failures, skipped},
	} {
		if got.tests != want.tests || got.failures != want.failures || got.skipped != want.skipped {
			t.Errorf("%s: tests=%d failures=%d skipped=%d, want %d %d %d", got.what, got.tests, got.failures, got.skipped, want.tests, want.failures, want.skipped)
		}
	}
	if s.Errors != 0 || doc.Errors != 0 {
		t.Errorf("errors = %d/%d, want 0", s.Errors, doc.Errors)
	}
	if s.Time != 104.372 || doc.Time != 104.372 || math.Abs(caseTime-s.Time) > 1e-9 {
		t.Errorf("time: suite %v, testsuites %v, sum of cases %v; want the run's 104.372", s.Time, doc.Time, caseTime)
	}
	if s.Timestamp != "2026-03-14T09:26:53" {
		t.Errorf("timestamp %q", s.Timestamp)
	}

	for name, wantFail := range map[string]bool{
		"verdict":                       true,
		"probe checkout-p95 [before]":   false,
		"probe checkout-p95 [during]":   true,
		"probe errors [after]":          false,
		"probe refunds-p99 [during]":    false,
		"recovery p95-recovers":         false,
		"recovery errors-recover":       true,
		"invariant one_email_per_order": true,
		"invariant stock_consistent":    false,
	} {
		c, ok := byName[name]
		if !ok {
			t.Errorf("no case %q", name)
			continue
		}
		if (c.Failure != nil) != wantFail {
			t.Errorf("%s: failed = %v, want %v", name, c.Failure != nil, wantFail)
		}
	}
	if c := byName["probe refunds-p99 [during]"]; c.Skipped == nil || c.Skipped.Message != "no matching requests in phase during" {
		t.Errorf("skipped probe: %+v", c.Skipped)
	}
	if f := byName["probe checkout-p95 [during]"].Failure; f == nil || f.Message != `observed 1,104.7 ms, want latency_p95{journey="checkout"} <= 900ms` {
		t.Errorf("probe failure: %+v", f)
	}
	if f := byName["verdict"].Failure; f == nil || f.Message != "verdict fail, the scenario expects pass" || !strings.Contains(f.Text, "one_email_per_order") {
		t.Errorf("verdict failure: %+v", f)
	}
}

func TestJUnitVerdictCase(t *testing.T) {
	for _, tt := range []struct {
		verdict, expect string
		fails           bool
	}{
		{journal.Pass, journal.Pass, false},
		{journal.Fail, journal.Fail, false}, // a scenario written to fail did
		{journal.Pass, journal.Fail, true},
		{journal.Fail, journal.Pass, true},
		{journal.Fail, "", true}, // no expect means pass
		{journal.Pass, "", false},
	} {
		j := &journal.Journal{Scenario: "s", Verdict: tt.verdict, Expected: tt.expect, Seconds: 3}
		doc, err := parseJUnit(render(t, WriteJUnit, j))
		if err != nil {
			t.Fatal(err)
		}
		s := doc.Suites[0]
		if len(s.Cases) != 1 || s.Cases[0].Name != "verdict" || (s.Cases[0].Failure != nil) != tt.fails || (s.Failures == 1) != tt.fails {
			t.Errorf("verdict %q, expect %q: %+v", tt.verdict, tt.expect, s)
		}
	}
}

// TestAborted checks that an abort reaches the banner, the charts and the
// verdict case.
func TestAborted(t *testing.T) {
	j := fixture()
	j.Aborted = &journal.Abort{Rule: "error_rate > 0.5 for 10s", At: 52, Observed: 0.61, Detail: "61% of requests failed"}
	page := string(render(t, WriteHTML, j))
	for _, want := range []string{"<b>Aborted</b> at 52 s by rule <code>error_rate &gt; 0.5 for 10s</code>: observed 0.61 · 61% of requests failed", "aborted: error_rate &gt; 0.5 for 10s"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	doc, err := parseJUnit(render(t, WriteJUnit, j))
	if err != nil {
		t.Fatal(err)
	}
	if f := doc.Suites[0].Cases[0].Failure; f == nil || !strings.HasPrefix(f.Text, "aborted at 52 s by error_rate > 0.5 for 10s") {
		t.Errorf("verdict failure: %+v", f)
	}
}

// TestEmpty renders a journal with nothing in it, as a run that failed
// before its load started leaves.
func TestEmpty(t *testing.T) {
	j := &journal.Journal{Scenario: "nothing", Verdict: journal.Fail, Expected: journal.Pass, Reasons: []string{"environment did not start"}}
	page := string(render(t, WriteHTML, j))
	checkWellFormed(t, page)
	for _, want := range []string{"nothing to chart", "The scenario has no steady-state probes.", "No faults were injected."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if _, err := parseJUnit(render(t, WriteJUnit, j)); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAll(t *testing.T) {
	j := MustFixture(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := WriteAll(dir, j); err != nil {
		t.Fatal(err)
	}
	back, err := journal.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, j) {
		t.Error("journal.json does not read back as the journal")
	}
	for name, write := range map[string]func(io.Writer, *journal.Journal) error{HTMLFile: WriteHTML, JUnitFile: WriteJUnit} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, render(t, write, j)) {
			t.Errorf("%s differs from its rendering", name)
		}
	}
}

func TestYTop(t *testing.T) {
	flat := make([]float64, 90)
	for i := range flat {
		flat[i] = 20 + float64(i%5)
	}
	spike := append(append([]float64{}, flat...), 4800)
	fault := append(append([]float64{}, flat...), 400, 410, 420, 430, 440, 450, 460, 470, 480, 490)
	for _, tt := range []struct {
		name    string
		values  []float64
		limits  []float64
		top     float64
		clipped bool
	}{
		{"empty", nil, nil, 1, false},
		{"flat", flat, nil, 24, false},
		{"one spike is cut off", spike, nil, 36, true},
		{"a fault's plateau is data", fault, nil, 490, false},
		{"a nearby limit stretches the axis", flat, []float64{40}, 43.2, false},
		{"a far limit does not", flat, []float64{900}, 24, false},
	} {
		top, clipped := yTop(tt.values, tt.limits, true)
		if math.Abs(top-tt.top) > 1e-9 || clipped != tt.clipped {
			t.Errorf("%s: yTop = %v, %v; want %v, %v", tt.name, top, clipped, tt.top, tt.clipped)
		}
	}
}

func TestFaultLanes(t *testing.T) {
	faults := []faultSpan{
		{name: "a", from: 10, to: 40},
		{name: "b", from: 20, to: 30}, // inside a: a lane of its own
		{name: "c", from: 50, to: 60}, // after a: back to the first lane
		{name: "a-very-long-fault-name", from: 70, to: 71},
		{name: "d", from: 72, to: 80},          // under the long label: second lane
		{name: "late-fault", from: 89, to: 90}, // pulled left, under d
	}
	lanes, laneOf, labelAt := faultLanes(faults, 90)
	if want := []int{0, 1, 0, 0, 1, 1}; lanes != 2 || !reflect.DeepEqual(laneOf, want) {
		t.Errorf("faultLanes = %d, %v; want 2, %v", lanes, laneOf, want)
	}
	plotW := chartW - chartPadL - chartPadR
	if labelAt[0] != 10.0/90*plotW {
		t.Errorf("the first label starts at %v, want its band's %v", labelAt[0], 10.0/90*plotW)
	}
	if end := labelAt[5] + 6.2*12; labelAt[5] >= 89.0/90*plotW || end > plotW+chartPadR {
		t.Errorf("the last label runs from %v to %v: off the chart", labelAt[5], end)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{formatMs(0), "0 ms"},
		{formatMs(3.14159), "3.14 ms"},
		{formatMs(182.44), "182.4 ms"},
		{formatMs(12345.6), "12,346 ms"},
		{formatPercent(0.0021), "0.21%"},
		{formatPercent(0.00005), "0.005%"},
		{formatCount(1234567), "1,234,567"},
		{formatCount(-1234), "-1,234"},
		{formatSeconds(30), "30 s"},
		{formatSeconds(7.25), "7.2 s"},
		{formatObserved(nil, "ms"), "no data"},
		{formatAttributes(map[string]any{"latency": "400ms", "jitter": "50ms", "toxicity": 1.0, "codes": []any{502.0, 503.0}}), "codes=[502,503], jitter=50ms, latency=400ms, toxicity=1"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
