// Package paymenttest is the contract every app.Store adapter of the
// payment unit must meet. Each adapter's tests call RunStoreContract with a
// constructor of fresh, empty stores.
package paymenttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// RunStoreContract runs the Store contract against stores made by newStore;
// each call must return a fresh, empty store that newStore cleans up itself.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) app.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s app.Store)
	}{
		{"CreateThenReadBack", testCreateThenReadBack},
		{"CreateIfAbsentKeepsTheFirst", testCreateIfAbsentKeepsFirst},
		{"ConcurrentCreateOneWins", testConcurrentCreate},
		{"DuplicateIDConflicts", testDuplicateID},
		{"UnknownOrderIsNotFound", testUnknownOrder},
		{"TransitionIsConditional", testTransitionConditional},
		{"TransitionKeepsUnsetFields", testTransitionKeepsFields},
		{"ConcurrentTransitionsOneWins", testConcurrentTransitions},
		{"ListPagesInIDOrder", testListPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// At is the fixed creation time of NewProcessing payments: microsecond
// precision in UTC, as the app writes them.
var At = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// NewProcessing returns a PROCESSING claim for orderID with a fresh id.
func NewProcessing(orderID string) payment.Payment {
	return payment.Payment{
		ID: uuid.Must(uuid.NewV7()).String(), OrderID: orderID, UserID: "user-1", AmountCents: 4999, Currency: "USD",
		Status: payment.StatusProcessing, CreatedAt: At, UpdatedAt: At,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testCreateThenReadBack(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	p := NewProcessing("order-1")
	got, created, err := s.CreateIfAbsent(ctx, p)
	if err != nil || !created {
		t.Fatalf("CreateIfAbsent = %v, %v", created, err)
	}
	assertSame(t, "CreateIfAbsent", got, p)
	byOrder, err := s.ByOrder(ctx, "order-1")
	if err != nil {
		t.Fatalf("ByOrder: %v", err)
	}
	assertSame(t, "ByOrder", byOrder, p)

	// A tombstone (no amount, no currency) is a payment too.
	tomb := payment.Payment{ID: uuid.Must(uuid.NewV7()).String(), OrderID: "order-2", Status: payment.StatusVoided, RefundReason: "order cancelled", CreatedAt: At, UpdatedAt: At}
	got, created, err = s.CreateIfAbsent(ctx, tomb)
	if err != nil || !created {
		t.Fatalf("CreateIfAbsent(tombstone) = %v, %v", created, err)
	}
	assertSame(t, "tombstone", got, tomb)
}

func testCreateIfAbsentKeepsFirst(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	first := NewProcessing("order-1")
	if _, _, err := s.CreateIfAbsent(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := NewProcessing("order-1")
	second.Status = payment.StatusVoided
	second.AmountCents = 1
	got, created, err := s.CreateIfAbsent(ctx, second)
	if err != nil || created {
		t.Fatalf("second CreateIfAbsent = %v, %v; want the existing payment", created, err)
	}
	assertSame(t, "second CreateIfAbsent", got, first)
}

func testConcurrentCreate(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	const n = 16
	var wg sync.WaitGroup
	type result struct {
		p       payment.Payment
		created bool
		err     error
	}
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			p := NewProcessing("order-race")
			p.UserID = fmt.Sprintf("racer-%d", i)
			got, created, err := s.CreateIfAbsent(ctx, p)
			results[i] = result{got, created, err}
		})
	}
	wg.Wait()
	created, ids := 0, map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("racer %d: %v", i, r.err)
		}
		if r.created {
			created++
		}
		ids[r.p.ID] = true
	}
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d racers created a payment and they saw %d ids; want 1 and 1", created, len(ids))
	}
}

func testDuplicateID(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	first := NewProcessing("order-1")
	if _, _, err := s.CreateIfAbsent(ctx, first); err != nil {
		t.Fatal(err)
	}
	other := NewProcessing("order-2")
	other.ID = first.ID
	if _, _, err := s.CreateIfAbsent(ctx, other); !errs.Is(err, errs.Conflict) {
		t.Fatalf("CreateIfAbsent with a taken id = %v, want Conflict", err)
	}
}

func testUnknownOrder(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	if _, err := s.ByOrder(ctx, "nope"); !errs.Is(err, errs.NotFound) {
		t.Errorf("ByOrder(unknown) = %v, want NotFound", err)
	}
	_, _, err := s.Transition(ctx, "nope", payment.StatusProcessing, payment.Change{Status: payment.StatusCaptured, ChargeID: "ch_1", At: At})
	if !errs.Is(err, errs.NotFound) {
		t.Errorf("Transition(unknown) = %v, want NotFound", err)
	}
}

