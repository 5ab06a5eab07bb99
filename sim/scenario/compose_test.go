package scenario_test

import (
	"context"
	"errors"
	"io"
	"net/http"
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

// TestComposeEnvRefusesFaultsInsideUnits: on the compose env the runner
// drives the containers from outside; a scenario with a fault that acts
// through in-process hooks is refused up front, naming each such fault.
func TestComposeEnvRefusesFaultsInsideUnits(t *testing.T) {
	compose := mustEnv(t, envs.Compose)
	for _, tt := range []struct{ scenario, want string }{
		{"order-storage-latency", "storage_latency on order"},
		{"payment-grpc-unavailable", "grpc_error on"},
	} {
		err := scenario.CheckEnv(mustScenario(t, tt.scenario), "scenarios/"+tt.scenario+".yaml", compose, "")
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.FailedPrecondition {
			t.Fatalf("%s on compose: err %v, want a failed_precondition refusal", tt.scenario, err)
		}
		for _, w := range []string{tt.want, "in-process chaos hooks", "shoplab run --env host scenarios/" + tt.scenario + ".yaml"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: refusal does not name %q:\n%v", tt.scenario, w, err)
			}
		}
	}
	// Network and process faults, and none at all, are driven from outside
	// (process faults through the Docker API, checked when the run connects).
	for _, name := range []string{"baseline", "demo", "product-restart", "payment-latency", "broker-outage", "payment-outage", "reset-peer-storm"} {
		if err := scenario.CheckEnv(mustScenario(t, name), "", compose, ""); err != nil {
			t.Errorf("%s on compose: %v", name, err)
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

// TestRunOnComposeWithoutTheStack: Run on the compose env drives
// ComposeStack; with no stack up it fails fast naming what to start,
// instead of starting in-process units against container names.
func TestRunOnComposeWithoutTheStack(t *testing.T) {
	for _, u := range scenario.ComposeStack.Ops {
		if resp, err := http.Get(u + "/readyz"); err == nil {
			resp.Body.Close()
			t.Skipf("something answers at %s: a compose stack may be up here", u)
		}
	}
	start := time.Now()
	_, err := scenario.Run(context.Background(), mustScenario(t, "payment-latency"), scenario.Options{
		Env: mustEnv(t, envs.Compose), Short: true, Progress: io.Discard, OutDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "is not ready at http://127.0.0.1:1808") {
		t.Fatalf("Run on compose without the stack: %v, want the not-ready error", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the error took %s", d)
	}
}
