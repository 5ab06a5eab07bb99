package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

func TestClassifyOrder(t *testing.T) {
	api := func(status int, code string) error { return &shopclient.APIError{Status: status, Code: code} }
	paid := shopclient.Order{ID: "o1", Status: "PAID"}
	for _, tt := range []struct {
		name string
		res  shopclient.OrderResult
		err  error
		want Outcome
	}{
		{"201 paid", shopclient.OrderResult{Status: 201, Order: paid}, nil, OutcomeCreated},
		{"201 replayed", shopclient.OrderResult{Status: 201, Order: paid, Replayed: true}, nil, OutcomeCreated},
		{"202 pending", shopclient.OrderResult{Status: 202, Order: shopclient.Order{ID: "o1", Status: "PENDING"}}, nil, OutcomeUnknown},
		{"201 without an id", shopclient.OrderResult{Status: 201, Order: shopclient.Order{Status: "PAID"}}, nil, OutcomeUnknown},
		{"402", shopclient.OrderResult{Status: 402}, api(402, "payment_declined"), OutcomeDeclined},
		{"402 replayed", shopclient.OrderResult{Status: 402, Replayed: true}, api(402, "payment_declined"), OutcomeDeclined},
		{"400", shopclient.OrderResult{Status: 400}, api(400, "invalid_argument"), OutcomeRejected},
		{"401", shopclient.OrderResult{Status: 401}, api(401, "unauthenticated"), OutcomeRejected},
		{"404", shopclient.OrderResult{Status: 404}, api(404, "not_found"), OutcomeRejected},
		{"409", shopclient.OrderResult{Status: 409}, api(409, "insufficient_stock"), OutcomeRejected},
		{"422", shopclient.OrderResult{Status: 422}, api(422, "idempotency_key_reused"), OutcomeRejected},
		{"429", shopclient.OrderResult{Status: 429}, api(429, "Too Many Requests"), OutcomeUnknown},
		{"500", shopclient.OrderResult{Status: 500}, api(500, "internal"), OutcomeUnknown},
		{"503 no order", shopclient.OrderResult{Status: 503}, api(503, "unavailable"), OutcomeUnknown},
		{"503 replayed failed order", shopclient.OrderResult{Status: 503, Replayed: true}, api(503, "unavailable"), OutcomeRejected},
		{"503 with a FAILED order body", shopclient.OrderResult{Status: 503, Order: shopclient.Order{ID: "o2", Status: "FAILED"}}, api(503, "Service Unavailable"), OutcomeRejected},
		{"503 payment_unavailable", shopclient.OrderResult{Status: 503}, api(503, "payment_unavailable"), OutcomeRejected},
		{"504", shopclient.OrderResult{Status: 504}, api(504, "deadline_exceeded"), OutcomeUnknown},
		{"504 replayed", shopclient.OrderResult{Status: 504, Replayed: true}, api(504, "deadline_exceeded"), OutcomeUnknown},
		{"timeout", shopclient.OrderResult{}, context.DeadlineExceeded, OutcomeUnknown},
		{"transport", shopclient.OrderResult{}, errors.New("connection reset by peer"), OutcomeUnknown},
	} {
		if got := classifyOrder(tt.res, tt.err); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// oneCheckout prepares a runner with one customer against f and runs
// iterations checkouts, with a 1s request timeout for the cases that
// make the fake hang.
func oneCheckout(t *testing.T, f *fakeGateway, iterations int, opts ...Option) (*Runner, *Result) {
	t.Helper()
	cfg := baseConfig(f, map[string]float64{JourneyCheckout: 1})
	cfg.Customers, cfg.Rate, cfg.Duration, cfg.RequestTimeout = 1, 100, time.Duration(iterations)*10*time.Millisecond, time.Second
	r := mustRunner(t, cfg, opts...)
	if err := r.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

func TestLedgerRecordsTheOutcomeOfEachAnswer(t *testing.T) {
	for _, tt := range []struct {
		name       string
		answer     func(f *fakeGateway) *fakeAnswer
		want       Outcome
		wantStatus int
		wantOrder  bool
		kind       func(Stats) int64 // the error counter the request must land in
	}{
		{"201 paid", func(f *fakeGateway) *fakeAnswer { return &fakeAnswer{status: 201, order: f.order("PAID")} }, OutcomeCreated, 201, true, nil},
		{"202 pending", func(f *fakeGateway) *fakeAnswer { return &fakeAnswer{status: 202, order: f.order("PENDING")} }, OutcomeUnknown, 202, true, nil},
		{"402 declined", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 402, code: "payment_declined"} }, OutcomeDeclined, 402, false, func(s Stats) int64 { return s.Unexpected4xx }},
		{"409 out of stock", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 409, code: "insufficient_stock"} }, OutcomeRejected, 409, false, nil},
		{"404 unknown product", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 404, code: "not_found"} }, OutcomeRejected, 404, false, func(s Stats) int64 { return s.Unexpected4xx }},
		{"422 key reused", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 422, code: "idempotency_key_reused"} }, OutcomeRejected, 422, false, func(s Stats) int64 { return s.Unexpected4xx }},
		{"400 invalid", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 400, code: "invalid_argument"} }, OutcomeRejected, 400, false, func(s Stats) int64 { return s.Unexpected4xx }},
		{"503 unreachable order unit", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 503, code: "unavailable"} }, OutcomeUnknown, 503, false, func(s Stats) int64 { return s.Status5xx }},
		{"503 replayed failed order", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 503, code: "unavailable", replayed: true} }, OutcomeRejected, 503, false, func(s Stats) int64 { return s.Status5xx }},
		{"503 with the FAILED order", func(f *fakeGateway) *fakeAnswer {
			o := f.newOrderLocked("FAILED", "payment_unavailable")
			return &fakeAnswer{status: 503, order: o}
		}, OutcomeRejected, 503, true, func(s Stats) int64 { return s.Status5xx }},
		{"500", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 500, code: "internal"} }, OutcomeUnknown, 500, false, func(s Stats) int64 { return s.Status5xx }},
		{"504", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 504, code: "deadline_exceeded"} }, OutcomeUnknown, 504, false, func(s Stats) int64 { return s.Status5xx }},
		{"timeout", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 201, delay: 5 * time.Second} }, OutcomeUnknown, 0, false, func(s Stats) int64 { return s.Timeouts }},
		{"connection closed", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{hangup: true} }, OutcomeUnknown, 0, false, func(s Stats) int64 { return s.TransportErrors }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGateway(t, 5, 100)
			f.orderHook = func(string, int, shopclient.OrderRequest) *fakeAnswer { return tt.answer(f) }
			r, res := oneCheckout(t, f, 1)
			orders := r.Orders()
			if len(orders) != 1 {
				t.Fatalf("%d orders in the ledger, want 1", len(orders))
			}
			o := orders[0]
			if o.Outcome != tt.want || o.HTTPStatus != tt.wantStatus || (o.OrderID != "") != tt.wantOrder || o.Requests != 1 {
				t.Errorf("ledger: %+v; want %s, status %d, order id: %v", o, tt.want, tt.wantStatus, tt.wantOrder)
			}
			if o.Outcome == OutcomeUnknown && o.Error == "" {
				t.Errorf("an unknown outcome without the reason: %+v", o)
			}
			seen := r.Ledger()
			if len(seen) != 1 || seen[0].Key != o.Key || seen[0].Outcome != string(tt.want) || seen[0].OrderID != o.OrderID {
				t.Errorf("reconcile ledger: %+v", seen)
			}
			if tt.kind == nil {
				if res.Total.Errors != 0 {
					t.Errorf("an expected answer counted as an error: %+v", res.Total)
				}
			} else if tt.kind(res.Total) != 1 || res.Total.Errors != 1 {
				t.Errorf("the request is not counted as the right error: %+v", res.Total)
			}
		})
	}
}

