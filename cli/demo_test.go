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

// demo takes --env and --analytics as up and run do, and refuses a bad
// one before it starts anything or makes its run dir.
func TestDemoRefusesABadEnvBeforeStarting(t *testing.T) {
	stdout, stderr, code := runCLI(t, nil, "demo", "--help")
	if help := stdout + stderr; code != 0 || !strings.Contains(help, "--env") || !strings.Contains(help, "--analytics") {
		t.Fatalf("demo --help: exit %d, no --env or --analytics:\n%s", code, help)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such env", []string{"--env", "no-such-env"}, "no-such-env"},
		{"unknown engine", []string{"--env", "host", "--analytics", "spark"}, `want go or flink, got "spark"`},
		{"flink without a broker", []string{"--analytics", "flink"}, "needs a real Kafka broker"},
		{"an argument", []string{"--env", "host", "scenarios/baseline.yaml"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			stdout, stderr, code := runCLI(t, nil, append([]string{"demo", "--out", out}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the run dir was made for a refused demo: %v", err)
			}
		})
	}
}
