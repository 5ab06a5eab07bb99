package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestPlacePaid(t *testing.T) {
	e := newEnv(t)
	res, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	o := res.Order
	if o.Status != order.StatusPaid || res.Replayed || o.FailureCode != "" {
		t.Fatalf("order = %+v replayed=%v, want PAID", o, res.Replayed)
	}
	if o.TotalCents != 2*1250+500 || o.Currency != "USD" {
		t.Fatalf("total = %d %s, want 3000 USD", o.TotalCents, o.Currency)
	}
	if o.Items[0].Name != "Go Book" || o.Items[0].Category != "books" || o.Items[1].UnitPriceCents != 500 {
		t.Fatalf("items not priced from the reservation: %+v", o.Items)
	}
	if got := e.get(o.ID); got.Status != order.StatusPaid || got.TotalCents != 3000 || got.Items[1].Category != "games" {
		t.Fatalf("stored order = %+v", got)
	}
	if e.stock("p1") != 8 || e.stock("p2") != 2 {
		t.Fatalf("stock = %d, %d; want 8, 2", e.stock("p1"), e.stock("p2"))
	}
	if e.deps.Payments.Status(o.ID) != app.PaymentCaptured {
		t.Fatalf("payment = %s", e.deps.Payments.Status(o.ID))
	}

	recs := e.outbox()
	if len(recs) != 1 || recs[0].Key != o.ID || recs[0].Topic != events.TopicOrders {
		t.Fatalf("outbox = %+v, want one row keyed by the order id", recs)
	}
	ev := decode(t, recs[0])
	want := events.OrderPlaced{
		SchemaVersion: 1, EventID: recs[0].EventID, Type: events.TypeOrderPlaced, OccurredAt: e.clock.Now(),
		OrderID: o.ID, UserID: "u1", UserEmail: "u1@example.com", TotalCents: 3000, Currency: "USD",
		Items: []events.LineItem{
			{ProductID: "p1", Quantity: 2, UnitPriceCents: 1250, Category: "books"},
			{ProductID: "p2", Quantity: 1, UnitPriceCents: 500, Category: "games"},
		},
	}
	if fmt.Sprint(ev) != fmt.Sprint(want) || !ev.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("event = %+v\nwant    %+v", ev, want)
	}
	select {
	case <-e.svc.Committed():
	default:
		t.Fatal("the relay was not woken after the commit")
	}
	if v := value(t, e.m.Orders.WithLabelValues("paid")); v != 1 {
		t.Fatalf("orders{paid} = %v", v)
	}
	if !strings.HasPrefix(o.ID[14:15], "7") {
		t.Fatalf("order id %s is not a UUIDv7", o.ID)
	}
	e.checkInvariants(o.ID)
}

func TestPlaceFailures(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		lines     []order.Line
		wantCode  order.FailureCode
		wantErr   errs.Code // "" when the FAILED order is the answer
		wantTotal int64     // priced when the stock had been reserved
		wantPay   app.PaymentStatus
		wantMsg   string
	}{
		{name: "declined", token: fakedeps.TokenDeclined, wantCode: order.FailurePaymentDeclined, wantTotal: 3000,
			wantPay: app.PaymentDeclined, wantMsg: "card_declined"},
		{name: "out of stock", token: fakedeps.TokenVisa, lines: []order.Line{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 4}},
			wantCode: order.FailureOutOfStock, wantMsg: "p2"},
		{name: "product not found", token: fakedeps.TokenVisa, lines: []order.Line{{ProductID: "nope", Quantity: 1}},
			wantCode: order.FailureProductNotFound, wantMsg: "nope"},
		{name: "processor error", token: fakedeps.TokenProcessingError, wantCode: order.FailurePaymentUnavailable, wantTotal: 3000,
			wantPay: app.PaymentVoided},
		{name: "invalid token", token: "tok_bogus", wantCode: order.FailurePaymentDeclined, wantErr: errs.Invalid, wantTotal: 3000,
			wantMsg: "tok_bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res, err := e.place("k1", tc.token, tc.lines...)
			if errs.CodeOf(err) != tc.wantErr {
				t.Fatalf("CreateOrder error = %v, want code %q", err, tc.wantErr)
			}
			o := e.byKey("k1")
			if tc.wantErr == "" && res.Order.ID != o.ID {
				t.Fatalf("returned order %q, stored %q", res.Order.ID, o.ID)
			}
			if o.Status != order.StatusFailed || o.FailureCode != tc.wantCode {
				t.Fatalf("order = %s/%s, want FAILED/%s", o.Status, o.FailureCode, tc.wantCode)
			}
			if !strings.Contains(o.FailureMessage, tc.wantMsg) {
				t.Fatalf("failure message %q lacks %q", o.FailureMessage, tc.wantMsg)
			}
			if o.TotalCents != tc.wantTotal {
				t.Fatalf("total = %d, want %d", o.TotalCents, tc.wantTotal)
			}
			if got := e.deps.Payments.Status(o.ID); got != tc.wantPay {
				t.Fatalf("payment = %q, want %q", got, tc.wantPay)
			}
			if e.stock("p1") != 10 || e.stock("p2") != 3 || !e.deps.Products.Released(o.ID) {
				t.Fatalf("stock not given back: p1=%d p2=%d released=%v", e.stock("p1"), e.stock("p2"), e.deps.Products.Released(o.ID))
			}
			if v := value(t, e.m.Orders.WithLabelValues(string(tc.wantCode))); v != 1 {
				t.Fatalf("orders{%s} = %v", tc.wantCode, v)
			}
			e.checkInvariants(o.ID)
		})
	}
}

