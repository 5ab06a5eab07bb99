package unit_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/payment/unit"
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
	healthtest.StoreFlip(t, addr, "shoplab.v1.PaymentService", link.Cut, link.Restore)
}