// scriptedSettle answers each key's first `fail` requests with answer and
// later ones by placing the order, and records what was sent.
func settlePolicy() Option {
	return WithSettlePolicy(SettlePolicy{Attempts: 5, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Timeout: 2 * time.Second, Concurrency: 2})
}

func TestSettleRetriesWithTheSameKeyAndBody(t *testing.T) {
	f := newFakeGateway(t, 5, 100)
	f.orderHook = func(key string, n int, req shopclient.OrderRequest) *fakeAnswer {
		if n <= 3 {
			return &fakeAnswer{status: 503, code: "unavailable"} // the order unit could not be reached
		}
		return nil // placed normally
	}
	r, _ := oneCheckout(t, f, 3, settlePolicy())
	before := r.Orders()
	if len(before) != 3 {
		t.Fatalf("%d orders, want 3", len(before))
	}
	for _, o := range before {
		if o.Outcome != OutcomeUnknown {
			t.Fatalf("before settling: %+v", o)
		}
	}
	rep, err := r.Settle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unknown != 3 || rep.Resolved != 3 || rep.Unresolved != 0 || rep.Requests != 9 {
		t.Errorf("report %+v, want 3 unknown, 3 resolved, 9 requests", rep)
	}
	for i, o := range r.Orders() {
		if o.Key != before[i].Key || o.Outcome != OutcomeCreated || o.OrderID == "" || o.Requests != 4 || !o.Settled || o.Error != "" {
			t.Errorf("after settling: %+v", o)
		}
		bodies := f.bodiesOf(o.Key)
		if len(bodies) != 4 {
			t.Fatalf("key %s sent %d times, want 4", o.Key, len(bodies))
		}
		for _, b := range bodies[1:] {
			if !bytes.Equal(b, bodies[0]) {
				t.Errorf("key %s retried with another body:\n%s\n%s", o.Key, bodies[0], b)
			}
		}
	}
	for _, s := range r.Ledger() {
		if s.Outcome != "created" || s.OrderID == "" {
			t.Errorf("reconcile ledger after settling: %+v", s)
		}
	}
}

