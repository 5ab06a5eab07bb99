package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRecapsUnexpectedVerdicts: a library run ends with each scenario
// that missed its expect and the checks that made it miss, so the cause is
// next to the exit status (CI shows the tail of a long log); a miss on
// timing alone is retried as often as --retry-timing allows.
func TestRunRecapsUnexpectedVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two short scenarios on the local env")
	}
	dir := t.TempDir()
	scenario := func(name, expect, max string) string {
		path := filepath.Join(dir, name+".yaml")
		body := `version: 1
name: ` + name + `
description: a recap test scenario
expect: ` + expect + `
load: {executor: constant-arrival-rate, rate: 5, duration: 3s, customers: 5, journeys: {browse: 1}}
steady_state:
  - {name: browse-p95, metric: latency_p95, journey: browse, max: ` + max + `, phases: [before]}
invariants: [no_lost_orders]
`
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := scenario("recap-good", "pass", "10s")
	bad := scenario("recap-bad", "pass", "1us")
	t.Chdir(dir)
	stdout, stderr, code := runCLI(t, nil, "run", "--check-expect", "--retry-timing", "1", good, bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	_, recap, ok := strings.Cut(stdout, "2 scenario(s), 1 as expected, 1 not")
	if !ok {
		t.Fatalf("no library summary line:\n%s", stdout)
	}
	if n := strings.Count(stdout, "recap-bad: FAIL"); n != 2 {
		t.Errorf("recap-bad ran %d time(s), want 2 (a latency-only miss is retried once)", n)
	}
	if n := strings.Count(stdout, "recap-good: PASS"); n != 1 {
		t.Errorf("recap-good ran %d time(s), want 1", n)
	}
	for _, want := range []string{"recap-bad was run again after missing on timing", "recap-bad:", "verdict fail, expected pass", "probe browse-p95 [before]"} {
		if !strings.Contains(recap, want) {
			t.Errorf("recap lacks %q:\n%s", want, recap)
		}
	}
	if strings.Contains(recap, "recap-good") {
		t.Errorf("recap names the scenario that met its expect:\n%s", recap)
	}
}
