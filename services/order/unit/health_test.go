package unit_test

import (
	"net"
	"testing"

	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/order/unit"
	"github.com/shoplab/shoplab/services/platform/grpcx/healthtest"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestHealthFollowsTheStoreOnly: with user, product and payment all down
// the unit is SERVING (it keeps orders PENDING and settles them later; see
// the package doc), and it turns NOT_SERVING only when its own PostgreSQL
// link is cut, and SERVING again once it is back.
func TestHealthFollowsTheStoreOnly(t *testing.T) {
	var link partstest.Link
	dead := deadAddr(t)
	cfg := config(fakedeps.Addrs{User: dead, Product: dead, Payment: dead}, t.TempDir(), newCluster(t).ListenAddrs())
	cfg.GRPCAddr, cfg.OpsAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabaseURL = partstest.Postgres(t)
	u := start(t, cfg, unit.Deps{PGDial: link.DialContext})
	addr := u.GRPCAddr()
	healthtest.StoreFlip(t, addr, "shoplab.v1.OrderService", link.Cut, link.Restore)
	u.stop(t)
}
