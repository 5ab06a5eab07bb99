package app_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/payment/adapters/cardsim"
	"github.com/shoplab/shoplab/services/payment/adapters/sqlite"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

var fixedNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// spyProcessor counts the charges it forwards and can hold them at a gate.
type spyProcessor struct {
	app.Processor
	charges atomic.Int32
	// gate, when set, is called before each charge is forwarded.
	gate func(ctx context.Context)
}

func (s *spyProcessor) Charge(ctx context.Context, req app.ChargeRequest) (app.Charge, error) {
	s.charges.Add(1)
	if s.gate != nil {
		s.gate(ctx)
	}
	return s.Processor.Charge(ctx, req)
}

type env struct {
	store *sqlite.Store
	proc  *cardsim.Processor
	spy   *spyProcessor
	svc   *app.Service
	reg   *metrics.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "payment.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	proc, err := cardsim.Open(t.Context(), filepath.Join(dir, "processor.db"), cardsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Close() })
	e := &env{store: store, proc: proc, spy: &spyProcessor{Processor: proc}}
	e.svc, e.reg = e.replica(t, e.spy)
	return e
}

// replica is another Service over the same store and processor, as a
// second pod would be: it shares no in-process lock with the first.
func (e *env) replica(t *testing.T, proc app.Processor) (*app.Service, *metrics.Registry) {
	t.Helper()
	reg := metrics.New("payment", false)
	svc, err := app.NewService(e.store, proc, app.Options{Now: func() time.Time { return fixedNow }, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	return svc, reg
}

func (e *env) charges(t *testing.T, order string) int {
	t.Helper()
	n, err := e.proc.CapturedCharges(t.Context(), []string{order})
	if err != nil {
		t.Fatal(err)
	}
	return n[order]
}

func charge(order, token string) payment.ChargeRequest {
	return payment.ChargeRequest{OrderID: order, UserID: "user-1", AmountCents: 2599, Currency: "USD", Token: token}
}

func TestProcessPaymentTokenOutcomes(t *testing.T) {
	tests := []struct {
		token       string
		status      payment.Status
		declineCode string
		code        errs.Code
		field       string
		charges     int
	}{
		{token: "", status: payment.StatusCaptured, charges: 1},
		{token: "tok_visa", status: payment.StatusCaptured, charges: 1},
		{token: "tok_chargeDeclined", status: payment.StatusDeclined, declineCode: "card_declined"},
		{token: "tok_processingError", code: errs.Unavailable},
		{token: "tok_bogus", code: errs.Invalid, field: "payment_token"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			order := "order-" + tt.token
			p, err := e.svc.ProcessPayment(t.Context(), charge(order, tt.token))
			if tt.code != "" {
				if !errs.Is(err, tt.code) || errs.FieldOf(err) != tt.field {
					t.Fatalf("ProcessPayment = %+v, %v; want %s on %q", p, err, tt.code, tt.field)
				}
				if _, err := e.svc.GetPayment(t.Context(), order); !errs.Is(err, errs.NotFound) {
					t.Fatalf("GetPayment after a failed attempt = %v, want NotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ProcessPayment: %v", err)
			}
			if p.Status != tt.status || p.DeclineCode != tt.declineCode || p.ProcessorCharges != tt.charges {
				t.Fatalf("payment %+v; want %s %q with %d charges", p, tt.status, tt.declineCode, tt.charges)
			}
			if (p.ChargeID != "") != (tt.status == payment.StatusCaptured) {
				t.Fatalf("charge id %q on a %s payment", p.ChargeID, p.Status)
			}
			if !p.CreatedAt.Equal(fixedNow) || p.UserID != "user-1" || p.AmountCents != 2599 || p.Currency != "USD" {
				t.Fatalf("payment fields %+v", p)
			}
		})
	}
	want := map[string]float64{"captured": 2, "declined": 1, "error": 2}
	for outcome, n := range want {
		if got := counter(t, e.reg, "shoplab_payments_total", outcome); got != n {
			t.Errorf("shoplab_payments_total{outcome=%q} = %v, want %v", outcome, got, n)
		}
	}
}

func TestProcessPaymentValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		req   payment.ChargeRequest
		field string
	}{
		{"no order", payment.ChargeRequest{AmountCents: 1}, "order_id"},
		{"zero amount", payment.ChargeRequest{OrderID: "o", AmountCents: 0}, "amount_cents"},
		{"negative amount", payment.ChargeRequest{OrderID: "o", AmountCents: -5}, "amount_cents"},
		{"huge amount", payment.ChargeRequest{OrderID: "o", AmountCents: payment.MaxAmountCents + 1}, "amount_cents"},
		{"lower-case currency", payment.ChargeRequest{OrderID: "o", AmountCents: 1, Currency: "usd"}, "currency"},
		{"short currency", payment.ChargeRequest{OrderID: "o", AmountCents: 1, Currency: "US"}, "currency"},
	}
	for _, tt := range tests {
		_, err := e.svc.ProcessPayment(t.Context(), tt.req)
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field {
			t.Errorf("%s: %v, want Invalid on %s", tt.name, err, tt.field)
		}
	}
	if e.spy.charges.Load() != 0 {
		t.Fatal("an invalid request reached the processor")
	}
	p, err := e.svc.ProcessPayment(t.Context(), payment.ChargeRequest{OrderID: "o-default", AmountCents: 100})
	if err != nil || p.Currency != "USD" || p.Status != payment.StatusCaptured {
		t.Fatalf("defaults: %+v, %v; want USD captured with tok_visa", p, err)
	}
}

