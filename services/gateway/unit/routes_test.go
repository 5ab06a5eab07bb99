package unit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
)

// routeCase is one request and what must come back. Cases of a table run in
// order against one gateway, so later cases may rely on earlier ones.
type routeCase struct {
	name   string
	route  string // the route template, to check the status is documented
	req    request
	status int
	code   string // error code, for error answers
	field  string // error field, when one must be named
	check  func(t *testing.T, r response)
}

func runCases(t *testing.T, e *env, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.req)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && c.route != "/api/v1/openapi.yaml" && c.route != "/metrics" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if c.route != "" {
				assertDocumented(t, c.req.method, c.route, c.status)
			}
			if c.status >= 400 {
				eb := r.errorBody(t)
				if c.code != "" && eb.Code != c.code {
					t.Errorf("code %q, want %q (message %q)", eb.Code, c.code, eb.Message)
				}
				if eb.Field != c.field {
					t.Errorf("field %q, want %q (message %q)", eb.Field, c.field, eb.Message)
				}
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func TestAuthRoutes(t *testing.T) {
	e := mustEnv(t)
	e.mustUser("alice@example.com")
	const reg, login = "/api/v1/auth/register", "/api/v1/auth/login"
	post := func(path, body string) request { return request{method: "POST", path: path, body: body} }
	runCases(t, e, []routeCase{
		{name: "register", route: reg, req: post(reg, `{"email":"carol@example.com","password":"longenough","name":"Carol"}`), status: 201,
			check: func(t *testing.T, r response) {
				var u struct {
					ID, Email, Name string
					CreatedAt       time.Time `json:"created_at"`
				}
				r.decode(t, &u)
				if u.ID == "" || u.Email != "carol@example.com" || u.Name != "Carol" || !u.CreatedAt.Equal(e.clock.Now()) {
					t.Errorf("user %+v", u)
				}
				if strings.Contains(string(r.body), "longenough") {
					t.Error("the answer echoes the password")
				}
			}},
		{name: "register duplicate email", route: reg, req: post(reg, `{"email":"ALICE@example.com","password":"longenough","name":"A"}`), status: 409, code: "conflict"},
		{name: "register without email", route: reg, req: post(reg, `{"password":"longenough","name":"A"}`), status: 400, code: "invalid_argument", field: "email"},
		{name: "register bad email", route: reg, req: post(reg, `{"email":"nope","password":"longenough","name":"A"}`), status: 400, code: "invalid_argument", field: "email"},
		{name: "register rule of the user unit", route: reg, req: post(reg, `{"email":"d@example.com","password":"short","name":"D"}`), status: 400, code: "invalid_argument", field: "password"},
		{name: "register unknown field", route: reg, req: post(reg, `{"email":"d@example.com","password":"longenough","name":"D","admin":true}`), status: 400, code: "invalid_argument", field: "admin"},
		{name: "register malformed JSON", route: reg, req: post(reg, `{"email":`), status: 400, code: "invalid_argument"},
		{name: "register two JSON values", route: reg, req: post(reg, `{"email":"d@example.com","password":"longenough","name":"D"} {}`), status: 400, code: "invalid_argument"},
		{name: "register wrong type", route: reg, req: post(reg, `{"email":42,"password":"longenough","name":"D"}`), status: 400, code: "invalid_argument", field: "email"},
		{name: "register text/plain", route: reg, req: request{method: "POST", path: reg, header: http.Header{"Content-Type": {"text/plain"}}, body: `{}`}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		{name: "register no content type", route: reg, req: request{method: "POST", path: reg, header: http.Header{}, body: `{}`}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		{name: "register json with charset", route: reg, req: request{method: "POST", path: reg, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: `{"email":"e@example.com","password":"longenough","name":"E"}`}, status: 201},
		{name: "register too large", route: reg, req: post(reg, `{"email":"f@example.com","password":"longenough","name":"`+strings.Repeat("x", 70<<10)+`"}`), status: 413, code: "payload_too_large"},
		{name: "login", route: login, req: post(login, `{"email":"alice@example.com","password":"correct horse"}`), status: 200,
			check: func(t *testing.T, r response) {
				var s struct {
					Token     string    `json:"token"`
					ExpiresAt time.Time `json:"expires_at"`
					User      struct{ ID, Email, Name string }
				}
				r.decode(t, &s)
				if s.Token == "" || s.User.ID == "" || s.User.Email != "alice@example.com" {
					t.Errorf("session %+v", s)
				}
				if want := e.clock.Now().Add(time.Hour); !s.ExpiresAt.Equal(want) {
					t.Errorf("expires_at %v, want %v (default TTL 1h)", s.ExpiresAt, want)
				}
				if r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
				}
			}},
		{name: "login wrong password", route: login, req: post(login, `{"email":"alice@example.com","password":"wrong"}`), status: 401, code: "unauthenticated",
			check: func(t *testing.T, r response) {
				if msg := r.errorBody(t).Message; msg != "invalid email or password" {
					t.Errorf("message %q", msg)
				}
			}},
		{name: "login unknown email looks the same", route: login, req: post(login, `{"email":"nobody@example.com","password":"wrong"}`), status: 401, code: "unauthenticated",
			check: func(t *testing.T, r response) {
				if msg := r.errorBody(t).Message; msg != "invalid email or password" {
					t.Errorf("message %q", msg)
				}
			}},
		{name: "login without password", route: login, req: post(login, `{"email":"alice@example.com"}`), status: 400, code: "invalid_argument", field: "password"},
		{name: "login empty body", route: login, req: request{method: "POST", path: login, header: http.Header{"Content-Type": {"application/json"}}}, status: 400, code: "invalid_argument"},
	})
}

func TestProductRoutes(t *testing.T) {
	e := mustEnv(t)
	const list, one = "/api/v1/products", "/api/v1/products/{id}"
	get := func(path string) request { return request{method: "GET", path: path} }
	ids := func(want ...string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			var p struct {
				Items []struct {
					ID         string `json:"id"`
					PriceCents int64  `json:"price_cents"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			r.decode(t, &p)
			var got []string
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("items %v, want %v", got, want)
			}
			if p.NextCursor == nil {
				t.Error("next_cursor is missing")
			}
		}
	}
	runCases(t, e, []routeCase{
		{name: "all", route: list, req: get(list), status: 200, check: ids("p1", "p2", "p3")},
		{name: "category", route: list, req: get(list + "?category=office"), status: 200, check: ids("p3")},
		{name: "first page", route: list, req: get(list + "?limit=2"), status: 200, check: func(t *testing.T, r response) {
			ids("p1", "p2")(t, r)
			if !strings.Contains(string(r.body), `"next_cursor":"p2"`) {
				t.Errorf("no next cursor in %s", r.body)
			}
		}},
		{name: "next page", route: list, req: get(list + "?limit=2&cursor=p2"), status: 200, check: ids("p3")},
		{name: "search", route: list, req: get(list + "?q=mug"), status: 200, check: ids("p1", "p2")},
		{name: "search with category", route: list, req: get(list + "?q=mug&category=office"), status: 200, check: func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"items":[]`) {
				t.Errorf("empty result is not an empty array: %s", r.body)
			}
		}},
		{name: "search refused by product unit names q", route: list, req: get(list + "?q=mu*"), status: 400, code: "invalid_argument", field: "q"},
		{name: "limit zero", route: list, req: get(list + "?limit=0"), status: 400, code: "invalid_argument", field: "limit"},
		{name: "limit too big", route: list, req: get(list + "?limit=101"), status: 400, code: "invalid_argument", field: "limit"},
		{name: "limit not a number", route: list, req: get(list + "?limit=ten"), status: 400, code: "invalid_argument", field: "limit"},
		{name: "limit twice", route: list, req: get(list + "?limit=1&limit=2"), status: 400, code: "invalid_argument", field: "limit"},
		{name: "q too long", route: list, req: get(list + "?q=" + strings.Repeat("a", 257)), status: 400, code: "invalid_argument", field: "q"},
		{name: "malformed query string", route: list, req: get(list + "?q=%zz"), status: 400, code: "invalid_argument"},
		{name: "one", route: one, req: get(list + "/p1"), status: 200, check: func(t *testing.T, r response) {
			var p map[string]any
			r.decode(t, &p)
			want := map[string]any{"id": "p1", "name": "Blue Mug", "category": "kitchen", "price_cents": 1250.0, "currency": "USD", "stock": 10.0}
			if fmt.Sprint(p) != fmt.Sprint(want) {
				t.Errorf("product %v, want %v", p, want)
			}
		}},
		{name: "unknown", route: one, req: get(list + "/nope"), status: 404, code: "not_found"},
		{name: "id too long", route: one, req: get(list + "/" + strings.Repeat("x", 129)), status: 400, code: "invalid_argument", field: "id"},
	})
}

