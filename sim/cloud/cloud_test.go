package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// MustCloud starts the whole local env on :0 ports in a temp dir.
func MustCloud(tb testing.TB, window time.Duration) *cloud.Cloud {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cloud.New(ctx, cloud.Config{DataDir: tb.TempDir(), AnalyticsWindow: window, RecoveryGrace: time.Second})
	if err != nil {
		cancel()
		tb.Fatalf("start the local env: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	return c
}

func apiCode(err error) (int, string) {
	var e *shopclient.APIError
	if errors.As(err, &e) {
		return e.Status, e.Code
	}
	return 0, ""
}

// TestEndToEnd walks a customer through the running platform over its real
// protocols and then checks the asynchronous consequences: the email in the
// mailbox and the order counted in a closed analytics window.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	c := MustCloud(t, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	api := shopclient.New(c.GatewayURL(), nil)

	if _, err := api.Register(ctx, "Ada@Example.com", "correct horse battery", "Ada"); err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := api.Register(ctx, "ada@example.com", "another password", "Ada 2"); !is(err, 409, "conflict") {
		t.Fatalf("duplicate email: %v, want 409 conflict", err)
	}
	if _, err := api.Login(ctx, "ada@example.com", "wrong password"); !is(err, 401, "unauthenticated") {
		t.Fatalf("bad password: %v, want 401", err)
	}
	sess, err := api.Login(ctx, "ADA@example.com", "correct horse battery")
	if err != nil || sess.Token == "" {
		t.Fatalf("login: %v", err)
	}
	bob := mustSession(t, api, "bob@example.com")

	page, err := api.ListProducts(ctx, "", "", 10, "")
	if err != nil || len(page.Items) != 10 || page.NextCursor == "" {
		t.Fatalf("list products: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	if _, err := api.ListProducts(ctx, "", "", 1000, ""); !is(err, 400, "invalid_argument") {
		t.Fatalf("limit 1000: %v, want 400", err)
	}
	var plenty, scarce shopclient.Product
	for cursor := ""; ; {
		p, err := api.ListProducts(ctx, "", "", 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			if plenty.ID == "" && it.Stock >= 20 {
				plenty = it
			}
			if scarce.ID == "" && it.Stock == 1 {
				scarce = it
			}
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if plenty.ID == "" || scarce.ID == "" {
		t.Fatalf("catalog lacks a well-stocked or a 1-unit product")
	}
	if _, err := api.GetProduct(ctx, "p-nope"); !is(err, 404, "not_found") {
		t.Fatalf("unknown product: %v, want 404", err)
	}

	order := func(token, key, product string, qty int32, card string) (shopclient.OrderResult, error) {
		return api.CreateOrder(ctx, token, key, shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: product, Quantity: qty}}, Payment: shopclient.Payment{Token: card}})
	}
	paid, err := order(sess.Token, "k-paid", plenty.ID, 2, "tok_visa")
	if err != nil || paid.Status != 201 || paid.Order.Status != "PAID" || paid.Order.TotalCents != 2*plenty.PriceCents {
		t.Fatalf("paid order: %+v, %v", paid, err)
	}
	again, err := order(sess.Token, "k-paid", plenty.ID, 2, "tok_visa")
	if err != nil || again.Order.ID != paid.Order.ID || !again.Replayed {
		t.Fatalf("retried key: %+v, %v; want the first order replayed", again, err)
	}
	if _, err := order(sess.Token, "k-paid", plenty.ID, 3, "tok_visa"); !is(err, 422, "idempotency_key_reused") {
		t.Fatalf("key reused with another body: %v, want 422", err)
	}
	if _, err := order(sess.Token, "k-declined", plenty.ID, 1, "tok_chargeDeclined"); !is(err, 402, "payment_declined") {
		t.Fatalf("declined card: %v, want 402", err)
	}
	if _, err := order(sess.Token, "k-scarce-1", scarce.ID, 1, "tok_visa"); err != nil {
		t.Fatalf("last unit: %v", err)
	}
	if _, err := order(sess.Token, "k-scarce-2", scarce.ID, 1, "tok_visa"); !is(err, 409, "insufficient_stock") {
		t.Fatalf("sold out: %v, want 409", err)
	}
	if _, err := order("", "k-anon", plenty.ID, 1, "tok_visa"); !is(err, 401, "unauthenticated") {
		t.Fatalf("no token: %v, want 401", err)
	}
	if _, err := api.GetOrder(ctx, bob.Token, paid.Order.ID); !is(err, 404, "not_found") {
		t.Fatalf("another customer's order: %v, want 404", err)
	}
	mine, err := api.ListOrders(ctx, sess.Token, 10, "")
	if err != nil || len(mine.Items) != 4 {
		t.Fatalf("my orders: %d, %v; want 4 (2 paid, 2 failed)", len(mine.Items), err)
	}

	src, err := c.Reconciler()
	if err != nil {
		t.Fatal(err)
	}
	ledger := []reconcile.Seen{{OrderID: paid.Order.ID, Key: "k-paid", Outcome: "created"}}
	wctx, wcancel := context.WithTimeout(ctx, 45*time.Second)
	defer wcancel()
	results, st, err := reconcile.WaitFor(wctx, src, ledger, nil, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("invariant %s: %s", r.Name, r.Detail)
		}
	}
	var email bool
	for _, e := range st.Emails {
		if e.OrderID == paid.Order.ID && e.To == "ada@example.com" {
			email = true
		}
	}
	if !email {
		t.Errorf("no email to ada@example.com for order %s in %+v", paid.Order.ID, st.Emails)
	}

	resp, err := http.Get(c.OpsURL() + "/ops/v1/units")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ops units: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(c.GatewayURL() + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("gateway metrics: %v %v", resp, err)
	}
	resp.Body.Close()
	// The ops API merges every unit's registry into one scrape.
	resp, err = http.Get(c.OpsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`shoplab_requests_total{`, `unit="order"`, `unit="notification"`, `shoplab_order_outbox_backlog`, `go_goroutines`} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("ops /metrics (HTTP %d) lacks %s", resp.StatusCode, want)
		}
	}
}