func TestSecondCallReturnsStoredPaymentWithoutCharging(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	for _, tok := range []string{"tok_visa", "tok_chargeDeclined"} {
		order := "order-" + tok
		first, err := e.svc.ProcessPayment(ctx, charge(order, tok))
		if err != nil {
			t.Fatal(err)
		}
		before := e.spy.charges.Load()
		// Even another token replays the stored verdict.
		second, err := e.svc.ProcessPayment(ctx, charge(order, "tok_visa"))
		if err != nil {
			t.Fatal(err)
		}
		if second.ID != first.ID || second.Status != first.Status || second.ChargeID != first.ChargeID {
			t.Fatalf("second call %+v, first %+v", second, first)
		}
		if e.spy.charges.Load() != before {
			t.Fatalf("the second call for %s reached the processor", order)
		}
	}
	if n := e.charges(t, "order-tok_visa"); n != 1 {
		t.Fatalf("processor charges = %d, want 1", n)
	}
	other := charge("order-tok_visa", "tok_visa")
	other.AmountCents = 1
	if _, err := e.svc.ProcessPayment(ctx, other); !errs.Is(err, errs.IdempotencyMismatch) {
		t.Fatalf("same order, other amount: %v, want IdempotencyMismatch", err)
	}
}

func TestConcurrentProcessPaymentChargesOnce(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	const n = 20
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if p.Status != payment.StatusCaptured || p.ProcessorCharges != 1 {
				t.Errorf("call %d: %+v", i, p)
			}
			ids[i] = p.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("calls saw different payments: %v", ids)
		}
	}
	if got := e.spy.charges.Load(); got != 1 {
		t.Errorf("processor was asked %d times; the per-order lock should make it once", got)
	}
	if got := e.charges(t, "order-1"); got != 1 {
		t.Fatalf("processor holds %d charges for the order, want exactly 1", got)
	}
}

func TestConcurrentReplicasChargeOnce(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	// Three replicas share the database and the processor but no lock;
	// the processor must see several attempts and still charge once.
	svcs := []*app.Service{e.svc}
	for range 2 {
		s, _ := e.replica(t, e.spy)
		svcs = append(svcs, s)
	}
	const n = 21
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := svcs[i%len(svcs)].ProcessPayment(ctx, charge("order-1", "tok_visa"))
			if err != nil || p.Status != payment.StatusCaptured {
				t.Errorf("call %d: %+v, %v", i, p, err)
			}
		})
	}
	wg.Wait()
	if got := e.charges(t, "order-1"); got != 1 {
		t.Fatalf("processor holds %d charges for the order, want exactly 1", got)
	}
	t.Logf("the processor saw %d charge attempts for one charge", e.spy.charges.Load())
}

