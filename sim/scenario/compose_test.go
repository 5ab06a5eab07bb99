package scenario_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func mustEnv(t *testing.T, name string) *envs.Env {
	t.Helper()
	e, err := envs.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustScenario(t *testing.T, name string) *spec.Scenario {
	t.Helper()
	s, err := spec.Load("../../scenarios/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestComposeEnvIsRefusedNamingWhatIsMissing: on the compose env the runner
// must not start in-process units against container names; it refuses, per
// scenario, naming each fault it cannot apply and what runs it instead.
func TestComposeEnvIsRefusedNamingWhatIsMissing(t *testing.T) {
	compose := mustEnv(t, envs.Compose)
	for _, tt := range []struct {
		scenario string
		want     []string
		not      []string
	}{
		{"demo", []string{"slow-payments (latency on order->payment)", "http://toxiproxy:8474", "product-killed (kill on product)", "Docker API",
			"/ops/v1/mailbox", "shoplab run --env host scenarios/demo.yaml", "SCENARIO=demo docker compose"}, []string{"in-process chaos hooks"}},
		{"order-storage-latency", []string{"in-process chaos hooks", "storage_latency on order"}, []string{"Docker API"}},
		{"baseline", []string{"/ops/v1/mailbox"}, []string{"Docker API", "toxiproxy container's API", "in-process"}},
	} {
		err := scenario.CheckEnv(mustScenario(t, tt.scenario), "scenarios/"+tt.scenario+".yaml", compose, "")
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.FailedPrecondition {
			t.Fatalf("%s on compose: err %v, want a failed_precondition refusal", tt.scenario, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: refusal does not name %q:\n%v", tt.scenario, w, err)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(err.Error(), n) {
				t.Errorf("%s: refusal names %q, which this scenario does not need:\n%v", tt.scenario, n, err)
			}
		}
	}
}

// TestCheckEnvLetsTheOtherEnvsRun: local, host, aws-* and a compose run
// against an explicit --target are not refused.
func TestCheckEnvLetsTheOtherEnvsRun(t *testing.T) {
	demo := mustScenario(t, "demo")
	if err := scenario.CheckEnv(demo, "", nil, ""); err != nil {
		t.Errorf("local: %v", err)
	}
	for _, name := range []string{envs.Local, envs.Host, envs.AWSDev} {
		if err := scenario.CheckEnv(demo, "", mustEnv(t, name), ""); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := scenario.CheckEnv(demo, "", mustEnv(t, envs.Compose), "http://127.0.0.1:8090"); err != nil {
		t.Errorf("compose with --target: %v", err)
	}
}

// TestRunRefusesComposeBeforeStartingAnything: Run itself refuses (the CLI
// checks first, but the API must not start units against container names).
func TestRunRefusesComposeBeforeStartingAnything(t *testing.T) {
	start := time.Now()
	_, err := scenario.Run(context.Background(), mustScenario(t, "payment-latency"), scenario.Options{
		Env: mustEnv(t, envs.Compose), Short: true, Progress: io.Discard, OutDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "cannot drive them yet") {
		t.Fatalf("Run on compose: %v, want the refusal", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refusal took %s: something started first", d)
	}
}