func mustSession(t *testing.T, api *shopclient.Client, email string) shopclient.Session {
	t.Helper()
	ctx := context.Background()
	if _, err := api.Register(ctx, email, "correct horse battery", strings.Split(email, "@")[0]); err != nil {
		t.Fatal(err)
	}
	s, err := api.Login(ctx, email, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func is(err error, status int, code string) bool {
	s, c := apiCode(err)
	return s == status && c == code
}

// TestOrderUnitKilledUnderLoad kills and restarts the order unit while
// customers keep ordering, retrying unknown outcomes with the same key as a
// real client would, and then requires every invariant to hold.
func TestOrderUnitKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	c := MustCloud(t, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	api := shopclient.New(c.GatewayURL(), &http.Client{Timeout: 5 * time.Second})
	sess := mustSession(t, api, "crash@example.com")
	page, err := api.ListProducts(ctx, "", "", 20, "")
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var ledger []reconcile.Seen
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 3; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("crash-%d-%d", w, i)
				req := shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: page.Items[(w*7+i)%len(page.Items)].ID, Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}}
				seen := reconcile.Seen{Key: key, Outcome: "unknown"}
				var last string
				// Retry with the same key until the outcome is known.
				for attempt := 0; attempt < 40 && ctx.Err() == nil; attempt++ {
					res, err := api.CreateOrder(ctx, sess.Token, key, req)
					last = fmt.Sprintf("status %d order %s %v", res.Status, res.Order.Status, err)
					if err == nil && res.Status == 201 {
						seen.OrderID, seen.Outcome = res.Order.ID, "created"
						break
					}
					if st, code := apiCode(err); code == "payment_unavailable" || code == "dependency_unavailable" || st == 402 || st == 409 {
						seen.Outcome = "rejected"
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				mu.Lock()
				if seen.Outcome == "unknown" {
					t.Logf("key %s: last answer %s", key, last)
				}
				ledger = append(ledger, seen)
				mu.Unlock()
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	for i := 0; i < 2; i++ {
		if err := c.Kill(cloud.Order); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		if err := c.Start(ctx, cloud.Order); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	created := 0
	for _, s := range ledger {
		if s.Outcome == "created" {
			created++
		}
		if s.Outcome == "unknown" {
			t.Errorf("key %s never got a definite answer", s.Key)
		}
	}
	if created < 10 {
		t.Fatalf("only %d orders created; the test did not exercise much", created)
	}
	src, err := c.Reconciler()
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	results, _, err := reconcile.WaitFor(wctx, src, ledger, nil, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("invariant %s: %s", r.Name, r.Detail)
		}
	}
	t.Logf("%d orders created across 2 order-unit crashes", created)
}
