package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/scenarios"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// The demo must show what the testbed is for: at least one fault, probes
// for before, during and after it, and every invariant.
func TestDemoScenarioInjectsFaultsAndChecksEverything(t *testing.T) {
	data, err := scenarios.Files.ReadFile("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("scenarios/demo.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Faults) == 0 {
		t.Fatal("the demo injects no fault")
	}
	if s.Expect != "pass" {
		t.Errorf("demo expects %q", s.Expect)
	}
	if len(s.Invariants) < 5 {
		t.Errorf("demo checks %d invariants, want all five", len(s.Invariants))
	}
	if strings.Contains(strings.ToLower(s.Description), "grader") {
		t.Errorf("user-facing description talks about graders: %q", s.Description)
	}
}

func TestOpenReportUsesBrowserOrPrintsURL(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	got := filepath.Join(dir, "opened")
	browser := filepath.Join(dir, "browser.sh")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\necho \"$1\" > "+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: func(k string) (string, bool) {
		if k == "BROWSER" {
			return browser, true
		}
		return "", false
	}}
	openReport(e, report)
	if !strings.Contains(out.String(), "file://"+report) {
		t.Errorf("no file:// URL printed: %q", out.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(got)
		if err == nil && strings.TrimSpace(string(b)) == "file://"+report {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("$BROWSER was not run with the report URL (read %q, %v)", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	out.Reset()
	t.Setenv("PATH", dir) // no xdg-open, no open
	openReport(env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}, report)
	if !strings.Contains(out.String(), "no browser configured") || !strings.Contains(out.String(), "file://") {
		t.Errorf("without a browser: %q", out.String())
	}
}
