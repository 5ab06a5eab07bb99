package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func writeRun(t *testing.T, dir string, p95 time.Duration) string {
	t.Helper()
	st := load.Stats{Requests: 100, Throughput: 20, Latency: load.Latency{P50: p95 / 2, P95: p95, P99: p95}}
	j := &journal.Journal{Scenario: "baseline", Verdict: journal.Pass, PhaseStat: map[string]load.Stats{"total": st}}
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
