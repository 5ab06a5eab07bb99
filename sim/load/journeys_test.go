package load

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

func TestPickerFollowsTheWeights(t *testing.T) {
	known := map[string]Journey{}
	for _, n := range []string{"a", "b", "c", "d"} {
		known[n] = NewJourney(n, nil)
	}
	weights := map[string]float64{"a": 1, "b": 3, "c": 0, "d": 6}
	p := newPicker(weights, known)
	draw := func(seed uint64, n int) []string {
		rng := rand.New(rand.NewPCG(seed, 0))
		out := make([]string, n)
		for i := range out {
			out[i] = p.pick(rng).Name()
		}
		return out
	}
	const n = 100_000
	counts := map[string]int{}
	for _, name := range draw(42, n) {
		counts[name]++
	}
	for name, w := range weights {
		got, want := float64(counts[name])/n, w/10
		if math.Abs(got-want) > 0.01 {
			t.Errorf("journey %s drawn %.3f of the time, want %.2f", name, got, want)
		}
	}
	if counts["c"] != 0 {
		t.Errorf("a journey of weight 0 was drawn %d times", counts["c"])
	}
	a, b, c := draw(42, 1000), draw(42, 1000), draw(43, 1000)
	same := func(x, y []string) bool { return fmt.Sprint(x) == fmt.Sprint(y) }
	if !same(a, b) {
		t.Error("the same seed drew different sequences")
	}
	if same(a, c) {
		t.Error("different seeds drew the same sequence")
	}
}

