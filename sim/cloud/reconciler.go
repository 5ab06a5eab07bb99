package cloud

import "github.com/shoplab/shoplab/sim/reconcile"

// Reconciler returns a reconcile source over the order, payment and product
// units and the ops API. It dials the units directly, never through the
// chaos proxies, so that reconciliation reads the truth while faults are
// active. The connections close with the Cloud.
func (c *Cloud) Reconciler() (*reconcile.System, error) {
	sys, closeConns, err := reconcile.DialSystem(c.GRPCAddr(Order), c.GRPCAddr(Payment), c.GRPCAddr(Product), c.OpsURL())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.closers = append(c.closers, closeConns)
	c.mu.Unlock()
	return sys, nil
}