func TestSettleLearnsWhereEachUnknownStands(t *testing.T) {
	for _, tt := range []struct {
		name     string
		first    func(f *fakeGateway) *fakeAnswer // the answer during the run
		want     Outcome
		requests int // settle requests
	}{
		// The order FAILED because payment was unavailable: the first answer
		// is a bare 503, the retry replays it, and that is final.
		{"503 of a failed order", func(*fakeGateway) *fakeAnswer {
			return &fakeAnswer{status: 503, code: "unavailable", store: true}
		}, OutcomeRejected, 1},
		// A PENDING order settles on the retry.
		{"202 pending", func(f *fakeGateway) *fakeAnswer { return &fakeAnswer{status: 202, order: f.order("PENDING")} }, OutcomeCreated, 1},
		{"timeout", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 201, delay: 5 * time.Second} }, OutcomeCreated, 1},
		{"declined after a 504", func(*fakeGateway) *fakeAnswer { return &fakeAnswer{status: 504, code: "deadline_exceeded"} }, OutcomeDeclined, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGateway(t, 5, 100)
			var mu sync.Mutex
			pendingID := map[string]string{}
			f.orderHook = func(key string, n int, req shopclient.OrderRequest) *fakeAnswer {
				if n == 1 {
					a := tt.first(f)
					if a.order != nil {
						mu.Lock()
						pendingID[key] = a.order["id"].(string)
						mu.Unlock()
					}
					return a
				}
				if tt.want == OutcomeDeclined {
					return &fakeAnswer{status: 402, code: "payment_declined"}
				}
				mu.Lock()
				defer mu.Unlock()
				if id, ok := pendingID[key]; ok {
					// The pending order, now paid.
					return &fakeAnswer{status: 201, order: map[string]any{"id": id, "status": "PAID", "created_at": time.Unix(0, 0).UTC()}, replayed: true}
				}
				return nil
			}
			r, _ := oneCheckout(t, f, 1, settlePolicy())
			before := r.Orders()[0]
			rep, err := r.Settle(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			o := r.Orders()[0]
			if o.Outcome != tt.want || rep.Requests != tt.requests || rep.Resolved != 1 {
				t.Errorf("after settling: %+v (report %+v); want %s after %d request(s)", o, rep, tt.want, tt.requests)
			}
			if before.OrderID != "" && o.OrderID != before.OrderID {
				t.Errorf("the pending order %s settled as %s", before.OrderID, o.OrderID)
			}
		})
	}
}

func TestSettleGivesUpWithinItsBudget(t *testing.T) {
	f := newFakeGateway(t, 5, 100)
	f.orderHook = func(string, int, shopclient.OrderRequest) *fakeAnswer {
		return &fakeAnswer{status: 504, code: "deadline_exceeded"}
	}
	r, _ := oneCheckout(t, f, 2, WithSettlePolicy(SettlePolicy{Attempts: 3, Backoff: time.Millisecond, Timeout: 2 * time.Second}))
	rep, err := r.Settle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unknown != 2 || rep.Resolved != 0 || rep.Unresolved != 2 || rep.Requests != 6 {
		t.Errorf("report %+v, want 2 unknown, none resolved, 3 requests each", rep)
	}
	for _, o := range r.Orders() {
		if o.Outcome != OutcomeUnknown || o.Requests != 4 || len(f.bodiesOf(o.Key)) != 4 || o.Error == "" {
			t.Errorf("after giving up: %+v", o)
		}
	}

	// The overall deadline bounds a generous attempt budget.
	f2 := newFakeGateway(t, 5, 100)
	f2.orderHook = f.orderHook
	r2, _ := oneCheckout(t, f2, 1, WithSettlePolicy(SettlePolicy{Attempts: 1000, Backoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}))
	t0 := time.Now()
	rep, err = r2.Settle(t.Context())
	if d := time.Since(t0); err != nil || d > time.Second || rep.Requests > 12 {
		t.Errorf("settle took %s and %d requests (err %v) with a 300ms deadline", d, rep.Requests, err)
	}
}

func TestSettleNeedsAFinishedRun(t *testing.T) {
	f := newFakeGateway(t, 5, 100)
	r := mustRunner(t, baseConfig(f, map[string]float64{JourneyBrowse: 1}))
	if _, err := r.Settle(t.Context()); err == nil {
		t.Error("Settle before Run succeeded")
	}
}

func TestOrderKeysAreUniquePerRunAndIteration(t *testing.T) {
	f := newFakeGateway(t, 5, 100)
	r := mustRunner(t, baseConfig(f, map[string]float64{JourneyBrowse: 1}))
	r.keyPrefix = "ld-x-y-"
	keys := map[string]bool{}
	for i := range int64(50) {
		for n := range 3 {
			k := r.orderKey(i, n)
			if keys[k] || len(k) > 128 {
				t.Fatalf("key %q repeats or is too long", k)
			}
			keys[k] = true
		}
	}
	if got := r.orderKey(35, 2); got != fmt.Sprintf("ld-x-y-%s-2", "z") {
		t.Errorf("key %q", got)
	}
}