func TestOutOfStockNeverCharges(t *testing.T) {
	e := newEnv(t)
	res, err := e.place("k1", fakedeps.TokenVisa, order.Line{ProductID: "p2", Quantity: 4})
	if err != nil || res.Order.Status != order.StatusFailed {
		t.Fatalf("CreateOrder = %+v, %v", res.Order, err)
	}
	if n := e.deps.Payments.Calls(res.Order.ID); n != 0 {
		t.Fatalf("ProcessPayment called %d times for an order without stock", n)
	}
}

// lostAnswer performs ProcessPayment and then loses the answer, as a
// timeout after the processor captured would.
type lostAnswer struct{ app.PaymentClient }

func (l lostAnswer) ProcessPayment(ctx context.Context, c app.Charge) (app.Payment, error) {
	if _, err := l.PaymentClient.ProcessPayment(ctx, c); err != nil {
		return app.Payment{}, err
	}
	return app.Payment{}, errs.Wrap(errs.DeadlineExceeded, context.DeadlineExceeded, "answer lost")
}

func TestLostPaymentAnswerSettlesPaid(t *testing.T) {
	e := newEnv(t)
	e.restartWith(e.deps.Users, e.deps.Products, lostAnswer{e.deps.Payments})
	res, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil || res.Order.Status != order.StatusPaid {
		t.Fatalf("CreateOrder = %s, %v; want PAID from the payment record", res.Order.Status, err)
	}
	if len(e.outbox()) != 1 || e.deps.Payments.Calls(res.Order.ID) != 1 {
		t.Fatalf("outbox %d rows, %d charges; want 1, 1", len(e.outbox()), e.deps.Payments.Calls(res.Order.ID))
	}
	e.checkInvariants(res.Order.ID)
}

func TestPaymentDownLeavesPendingThenReplaySettles(t *testing.T) {
	e := newEnv(t)
	e.deps.Payments.SetDown(true)
	_, err := e.place("k1", fakedeps.TokenVisa)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("CreateOrder with payment down = %v, want Unavailable", err)
	}
	o := e.byKey("k1")
	if o.Status != order.StatusPending || !e.deps.Products.Reserved(o.ID) {
		t.Fatalf("order %s reserved=%v, want PENDING with its stock held", o.Status, e.deps.Products.Reserved(o.ID))
	}
	if v := value(t, e.m.Orders.WithLabelValues("pending")); v != 1 {
		t.Fatalf("orders{pending} = %v", v)
	}

	// Still down: a retry keeps it PENDING and says so.
	res, err := e.place("k1", fakedeps.TokenVisa)
	if !errs.Is(err, errs.Unavailable) || e.get(o.ID).Status != order.StatusPending {
		t.Fatalf("retry while down = %+v, %v", res.Order, err)
	}

	e.deps.Payments.SetDown(false)
	res, err = e.place("k1", fakedeps.TokenVisa)
	if err != nil || !res.Replayed || res.Order.ID != o.ID {
		t.Fatalf("retry = %+v replayed=%v, %v", res.Order, res.Replayed, err)
	}
	// Nothing was ever charged, so settling voids the order and gives the stock back.
	if res.Order.Status != order.StatusFailed || res.Order.FailureCode != order.FailureDependencyUnavailable {
		t.Fatalf("settled = %s/%s", res.Order.Status, res.Order.FailureCode)
	}
	if e.deps.Payments.Status(o.ID) != app.PaymentVoided {
		t.Fatalf("payment = %s, want VOIDED so that a late charge cannot land", e.deps.Payments.Status(o.ID))
	}
	e.checkInvariants(o.ID)
}

