package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func writeRun(t *testing.T, dir string, p95 time.Duration) string {
	t.Helper()
	return writeScenarioRun(t, dir, "baseline", p95)
}

// writeScenarioRun writes a run of scenario with ten seconds of series.
func writeScenarioRun(t *testing.T, dir, scenario string, p95 time.Duration) string {
	t.Helper()
	lat := load.Latency{P50: p95 / 2, P95: p95, P99: p95}
	st := load.Stats{Requests: 100, Throughput: 20, Latency: lat}
	j := &journal.Journal{Scenario: scenario, Verdict: journal.Pass, LoadSeconds: 10, PhaseStat: map[string]load.Stats{"total": st}}
	for sec := range 10 {
		j.Series = append(j.Series, load.SecondStats{At: time.Duration(sec) * time.Second, Requests: 10, Latency: lat})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := j.WriteFile(filepath.Join(dir, "journal.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDiffExitCodes(t *testing.T) {
	dir := t.TempDir()
	base := writeRun(t, filepath.Join(dir, "base"), 20*time.Millisecond)
	same := writeRun(t, filepath.Join(dir, "same"), 21*time.Millisecond)
	slow := writeRun(t, filepath.Join(dir, "slow"), 80*time.Millisecond)
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{same, base}, 0, "No regression"},
		{[]string{slow, base}, 1, "regression(s) beyond the tolerance"},
		{[]string{"--latency-tolerance", "5", slow, base}, 0, "No regression"},
		{[]string{slow}, 2, ""},
		{[]string{filepath.Join(dir, "nope"), base}, 2, ""},
	} {
		var out bytes.Buffer
		e := env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}
		err := run(context.Background(), e, append([]string{"shoplab", "diff"}, tc.args...))
		code := 0
		if err != nil {
			code = 1
			if c, ok := ExitCode(err); ok {
				code = c
			}
		}
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("diff %v: exit %d (%v), want %d; output:\n%s", tc.args, code, err, tc.code, out.String())
		}
	}
}

// TestDiffHTML: --html writes the run's page with the baseline in it
// whatever the verdict, keeps the exit codes, and writes nothing when the
// runs cannot be compared.
func TestDiffHTML(t *testing.T) {
	dir := t.TempDir()
	base := writeRun(t, filepath.Join(dir, "base"), 20*time.Millisecond)
	same := writeRun(t, filepath.Join(dir, "same"), 21*time.Millisecond)
	slow := writeRun(t, filepath.Join(dir, "slow"), 80*time.Millisecond)
	other := writeScenarioRun(t, filepath.Join(dir, "other"), "broker-outage", 20*time.Millisecond)

	stdout, _, _ := runCLI(t, nil, "diff", slow, base, "--json")
	var res diff.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Regressions() == 0 {
		t.Fatalf("diff --json: %v, %d regressions\n%s", err, res.Regressions(), stdout)
	}
	regressedRow := regexp.MustCompile(`<tr class="fail"><td class="nm">([^<]+)</td>`)
	baselinePath := regexp.MustCompile(`<path class="baseline" [^>]*><title>(baseline [^<]+)</title>`)
	for _, tc := range []struct {
		name, run string
		code      int
		summary   string
	}{
		{"regressed", slow, 1, res.Summary()},
		{"no regression", same, 0, "No regression beyond the tolerance."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".html")
			_, stderr, code := runCLI(t, nil, "diff", tc.run, base, "--html", out)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			if !strings.Contains(page, "Compared with baseline <code>"+base+"</code>") || !strings.Contains(page, tc.summary) {
				t.Errorf("the page does not name the baseline %s or say %q", base, tc.summary)
			}
			var rows []string
			for _, m := range regressedRow.FindAllStringSubmatch(page, -1) {
				rows = append(rows, m[1])
			}
			var want []string
			if tc.code == 1 {
				for _, r := range res.Rows {
					if r.Regression {
						want = append(want, r.What)
					}
				}
			}
			if !slices.Equal(rows, want) {
				t.Errorf("rows marked as regressed %v, want %v", rows, want)
			}
			var paths []string
			for _, m := range baselinePath.FindAllStringSubmatch(page, -1) {
				paths = append(paths, m[1])
			}
			if w := []string{"baseline p50", "baseline p95", "baseline p99", "baseline requests/s", "baseline errors/s", "baseline errors/s", "baseline dropped iterations/s"}; !slices.Equal(paths, w) {
				t.Errorf("baseline paths %v, want %v", paths, w)
			}
		})
	}

	for _, tc := range []struct {
		name, run, out, stderr string
	}{
		{"another scenario", other, filepath.Join(dir, "other.html"), "different scenarios"},
		{"unwritable file", slow, filepath.Join(dir, "no-such-dir", "x.html"), "no-such-dir"},
	} {
		_, stderr, code := runCLI(t, nil, "diff", tc.run, base, "--html", tc.out)
		if code != 2 || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, want 2 saying %q\n%s", tc.name, code, tc.stderr, stderr)
		}
		if _, err := os.Stat(tc.out); !os.IsNotExist(err) {
			t.Errorf("%s: %s was written (%v)", tc.name, tc.out, err)
		}
	}
}
