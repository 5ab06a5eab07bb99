package unit_test

import (
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/payment/unit"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/grpcx/healthtest"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

// TestHealthFollowsTheStore cuts the unit's connections to its real
// PostgreSQL: grpc.health.v1 turns NOT_SERVING (liveness stays SERVING),
// and SERVING again once the link is back.
func TestHealthFollowsTheStore(t *testing.T) {
	var link partstest.Link
	cfg := testConfig(t)
	cfg.DatabaseURL = partstest.Postgres(t)
	u, err := unit.New(t.Context(), cfg, unit.Deps{PGDial: link.DialContext})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runUnit(t, u)
	addr := u.GRPCAddr()
	for _, s := range []string{"", "shoplab.v1.PaymentService", grpcx.LivenessService} {
		healthtest.Wait(t, addr, s, healthtest.Serving, 10*time.Second)
	}
	link.Cut()
	healthtest.Wait(t, addr, "", healthtest.NotServing, 10*time.Second)
	healthtest.Wait(t, addr, "shoplab.v1.PaymentService", healthtest.NotServing, 10*time.Second)
	healthtest.Wait(t, addr, grpcx.LivenessService, healthtest.Serving, time.Second)
	link.Restore()
	healthtest.Wait(t, addr, "", healthtest.Serving, 10*time.Second)
}
