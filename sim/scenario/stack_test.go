package scenario_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/journal"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// standIn starts the embedded env as a stand-in for the compose stack: the
// units on their own gRPC and ops ports, every edge a proxy of the chaos
// engine, whose HTTP API is toxiproxy's (as the toxiproxy container's is).
// The runner then sees it only as a Stack of addresses.
func standIn(t *testing.T, window time.Duration) scenario.Stack {
	t.Helper()
	engine, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cloud.New(ctx, cloud.Config{DataDir: t.TempDir(), Chaos: engine, AnalyticsWindow: window, RecoveryGrace: time.Second})
	if err != nil {
		cancel()
		_ = engine.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	st := scenario.Stack{Gateway: c.GatewayURL(), Toxiproxy: "http://" + engine.APIAddr(), GRPC: map[string]string{}, Ops: map[string]string{}, Window: window}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		for _, u := range c.Status(ctx) {
			ready = ready && u.Ready
			st.Ops[u.Name] = "http://" + u.OpsAddr
			if u.GRPCAddr != "" {
				st.GRPC[u.Name] = u.GRPCAddr
			}
		}
		if ready {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in never became ready: %+v", c.Status(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunDrivesAStackFromOutside runs the SLO-breach scenario against a
// stack of separate units the runner did not start: the latency fault goes
// through toxiproxy's HTTP API (so the during probe must fail), and every
// invariant is reconciled over the units' own gRPC and ops ports.
func TestRunDrivesAStackFromOutside(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and runs 12 s of load")
	}
	st := standIn(t, 2*time.Second)
	s, err := spec.Parse("slo-breach-test.yaml", []byte(sloBreach))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	j, err := scenario.Run(ctx, s, scenario.Options{OutDir: t.TempDir(), Stack: &st, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "driving the stack whose gateway is "+st.Gateway) {
		t.Errorf("the run did not drive the stack:\n%s", progress.String())
	}
	if len(j.Faults) != 1 || j.Faults[0].Error != "" {
		t.Fatalf("fault records %+v: the latency fault did not go through toxiproxy's API", j.Faults)
	}
	probe := map[string]journal.ProbeResult{}
	for _, p := range j.Probes {
		probe[p.Name+"/"+p.Phase] = p
	}
	if p := probe["checkout-p95/during"]; p.OK || p.Observed == nil || *p.Observed < 1400 {
		t.Errorf("the during probe should fail with p95 >= 1.4 s (the toxic acts): %+v", p)
	}
	if p := probe["checkout-p95/before"]; !p.OK || p.Skipped {
		t.Errorf("the before probe should pass: %+v", p)
	}
	if len(j.Invariants) != 5 {
		t.Fatalf("%d invariants checked, want 5", len(j.Invariants))
	}
	for _, inv := range j.Invariants {
		if !inv.OK {
			t.Errorf("invariant %s over the stack's ports: %s", inv.Name, inv.Detail)
		}
	}
}

// TestStackRefusesFaultsInsideUnits: a storage or an L7 fault cannot be
// applied from outside; the run is refused before it connects.
func TestStackRefusesFaultsInsideUnits(t *testing.T) {
	st := scenario.ComposeStack
	start := time.Now()
	_, err := scenario.Run(context.Background(), mustScenario(t, "order-storage-latency"), scenario.Options{Stack: &st, Short: true, Progress: io.Discard, OutDir: t.TempDir()})
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.FailedPrecondition || !strings.Contains(err.Error(), "in-process chaos hooks") {
		t.Fatalf("order-storage-latency on a stack: %v, want the refusal naming the in-process hooks", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the refusal took %s", time.Since(start))
	}
}

// readyStack is a Stack whose every ops address and toxiproxy's answer
// (one test server for all), so a run gets past the readiness checks.
func readyStack(t *testing.T) scenario.Stack {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	st := scenario.ComposeStack
	st.Toxiproxy = srv.URL
	st.Ops = map[string]string{}
	for u := range scenario.ComposeStack.Ops {
		st.Ops[u] = srv.URL
	}
	return st
}

// TestStackProcessFaultsNeedDocker: with no Docker engine at the stack's
// Docker address, a scenario that kills a unit fails fast naming the
// faults, the address and what to do.
func TestStackProcessFaultsNeedDocker(t *testing.T) {
	st := readyStack(t)
	st.Docker = "unix://" + t.TempDir() + "/no-docker.sock"
	_, err := scenario.Run(context.Background(), mustScenario(t, "demo"), scenario.Options{Stack: &st, Short: true, Progress: io.Discard, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "product-killed (kill on product)") || !strings.Contains(err.Error(), st.Docker) {
		t.Fatalf("demo without Docker: %v, want the error naming the kill and the Docker address", err)
	}
}

// TestStackNotUpSaysSo: with nothing listening the run fails fast, naming
// the unit and how to start the stack.
func TestStackNotUpSaysSo(t *testing.T) {
	st := scenario.ComposeStack
	st.Ops = map[string]string{}
	for u := range scenario.ComposeStack.Ops {
		st.Ops[u] = "http://127.0.0.1:1" // nothing listens on port 1
	}
	_, err := scenario.Run(context.Background(), mustScenario(t, "baseline"), scenario.Options{Stack: &st, Short: true, Progress: io.Discard, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is not ready") || !strings.Contains(err.Error(), "docker compose --profile core up --wait") {
		t.Fatalf("a stack that is not up: %v", err)
	}
}
