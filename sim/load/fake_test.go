package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

// fakeGateway answers the REST API the simulator uses, in memory, with the
// documented statuses and shapes; orderHook scripts unusual answers.
type fakeGateway struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]fakeUser // by email
	tokens   map[string]string   // token -> user id
	products []shopclient.Product
	orders   map[string]*fakeAnswer // user id + key -> the answer to replay
	bodies   map[string][][]byte    // key -> raw bodies received
	nextID   int

	// orderHook, when set, answers the n-th request (from 1) for key; nil
	// falls back to the default behaviour.
	orderHook func(key string, n int, req shopclient.OrderRequest) *fakeAnswer

	logins, registers, productCalls atomic.Int64
}

type fakeUser struct{ id, password string }

// fakeAnswer is a scripted answer to POST /api/v1/orders.
type fakeAnswer struct {
	status   int
	order    map[string]any // the body is this order
	code     string         // else the error shape with this code
	replayed bool
	delay    time.Duration // wait before answering
	hangup   bool          // close the connection without an answer
	store    bool          // replay this answer (marked replayed) for later requests with the key
}

var fakeNames = []string{"Alpine Wool Socks", "Espresso Grinder", "Trail Running Shoes", "Cotton Hoodie", "Ceramic Mug", "Bamboo Cutting Board", "Leather Wallet", "Wireless Earbuds", "Yoga Mat"}

