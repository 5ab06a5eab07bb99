package unit_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoplab/shoplab/services/platform/grpcx/healthtest"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/services/product/unit"
)

// TestHealthFollowsTheStore cuts the unit's connections to its real
// DynamoDB endpoint: grpc.health.v1 turns NOT_SERVING (liveness stays
// SERVING), and SERVING again once the link is back.
func TestHealthFollowsTheStore(t *testing.T) {
	var link partstest.Link
	cfg := unit.Config{
		GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", CatalogSeed: 1, CatalogSize: 20,
		DynamoDBTable: partstest.UniqueName("product-health-"),
		AWSEndpoint:   partstest.AWSEndpoint(t),
		CreateTable:   true,
	}
	r := mustRun(t, cfg, unit.Deps{AWSHTTPClient: link.HTTPClient()})
	addr := r.u.GRPCAddr()
	healthtest.StoreFlip(t, addr, "shoplab.v1.ProductService", link.Cut, link.Restore)
}

// TestHealthNotServingOnShutdown: a grpc.health.v1 watcher hears
// NOT_SERVING the moment the unit starts to stop, and its open stream does
// not hold the graceful stop up for the grace period.
func TestHealthNotServingOnShutdown(t *testing.T) {
	r := mustRun(t, testConfig(t.TempDir()), unit.Deps{})
	cc, err := grpc.NewClient(r.u.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "shoplab.v1.ProductService"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch first = %v %v, want SERVING", m, err)
	}
	start := time.Now()
	r.cancel()
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("stopping: Watch = %v %v, want NOT_SERVING", m, err)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v: the Watch stream held the graceful stop up", d)
	}
	if r.runErr != nil {
		t.Errorf("Run: %v", r.runErr)
	}
}