func TestVoidThenLateChargeIsRefused(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	v, err := e.svc.Refund(ctx, "order-1", "checkout abandoned")
	if err != nil || v.Status != payment.StatusVoided || v.RefundReason != "checkout abandoned" {
		t.Fatalf("Refund of an unpaid order = %+v, %v; want a VOIDED tombstone", v, err)
	}
	_, err = e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
	if !errs.Is(err, errs.FailedPrecondition) || errs.MessageOf(err) != "payment voided" {
		t.Fatalf("late ProcessPayment = %v, want FailedPrecondition payment voided", err)
	}
	if e.spy.charges.Load() != 0 || e.charges(t, "order-1") != 0 {
		t.Fatal("a voided order was charged")
	}
	again, err := e.svc.Refund(ctx, "order-1", "")
	if err != nil || again.ID != v.ID || again.Status != payment.StatusVoided {
		t.Fatalf("second Refund = %+v, %v", again, err)
	}
}

func TestRefundCaptured(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	p, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Refund(ctx, "order-1", "out of stock")
	if err != nil || r.Status != payment.StatusRefunded || r.ChargeID != p.ChargeID || r.RefundReason != "out of stock" {
		t.Fatalf("Refund = %+v, %v", r, err)
	}
	ch, err := e.proc.Lookup(ctx, "order-1")
	if err != nil || !ch.Refunded {
		t.Fatalf("processor after refund: %+v, %v", ch, err)
	}
	for range 2 {
		again, err := e.svc.Refund(ctx, "order-1", "")
		if err != nil || again.Status != payment.StatusRefunded {
			t.Fatalf("repeated Refund = %+v, %v", again, err)
		}
	}
	late, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
	if err != nil || late.Status != payment.StatusRefunded {
		t.Fatalf("ProcessPayment after refund = %+v, %v; want the REFUNDED payment", late, err)
	}
	if e.charges(t, "order-1") != 1 || counter(t, e.reg, "shoplab_payment_refunds_total", "refunded") != 1 {
		t.Fatal("refund charged again or was not counted once")
	}
	d, err := e.svc.ProcessPayment(ctx, charge("order-2", "tok_chargeDeclined"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.svc.Refund(ctx, "order-2", "")
	if err != nil || r2.Status != payment.StatusDeclined || r2.ID != d.ID {
		t.Fatalf("Refund of a decline = %+v, %v; want it as is", r2, err)
	}
	if _, err := e.svc.Refund(ctx, "", ""); errs.FieldOf(err) != "order_id" {
		t.Fatalf("Refund without order: %v", err)
	}
}

func TestProcessingErrorLeavesRetryableState(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	_, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_processingError"))
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("ProcessPayment = %v, want Unavailable", err)
	}
	if _, err := e.svc.GetPayment(ctx, "order-1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("GetPayment after a processor failure = %v, want NotFound", err)
	}
	p, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
	if err != nil || p.Status != payment.StatusCaptured || p.ProcessorCharges != 1 {
		t.Fatalf("retry = %+v, %v; want CAPTURED with one charge", p, err)
	}
}

func TestCrashBetweenChargeAndRecordIsRecovered(t *testing.T) {
	ctx := t.Context()
	// The crashed attempt: a PROCESSING claim, and a charge the processor
	// made but the unit never recorded.
	crash := func(t *testing.T, e *env, order, token string) app.Charge {
		t.Helper()
		claim := payment.Payment{ID: "0190b6c4-8f1e-7a2b-9c3d-" + order[len(order)-1:] + "00000000000", OrderID: order, UserID: "user-1",
			AmountCents: 2599, Currency: "USD", Status: payment.StatusProcessing, CreatedAt: fixedNow, UpdatedAt: fixedNow}
		if _, _, err := e.store.CreateIfAbsent(ctx, claim); err != nil {
			t.Fatal(err)
		}
		ch, err := e.proc.Charge(ctx, app.ChargeRequest{IdempotencyKey: order, OrderID: order, AmountCents: 2599, Currency: "USD", Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	t.Run("retry", func(t *testing.T) {
		e := newEnv(t)
		ch := crash(t, e, "order-1", "tok_visa")
		p, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
		if err != nil || p.Status != payment.StatusCaptured || p.ChargeID != ch.ID || p.ProcessorCharges != 1 {
			t.Fatalf("retry = %+v, %v; want CAPTURED with the first charge %s", p, err, ch.ID)
		}
	})
	t.Run("get", func(t *testing.T) {
		e := newEnv(t)
		ch := crash(t, e, "order-2", "tok_chargeDeclined")
		p, err := e.svc.GetPayment(ctx, "order-2")
		if err != nil || p.Status != payment.StatusDeclined || p.DeclineCode != "card_declined" {
			t.Fatalf("GetPayment = %+v, %v; want the recorded decline %+v", p, err, ch)
		}
		if counter(t, e.reg, "shoplab_payment_recovered_total", "") != 1 {
			t.Error("recovery not counted")
		}
	})
	t.Run("refund", func(t *testing.T) {
		e := newEnv(t)
		ch := crash(t, e, "order-3", "tok_visa")
		p, err := e.svc.Refund(ctx, "order-3", "recovery gave up")
		if err != nil || p.Status != payment.StatusRefunded || p.ChargeID != ch.ID {
			t.Fatalf("Refund = %+v, %v; want REFUNDED", p, err)
		}
		got, _ := e.proc.Lookup(ctx, "order-3")
		if !got.Refunded {
			t.Fatal("the processor still holds the money")
		}
	})
	t.Run("refund without charge voids", func(t *testing.T) {
		e := newEnv(t)
		claim := payment.Payment{ID: "0190b6c4-8f1e-7a2b-9c3d-4e5f60718293", OrderID: "order-4", AmountCents: 1, Currency: "USD",
			Status: payment.StatusProcessing, CreatedAt: fixedNow, UpdatedAt: fixedNow}
		if _, _, err := e.store.CreateIfAbsent(ctx, claim); err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Refund(ctx, "order-4", "")
		if err != nil || p.Status != payment.StatusVoided {
			t.Fatalf("Refund = %+v, %v; want VOIDED", p, err)
		}
	})
}

func TestVoidRacingAChargeIsCompensated(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	e.spy.gate = func(context.Context) {
		close(entered)
		<-release
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.ProcessPayment(ctx, charge("order-1", "tok_visa"))
		done <- err
	}()
	<-entered // replica A claimed the order and is about to charge
	other, _ := e.replica(t, e.proc)
	v, err := other.Refund(ctx, "order-1", "order timed out")
	if err != nil || v.Status != payment.StatusVoided {
		t.Fatalf("replica B Refund = %+v, %v; want VOIDED", v, err)
	}
	close(release)
	if err := <-done; !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("replica A ProcessPayment = %v, want FailedPrecondition (voided)", err)
	}
	ch, err := e.proc.Lookup(ctx, "order-1")
	if err != nil || !ch.Refunded {
		t.Fatalf("the charge that raced the void: %+v, %v; want refunded", ch, err)
	}
	p, err := e.svc.GetPayment(ctx, "order-1")
	if err != nil || p.Status != payment.StatusVoided {
		t.Fatalf("GetPayment = %+v, %v; want VOIDED", p, err)
	}
}

func TestListPayments(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	orders := []string{"o1", "o2", "o3", "o4", "o5"}
	for i, o := range orders {
		tok := "tok_visa"
		if i == 1 {
			tok = "tok_chargeDeclined"
		}
		if _, err := e.svc.ProcessPayment(ctx, charge(o, tok)); err != nil {
			t.Fatal(err)
		}
	}
	var seen []payment.Payment
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, next, err := e.svc.ListPayments(ctx, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != len(orders) {
		t.Fatalf("listed %d payments, want %d", len(seen), len(orders))
	}
	for i, p := range seen {
		if p.OrderID != orders[i] {
			t.Fatalf("payment %d is for %s, want %s (id order)", i, p.OrderID, orders[i])
		}
		want := 1
		if p.Status == payment.StatusDeclined {
			want = 0
		}
		if p.ProcessorCharges != want {
			t.Errorf("%s: %d processor charges, want %d", p.OrderID, p.ProcessorCharges, want)
		}
	}
	all, next, err := e.svc.ListPayments(ctx, 0, "")
	if err != nil || len(all) != 5 || next != "" {
		t.Fatalf("default page = %d payments, next %q, %v", len(all), next, err)
	}
	for _, bad := range []int{-1, 501} {
		if _, _, err := e.svc.ListPayments(ctx, bad, ""); errs.FieldOf(err) != "limit" {
			t.Errorf("limit %d: %v", bad, err)
		}
	}
	if _, _, err := e.svc.ListPayments(ctx, 10, "not*base64"); errs.FieldOf(err) != "cursor" {
		t.Errorf("bad cursor: %v", err)
	}
}