func testTransitionConditional(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	p := NewProcessing("order-1")
	if _, _, err := s.CreateIfAbsent(ctx, p); err != nil {
		t.Fatal(err)
	}
	later := At.Add(time.Second)
	got, applied, err := s.Transition(ctx, "order-1", payment.StatusProcessing,
		payment.Change{Status: payment.StatusCaptured, ChargeID: "ch_1", At: later})
	if err != nil || !applied {
		t.Fatalf("Transition = %v, %v", applied, err)
	}
	want := p
	want.Status, want.ChargeID, want.UpdatedAt = payment.StatusCaptured, "ch_1", later
	assertSame(t, "captured", got, want)

	// The status moved on, so a second settle from PROCESSING must not apply.
	got, applied, err = s.Transition(ctx, "order-1", payment.StatusProcessing,
		payment.Change{Status: payment.StatusDeclined, DeclineCode: "card_declined", At: later.Add(time.Second)})
	if err != nil || applied {
		t.Fatalf("stale Transition = %v, %v; want not applied", applied, err)
	}
	assertSame(t, "after stale transition", got, want)

	got, applied, err = s.Transition(ctx, "order-1", payment.StatusCaptured,
		payment.Change{Status: payment.StatusRefunded, RefundReason: "customer asked", At: later.Add(2 * time.Second)})
	if err != nil || !applied {
		t.Fatalf("refund Transition = %v, %v", applied, err)
	}
	want.Status, want.RefundReason, want.UpdatedAt = payment.StatusRefunded, "customer asked", later.Add(2*time.Second)
	assertSame(t, "refunded", got, want)
	byOrder, err := s.ByOrder(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, "ByOrder after refund", byOrder, want)
}

func testTransitionKeepsFields(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	p := NewProcessing("order-1")
	if _, _, err := s.CreateIfAbsent(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Transition(ctx, "order-1", payment.StatusProcessing, payment.Change{Status: payment.StatusCaptured, ChargeID: "ch_9", At: At}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Transition(ctx, "order-1", payment.StatusCaptured, payment.Change{Status: payment.StatusRefunded, At: At})
	if err != nil {
		t.Fatal(err)
	}
	if got.ChargeID != "ch_9" || got.RefundReason != "" {
		t.Fatalf("refund without a charge id or reason changed them: %+v", got)
	}
}

func testConcurrentTransitions(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	if _, _, err := s.CreateIfAbsent(ctx, NewProcessing("order-1")); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	applied := make([]bool, n)
	errsSeen := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := payment.Change{Status: payment.StatusCaptured, ChargeID: fmt.Sprintf("ch_%d", i), At: At}
			if i%2 == 1 {
				c = payment.Change{Status: payment.StatusVoided, At: At}
			}
			_, applied[i], errsSeen[i] = s.Transition(ctx, "order-1", payment.StatusProcessing, c)
		})
	}
	wg.Wait()
	wins := 0
	for i := range n {
		if errsSeen[i] != nil {
			t.Fatalf("transition %d: %v", i, errsSeen[i])
		}
		if applied[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent transitions from PROCESSING applied, want exactly 1", wins)
	}
}

func testListPages(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	var ids []string
	for i := range 7 {
		p := NewProcessing(fmt.Sprintf("order-%d", i))
		if _, _, err := s.CreateIfAbsent(ctx, p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID) // UUIDv7 from one process: increasing
	}
	var seen []string
	after := ""
	for range 10 {
		page, err := s.List(ctx, after, 3)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(page) > 3 {
			t.Fatalf("List returned %d rows for limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, p := range page {
			seen = append(seen, p.ID)
		}
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("paged ids %v, want %v", seen, ids)
	}
}

func assertSame(t *testing.T, what string, got, want payment.Payment) {
	t.Helper()
	if got.ID != want.ID || got.OrderID != want.OrderID || got.UserID != want.UserID || got.AmountCents != want.AmountCents ||
		got.Currency != want.Currency || got.Status != want.Status || got.DeclineCode != want.DeclineCode ||
		got.ChargeID != want.ChargeID || got.RefundReason != want.RefundReason ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || got.ProcessorCharges != 0 {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
