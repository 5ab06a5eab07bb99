package cloud_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// TestOrdersRecoverAtOnceAfterPaymentToggle is issue 10's defect 9: after
// `toxiproxy-cli toggle order->payment` off and on, orders failed with 503
// "payment voided; use a new key" for about 2 s.
func TestOrdersRecoverAtOnceAfterPaymentToggle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	engine, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cloud.New(ctx, cloud.Config{DataDir: t.TempDir(), Chaos: engine, RecoveryGrace: time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	api := shopclient.New(c.GatewayURL(), nil)
	sess := mustSession(t, api, "toggle@example.com")
	page, err := api.ListProducts(rctx, "", "", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var prod shopclient.Product
	for _, p := range page.Items {
		if p.Stock >= 50 {
			prod = p
			break
		}
	}
	if prod.ID == "" {
		t.Fatal("no product with 50 in stock")
	}
	n := 0
	place := func() (time.Duration, error) {
		n++
		start := time.Now()
		res, err := api.CreateOrder(rctx, sess.Token, fmt.Sprintf("k-toggle-%d", n), shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: prod.ID, Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}})
		if err == nil && res.Order.Status != "PAID" {
			err = fmt.Errorf("order %s is %s", res.Order.ID, res.Order.Status)
		}
		return time.Since(start), err
	}
	// The baseline: an order with the edge untouched.
	var base time.Duration
	for range 3 {
		d, err := place()
		if err != nil {
			t.Fatalf("order before the toggle: %v", err)
		}
		base = d
	}

	tp := toxiclient.NewClient(engine.APIAddr())
	p, err := tp.Proxy("order->payment")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		time.Sleep(time.Duration(round) * 400 * time.Millisecond) // a later toggle meets a grown backoff
		if err := p.Disable(); err != nil {
			t.Fatal(err)
		}
		off, err := place()
		if err == nil {
			t.Fatalf("round %d: an order was paid while order->payment was off", round)
		}
		// Waking the connection must not slow down the answer during the
		// outage itself: it still fails fast.
		if off > 2*time.Second {
			t.Fatalf("round %d: the order during the outage took %s to fail", round, off)
		}
		if err := p.Enable(); err != nil {
			t.Fatal(err)
		}
		d, err := place()
		if err != nil {
			t.Fatalf("round %d: the first order after toggling order->payment back on failed after %s: %v", round, d, err)
		}
		t.Logf("round %d: failed in %s while off; the first order after the toggle took %s (baseline %s, ratio %.1f)", round, off.Round(time.Millisecond), d.Round(time.Millisecond), base.Round(time.Millisecond), float64(d)/float64(base))
	}
}