// orderBody builds a POST /api/v1/orders body.
func orderBody(token string, lines ...any) string {
	var items []string
	for i := 0; i+1 < len(lines); i += 2 {
		items = append(items, fmt.Sprintf(`{"product_id":%q,"quantity":%v}`, lines[i], lines[i+1]))
	}
	b := `{"items":[` + strings.Join(items, ",") + `]`
	if token != "" {
		b += `,"payment":{"token":"` + token + `"}`
	}
	return b + "}"
}

func TestOrderRoutes(t *testing.T) {
	e := mustEnv(t)
	alice, aliceID := e.mustUser("alice@example.com")
	bob, _ := e.mustUser("bob@example.com")
	const orders, one = "/api/v1/orders", "/api/v1/orders/{id}"
	post := func(key, body string) request {
		h := http.Header{"Content-Type": {"application/json"}}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		return request{method: "POST", path: orders, token: alice, header: h, body: body}
	}
	var first response
	hasReplayed := func(want bool) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			if got := r.header.Get("Idempotent-Replayed") == "true"; got != want {
				t.Errorf("Idempotent-Replayed %q, want %v", r.header.Get("Idempotent-Replayed"), want)
			}
		}
	}
	fiftyOne := make([]any, 0, 102)
	for range 51 {
		fiftyOne = append(fiftyOne, "p1", 1)
	}
	runCases(t, e, []routeCase{
		{name: "paid", route: orders, req: post("k-paid", orderBody("", "p1", 2, "p3", 1)), status: 201, check: func(t *testing.T, r response) {
			first = r
			var o struct {
				ID, Status, Currency string
				TotalCents           int64 `json:"total_cents"`
				Items                []struct {
					ProductID      string `json:"product_id"`
					Name, Category string
					Quantity       int32
					UnitPriceCents int64 `json:"unit_price_cents"`
				}
				CreatedAt time.Time `json:"created_at"`
			}
			r.decode(t, &o)
			if o.ID == "" || o.Status != "PAID" || o.TotalCents != 2*1250+4500 || o.Currency != "USD" || len(o.Items) != 2 || !o.CreatedAt.Equal(e.clock.Now()) {
				t.Errorf("order %+v", o)
			}
			if it := o.Items[0]; it.ProductID != "p1" || it.Name != "Blue Mug" || it.Category != "kitchen" || it.Quantity != 2 || it.UnitPriceCents != 1250 {
				t.Errorf("item %+v", it)
			}
			if loc := r.header.Get("Location"); loc != "/api/v1/orders/"+o.ID {
				t.Errorf("Location %q", loc)
			}
			hasReplayed(false)(t, r)
			if p, _ := e.be.shop.Product("p1"); p.Stock != 8 {
				t.Errorf("p1 stock %d, want 8", p.Stock)
			}
			c := e.be.shop.Creates()
			last := c[len(c)-1]
			want := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 2}, {ProductID: "p3", Quantity: 1}}}.Hash()
			if last.UserID != aliceID || last.IdempotencyKey != "k-paid" || last.RequestHash != want || last.Request.PaymentToken != "tok_visa" {
				t.Errorf("order unit got %+v, want user %s, hash %s and the default token", last, aliceID, want)
			}
		}},
		{name: "replay with reformatted body", route: orders,
			req:    post("k-paid", "{ \"payment\" : {\"token\":\"tok_visa\"},\n \"items\":[{\"quantity\":2,\"product_id\":\"p1\"},{\"product_id\":\"p3\",\"quantity\":1}] }"),
			status: 201, check: func(t *testing.T, r response) {
				hasReplayed(true)(t, r)
				if string(r.body) != string(first.body) {
					t.Errorf("replayed body\n%s\nwant the first\n%s", r.body, first.body)
				}
				if p, _ := e.be.shop.Product("p1"); p.Stock != 8 {
					t.Errorf("a replay took stock again: p1 stock %d", p.Stock)
				}
			}},
		{name: "key reused with another body", route: orders, req: post("k-paid", orderBody("", "p1", 3)), status: 422, code: "idempotency_key_reused"},
		{name: "missing key", route: orders, req: post("", orderBody("", "p1", 1)), status: 400, code: "invalid_argument", field: "Idempotency-Key"},
		{name: "key with a space", route: orders, req: post("a b", orderBody("", "p1", 1)), status: 400, code: "invalid_argument", field: "Idempotency-Key"},
		{name: "key too long", route: orders, req: post(strings.Repeat("k", 129), orderBody("", "p1", 1)), status: 400, code: "invalid_argument", field: "Idempotency-Key"},
		{name: "key of 128", route: orders, req: post(strings.Repeat("k", 128), orderBody("", "p1", 1)), status: 201},
		{name: "quantity zero", route: orders, req: post("k-q0", orderBody("", "p1", 0)), status: 400, code: "invalid_argument", field: "items[0].quantity"},
		{name: "quantity over 100", route: orders, req: post("k-q101", orderBody("", "p1", 1, "p3", 101)), status: 400, code: "invalid_argument", field: "items[1].quantity"},
		{name: "quantity not an integer", route: orders, req: post("k-qs", `{"items":[{"product_id":"p1","quantity":"two"}]}`), status: 400, code: "invalid_argument", field: "items.quantity"},
		{name: "no items", route: orders, req: post("k-none", `{"items":[]}`), status: 400, code: "invalid_argument", field: "items"},
		{name: "51 items", route: orders, req: post("k-51", orderBody("", fiftyOne...)), status: 400, code: "invalid_argument", field: "items"},
		{name: "empty product id", route: orders, req: post("k-pid", orderBody("", "p1", 1, "", 1)), status: 400, code: "invalid_argument", field: "items[1].product_id"},
		{name: "unknown field", route: orders, req: post("k-uf", `{"items":[{"product_id":"p1","quantity":1}],"coupon":"FREE"}`), status: 400, code: "invalid_argument", field: "coupon"},
		{name: "declined", route: orders, req: post("k-declined", orderBody(gatewaytest.TokenDeclined, "p1", 1)), status: 402, code: "payment_declined", check: hasReplayed(false)},
		{name: "declined replayed", route: orders, req: post("k-declined", orderBody(gatewaytest.TokenDeclined, "p1", 1)), status: 402, code: "payment_declined", check: hasReplayed(true)},
		{name: "out of stock", route: orders, req: post("k-oos", orderBody("", "p2", 2)), status: 409, code: "insufficient_stock"},
		{name: "unknown product", route: orders, req: post("k-unknown", orderBody("", "nope", 1)), status: 404, code: "not_found"},
		{name: "payment unavailable", route: orders, req: post("k-503", orderBody(gatewaytest.TokenProcessingError, "p1", 1)), status: 503, code: "payment_unavailable"},
		{name: "pending", route: orders, req: post("k-pending", orderBody(gatewaytest.TokenPending, "p3", 1)), status: 202, check: func(t *testing.T, r response) {
			var o struct{ ID, Status string }
			r.decode(t, &o)
			if o.Status != "PENDING" || r.header.Get("Location") != "/api/v1/orders/"+o.ID {
				t.Errorf("order %+v, Location %q", o, r.header.Get("Location"))
			}
		}},
		{name: "no token", route: orders, req: request{method: "POST", path: orders, header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k"}}, body: orderBody("", "p1", 1)}, status: 401, code: "unauthenticated",
			check: func(t *testing.T, r response) {
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}},
		{name: "text/plain", route: orders, req: request{method: "POST", path: orders, token: alice, header: http.Header{"Content-Type": {"text/plain"}, "Idempotency-Key": {"k"}}, body: orderBody("", "p1", 1)}, status: 415, code: "unsupported_media_type", field: "Content-Type"},
		{name: "too large", route: orders, req: post("k-big", `{"items":[{"product_id":"`+strings.Repeat("p", 70<<10)+`","quantity":1}]}`), status: 413, code: "payload_too_large"},
	})

	var firstID string
	{
		var o struct{ ID string }
		first.decode(t, &o)
		firstID = o.ID
	}
	bobOrder := e.do(request{method: "POST", path: orders, token: bob, header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-paid"}}, body: orderBody("", "p1", 1)})
	if bobOrder.status != 201 {
		t.Fatalf("bob's order, with alice's key (keys are per user): %d %s", bobOrder.status, bobOrder.body)
	}
	countItems := func(want int, wantNext bool) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			var p struct {
				Items []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			r.decode(t, &p)
			if len(p.Items) != want || (p.NextCursor != "") != wantNext {
				t.Errorf("%d items, next %q; want %d items, next %v", len(p.Items), p.NextCursor, want, wantNext)
			}
		}
	}
	runCases(t, e, []routeCase{
		{name: "get own order", route: one, req: request{method: "GET", path: "/api/v1/orders/" + firstID, token: alice}, status: 200, check: func(t *testing.T, r response) {
			if string(r.body) != string(first.body) {
				t.Errorf("GET gives\n%s\nPOST gave\n%s", r.body, first.body)
			}
		}},
		{name: "get another user's order", route: one, req: request{method: "GET", path: "/api/v1/orders/" + firstID, token: bob}, status: 404, code: "not_found"},
		{name: "get unknown order", route: one, req: request{method: "GET", path: "/api/v1/orders/ord-999", token: alice}, status: 404, code: "not_found"},
		{name: "get without token", route: one, req: request{method: "GET", path: "/api/v1/orders/" + firstID}, status: 401, code: "unauthenticated"},
		{name: "failed order shows its failure", route: one, req: request{method: "GET", path: "/api/v1/orders/ord-3", token: alice}, status: 200, check: func(t *testing.T, r response) {
			var o struct {
				Status      string `json:"status"`
				FailureCode string `json:"failure_code"`
			}
			r.decode(t, &o)
			if o.Status != "FAILED" || o.FailureCode != "payment_declined" {
				t.Errorf("order %+v, want the declined one (ord-3)", o)
			}
		}},
		// alice placed: k-paid, the 128-char key, declined, out of stock, unknown product, 503, pending = 7.
		{name: "list mine", route: orders, req: request{method: "GET", path: orders, token: alice}, status: 200, check: countItems(7, false)},
		{name: "list page", route: orders, req: request{method: "GET", path: orders + "?limit=5", token: alice}, status: 200, check: countItems(5, true)},
		{name: "list bob", route: orders, req: request{method: "GET", path: orders, token: bob}, status: 200, check: countItems(1, false)},
		{name: "list bad limit", route: orders, req: request{method: "GET", path: orders + "?limit=500", token: alice}, status: 400, code: "invalid_argument", field: "limit"},
		{name: "list without token", route: orders, req: request{method: "GET", path: orders}, status: 401, code: "unauthenticated"},
	})
}

