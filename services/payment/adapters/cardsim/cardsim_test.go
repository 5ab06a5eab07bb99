package cardsim_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/payment/adapters/cardsim"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func open(t *testing.T, cfg cardsim.Config) *cardsim.Processor {
	t.Helper()
	p, err := cardsim.Open(t.Context(), filepath.Join(t.TempDir(), "processor.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func req(order, token string) app.ChargeRequest {
	return app.ChargeRequest{IdempotencyKey: order, OrderID: order, AmountCents: 1250, Currency: "USD", Token: token}
}

func TestTokenOutcomes(t *testing.T) {
	tests := []struct {
		token       string
		wantCode    errs.Code // "" means a verdict
		wantField   string
		declined    bool
		declineCode string
		charges     int
	}{
		{token: "", charges: 1},
		{token: cardsim.TokenVisa, charges: 1},
		{token: cardsim.TokenMastercard, charges: 1},
		{token: cardsim.TokenChargeDeclined, declined: true, declineCode: "card_declined"},
		{token: cardsim.TokenInsufficientFunds, declined: true, declineCode: "insufficient_funds"},
		{token: cardsim.TokenExpiredCard, declined: true, declineCode: "expired_card"},
		{token: cardsim.TokenProcessingError, wantCode: errs.Unavailable},
		{token: "tok_unknown", wantCode: errs.Invalid, wantField: "payment_token"},
		{token: "4242424242424242", wantCode: errs.Invalid, wantField: "payment_token"},
	}
	p := open(t, cardsim.Config{})
	for i, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			order := "order-" + string(rune('a'+i))
			ch, err := p.Charge(t.Context(), req(order, tt.token))
			if tt.wantCode != "" {
				if !errs.Is(err, tt.wantCode) || errs.FieldOf(err) != tt.wantField {
					t.Fatalf("Charge = %+v, %v; want %s on %q", ch, err, tt.wantCode, tt.wantField)
				}
				if _, err := p.Lookup(t.Context(), order); !errs.Is(err, errs.NotFound) {
					t.Fatalf("a failed charge left a ledger row: Lookup = %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Charge: %v", err)
				}
				if ch.Declined != tt.declined || ch.DeclineCode != tt.declineCode || ch.ID == "" {
					t.Fatalf("Charge = %+v, want declined=%v code=%q", ch, tt.declined, tt.declineCode)
				}
			}
			counts, err := p.CapturedCharges(t.Context(), []string{order})
			if err != nil || counts[order] != tt.charges {
				t.Fatalf("CapturedCharges = %v, %v; want %d", counts, err, tt.charges)
			}
		})
	}
}

func TestIdempotencyKeyChargesOnce(t *testing.T) {
	ctx := t.Context()
	p := open(t, cardsim.Config{})
	first, err := p.Charge(ctx, req("order-1", cardsim.TokenVisa))
	if err != nil {
		t.Fatal(err)
	}
	// Even a token that would now fail replays the first verdict.
	for _, tok := range []string{cardsim.TokenVisa, cardsim.TokenChargeDeclined, cardsim.TokenProcessingError} {
		again, err := p.Charge(ctx, req("order-1", tok))
		if err != nil || again != first {
			t.Fatalf("replay with %s = %+v, %v; want %+v", tok, again, err, first)
		}
	}
	changed := req("order-1", cardsim.TokenVisa)
	changed.AmountCents++
	if _, err := p.Charge(ctx, changed); !errs.Is(err, errs.IdempotencyMismatch) {
		t.Fatalf("key reused for another amount: %v, want IdempotencyMismatch", err)
	}
	got, err := p.Lookup(ctx, "order-1")
	if err != nil || got != first {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	counts, _ := p.CapturedCharges(ctx, []string{"order-1"})
	if counts["order-1"] != 1 {
		t.Fatalf("charges = %d, want 1", counts["order-1"])
	}
}

func TestConcurrentSameKeyRecordsOneCharge(t *testing.T) {
	ctx := t.Context()
	// Latency makes every call pass the "not seen yet" check before any inserts.
	p := open(t, cardsim.Config{Latency: 20 * time.Millisecond})
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ch, err := p.Charge(ctx, req("order-1", cardsim.TokenVisa))
			if err != nil {
				t.Errorf("charge %d: %v", i, err)
			}
			ids[i] = ch.ID
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent charges returned ids %v; want one", ids)
		}
	}
	counts, err := p.CapturedCharges(ctx, []string{"order-1"})
	if err != nil || counts["order-1"] != 1 {
		t.Fatalf("CapturedCharges = %v, %v; want 1", counts, err)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	p := open(t, cardsim.Config{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Charge(ctx, req("order-1", cardsim.TokenVisa))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Charge = %v, want the context's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Charge ignored its context")
	}
	counts, _ := p.CapturedCharges(t.Context(), []string{"order-1"})
	if counts["order-1"] != 0 {
		t.Fatal("a cancelled charge was recorded")
	}
}

func TestLatencyAndSeededJitter(t *testing.T) {
	const latency, jitter = 20 * time.Millisecond, 30 * time.Millisecond
	p := open(t, cardsim.Config{Latency: latency, Jitter: jitter, Rand: rand.New(rand.NewPCG(1, 2))})
	start := time.Now()
	if _, err := p.Charge(t.Context(), req("order-1", cardsim.TokenVisa)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < latency {
		t.Fatalf("Charge took %v, want at least the %v latency", d, latency)
	}
	if _, err := cardsim.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), cardsim.Config{Jitter: time.Millisecond}); err == nil {
		t.Fatal("jitter without a seeded Rand accepted")
	}
}

func TestRefund(t *testing.T) {
	ctx := t.Context()
	p := open(t, cardsim.Config{})
	ch, err := p.Charge(ctx, req("order-1", cardsim.TokenVisa))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // refunding twice is a no-op, not an error
		if err := p.Refund(ctx, ch.ID); err != nil {
			t.Fatalf("Refund: %v", err)
		}
	}
	got, err := p.Lookup(ctx, "order-1")
	if err != nil || !got.Refunded {
		t.Fatalf("Lookup after refund = %+v, %v", got, err)
	}
	// A refunded charge was still a charge: reconciliation counts it.
	if counts, _ := p.CapturedCharges(ctx, []string{"order-1"}); counts["order-1"] != 1 {
		t.Fatalf("charges after refund = %d, want 1", counts["order-1"])
	}
	if err := p.Refund(ctx, "ch_nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Refund(unknown) = %v, want NotFound", err)
	}
	declined, err := p.Charge(ctx, req("order-2", cardsim.TokenChargeDeclined))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Refund(ctx, declined.ID); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("Refund(declined) = %v, want FailedPrecondition", err)
	}
}

func TestCapturedChargesInChunks(t *testing.T) {
	ctx := t.Context()
	p := open(t, cardsim.Config{})
	var orders []string
	for i := range 1203 {
		orders = append(orders, "order-"+string(rune(0x4e00+i)))
	}
	for _, o := range []string{orders[0], orders[600], orders[1202]} {
		if _, err := p.Charge(ctx, req(o, cardsim.TokenVisa)); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := p.CapturedCharges(ctx, orders)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 3 || counts[orders[0]] != 1 || counts[orders[600]] != 1 || counts[orders[1202]] != 1 {
		t.Fatalf("counts = %v", counts)
	}
}