func TestASeedReproducesEveryIterationsChoices(t *testing.T) {
	// Two journeys that only draw numbers: a run's decisions, not its
	// timing, must come out the same for the same seed.
	type drawn struct {
		journey string
		values  [3]uint64
	}
	run := func(seed int64) map[int64]drawn {
		var mu sync.Mutex
		got := map[int64]drawn{}
		j := func(name string) Journey {
			return NewJourney(name, func(ctx context.Context, s *Session) error {
				d := drawn{journey: s.Journey()}
				for i := range d.values {
					d.values[i] = s.Rand.Uint64()
				}
				mu.Lock()
				got[s.Index()] = d
				mu.Unlock()
				return nil
			})
		}
		cfg := Config{BaseURL: "http://127.0.0.1:1", Executor: ConstantArrivalRate, Rate: 1000, Duration: 200 * time.Millisecond, Journeys: map[string]float64{"x": 1, "y": 2}, Seed: seed}
		r := mustRunner(t, cfg, WithJourney(j("x")), WithJourney(j("y")))
		if _, err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b, c := run(5), run(5), run(6)
	if len(a) != 200 || len(b) != 200 {
		t.Fatalf("%d and %d iterations, want 200", len(a), len(b))
	}
	ys := 0
	for i, da := range a {
		if b[i] != da {
			t.Fatalf("iteration %d: %+v, then %+v with the same seed", i, da, b[i])
		}
		if da.journey == "y" {
			ys++
		}
	}
	if ys < 110 || ys > 155 {
		t.Errorf("journey y (weight 2 of 3) ran %d times of 200", ys)
	}
	differ := 0
	for i := range a {
		if a[i] != c[i] {
			differ++
		}
	}
	if differ < 190 {
		t.Errorf("only %d of 200 iterations differ with another seed", differ)
	}
	// Neighbouring iterations draw unrelated numbers.
	if a[0].values == a[1].values {
		t.Error("iterations 0 and 1 drew the same numbers")
	}
}

func TestBuiltinJourneysAgainstAFakeGateway(t *testing.T) {
	f := newFakeGateway(t, 45, 1000)
	cfg := baseConfig(f, map[string]float64{JourneyBrowse: 1, JourneySearch: 1, JourneyCheckout: 1, JourneyDeclinedCheckout: 1})
	cfg.Customers, cfg.Rate, cfg.Duration = 3, 100, 600*time.Millisecond
	r := mustRunner(t, cfg)
	if err := r.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	cat := r.Catalog()
	if len(cat.Products) != 45 || len(cat.InStock) != 45 || len(cat.Words) == 0 {
		t.Fatalf("catalog: %d products, %d in stock, words %v", len(cat.Products), len(cat.InStock), cat.Words)
	}
	if f.registers.Load() != 3 || f.logins.Load() != 3 {
		t.Fatalf("prepare: %d registrations, %d logins; want 3 and 3", f.registers.Load(), f.logins.Load())
	}
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Total
	if tot.Errors != 0 || tot.Failures != 0 || tot.Iterations != 60 {
		t.Fatalf("%d errors, %d failed of %d iterations: %+v", tot.Errors, tot.Failures, tot.Iterations, tot)
	}
	for _, j := range []string{JourneyBrowse, JourneySearch, JourneyCheckout, JourneyDeclinedCheckout} {
		if tot.Journeys[j].Iterations == 0 {
			t.Errorf("journey %s never ran", j)
		}
	}
	for _, ep := range []string{EndpointListProducts, EndpointGetProduct, EndpointSearchProducts, EndpointCreateOrder} {
		if tot.Endpoints[ep].Requests == 0 {
			t.Errorf("no requests to %s", ep)
		}
	}
	// browse views one product per iteration.
	if tot.Endpoints[EndpointGetProduct].Requests != tot.Journeys[JourneyBrowse].Iterations {
		t.Errorf("%d product views for %d browse iterations", tot.Endpoints[EndpointGetProduct].Requests, tot.Journeys[JourneyBrowse].Iterations)
	}
	// Tokens are cached: the run itself never logs in.
	if f.logins.Load() != 3 || tot.Endpoints[EndpointLogin].Requests != 0 {
		t.Errorf("%d logins in all, %d during the run; tokens are not cached", f.logins.Load(), tot.Endpoints[EndpointLogin].Requests)
	}

	orders := r.Orders()
	byOutcome := map[Outcome]int{}
	for _, o := range orders {
		byOutcome[o.Outcome]++
		switch o.Journey {
		case JourneyCheckout:
			if o.Outcome != OutcomeCreated || o.OrderID == "" || o.OrderStatus != "PAID" || o.HTTPStatus != 201 {
				t.Errorf("checkout order: %+v", o)
			}
			if o.Request.Payment.Token != cardVisa || len(o.Request.Items) < 1 || len(o.Request.Items) > 3 {
				t.Errorf("checkout request: %+v", o.Request)
			}
		case JourneyDeclinedCheckout:
			if o.Outcome != OutcomeDeclined || o.HTTPStatus != 402 || o.Code != "payment_declined" {
				t.Errorf("declined order: %+v", o)
			}
		}
		if len(f.bodiesOf(o.Key)) != 1 || o.Requests != 1 {
			t.Errorf("key %s was sent %d times (ledger says %d), want once", o.Key, len(f.bodiesOf(o.Key)), o.Requests)
		}
	}
	if int64(byOutcome[OutcomeCreated]) != tot.Journeys[JourneyCheckout].Iterations || int64(byOutcome[OutcomeDeclined]) != tot.Journeys[JourneyDeclinedCheckout].Iterations {
		t.Errorf("outcomes %v for %d checkouts and %d declined checkouts", byOutcome, tot.Journeys[JourneyCheckout].Iterations, tot.Journeys[JourneyDeclinedCheckout].Iterations)
	}
	seen := r.Ledger()
	if len(seen) != len(orders) {
		t.Fatalf("ledger has %d entries for %d orders", len(seen), len(orders))
	}
	keys := map[string]bool{}
	for i, s := range seen {
		if s.Key != orders[i].Key || s.Outcome != string(orders[i].Outcome) || s.OrderID != orders[i].OrderID || keys[s.Key] {
			t.Errorf("ledger entry %d: %+v for %+v (keys must be fresh)", i, s, orders[i])
		}
		keys[s.Key] = true
	}
}

func TestCheckoutLogsInAgainWhenTheTokenExpires(t *testing.T) {
	f := newFakeGateway(t, 10, 1000)
	cfg := baseConfig(f, map[string]float64{JourneyCheckout: 1})
	cfg.Customers, cfg.Rate, cfg.Duration = 1, 50, 100*time.Millisecond
	r := mustRunner(t, cfg)
	if err := r.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.revokeTokens()
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Errors != 0 || res.Total.Failures != 0 {
		t.Fatalf("a 401 answered by logging in again is not an error: %+v", res.Total)
	}
	// The customer's iterations share one new login.
	if f.logins.Load() != 2 || res.Total.Endpoints[EndpointLogin].Requests != 1 {
		t.Errorf("%d logins in all, %d during the run; want 2 and 1", f.logins.Load(), res.Total.Endpoints[EndpointLogin].Requests)
	}
	for _, o := range r.Orders() {
		if o.Outcome != OutcomeCreated {
			t.Errorf("order after re-login: %+v", o)
		}
	}
}

func TestExpectedStatusesDependOnTheJourney(t *testing.T) {
	for _, tt := range []struct {
		name     string
		journey  string
		answer   int
		code     string
		wantErrs bool
		want     Outcome
	}{
		{"declined card in declined_checkout", JourneyDeclinedCheckout, 402, "payment_declined", false, OutcomeDeclined},
		{"declined card in checkout", JourneyCheckout, 402, "payment_declined", true, OutcomeDeclined},
		{"out of stock in checkout", JourneyCheckout, 409, "insufficient_stock", false, OutcomeRejected},
		{"out of stock in declined_checkout", JourneyDeclinedCheckout, 409, "insufficient_stock", false, OutcomeRejected},
		{"unknown product in checkout", JourneyCheckout, 404, "not_found", true, OutcomeRejected},
		{"key reused in checkout", JourneyCheckout, 422, "idempotency_key_reused", true, OutcomeRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGateway(t, 10, 1000)
			f.orderHook = func(string, int, shopclient.OrderRequest) *fakeAnswer {
				return &fakeAnswer{status: tt.answer, code: tt.code}
			}
			cfg := baseConfig(f, map[string]float64{tt.journey: 1})
			r := mustRunner(t, cfg)
			if err := r.Prepare(t.Context()); err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			ep := res.Total.Endpoints[EndpointCreateOrder]
			if ep.Requests != 10 || (ep.Errors > 0) != tt.wantErrs || (ep.Unexpected4xx == ep.Requests) != tt.wantErrs {
				t.Errorf("%d requests, %d errors (%d unexpected 4xx); want errors: %v", ep.Requests, ep.Errors, ep.Unexpected4xx, tt.wantErrs)
			}
			if (res.Total.Failures == 10) != tt.wantErrs {
				t.Errorf("%d of 10 iterations failed; want failures: %v", res.Total.Failures, tt.wantErrs)
			}
			for _, o := range r.Orders() {
				if o.Outcome != tt.want || o.HTTPStatus != tt.answer {
					t.Errorf("order: %+v, want %s", o, tt.want)
				}
			}
		})
	}
}