func TestProductDownAtReserveRecoversLater(t *testing.T) {
	e := newEnv(t)
	e.deps.Products.SetDown(true)
	_, err := e.place("k1", fakedeps.TokenVisa)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("CreateOrder = %v, want Unavailable", err)
	}
	o := e.byKey("k1")
	if o.Status != order.StatusPending {
		t.Fatalf("order = %s, want PENDING (its stock could not be released)", o.Status)
	}
	if e.deps.Payments.Calls(o.ID) != 0 || e.deps.Payments.Status(o.ID) != app.PaymentVoided {
		t.Fatalf("payment calls %d status %q; want no charge and a void", e.deps.Payments.Calls(o.ID), e.deps.Payments.Status(o.ID))
	}

	// Inside the grace period the recovery loop leaves it to live requests.
	e.deps.Products.SetDown(false)
	if n, err := e.svc.RecoverOnce(t.Context()); n != 0 || err != nil {
		t.Fatalf("RecoverOnce within grace = %d, %v", n, err)
	}
	e.clock.Advance(grace + time.Second)
	if n, err := e.svc.RecoverOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("RecoverOnce = %d, %v", n, err)
	}
	if got := e.get(o.ID); got.Status != order.StatusFailed || got.FailureCode != order.FailureDependencyUnavailable {
		t.Fatalf("recovered = %s/%s", got.Status, got.FailureCode)
	}
	if v := value(t, e.m.Recovery.WithLabelValues(string(order.FailureDependencyUnavailable))); v != 1 {
		t.Fatalf("recovery{dependency_unavailable} = %v", v)
	}
	e.checkInvariants(o.ID)
}

// failingRelease fails ReleaseStock while on is set.
type failingRelease struct {
	app.ProductClient
	mu sync.Mutex
	on bool
}

func (f *failingRelease) ReleaseStock(ctx context.Context, id string) (bool, error) {
	f.mu.Lock()
	on := f.on
	f.mu.Unlock()
	if on {
		return false, errs.E(errs.Unavailable, "release refused")
	}
	return f.ProductClient.ReleaseStock(ctx, id)
}

func TestDeclineWithReleaseFailureStaysPending(t *testing.T) {
	e := newEnv(t)
	fr := &failingRelease{ProductClient: e.deps.Products, on: true}
	e.restartWith(e.deps.Users, fr, e.deps.Payments)
	_, err := e.place("k1", fakedeps.TokenDeclined)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("CreateOrder = %v, want Unavailable", err)
	}
	o := e.byKey("k1")
	if o.Status != order.StatusPending || !e.deps.Products.Reserved(o.ID) {
		t.Fatalf("order %s, reserved %v: a FAILED order must have its stock back", o.Status, e.deps.Products.Reserved(o.ID))
	}
	fr.mu.Lock()
	fr.on = false
	fr.mu.Unlock()
	e.clock.Advance(grace + time.Second)
	if n, err := e.svc.RecoverOnce(t.Context()); n != 1 || err != nil {
		t.Fatalf("RecoverOnce = %d, %v", n, err)
	}
	if got := e.get(o.ID); got.FailureCode != order.FailurePaymentDeclined {
		t.Fatalf("recovered = %s/%s, want FAILED/payment_declined", got.Status, got.FailureCode)
	}
	e.checkInvariants(o.ID)
}