func newFakeGateway(t testing.TB, products int, stock int64) *fakeGateway {
	t.Helper()
	f := &fakeGateway{t: t, users: map[string]fakeUser{}, tokens: map[string]string{}, orders: map[string]*fakeAnswer{}, bodies: map[string][][]byte{}}
	for i := range products {
		f.products = append(f.products, shopclient.Product{
			ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("%s %d", fakeNames[i%len(fakeNames)], i), Category: "misc",
			PriceCents: int64(500 + 37*i), Currency: "USD", Stock: stock,
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/register", f.register)
	mux.HandleFunc("POST /api/v1/auth/login", f.login)
	mux.HandleFunc("GET /api/v1/products", f.listProducts)
	mux.HandleFunc("GET /api/v1/products/{id}", f.getProduct)
	mux.HandleFunc("POST /api/v1/orders", f.createOrder)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}

func (f *fakeGateway) register(w http.ResponseWriter, r *http.Request) {
	f.registers.Add(1)
	var in struct{ Email, Password, Name string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Email == "" || in.Password == "" {
		writeErr(w, 400, "invalid_argument")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[in.Email]; ok {
		writeErr(w, 409, "conflict")
		return
	}
	f.nextID++
	id := fmt.Sprintf("u%d", f.nextID)
	f.users[in.Email] = fakeUser{id: id, password: in.Password}
	writeJSON(w, 201, map[string]any{"id": id, "email": in.Email, "name": in.Name, "created_at": time.Unix(0, 0).UTC()})
}

func (f *fakeGateway) login(w http.ResponseWriter, r *http.Request) {
	f.logins.Add(1)
	var in struct{ Email, Password string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[in.Email]
	if !ok || u.password != in.Password {
		writeErr(w, 401, "unauthenticated")
		return
	}
	f.nextID++
	tok := fmt.Sprintf("tok-%s-%d", u.id, f.nextID)
	f.tokens[tok] = u.id
	writeJSON(w, 200, map[string]any{"token": tok, "expires_at": time.Unix(3600, 0).UTC(), "user": map[string]string{"id": u.id, "email": in.Email, "name": "x"}})
}

// revokeTokens makes every token issued so far expire.
func (f *fakeGateway) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeGateway) listProducts(w http.ResponseWriter, r *http.Request) {
	f.productCalls.Add(1)
	q := strings.ToLower(r.URL.Query().Get("q"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 20
	}
	off, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	f.mu.Lock()
	var match []shopclient.Product
	for _, p := range f.products {
		if q == "" || strings.Contains(strings.ToLower(p.Name), q) {
			match = append(match, p)
		}
	}
	f.mu.Unlock()
	page := shopclient.ProductPage{Items: []shopclient.Product{}}
	if off < len(match) {
		end := min(off+limit, len(match))
		page.Items = match[off:end]
		if end < len(match) {
			page.NextCursor = strconv.Itoa(end)
		}
	}
	writeJSON(w, 200, page)
}

func (f *fakeGateway) getProduct(w http.ResponseWriter, r *http.Request) {
	f.productCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.products {
		if p.ID == r.PathValue("id") {
			writeJSON(w, 200, p)
			return
		}
	}
	writeErr(w, 404, "not_found")
}

func (f *fakeGateway) createOrder(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	uid, ok := f.tokens[tok]
	if !ok {
		f.mu.Unlock()
		writeErr(w, 401, "unauthenticated")
		return
	}
	f.bodies[key] = append(f.bodies[key], raw)
	n := len(f.bodies[key])
	var req shopclient.OrderRequest
	if err := json.Unmarshal(raw, &req); err != nil || key == "" {
		f.mu.Unlock()
		writeErr(w, 400, "invalid_argument")
		return
	}
	stored, replay := f.orders[uid+"|"+key]
	var a *fakeAnswer
	switch {
	case replay:
		a = stored
	case f.orderHook != nil:
		a = f.orderHook(key, n, req)
	}
	if a == nil {
		a = f.placeLocked(req)
	}
	if a.store && !replay {
		kept := *a
		kept.replayed, kept.delay, kept.hangup = true, 0, false
		f.orders[uid+"|"+key] = &kept
	}
	f.mu.Unlock()

	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.hangup {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		f.t.Errorf("cannot hijack the connection")
		return
	}
	if a.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if a.order != nil {
		writeJSON(w, a.status, a.order)
		return
	}
	writeErr(w, a.status, a.code)
}

// placeLocked is the default outcome: tok_visa pays, tok_chargeDeclined is
// declined, missing stock is a 409. Every outcome is stored for replays,
// as the order unit does.
func (f *fakeGateway) placeLocked(req shopclient.OrderRequest) *fakeAnswer {
	if req.Payment.Token == cardDeclined {
		return &fakeAnswer{status: 402, code: "payment_declined", store: true}
	}
	for _, l := range req.Items {
		found := false
		for i := range f.products {
			if f.products[i].ID == l.ProductID {
				found = true
				if f.products[i].Stock < int64(l.Quantity) {
					return &fakeAnswer{status: 409, code: "insufficient_stock", store: true}
				}
			}
		}
		if !found {
			return &fakeAnswer{status: 404, code: "not_found", store: true}
		}
	}
	for _, l := range req.Items {
		for i := range f.products {
			if f.products[i].ID == l.ProductID {
				f.products[i].Stock -= int64(l.Quantity)
			}
		}
	}
	return &fakeAnswer{status: 201, order: f.newOrderLocked("PAID", ""), store: true}
}

func (f *fakeGateway) newOrderLocked(status, failure string) map[string]any {
	f.nextID++
	o := map[string]any{"id": fmt.Sprintf("o%d", f.nextID), "status": status, "items": []any{}, "total_cents": 100, "currency": "USD", "created_at": time.Unix(0, 0).UTC()}
	if failure != "" {
		o["failure_code"] = failure
	}
	return o
}

// order is newOrderLocked for hooks, which run with mu held.
func (f *fakeGateway) order(status string) map[string]any { return f.newOrderLocked(status, "") }

func (f *fakeGateway) bodiesOf(key string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies[key]...)
}

// baseConfig is a small constant-rate config against f. The in-flight cap
// and the timeout are far above what the tests need, so that a busy machine
// slows a test down without changing what it counts.
func baseConfig(f *fakeGateway, journeys map[string]float64) Config {
	return Config{
		BaseURL: f.srv.URL, Executor: ConstantArrivalRate, Rate: 100, Duration: 100 * time.Millisecond,
		MaxInFlight: 1000, Customers: 2, Journeys: journeys, Seed: 7, RequestTimeout: 10 * time.Second,
	}
}

func mustRunner(t testing.TB, cfg Config, opts ...Option) *Runner {
	t.Helper()
	r, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// pingJourney makes one GET of the product list; the executor tests use it
// so that their servers only answer one route.
func pingJourney() Journey {
	return NewJourney("ping", func(ctx context.Context, s *Session) error {
		_, err := s.ListProducts(ctx, 1, "")
		return err
	})
}
