// Package healthtest asks a running gRPC server for its grpc.health.v1
// status, as a Kubernetes gRPC probe does, for tests that watch a unit's
// health follow its stores.
package healthtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoplab/shoplab/services/platform/grpcx"
)

// Status values, for short test tables.
const (
	Serving    = healthpb.HealthCheckResponse_SERVING
	NotServing = healthpb.HealthCheckResponse_NOT_SERVING
)

// Check returns service's status at addr, or the call's error.
func Check(ctx context.Context, addr, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return r.GetStatus(), nil
}

// Wait checks service at addr until it answers want, and fails tb with the
// last answer if it has not within timeout. It returns how long it took.
func Wait(tb testing.TB, addr, service string, want healthpb.HealthCheckResponse_ServingStatus, timeout time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		got, err := Check(context.Background(), addr, service)
		if err == nil && got == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("grpc.health.v1 Check(%q) at %s: got %v (err %v), want %v within %v", service, addr, got, err, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The third-party gRPC clients the tests drive, pinned to versions the Go
// module proxy serves, and the variables that point at their binaries.
const (
	GRPCurlModule     = "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"
	HealthProbeModule = "github.com/grpc-ecosystem/grpc-health-probe@v0.4.63"
	EnvGRPCurl        = "GRPCURL"
	EnvHealthProbe    = "GRPC_HEALTH_PROBE"
)

// GRPCurl returns the path of grpcurl ($GRPCURL, else PATH), or "" with
// the reason it is missing and how to install it.
func GRPCurl() (path, missing string) {
	return lookTool(EnvGRPCurl, GRPCurlModule, "grpcurl")
}

// HealthProbe returns the path of grpc_health_probe ($GRPC_HEALTH_PROBE,
// else PATH under either of the names it goes by), or "" with the reason
// it is missing and how to install it.
func HealthProbe() (path, missing string) {
	return lookTool(EnvHealthProbe, HealthProbeModule, "grpc_health_probe", "grpc-health-probe")
}

func lookTool(env, module string, names ...string) (string, string) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("%s=%s: %v", env, p, err)
		}
		return p, ""
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, ""
		}
	}
	return "", fmt.Sprintf("%s is not on PATH and %s is not set; build it with: GOBIN=$PWD/ci-runs/bin go install %s, then export %s=$PWD/ci-runs/bin/%s",
		names[0], env, module, env, path.Base(strings.Split(module, "@")[0]))
}

// Probe runs grpc_health_probe against addr for service and returns its
// exit code and output: 0 is SERVING, 4 NOT_SERVING (the tool's codes).
func Probe(tb testing.TB, bin, addr, service string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-addr", addr, "-service", service, "-connect-timeout", "3s", "-rpc-timeout", "3s").CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	tb.Fatalf("run %s: %v\n%s", bin, err, out)
	return -1, ""
}

// StoreFlip checks that a running unit's grpc.health.v1 follows its store:
// SERVING for "" and service, NOT_SERVING for both once cut has broken the
// unit's link to its store (while grpcx.LivenessService stays SERVING), and
// SERVING again after restore. Where grpc_health_probe is installed it
// must agree at each step, exit code and all.
func StoreFlip(tb testing.TB, addr, service string, cut, restore func()) {
	tb.Helper()
	probe, missing := HealthProbe()
	if missing != "" {
		tb.Logf("checking with grpc-go's client only: %s", missing)
	}
	agree := func(service string, code int, word string) {
		tb.Helper()
		if probe == "" {
			return
		}
		got, out := Probe(tb, probe, addr, service)
		if got != code || !strings.Contains(out, word) {
			tb.Errorf("grpc_health_probe -service %q: exit %d, %q; want exit %d and %s", service, got, out, code, word)
		}
	}
	for _, s := range []string{"", service, grpcx.LivenessService} {
		Wait(tb, addr, s, Serving, 10*time.Second)
	}
	agree(service, 0, "SERVING")
	cut()
	Wait(tb, addr, "", NotServing, 10*time.Second)
	Wait(tb, addr, service, NotServing, 10*time.Second)
	Wait(tb, addr, grpcx.LivenessService, Serving, time.Second)
	agree(service, 4, "NOT_SERVING")
	agree(grpcx.LivenessService, 0, "SERVING")
	restore()
	Wait(tb, addr, "", Serving, 10*time.Second)
	Wait(tb, addr, service, Serving, 10*time.Second)
	agree("", 0, "SERVING")
}