func TestIdempotentReplay(t *testing.T) {
	e := newEnv(t)
	first, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil || !again.Replayed || again.Order.ID != first.Order.ID || again.Order.Status != order.StatusPaid {
		t.Fatalf("replay = %+v replayed=%v, %v", again.Order, again.Replayed, err)
	}
	if e.deps.Payments.Calls(first.Order.ID) != 1 || len(e.outbox()) != 1 || e.stock("p1") != 8 {
		t.Fatal("a replay charged, published or reserved again")
	}

	_, err = e.svc.CreateOrder(t.Context(), order.PlaceRequest{
		UserID: "u1", Lines: []order.Line{{ProductID: "p1", Quantity: 1}}, PaymentToken: fakedeps.TokenVisa,
		IdempotencyKey: "k1", RequestHash: "another body",
	})
	if !errs.Is(err, errs.IdempotencyMismatch) {
		t.Fatalf("same key, other request = %v, want IdempotencyMismatch", err)
	}

	// Keys belong to a user: another user's k1 is a new order.
	other, err := e.svc.CreateOrder(t.Context(), order.PlaceRequest{
		UserID: "u2", Lines: []order.Line{{ProductID: "p1", Quantity: 1}}, PaymentToken: fakedeps.TokenVisa,
		IdempotencyKey: "k1", RequestHash: "hash-k1",
	})
	if err != nil || other.Replayed || other.Order.ID == first.Order.ID {
		t.Fatalf("other user's key = %+v, %v", other, err)
	}
	if v := value(t, e.m.Orders.WithLabelValues("replayed")); v != 1 {
		t.Fatalf("orders{replayed} = %v", v)
	}
	e.checkInvariants(first.Order.ID, other.Order.ID)
}

func TestConcurrentRetriesChargeOnce(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	results := make([]app.Result, 16)
	errors := make([]error, 16)
	for i := range results {
		wg.Go(func() { results[i], errors[i] = e.place("k1", fakedeps.TokenVisa) })
	}
	wg.Wait()
	id := e.byKey("k1").ID
	fresh := 0
	for i, r := range results {
		if errors[i] != nil || r.Order.ID != id || r.Order.Status != order.StatusPaid {
			t.Fatalf("call %d = %+v, %v", i, r.Order, errors[i])
		}
		if !r.Replayed {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d calls placed the order, want 1", fresh)
	}
	e.checkInvariants(id)
}

func TestUserChecks(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateOrder(t.Context(), order.PlaceRequest{
		UserID: "ghost", Lines: []order.Line{{ProductID: "p1", Quantity: 1}}, PaymentToken: fakedeps.TokenVisa,
		IdempotencyKey: "k1", RequestHash: "h",
	})
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown user = %v, want NotFound", err)
	}
	e.deps.Users.SetDown(true)
	if _, err := e.place("k2", fakedeps.TokenVisa); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("user unit down = %v, want Unavailable", err)
	}
	if all, _, err := e.svc.ListOrders(t.Context(), app.ListRequest{}); err != nil || len(all) != 0 {
		t.Fatalf("orders were recorded without a user: %d, %v", len(all), err)
	}
	if e.stock("p1") != 10 {
		t.Fatal("stock was reserved without a user")
	}
	if r, u := value(t, e.m.Orders.WithLabelValues("rejected")), value(t, e.m.Orders.WithLabelValues("unavailable")); r != 1 || u != 1 {
		t.Fatalf("orders{rejected} = %v, orders{unavailable} = %v; want 1, 1", r, u)
	}
}

func TestValidationRecordsNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.place("k1", fakedeps.TokenVisa, order.Line{ProductID: "p1", Quantity: 0})
	if errs.FieldOf(err) != "items[0].quantity" {
		t.Fatalf("CreateOrder = %v", err)
	}
	if _, err := e.store.GetByKey(t.Context(), "u1", "k1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("an invalid request was recorded: %v", err)
	}
}

