package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runHPAForTest runs `shoplab hpa args...` and returns its output and exit
// code as main would set it.
func runHPAForTest(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, lookup: func(string) (string, bool) { return "", false }}
	err := run(context.Background(), e, append([]string{"shoplab", "hpa"}, args...))
	switch c, ok := ExitCode(err); {
	case err == nil:
		code = 0
	case ok:
		code = c
	default:
		code = 1
	}
	return out.String(), errOut.String(), code
}

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{".."}, parts...)...)
}

func TestHPAReplay(t *testing.T) {
	out, stderr, code := runHPAForTest(t, "replay", repoPath("sim", "hpa", "testdata", "legacy-spike.input.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden, err := os.ReadFile(repoPath("sim", "hpa", "testdata", "legacy-spike.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(golden) {
		t.Fatalf("replay output differs from the golden file:\n%s", out)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"hpa": null, "initial_replicas": 2, "until": 60, "demand": [{"t": 0}], "pod": {"cpu_request_milicores": 1}}`), 0o644)
	for name, args := range map[string][]string{
		"missing file":  {"replay", filepath.Join(dir, "nope.json")},
		"unknown field": {"replay", bad},
		"no file":       {"replay"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, code := runHPAForTest(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
		})
	}
	if err := run(context.Background(), env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}, []string{"shoplab", "hpa", "replay", bad}); err == nil || !strings.Contains(err.Error(), "pod.cpu_request_milicores") {
		t.Fatalf("error %v, want it to name the misspelt field", err)
	}
}

func TestHPASimulateWritesTimelineAndReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report")
	// Flags after the scenario work too.
	stdout, stderr, code := runHPAForTest(t, "simulate", repoPath("scenarios", "hpa-flash-sale.yaml"), "--out", out, "--extend", "10m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"load x20 (hpa_traffic_scale), peak 3000 iterations/s", "DEPLOYMENT", "order", "hpa 2-10 cpu 70%", "fixed 3", "timeline.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "timeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tl struct {
		Scenario     string  `json:"scenario"`
		Until        int64   `json:"until"`
		TrafficScale float64 `json:"traffic_scale"`
		Units        []struct {
			Name   string            `json:"name"`
			Points []json.RawMessage `json:"points"`
		} `json:"units"`
	}
	if err := json.Unmarshal(b, &tl); err != nil {
		t.Fatal(err)
	}
	// The load is 120 s; payment's settle_within (1200 s) plus the hold
	// (300 s) is longer than --extend.
	if tl.Scenario != "hpa-flash-sale" || tl.Until != 120+1200+300 || len(tl.Units) != 5 || len(tl.Units[0].Points) != 1620/15+1 {
		t.Fatalf("timeline: scenario %q until %d, %d units", tl.Scenario, tl.Until, len(tl.Units))
	}
	if tl.TrafficScale != 20 {
		t.Fatalf("timeline traffic_scale %v, want the scenario's hpa_traffic_scale 20", tl.TrafficScale)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("Expectations: all hold")) {
		t.Fatalf("report.html: %v", err)
	}

	if _, _, code := runHPAForTest(t, "simulate", "--overlay", "staging", repoPath("scenarios", "hpa-steady.yaml")); code != 2 {
		t.Fatalf("unknown overlay: exit %d, want 2", code)
	}
	if _, _, code := runHPAForTest(t, "simulate", "--profile", filepath.Join(t.TempDir(), "none.json"), repoPath("scenarios", "hpa-steady.yaml")); code != 2 {
		t.Fatalf("missing profile: exit %d, want 2", code)
	}
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestHPACheck(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")

	t.Run("tuned scenarios pass", func(t *testing.T) {
		args := []string{"check", "--junit", junit}
		for _, s := range []string{"hpa-steady", "hpa-flash-sale", "hpa-diurnal"} {
			args = append(args, repoPath("scenarios", s+".yaml"))
		}
		stdout, stderr, code := runHPAForTest(t, args...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
		}
		if doc := readJUnit(t, junit); doc.Tests == 0 || doc.Failures != 0 || doc.Errors != 0 {
			t.Fatalf("junit %+v", doc)
		}
	})

	t.Run("a wrong expectation fails", func(t *testing.T) {
		stdout, _, code := runHPAForTest(t, "check", "--junit", junit, repoPath("sim", "hpa", "platform", "testdata", "wrong-expectation.yaml"))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, stdout)
		}
		if !strings.Contains(stdout, "reaches 5 within 1m0s") || !strings.Contains(stdout, "FAIL") {
			t.Fatalf("the table does not show the broken expectation:\n%s", stdout)
		}
		if doc := readJUnit(t, junit); doc.Failures != 1 {
			t.Fatalf("junit %+v, want one failure", doc)
		}
	})

	t.Run("an invalid file is exit 2", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte("version: 1\nname: bad\ndescription: no load\nhpa:\n  order: {never_above: 3}\n"), 0o644)
		_, stderr, code := runHPAForTest(t, "check", "--junit", junit, bad)
		if code != 2 || !strings.Contains(stderr, "bad.yaml") {
			t.Fatalf("exit %d, want 2 naming the file; stderr:\n%s", code, stderr)
		}
		if doc := readJUnit(t, junit); doc.Errors != 1 {
			t.Fatalf("junit %+v, want one error", doc)
		}
	})

	t.Run("a named scenario without hpa section is exit 2", func(t *testing.T) {
		_, _, code := runHPAForTest(t, "check", "--junit", junit, repoPath("scenarios", "baseline.yaml"))
		if code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})

	t.Run("a directory checks only the files with an hpa section", func(t *testing.T) {
		out := filepath.Join(dir, "reports")
		stdout, _, code := runHPAForTest(t, "check", "--junit", junit, "--out", out, repoPath("sim", "hpa", "platform", "testdata"))
		if code != 1 { // wrong-expectation.yaml
			t.Fatalf("exit %d, want 1:\n%s", code, stdout)
		}
		for _, name := range []string{"one-hour", "wrong-expectation"} {
			if _, err := os.Stat(filepath.Join(out, name, "report.html")); err != nil {
				t.Errorf("no report for %s: %v", name, err)
			}
		}
	})
}

func TestHPAUsage(t *testing.T) {
	if _, stderr, code := runHPAForTest(t); code != 2 || !strings.Contains(stderr, "simulate") {
		t.Fatalf("no command: exit %d, want 2 with the usage", code)
	}
	if _, _, code := runHPAForTest(t, "scale"); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
	if stdout, _, code := runHPAForTest(t, "help"); code != 0 || !strings.Contains(stdout, "check") {
		t.Fatalf("help: exit %d", code)
	}
	if _, _, code := runHPAForTest(t, "simulate", "--extend", "soon", "x.yaml"); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}

// TestHPACheckOutsideACheckout: with no argument and no scenarios/ here,
// check reads the scenarios built into the binary.
func TestHPACheckOutsideACheckout(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, stderr, code := runHPAForTest(t, "check")
	if code == 2 {
		t.Fatalf("exit 2:\n%s", stderr)
	}
	for _, name := range []string{"hpa-steady", "hpa-flash-sale", "hpa-diurnal"} {
		lines := 0
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, name+" ") {
				lines++
				if !strings.HasSuffix(strings.TrimSpace(l), "ok") {
					t.Errorf("built-in %s: %s", name, l)
				}
			}
		}
		if lines == 0 {
			t.Errorf("built-in %s was not checked:\n%s", name, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hpa-junit.xml")); err != nil {
		t.Errorf("no JUnit file in the working directory: %v", err)
	}
}
