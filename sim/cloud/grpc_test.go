package cloud_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/grpcx/healthtest"
	"github.com/shoplab/shoplab/sim/cloud"
)

// grpcUnits are the units that serve gRPC, with their API service and
// one of its methods.
var grpcUnits = []struct{ unit, service, method string }{
	{cloud.User, "shoplab.v1.UserService", "Authenticate"},
	{cloud.Product, "shoplab.v1.ProductService", "GetProduct"},
	{cloud.Order, "shoplab.v1.OrderService", "CreateOrder"},
	{cloud.Payment, "shoplab.v1.PaymentService", "ProcessPayment"},
}

// mustGRPCCloud starts the whole local env on :0 ports, with reflection as
// asked, and waits until every unit is ready.
func mustGRPCCloud(t *testing.T, reflection bool) *cloud.Cloud {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cloud.New(ctx, cloud.Config{DataDir: t.TempDir(), GRPCReflection: reflection})
	if err != nil {
		cancel()
		t.Fatalf("start the local env: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	if err := c.WaitReady(t.Context(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs a client binary and returns its combined output and exit code.
func run(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return string(out), 0
}

// TestThirdPartyGRPCClients is issue 10's defect 6 as a user meets it:
// the real grpcurl lists and describes every gRPC unit of the platform
// `shoplab up` runs (reflection on) and calls grpc.health.v1.Health/Check,
// and the real grpc_health_probe (what Kubernetes users run) says SERVING.
func TestThirdPartyGRPCClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	grpcurl, missing := healthtest.GRPCurl()
	if missing != "" {
		t.Skip(missing)
	}
	probe, missing := healthtest.HealthProbe()
	if missing != "" {
		t.Skip(missing)
	}
	c := mustGRPCCloud(t, true)
	for _, u := range grpcUnits {
		addr := c.GRPCAddr(u.unit)
		t.Run(u.unit, func(t *testing.T) {
			out, code := run(t, grpcurl, "-plaintext", "-max-time", "10", addr, "list")
			names := strings.Fields(out)
			if code != 0 || !slices.Contains(names, u.service) || !slices.Contains(names, "grpc.health.v1.Health") ||
				!slices.Contains(names, "grpc.reflection.v1.ServerReflection") {
				t.Errorf("grpcurl list %s: exit %d\n%s", addr, code, out)
			}
			out, code = run(t, grpcurl, "-plaintext", "-max-time", "10", addr, "list", u.service)
			if code != 0 || !slices.Contains(strings.Fields(out), u.service+"."+u.method) {
				t.Errorf("grpcurl list %s: exit %d\n%s", u.service, code, out)
			}
			out, code = run(t, grpcurl, "-plaintext", "-max-time", "10", addr, "describe", u.service+"."+u.method)
			if code != 0 || !strings.Contains(out, "rpc "+u.method+" ( .shoplab.v1.") {
				t.Errorf("grpcurl describe %s.%s: exit %d\n%s", u.service, u.method, code, out)
			}
			for _, service := range []string{"", u.service, grpcx.LivenessService} {
				out, code = run(t, grpcurl, "-plaintext", "-max-time", "10", "-d", `{"service":"`+service+`"}`,
					addr, "grpc.health.v1.Health/Check")
				var resp struct{ Status string }
				if err := json.Unmarshal([]byte(out), &resp); code != 0 || err != nil || resp.Status != "SERVING" {
					t.Errorf("grpcurl Health/Check %q: exit %d, %v\n%s", service, code, err, out)
				}
				if code, out := healthtest.Probe(t, probe, addr, service); code != 0 || !strings.Contains(out, "SERVING") {
					t.Errorf("grpc_health_probe -service %q: exit %d\n%s", service, code, out)
				}
			}
			out, code = run(t, grpcurl, "-plaintext", "-max-time", "10", "-d", `{"service":"no.such.Service"}`,
				addr, "grpc.health.v1.Health/Check")
			if code == 0 || !strings.Contains(out, "NotFound") {
				t.Errorf("grpcurl Health/Check of an unknown service: exit %d\n%s", code, out)
			}
		})
	}
	// A call of the unit's own API, encoded from JSON with the schema that
	// reflection handed grpcurl.
	out, code := run(t, grpcurl, "-plaintext", "-max-time", "10", "-d", `{"id":"p-0001"}`,
		c.GRPCAddr(cloud.Product), "shoplab.v1.ProductService/GetProduct")
	if code != 0 || !strings.Contains(out, `"id": "p-0001"`) {
		t.Errorf("grpcurl ProductService/GetProduct: exit %d\n%s", code, out)
	}
}

// TestReflectionOffByDefault: without GRPCReflection (the default of
// `shoplab serve`), grpcurl cannot list a unit, and health still answers.
func TestReflectionOffByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	grpcurl, missing := healthtest.GRPCurl()
	if missing != "" {
		t.Skip(missing)
	}
	probe, missing := healthtest.HealthProbe()
	if missing != "" {
		t.Skip(missing)
	}
	c := mustGRPCCloud(t, false)
	for _, u := range grpcUnits {
		addr := c.GRPCAddr(u.unit)
		if out, code := run(t, grpcurl, "-plaintext", "-max-time", "10", addr, "list"); code == 0 || !strings.Contains(out, "does not support the reflection API") {
			t.Errorf("%s: grpcurl list with reflection off: exit %d\n%s", u.unit, code, out)
		}
		if code, out := healthtest.Probe(t, probe, addr, u.service); code != 0 {
			t.Errorf("%s: grpc_health_probe with reflection off: exit %d\n%s", u.unit, code, out)
		}
	}
}
