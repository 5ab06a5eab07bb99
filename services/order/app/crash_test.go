package app_test

import (
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// TestCrashRecovery kills the order process at every step of placing an
// order, starts a new one on the same database, and checks that the
// recovery loop settles the order: PAID exactly once with one outbox row
// when the charge happened, FAILED with its stock back when it did not,
// never left PENDING and never charged twice.
func TestCrashRecovery(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		lines    []order.Line
		product  killPoint
		payment  killPoint
		want     order.Status
		wantCode order.FailureCode
	}{
		{name: "after the PENDING insert, before reserving", token: fakedeps.TokenVisa,
			product: killPoint{"ReserveStock", false}, want: order.StatusFailed, wantCode: order.FailureDependencyUnavailable},
		{name: "after reserving, before charging", token: fakedeps.TokenVisa,
			product: killPoint{"ReserveStock", true}, want: order.StatusFailed, wantCode: order.FailureDependencyUnavailable},
		{name: "after charging, before the commit", token: fakedeps.TokenVisa,
			payment: killPoint{"ProcessPayment", true}, want: order.StatusPaid},
		{name: "after a decline, before releasing", token: fakedeps.TokenDeclined,
			payment: killPoint{"ProcessPayment", true}, want: order.StatusFailed, wantCode: order.FailurePaymentDeclined},
		{name: "after releasing, before marking FAILED", token: fakedeps.TokenDeclined,
			product: killPoint{"ReleaseStock", true}, want: order.StatusFailed, wantCode: order.FailurePaymentDeclined},
		{name: "after releasing for want of stock, before marking FAILED", token: fakedeps.TokenVisa,
			lines:   []order.Line{{ProductID: "p2", Quantity: 9}},
			product: killPoint{"ReleaseStock", true}, want: order.StatusFailed, wantCode: order.FailureDependencyUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			k := &killSwitch{}
			e.restartWith(killingUsers{e.deps.Users, k},
				killingProducts{ProductClient: e.deps.Products, k: k, at: tc.product},
				killingPayments{PaymentClient: e.deps.Payments, k: k, at: tc.payment})

			_, err := e.place("k1", tc.token, tc.lines...)
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("CreateOrder in a dying process = %v, want Unavailable", err)
			}
			o := e.byKey("k1")
			if o.Status != order.StatusPending {
				t.Fatalf("order = %s before the restart, want PENDING", o.Status)
			}

			// A new process on the same database, after the grace period.
			e.restart()
			e.clock.Advance(grace + time.Second)
			n, err := e.svc.RecoverOnce(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("RecoverOnce = %d, %v; want 1 settled", n, err)
			}
			got := e.get(o.ID)
			if got.Status != tc.want || got.FailureCode != tc.wantCode {
				t.Fatalf("recovered = %s/%s, want %s/%s", got.Status, got.FailureCode, tc.want, tc.wantCode)
			}
			if tc.want == order.StatusPaid {
				ev := decode(t, e.outbox()[0])
				if ev.OrderID != o.ID || ev.TotalCents != 3000 || ev.Items[0].Category != "books" || ev.UserEmail != "u1@example.com" {
					t.Fatalf("recovered event = %+v", ev)
				}
			}
			e.checkInvariants(o.ID)

			// Settling is done once: another pass and a client retry change nothing.
			e.clock.Advance(time.Minute)
			if n, err := e.svc.RecoverOnce(t.Context()); n != 0 || err != nil {
				t.Fatalf("second RecoverOnce = %d, %v", n, err)
			}
			res, err := e.place("k1", tc.token, tc.lines...)
			if err != nil || !res.Replayed || res.Order.Status != tc.want {
				t.Fatalf("retry after recovery = %s replayed=%v, %v", res.Order.Status, res.Replayed, err)
			}
			e.checkInvariants(o.ID)
		})
	}
}

// TestRecoveryWaitsWhileDependencyDown checks that a pass leaves orders
// PENDING while payment is down and settles them once it is back.
func TestRecoveryWaitsWhileDependencyDown(t *testing.T) {
	e := newEnv(t)
	k := &killSwitch{}
	e.restartWith(e.deps.Users, e.deps.Products, killingPayments{PaymentClient: e.deps.Payments, k: k, at: killPoint{"ProcessPayment", true}})
	var ids []string
	for _, key := range []string{"a", "b", "c"} {
		k.mu.Lock()
		k.dead = false
		k.mu.Unlock()
		if _, err := e.place(key, fakedeps.TokenVisa, order.Line{ProductID: "p1", Quantity: 1}); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("CreateOrder = %v", err)
		}
		ids = append(ids, e.byKey(key).ID)
	}
	e.restart()
	e.clock.Advance(grace + time.Second)
	e.deps.Payments.SetDown(true)
	n, err := e.svc.RecoverOnce(t.Context())
	if n != 0 || !errs.Is(err, errs.Unavailable) {
		t.Fatalf("RecoverOnce with payment down = %d, %v; want 0 and Unavailable", n, err)
	}
	for _, id := range ids {
		if s := e.get(id).Status; s != order.StatusPending {
			t.Fatalf("order %s = %s while payment is down", id, s)
		}
	}
	e.deps.Payments.SetDown(false)
	if n, err := e.svc.RecoverOnce(t.Context()); n != 3 || err != nil {
		t.Fatalf("RecoverOnce = %d, %v; want 3", n, err)
	}
	e.checkInvariants(ids...)
	if len(e.outbox()) != 3 {
		t.Fatalf("outbox has %d rows, want 3", len(e.outbox()))
	}
}
