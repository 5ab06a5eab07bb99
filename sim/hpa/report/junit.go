package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// Suite is the check of one scenario: its outcomes, or the error that kept
// it from being checked.
type Suite struct {
	// Name is the scenario's name; File the path it was read from.
	Name     string
	File     string
	Outcomes []platform.Outcome
	Err      error
	// Elapsed is the wall time the simulation took.
	Elapsed time.Duration
}

// Failed counts the broken expectations.
func (s Suite) Failed() int {
	n := 0
	for _, o := range s.Outcomes {
		if !o.OK {
			n++
		}
	}
	return n
}

// The JUnit XML schema as Jenkins, GitLab and GitHub's test reporters read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	File     string      `xml:"file,attr,omitempty"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes the suites as JUnit XML: one test suite per scenario, one
// test case per expectation, named "<deployment>: <expectation>". A
// scenario that could not be checked is one errored case.
func JUnit(w io.Writer, suites []Suite) error {
	doc := junitSuites{Name: "shoplab hpa check"}
	for _, s := range suites {
		js := junitSuite{Name: s.Name, File: s.File, Time: fmt.Sprintf("%.3f", s.Elapsed.Seconds())}
		if s.Err != nil {
			js.Cases = append(js.Cases, junitCase{
				Name: "simulate", ClassName: "hpa." + s.Name,
				Error: &junitMessage{Message: firstLine(s.Err.Error()), Type: "invalid", Text: s.Err.Error()},
			})
			js.Errors++
		}
		for _, o := range s.Outcomes {
			c := junitCase{Name: o.Unit + ": " + o.Expectation, ClassName: "hpa." + s.Name}
			if !o.OK {
				c.Failure = &junitMessage{
					Message: fmt.Sprintf("%s: expected %s, observed %s", o.Unit, o.Expectation, o.Observed),
					Type:    "expectation", Text: "observed: " + o.Observed,
				}
				js.Failures++
			}
			js.Cases = append(js.Cases, c)
		}
		js.Tests = len(js.Cases)
		doc.Tests += js.Tests
		doc.Failures += js.Failures
		doc.Errors += js.Errors
		doc.Suites = append(doc.Suites, js)
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

// Table writes the outcomes as an aligned text table: scenario, Deployment,
// expectation, observed, ok.
func Table(w io.Writer, suites []Suite) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tDEPLOYMENT\tEXPECTATION\tOBSERVED\tOK")
	for _, s := range suites {
		if s.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\tERROR\n", s.Name, firstLine(s.Err.Error()))
		}
		for _, o := range s.Outcomes {
			ok := "ok"
			if !o.OK {
				ok = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, o.Unit, o.Expectation, o.Observed, ok)
		}
	}
	return tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