func TestCheckoutsRacingForStockAreNotErrors(t *testing.T) {
	// Two products with 3 units each, 20 orders: most of them lose the race.
	f := newFakeGateway(t, 2, 3)
	cfg := baseConfig(f, map[string]float64{JourneyCheckout: 1})
	cfg.Rate, cfg.Duration = 100, 200*time.Millisecond
	r := mustRunner(t, cfg)
	if err := r.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Errors != 0 || res.Total.Failures != 0 {
		t.Errorf("409s when racing for stock counted as errors: %+v", res.Total)
	}
	counts := map[Outcome]int{}
	units := 0
	for _, o := range r.Orders() {
		counts[o.Outcome]++
		if o.Outcome == OutcomeCreated {
			units += len(o.Request.Items)
		}
	}
	if counts[OutcomeRejected] == 0 || counts[OutcomeCreated] == 0 || units > 6 || counts[OutcomeCreated]+counts[OutcomeRejected] != 20 {
		t.Errorf("outcomes %v, %d units sold of 6", counts, units)
	}
}

func TestJourneysNeedingPrepareSayWhy(t *testing.T) {
	f := newFakeGateway(t, 0, 0)
	cfg := baseConfig(f, map[string]float64{JourneySearch: 1})
	var log iterationLog
	r := mustRunner(t, cfg, WithIterationHook(log.hook))
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, it := range log.sorted() {
		if !it.Failed || it.Err != ErrNoCatalog {
			t.Errorf("search without a catalog: %+v", it)
		}
	}
}
