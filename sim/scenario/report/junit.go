package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// The JUnit XML schema as Jenkins, GitLab and GitHub's test reporters read
// it: one suite per scenario, one case per check.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// Texts are CDATA so that their lines stay lines in the file.
type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

func systemOut(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: s}
}

// junitClass prefixes the classname of every case; the scenario name follows.
const junitClass = "shoplab.scenario"

// WriteJUnit writes the run as JUnit XML: one test suite, scenario.<name>,
// with a case for the verdict, each probe in each phase, each recovery
// probe and each invariant. The verdict case passes when the verdict is
// the one the scenario expects, so a scenario written to fail is green in
// CI when it fails; it carries the run's wall time, the checks none.
func WriteJUnit(w io.Writer, j *journal.Journal) error {
	suite := junitSuite{
		Name: "scenario." + j.Scenario,
		Time: seconds3(j.Seconds),
		File: j.File,
		Properties: []junitProperty{
			{Name: "seed", Value: strconv.FormatUint(j.Seed, 10)},
			{Name: "short", Value: strconv.FormatBool(j.Short)},
			{Name: "scale_factor", Value: strconv.FormatFloat(j.ScaleFactor, 'g', -1, 64)},
			{Name: "verdict", Value: j.Verdict},
			{Name: "expected", Value: expected(j)},
		},
	}
	if !j.StartedAt.IsZero() {
		// JUnit's timestamp has no zone; it is UTC.
		suite.Timestamp = j.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Cases = append(suite.Cases, verdictCase(j))
	for _, p := range j.Probes {
		suite.Cases = append(suite.Cases, probeCase(p))
	}
	for _, r := range j.Recovery {
		suite.Cases = append(suite.Cases, recoveryCase(r))
	}
	for _, i := range j.Invariants {
		c := junitCase{Name: "invariant " + i.Name, ClassName: junitClass, Time: seconds3(0)}
		if !i.OK {
			msg, more, _ := strings.Cut(i.Detail, "\n")
			if msg == "" {
				msg = "invariant broken"
			}
			c.Failure = &junitMessage{Message: msg, Type: "invariant", Text: more}
		} else {
			c.SystemOut = systemOut(i.Detail)
		}
		suite.Cases = append(suite.Cases, c)
	}
	for i := range suite.Cases {
		c := &suite.Cases[i]
		// One classname per scenario: CI servers key a case by classname
		// and name, so merged reports of several scenarios must not collide.
		c.ClassName = junitClass + "." + j.Scenario
		if c.Failure != nil {
			c.Failure.Text = xmlText(c.Failure.Text)
		}
		if c.SystemOut != nil {
			c.SystemOut.Text = xmlText(c.SystemOut.Text)
		}
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{
		Name: "shoplab scenario " + j.Scenario, Tests: suite.Tests, Failures: suite.Failures,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func verdictCase(j *journal.Journal) junitCase {
	c := junitCase{Name: "verdict", ClassName: junitClass, Time: seconds3(j.Seconds)}
	var out []string
	if a := j.Aborted; a != nil {
		out = append(out, fmt.Sprintf("aborted at %s by %s: observed %g; %s", formatSeconds(a.At), a.Rule, a.Observed, a.Detail))
	}
	for _, r := range j.Reasons {
		out = append(out, "- "+r)
	}
	text := strings.Join(out, "\n")
	if want := expected(j); j.Verdict != want {
		c.Failure = &junitMessage{
			Message: fmt.Sprintf("verdict %s, the scenario expects %s", orNone(j.Verdict), want),
			Type:    "verdict", Text: text,
		}
		return c
	}
	c.SystemOut = systemOut(strings.TrimSpace(fmt.Sprintf("verdict %s, as expected\n%s", j.Verdict, text)))
	return c
}

func probeCase(p journal.ProbeResult) junitCase {
	c := junitCase{Name: fmt.Sprintf("probe %s [%s]", p.Name, p.Phase), ClassName: junitClass, Time: seconds3(0)}
	observed := formatObserved(p.Observed, p.Unit)
	switch probeStatus(p) {
	case statusFail:
		c.Failure = &junitMessage{
			Message: fmt.Sprintf("observed %s, want %s", observed, p.Condition),
			Type:    "probe", Text: p.Detail,
		}
	case statusSkipped:
		msg := p.Detail
		if msg == "" {
			msg = "no data in phase " + p.Phase
		}
		c.Skipped = &junitMessage{Message: msg}
	default:
		c.SystemOut = systemOut(fmt.Sprintf("observed %s, want %s", observed, p.Condition))
	}
	return c
}

func recoveryCase(r journal.RecoveryResult) junitCase {
	c := junitCase{Name: "recovery " + r.Name, ClassName: junitClass, Time: seconds3(0)}
	observed := "never recovered"
	if r.Recovered != nil {
		observed = "recovered after " + formatSeconds(round1(*r.Recovered))
	}
	msg := fmt.Sprintf("%s, want %s within %s of the last fault", observed, r.Condition, formatSeconds(r.Within))
	if !r.OK {
		c.Failure = &junitMessage{Message: msg, Type: "recovery", Text: r.Detail}
	} else {
		c.SystemOut = systemOut(msg)
	}
	return c
}

// xmlText replaces what XML cannot hold, such as the escape codes of a
// coloured error message, with U+FFFD: encoding/xml does so in attributes
// and escaped text but copies CDATA as it is.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

func seconds3(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
