package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunOnComposeIsRefused: `shoplab run --env compose` exits 2 before
// starting anything for a scenario with a fault no container exposes (a
// storage fault acts in the unit's SQL driver), naming the fault and what
// runs it instead.
func TestRunOnComposeIsRefused(t *testing.T) {
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}
	err := run(context.Background(), e, []string{"shoplab", "run", "--env", "compose", "--out", t.TempDir(), "../scenarios/order-storage-latency.yaml"})
	if code, ok := ExitCode(err); !ok || code != 2 {
		t.Fatalf("run --env compose: err %v, want exit 2", err)
	}
	for _, want := range []string{"in-process chaos hooks", "storage_latency on order", "--env host ../scenarios/order-storage-latency.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	if strings.Contains(out.String(), "starting") {
		t.Errorf("something started before the refusal:\n%s", out.String())
	}
}
