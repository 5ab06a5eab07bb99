// Package healthtest asks a running gRPC server for its grpc.health.v1
// status, as a Kubernetes gRPC probe does, for tests that watch a unit's
// health follow its stores.
package healthtest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