func TestGetOrder(t *testing.T) {
	e := newEnv(t)
	res, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	for _, user := range []string{"u1", ""} {
		if o, err := e.svc.GetOrder(t.Context(), id, user); err != nil || o.ID != id {
			t.Fatalf("GetOrder(%s, %q) = %v, %v", id, user, o.ID, err)
		}
	}
	if _, err := e.svc.GetOrder(t.Context(), id, "u2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("another user's order = %v, want NotFound", err)
	}
	if _, err := e.svc.GetOrder(t.Context(), "missing", ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing order = %v", err)
	}
	if _, err := e.svc.GetOrder(t.Context(), "", ""); errs.FieldOf(err) != "id" {
		t.Fatalf("empty id = %v", err)
	}
	// Lengths are characters, as the gateway's OpenAPI file counts them
	// (schemathesis: 128 four-byte characters are a schema-valid id).
	if _, err := e.svc.GetOrder(t.Context(), strings.Repeat("\U0001D57F", order.MaxIDLen), ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("%d-character id = %v, want not found", order.MaxIDLen, err)
	}
	if _, err := e.svc.GetOrder(t.Context(), strings.Repeat("x", order.MaxIDLen+1), ""); errs.FieldOf(err) != "id" {
		t.Fatalf("%d-character id = %v, want invalid id", order.MaxIDLen+1, err)
	}
}

func TestListOrders(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		token := fakedeps.TokenVisa
		if i == 2 {
			token = fakedeps.TokenDeclined
		}
		res, err := e.place(fmt.Sprintf("k%d", i), token, order.Line{ProductID: "p1", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{res.Order.ID}, ids...) // newest first
		e.clock.Advance(time.Millisecond)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := e.svc.ListOrders(t.Context(), app.ListRequest{UserID: "u1", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			got = append(got, o.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("pages = %v, want %v", got, ids)
	}
	paid, _, err := e.svc.ListOrders(t.Context(), app.ListRequest{Status: order.StatusPaid})
	if err != nil || len(paid) != 4 {
		t.Fatalf("PAID orders = %d, %v; want 4", len(paid), err)
	}
	bad := []app.ListRequest{{Limit: 101}, {Limit: -1}, {Status: "LOST"}, {Cursor: "%%%"}}
	for _, r := range bad {
		if _, _, err := e.svc.ListOrders(t.Context(), r); !errs.Is(err, errs.Invalid) {
			t.Errorf("ListOrders(%+v) = %v, want Invalid", r, err)
		}
	}
}

// restartWith starts a new service on the same database over other clients.
func (e *env) restartWith(users app.UserClient, products app.ProductClient, payments app.PaymentClient) {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start(users, products, payments)
}

// delayedCharge loses ProcessPayment on the way (a timeout) and lets the
// test deliver it later, as a request stuck in the network would arrive.
type delayedCharge struct {
	app.PaymentClient
	mu      sync.Mutex
	pending []app.Charge
}

func (d *delayedCharge) ProcessPayment(_ context.Context, c app.Charge) (app.Payment, error) {
	d.mu.Lock()
	d.pending = append(d.pending, c)
	d.mu.Unlock()
	return app.Payment{}, errs.Wrap(errs.DeadlineExceeded, context.DeadlineExceeded, "no answer")
}

func (d *delayedCharge) deliver(ctx context.Context) (app.Payment, error) {
	d.mu.Lock()
	c := d.pending[0]
	d.mu.Unlock()
	return d.PaymentClient.ProcessPayment(ctx, c)
}

func TestLateChargeAfterSettleCannotLand(t *testing.T) {
	e := newEnv(t)
	d := &delayedCharge{PaymentClient: e.deps.Payments}
	e.restartWith(e.deps.Users, e.deps.Products, d)
	res, err := e.place("k1", fakedeps.TokenVisa)
	if err != nil || res.Order.Status != order.StatusFailed || res.Order.FailureCode != order.FailurePaymentUnavailable {
		t.Fatalf("CreateOrder = %s/%s, %v; want FAILED/payment_unavailable", res.Order.Status, res.Order.FailureCode, err)
	}
	// The stuck charge reaches the payment unit after the order failed: the
	// void settle left behind must keep it from charging.
	late, err := d.deliver(t.Context())
	if err != nil || late.Status != app.PaymentVoided {
		t.Fatalf("late charge = %+v, %v; want the VOIDED record", late, err)
	}
	e.checkInvariants(res.Order.ID)
}
