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

	"github.com/shoplab/shoplab/scenarios"
	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/journal"
	"github.com/shoplab/shoplab/sim/scenario/spec"
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

// ciDemoDiffFlags are the tolerances .ci/run passes when it diffs its demo
// run against ci/baselines/demo, read from its DEMO_DIFF_FLAGS line so this
// test and CI cannot drift apart.
func ciDemoDiffFlags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEMO_DIFF_FLAGS="([^"]*)"$`).FindSubmatch(b)
	if m == nil {
		t.Fatal(`.ci/run has no DEMO_DIFF_FLAGS="..." line`)
	}
	return strings.Fields(string(m[1]))
}

// TestCIDemoBaseline: the committed baseline loads, is a passing full-length
// run of the demo `shoplab demo` embeds (so CI's diff is not exit 2), and,
// with CI's tolerances, diffs cleanly against itself and against a copy
// moved by the worst noise measured between runs of one build on the
// 2-core CI machine, yet fails on copies with a real regression: checkout
// twice as slow under slow payments, more errors while the product is
// down, a fault-free phase 120 ms slower, an invariant broken.
func TestCIDemoBaseline(t *testing.T) {
	flags := ciDemoDiffFlags(t)
	base := filepath.Join("..", "ci", "baselines", "demo")
	j, err := journal.ReadFile(filepath.Join(base, "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := scenarios.Files.ReadFile("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("scenarios/demo.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if j.Scenario != s.Name || j.Verdict != journal.Pass || j.Short {
		t.Fatalf("baseline: scenario %q verdict %q short %v; want a full-length passing run of %q (re-record: make ci-baseline)", j.Scenario, j.Verdict, j.Short, s.Name)
	}
	for _, phase := range []string{"before", "during", "recovering", "after", "total"} {
		if st, ok := j.PhaseStat[phase]; !ok || st.Requests == 0 {
			t.Fatalf("baseline has no requests in phase %q: diff would compare nothing there", phase)
		}
	}

	dir := t.TempDir()
	doctored := func(name string, edit func(j *journal.Journal)) string {
		c, err := journal.ReadFile(filepath.Join(base, "journal.json"))
		if err != nil {
			t.Fatal(err)
		}
		edit(c)
		out := filepath.Join(dir, name)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteFile(filepath.Join(out, "journal.json")); err != nil {
			t.Fatal(err)
		}
		return out
	}
	phase := func(j *journal.Journal, name string, edit func(st *load.Stats)) {
		st := j.PhaseStat[name]
		edit(&st)
		j.PhaseStat[name] = st
	}
	// The worst rises seen between demo runs of one build on the CI machine
	// kind, quiet or loaded (the figures in .ci/run's comment), all at once.
	noisy := doctored("noisy", func(j *journal.Journal) {
		for name, st := range j.PhaseStat {
			for _, p := range []*time.Duration{&st.P50, &st.P95, &st.P99} {
				if *p < 100*time.Millisecond {
					*p += 55 * time.Millisecond
				} else {
					*p = *p * 102 / 100
				}
			}
			st.ErrorRate += 0.0064
			st.Throughput *= 0.99
			j.PhaseStat[name] = st
		}
	})
	for _, tc := range []struct {
		name    string
		run     string
		code    int
		flagged []string
	}{
		{"itself", base, 0, nil},
		{"noise", noisy, 0, nil},
		{"checkout twice as slow under slow payments", doctored("slow", func(j *journal.Journal) {
			phase(j, "during", func(st *load.Stats) { st.P95 *= 2; st.P99 *= 2 })
		}), 1, []string{"during latency p95", "during latency p99"}},
		{"more errors while the product is down", doctored("errors", func(j *journal.Journal) {
			phase(j, "during", func(st *load.Stats) { st.ErrorRate += 0.03 })
		}), 1, []string{"during error rate"}},
		{"a fault-free phase 120 ms slower", doctored("after", func(j *journal.Journal) {
			phase(j, "after", func(st *load.Stats) { st.P95 += 120 * time.Millisecond })
		}), 1, []string{"after latency p95"}},
		{"an invariant broken", doctored("invariant", func(j *journal.Journal) {
			j.Invariants[0].OK = false
		}), 1, []string{"invariant " + j.Invariants[0].Name}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"diff", "--json"}, flags...), tc.run, base)
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != tc.code {
				t.Fatalf("shoplab %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, tc.code, stdout, stderr)
			}
			var res diff.Result
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res.Rows {
				if r.Regression {
					got = append(got, r.What)
				}
			}
			if !slices.Equal(got, tc.flagged) {
				t.Errorf("regressions %q, want %q", got, tc.flagged)
			}
		})
	}
}