// TestOrderOwnershipDefence proves that a bug in the order unit cannot leak
// one customer's order to another through the gateway.
func TestOrderOwnershipDefence(t *testing.T) {
	e := mustEnv(t)
	alice, _ := e.mustUser("alice@example.com")
	bob, _ := e.mustUser("bob@example.com")
	r := e.do(request{method: "POST", path: "/api/v1/orders", token: alice, header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k"}}, body: orderBody("", "p1", 1)})
	if r.status != 201 {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var o struct{ ID string }
	r.decode(t, &o)
	e.be.shop.LeakOrders = true
	if r := e.do(request{method: "GET", path: "/api/v1/orders/" + o.ID, token: bob}); r.status != 404 {
		t.Errorf("bob read alice's order from a leaky order unit: %d %s", r.status, r.body)
	}
	r = e.do(request{method: "GET", path: "/api/v1/orders", token: bob})
	var p struct{ Items []json.RawMessage }
	r.decode(t, &p)
	if r.status != 200 || len(p.Items) != 0 {
		t.Errorf("bob's list from a leaky order unit: %d %s", r.status, r.body)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := mustEnv(t)
	runCases(t, e, []routeCase{
		{name: "unknown path", req: request{method: "GET", path: "/api/v1/nope"}, status: 404, code: "not_found"},
		{name: "unknown root", req: request{method: "GET", path: "/"}, status: 404, code: "not_found"},
		{name: "wrong method", req: request{method: "DELETE", path: "/api/v1/orders"}, status: 405, code: "method_not_allowed", check: func(t *testing.T, r response) {
			if got := r.header.Get("Allow"); got != "GET, POST" {
				t.Errorf("Allow %q", got)
			}
		}},
		{name: "invented method", req: request{method: "BREW", path: "/api/v1/products"}, status: 405, code: "method_not_allowed"},
	})
	// Unmatched requests are counted under one label, whatever the path or method.
	m := e.do(request{method: "GET", path: "/metrics"})
	for _, want := range []string{`method="GET unmatched"`, `method="DELETE unmatched"`, `method="OTHER unmatched"`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(m.body), "/api/v1/nope") || strings.Contains(string(m.body), "BREW") {
		t.Error("metrics carry a raw path or method")
	}
}

func TestOpsRoutes(t *testing.T) {
	e := mustEnv(t)
	e.do(request{method: "GET", path: "/api/v1/products/p1"})
	runCases(t, e, []routeCase{
		{name: "healthz", route: "/healthz", req: request{method: "GET", path: "/healthz"}, status: 200},
		{name: "readyz", route: "/readyz", req: request{method: "GET", path: "/readyz"}, status: 200},
		{name: "openapi", route: "/api/v1/openapi.yaml", req: request{method: "GET", path: "/api/v1/openapi.yaml"}, status: 200, check: func(t *testing.T, r response) {
			if string(r.body) != string(gateway.OpenAPI) || r.header.Get("Content-Type") != "application/yaml" {
				t.Errorf("served %d bytes as %q", len(r.body), r.header.Get("Content-Type"))
			}
		}},
		{name: "metrics", route: "/metrics", req: request{method: "GET", path: "/metrics"}, status: 200, check: func(t *testing.T, r response) {
			for _, want := range []string{
				`shoplab_requests_total{code="200",method="GET /api/v1/products/{id}",transport="http",unit="gateway"} 1`,
				`shoplab_client_call_duration_seconds_count{code="OK",method="/shoplab.v1.ProductService/GetProduct",target="product",unit="gateway"} 1`,
			} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		}},
	})
}
