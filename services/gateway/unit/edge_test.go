package unit_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestHostileStringsAtTheEdge is issue 10's defects 1, 2 and 8: invalid
// UTF-8 anywhere a client can put it (path, query, headers, JSON) is a 400
// naming the field, never a 500 with grpc-go's marshalling error, and no
// message names a Go type.
func TestHostileStringsAtTheEdge(t *testing.T) {
	e := mustEnv(t)
	token, _ := e.mustUser("hostile@example.com")
	const reg = "/api/v1/auth/register"
	cases := []routeCase{
		{name: "product id path", route: "/api/v1/products/{id}", req: request{method: "GET", path: "/api/v1/products/%ff%fe"}, status: 400, code: "invalid_argument", field: "id"},
		{name: "product q", route: "/api/v1/products", req: request{method: "GET", path: "/api/v1/products?q=%ff"}, status: 400, code: "invalid_argument", field: "q"},
		{name: "product category", route: "/api/v1/products", req: request{method: "GET", path: "/api/v1/products?category=%ff"}, status: 400, code: "invalid_argument", field: "category"},
		{name: "product cursor", route: "/api/v1/products", req: request{method: "GET", path: "/api/v1/products?cursor=%ff"}, status: 400, code: "invalid_argument", field: "cursor"},
		{name: "order id path", route: "/api/v1/orders/{id}", req: request{method: "GET", path: "/api/v1/orders/%ff%fe", token: token}, status: 400, code: "invalid_argument", field: "id"},
		{name: "order cursor", route: "/api/v1/orders", req: request{method: "GET", path: "/api/v1/orders?cursor=%ff", token: token}, status: 400, code: "invalid_argument", field: "cursor"},
		{name: "idempotency key", route: "/api/v1/orders", req: request{method: "POST", path: "/api/v1/orders", token: token,
			header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k\xff\xfe"}}, body: orderBody("", "p1", 1)},
			status: 400, code: "invalid_argument", field: "Idempotency-Key"},
		{name: "register email bytes", route: reg, req: request{method: "POST", path: reg, body: "{\"email\":\"\xff\xfe@example.com\",\"password\":\"correct horse\",\"name\":\"X\"}"},
			status: 400, code: "invalid_argument", field: "email"},
		{name: "order product bytes", route: "/api/v1/orders", req: request{method: "POST", path: "/api/v1/orders", token: token,
			header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-utf8"}}, body: "{\"items\":[{\"product_id\":\"p1\",\"quantity\":1},{\"product_id\":\"p\xff\",\"quantity\":1}]}"},
			status: 400, code: "invalid_argument", field: "items[1].product_id"},
		{name: "key bytes", route: reg, req: request{method: "POST", path: reg, body: "{\"email\":\"a@b.c\",\"\xff\":1}"},
			status: 400, code: "invalid_argument", field: "\ufffd"},
		{name: "int32 overflow", route: "/api/v1/orders", req: request{method: "POST", path: "/api/v1/orders", token: token,
			header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-big"}}, body: `{"items":[{"product_id":"p1","quantity":10000000000}]}`},
			status: 400, code: "invalid_argument", field: "items.quantity", check: noGoTypes},
		{name: "line not an object", route: "/api/v1/orders", req: request{method: "POST", path: "/api/v1/orders", token: token,
			header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-line"}}, body: `{"items":["p1"]}`},
			status: 400, code: "invalid_argument", field: "items", check: noGoTypes},
		// Defect 7: a product on two lines is schema-valid; it is one line.
		{name: "repeated product", route: "/api/v1/orders", req: request{method: "POST", path: "/api/v1/orders", token: token,
			header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-dup"}}, body: orderBody("", "p1", 1, "p2", 1, "p1", 2)},
			status: 201, check: func(t *testing.T, r response) {
				var o struct {
					Items []struct {
						ProductID string `json:"product_id"`
						Quantity  int    `json:"quantity"`
					} `json:"items"`
				}
				if err := json.Unmarshal(r.body, &o); err != nil || len(o.Items) != 2 || o.Items[0].ProductID != "p1" || o.Items[0].Quantity != 3 || o.Items[1].ProductID != "p2" {
					t.Errorf("order items = %+v (%v), want p1 x3 then p2", o.Items, err)
				}
			}},
		// A request id the gateway cannot forward is replaced, not a 500.
		{name: "request id bytes", route: "/api/v1/products", req: request{method: "GET", path: "/api/v1/products", header: http.Header{"X-Request-Id": {"id-\xff"}}},
			status: 200, check: func(t *testing.T, r response) {
				if id := r.header.Get("X-Request-Id"); id == "" || strings.ContainsRune(id, 0xff) || strings.Contains(id, "\xff") {
					t.Errorf("X-Request-Id %q was echoed, want a fresh id", id)
				}
			}},
	}
	runCases(t, e, cases)
	for _, c := range cases {
		r := e.do(c.req)
		if strings.Contains(string(r.body), "grpc") || strings.Contains(string(r.body), "marshal") {
			t.Errorf("%s: answer leaks internal text: %s", c.name, r.body)
		}
	}
}

// noGoTypes fails when an error message names a Go type (defect 8).
func noGoTypes(t *testing.T, r response) {
	t.Helper()
	msg := r.errorBody(t).Message
	for _, bad := range []string{"int32", "int64", "ports.", "gateway.", "struct", "[]"} {
		if strings.Contains(msg, bad) {
			t.Errorf("message %q names a Go type (%s)", msg, bad)
		}
	}
}
