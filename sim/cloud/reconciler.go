package cloud

import (
	"fmt"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/sim/reconcile"
)

// Reconciler returns a reconcile source over the order, payment and product
// units and the ops API. It dials the units directly, never through the
// chaos proxies, so that reconciliation reads the truth while faults are
// active. The connections close with the Cloud.
func (c *Cloud) Reconciler() (*reconcile.System, error) {
	conns := make([]*grpc.ClientConn, 0, 3)
	for _, u := range []string{Order, Payment, Product} {
		cc, err := grpcx.Dial(c.GRPCAddr(u), grpcx.ClientOptions{Target: u})
		if err != nil {
			for _, cc := range conns {
				_ = cc.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", u, err)
		}
		conns = append(conns, cc)
	}
	c.mu.Lock()
	c.closers = append(c.closers, func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	})
	c.mu.Unlock()
	return reconcile.NewSystem(conns[0], conns[1], conns[2], c.OpsURL()), nil
}
