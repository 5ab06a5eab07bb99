package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/gateway/ports"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// The seed corpus lives in testdata/fuzz/<target>/; these f.Add seeds cover
// the same ground so that `go test` exercises them even without it.

// FuzzDecodeOrderRequest feeds arbitrary bodies to the order request
// decoder. It must never panic; a refusal is always a 400 or 413 with a
// message; an accepted body either validates or names the field at fault;
// and a valid request re-encoded hashes the same (the hash is canonical).
func FuzzDecodeOrderRequest(f *testing.F) {
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":2}],"payment":{"token":"tok_visa"}}`))
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":0}]}`))
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":"2"}]}`))
	f.Add([]byte(`{"items":null,"payment":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":1}]} {"x":1}`))
	f.Add([]byte(`{"ITEMS":[{"Product_ID":"p1","QUANTITY":1}]}`))
	f.Add([]byte("{\"items\":[{\"product_id\":\"\\u0000\",\"quantity\":1e2}]}"))
	const limit = 4 << 10
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(body))
		w := httptest.NewRecorder()
		req, err := ports.DecodeOrderRequest(w, r, limit)
		if err != nil {
			code := errs.CodeOf(err)
			if code != errs.Invalid && code != errs.TooLarge {
				t.Fatalf("decode error %v has code %s, want invalid_argument or payload_too_large", err, code)
			}
			if code == errs.TooLarge && len(body) <= limit {
				t.Fatalf("a %d-byte body was refused as too large", len(body))
			}
			if errs.MessageOf(err) == "" {
				t.Fatalf("decode error %v has no message", err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) == "" {
				t.Fatalf("validation error %v does not name a field", err)
			}
			return
		}
		// Round trip: the request encoded again, in any layout, is the same request.
		again := ports.OrderRequestJSON{Payment: ports.PaymentJSON{Token: req.PaymentToken}}
		for _, l := range req.Lines {
			again.Items = append(again.Items, ports.OrderLineJSON(l))
		}
		b, err := json.MarshalIndent(again, "", "   ")
		if err != nil {
			t.Fatal(err)
		}
		r2 := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(b))
		req2, err := ports.DecodeOrderRequest(httptest.NewRecorder(), r2, 1<<20)
		if err != nil {
			t.Fatalf("re-encoded request %s does not decode: %v", b, err)
		}
		if req.Hash() != req2.Hash() {
			t.Fatalf("hash changed on re-encoding %q -> %s", body, b)
		}
	})
}

// FuzzCreateOrderHandler drives POST /api/v1/orders through the real router
// with in-memory units that never fail. Whatever the body, key and
// Content-Type: no panic, no 5xx, a status the OpenAPI file documents, and
// the documented body (an order on 2xx, the error shape otherwise).
func FuzzCreateOrderHandler(f *testing.F) {
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":1}]}`), "key-1", "application/json")
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":1}],"payment":{"token":"tok_chargeDeclined"}}`), "key-2", "application/json")
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":99}]}`), "key-3", "application/json; charset=utf-8")
	f.Add([]byte(`{"items":[{"product_id":"nope","quantity":1}]}`), "key-4", "application/json")
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":1}]}`), "", "application/json")
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":1}]}`), "key-1", "text/plain")
	f.Add([]byte(`{"items":[{"product_id":"p1","quantity":2}]}`), "key-1", "application/json")
	f.Add([]byte(`{`), "k", "application/json")

	documented := documentedStatuses(f, "/api/v1/orders", "post")
	fx := newFuzzGateway(f, backendOK)
	h, token := fx.handler, fx.token

	f.Fuzz(func(t *testing.T, body []byte, key, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		// Header values cannot carry every byte; send what a client could.
		if validHeaderValue(key) {
			r.Header.Set("Idempotency-Key", key)
		}
		if validHeaderValue(contentType) {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := w.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("status %d on client input (body %q, key %q, type %q): %s", res.StatusCode, body, key, contentType, w.Body.Bytes())
		}
		if !documented[res.StatusCode] {
			t.Fatalf("status %d is not documented for POST /api/v1/orders: %s", res.StatusCode, w.Body.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if res.StatusCode < 300 {
			var o struct {
				ID          string          `json:"id"`
				Status      string          `json:"status"`
				Items       json.RawMessage `json:"items"`
				TotalCents  int64           `json:"total_cents"`
				Currency    string          `json:"currency"`
				FailureCode string          `json:"failure_code"`
				CreatedAt   time.Time       `json:"created_at"`
			}
			if err := dec.Decode(&o); err != nil || o.ID == "" || o.Status == "" {
				t.Fatalf("status %d body is not an order: %s (%v)", res.StatusCode, w.Body.Bytes(), err)
			}
			return
		}
		var e httpx.ErrorBody
		if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("status %d body is not the error shape: %s (%v)", res.StatusCode, w.Body.Bytes(), err)
		}
	})
}

func validHeaderValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// documentedStatuses reads the statuses the OpenAPI file lists for one operation.
func documentedStatuses(tb testing.TB, path, method string) map[int]bool {
	tb.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		tb.Fatal(err)
	}
	out := map[int]bool{}
	for code := range doc.Paths[path][method].Responses {
		n, err := strconv.Atoi(code)
		if err != nil {
			tb.Fatalf("status %q of %s %s", code, method, path)
		}
		out[n] = true
	}
	if len(out) == 0 {
		tb.Fatalf("no statuses documented for %s %s", method, path)
	}
	return out
}

// fuzzGateway is the whole gateway handler (router, metrics, access log)
// over in-memory units, and a bearer token it accepts.
type fuzzGateway struct {
	handler http.Handler
	token   string
}

// backendMode says how the fake units behind a fuzzGateway answer.
type backendMode int

const (
	backendOK          backendMode = iota // the in-memory shop, never failing
	backendUnavailable                    // every unit call fails with errs.Unavailable
	backendDeadline                       // ... with errs.DeadlineExceeded
	backendInternal                       // ... with errs.Internal
	backendModes
)

// secretCause is the internal cause of every failure a failing backend
// returns; no answer may ever show it.
const secretCause = "dial tcp 10.9.8.7:50051: connect: connection refused (SECRET-CAUSE)"

var fuzzNow = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// newFuzzGateway builds a gateway over a fresh shop holding p1 (plenty of
// stock) and p2 (none). Only the payment failures a client can cause are
// faked: an unavailable payment is a 503 by design, not a bug a fuzzer
// should report; mode fails every unit call instead.
func newFuzzGateway(tb testing.TB, mode backendMode) fuzzGateway {
	tb.Helper()
	shop := gatewaytest.NewShop(fuzzNow)
	shop.TokenFailures = map[string]string{gatewaytest.TokenDeclined: gateway.FailurePaymentDeclined}
	shop.AddProduct(gateway.Product{ID: "p1", Name: "Mug", Category: "kitchen", PriceCents: 100, Currency: "USD", Stock: 1 << 40})
	shop.AddProduct(gateway.Product{ID: "p2", Name: "Lamp", Category: "office", PriceCents: 100, Currency: "USD", Stock: 0})
	tokens, err := app.NewTokens([]byte("0123456789abcdef0123456789abcdef"), 0, fuzzNow)
	if err != nil {
		tb.Fatal(err)
	}
	var users app.Users = shop
	var catalog app.Catalog = shop
	var orders app.Orders = shop
	if mode != backendOK {
		f := failingUnits{err: backendError(mode)}
		users, catalog, orders = f, f, f
	}
	svc, err := app.New(users, catalog, orders, tokens, nil)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := ports.NewHandler(svc, ports.Options{Registry: metrics.New("gateway", false), MaxBodyBytes: 4 << 10})
	if err != nil {
		tb.Fatal(err)
	}
	token, _, err := tokens.Issue(gateway.User{ID: "usr-1", Email: "a@example.com"})
	if err != nil {
		tb.Fatal(err)
	}
	return fuzzGateway{handler: h, token: token}
}

func backendError(mode backendMode) error {
	cause := errors.New(secretCause)
	switch mode {
	case backendUnavailable:
		return errs.Wrap(errs.Unavailable, cause, "the unit is unavailable")
	case backendDeadline:
		return errs.Wrap(errs.DeadlineExceeded, cause, "the unit did not answer in time")
	}
	return errs.Wrap(errs.Internal, cause, "internal error")
}

// failingUnits are user, product and order units that fail every call.
type failingUnits struct{ err error }

func (f failingUnits) Register(context.Context, gateway.Registration) (gateway.User, error) {
	return gateway.User{}, f.err
}

func (f failingUnits) Authenticate(context.Context, gateway.Credentials) (gateway.User, error) {
	return gateway.User{}, f.err
}

func (f failingUnits) GetProduct(context.Context, string) (gateway.Product, error) {
	return gateway.Product{}, f.err
}

func (f failingUnits) ListProducts(context.Context, gateway.ProductQuery) (gateway.ProductPage, error) {
	return gateway.ProductPage{}, f.err
}

func (f failingUnits) SearchProducts(context.Context, gateway.ProductQuery) (gateway.ProductPage, error) {
	return gateway.ProductPage{}, f.err
}

func (f failingUnits) CreateOrder(context.Context, app.PlaceOrder) (gateway.PlacedOrder, error) {
	return gateway.PlacedOrder{}, f.err
}

func (f failingUnits) GetOrder(context.Context, string, string) (gateway.Order, error) {
	return gateway.Order{}, f.err
}

func (f failingUnits) ListOrders(context.Context, string, gateway.Page) (gateway.OrderPage, error) {
	return gateway.OrderPage{}, f.err
}

// FuzzGatewayRequest sends raw HTTP/1.1 requests (method, request target,
// header lines, body) through the whole gateway handler, parsed as the
// server parses them. When auth is set a valid bearer token is added, so
// the fuzzer gets past authentication. mode picks the backend (mod
// backendModes): whatever the request, no 5xx unless the backend was told
// to fail (and then only the status of its error), every status is one the
// OpenAPI file documents for a matched operation, every error answer is
// the documented JSON shape with a known code, every body is valid UTF-8,
// JSON answers are JSON, and no answer leaks internal text.
func FuzzGatewayRequest(f *testing.F) {
	f.Add("GET", "/api/v1/products?category=books&limit=2", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/products/%ff%fe", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/products?q=%ff&category=%fe", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/orders/%ff%fe", "", []byte(nil), true, uint8(0))
	f.Add("GET", "/api/v1/orders?cursor=%ff&limit=1", "", []byte(nil), true, uint8(0))
	f.Add("POST", "/api/v1/orders", "Content-Type: application/json\r\nIdempotency-Key: k1\r\n", []byte(`{"items":[{"product_id":"p1","quantity":1}]}`), true, uint8(0))
	f.Add("POST", "/api/v1/orders", "Content-Type: text/plain\r\nIdempotency-Key: k1\r\n", []byte(`{"items":[{"product_id":"p1","quantity":1}]}`), true, uint8(0))
	f.Add("POST", "/api/v1/orders", "Content-Type: application/json\r\nIdempotency-Key: k\xff\xfe\r\n", []byte(`{"items":[{"product_id":"p\xff","quantity":1}]}`), true, uint8(0))
	f.Add("POST", "/api/v1/orders", "Content-Type: application/json; charset=utf-16\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n", []byte("\xff\xfe{\x00}\x00"), true, uint8(0))
	f.Add("POST", "/api/v1/auth/register", "Content-Type: application/json\r\n", []byte("{\"email\":\"\xff\xfe@example.com\",\"password\":\"correct horse\",\"name\":\"X\"}"), false, uint8(0))
	f.Add("POST", "/api/v1/auth/login", "Content-Type: application/json\r\n", []byte(`{"email":"a@example.com","password":"        "}`), false, uint8(0))
	f.Add("POST", "/api/v1/auth/login", "Content-Type: multipart/form-data; boundary=x\r\n", []byte("--x\r\n\r\n--x--"), false, uint8(0))
	f.Add("POST", "/api/v1/auth/register", "Content-Type: application/x-www-form-urlencoded\r\n", []byte("email=a%40b.c&password=12345678"), false, uint8(0))
	f.Add("GET", "/api/v1/products", "X-Request-Id: id-\xff\r\nX-Big: "+strings.Repeat("A", 64<<10)+"\r\n", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/orders", "Authorization: Bearer "+strings.Repeat("x", 8<<10)+"\r\n", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/orders", "Authorization: Basic dTpw\r\n", []byte(nil), false, uint8(0))
	f.Add("DELETE", "/api/v1/orders/1", "", []byte(nil), true, uint8(0))
	f.Add("HEAD", "/api/v1/products", "", []byte(nil), false, uint8(0))
	f.Add("OPTIONS", "*", "", []byte(nil), false, uint8(0))
	f.Add("GET", "http://evil.example/api/v1/products/p1", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/../v1/products//p1", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/api/v1/openapi.yaml", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/metrics", "", []byte(nil), false, uint8(0))
	f.Add("GET", "/readyz", "", []byte(nil), false, uint8(1))
	f.Add("GET", "/api/v1/products/p1", "", []byte(nil), false, uint8(1))
	f.Add("POST", "/api/v1/orders", "Content-Type: application/json\r\nIdempotency-Key: k1\r\n", []byte(`{"items":[{"product_id":"p1","quantity":1}]}`), true, uint8(2))
	f.Add("POST", "/api/v1/auth/login", "Content-Type: application/json\r\n", []byte(`{"email":"a@example.com","password":"password1"}`), false, uint8(3))

	documented := documentedOperations(f)
	codes := errorCodes(f)
	gateways := make([]fuzzGateway, backendModes)
	for m := range backendModes {
		gateways[m] = newFuzzGateway(f, m)
	}

	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte, auth bool, mode uint8) {
		m := backendMode(mode) % backendModes
		g := gateways[m]
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", method, target)
		if auth {
			raw.WriteString("Authorization: Bearer " + g.token + "\r\n")
		}
		raw.WriteString(headers)
		if !strings.HasSuffix(headers, "\r\n") && headers != "" {
			raw.WriteString("\r\n")
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
		raw.Write(body)
		if raw.Len() > http.DefaultMaxHeaderBytes+len(body) {
			return // the server answers 431 before any handler runs
		}
		r, err := http.ReadRequest(bufio.NewReader(&raw))
		if err != nil || !serverWouldServe(r) {
			return // net/http answers 400 itself; the gateway never sees it
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		g.handler.ServeHTTP(w, r)
		res := w.Result()
		out := w.Body.Bytes()
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s %q (backend %d) -> %d %s: %s", r.Method, r.RequestURI, m, res.StatusCode, out, fmt.Sprintf(format, args...))
		}

		if res.StatusCode >= 500 {
			if want := backendStatus(m); res.StatusCode != want {
				fail("a server error, backend mode %d answers %d", m, want)
			}
		}
		if op, ok := documented[operationKey(r)]; ok && !op[res.StatusCode] && !(m == backendInternal && res.StatusCode == 500) {
			fail("status not documented for this operation")
		}
		if !utf8.Valid(out) {
			fail("body is not valid UTF-8")
		}
		// The OpenAPI file and the metrics are documents about the gateway;
		// everything else is an answer to a client.
		document := res.StatusCode == 200 && (r.URL.Path == "/api/v1/openapi.yaml" || r.URL.Path == "/metrics")
		for _, leak := range []string{"SECRET-CAUSE", "10.9.8.7", "grpc", "marshal", "goroutine", "panic", "runtime error", "ports.", "gateway.", "*errs", "int32", "int64", "json: "} {
			if !document && strings.Contains(string(out), leak) {
				fail("the answer leaks internal text %q", leak)
			}
		}
		ct := res.Header.Get("Content-Type")
		switch {
		case res.StatusCode >= 400:
			if ct != "application/json" {
				fail("error answer has Content-Type %q", ct)
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.DisallowUnknownFields()
			var e httpx.ErrorBody
			if err := dec.Decode(&e); err != nil || !codes[e.Error.Code] || e.Error.Message == "" {
				fail("not the documented error shape with a known code (%v)", err)
			}
			if dec.More() {
				fail("trailing data after the error")
			}
		case strings.HasPrefix(ct, "application/json"):
			if !json.Valid(out) {
				fail("invalid JSON")
			}
		}
	})
}

// serverWouldServe reports whether net/http's server would hand r to a
// handler: it answers 400 itself for a missing Host on HTTP/1.1 and for
// header values with control bytes, and never calls a handler for them.
func serverWouldServe(r *http.Request) bool {
	if len(r.Header["Host"]) > 1 {
		return false
	}
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return httpguts.ValidHostHeader(r.Host)
}

// backendStatus is the only 5xx a request may meet with backend mode m.
func backendStatus(m backendMode) int {
	switch m {
	case backendUnavailable:
		return http.StatusServiceUnavailable
	case backendDeadline:
		return http.StatusGatewayTimeout
	case backendInternal:
		return http.StatusInternalServerError
	}
	return 0
}

// operationKey is "METHOD /path/template" for a request the OpenAPI file
// may describe: the path's template is the spec's (ids become {id}).
func operationKey(r *http.Request) string {
	p := r.URL.Path
	for _, prefix := range []string{"/api/v1/products/", "/api/v1/orders/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			p = prefix + "{id}"
		}
	}
	return r.Method + " " + p
}

// documentedOperations maps "METHOD /path" of every operation in the
// OpenAPI file to the statuses it documents.
func documentedOperations(tb testing.TB) map[string]map[int]bool {
	tb.Helper()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		tb.Fatal(err)
	}
	out := map[string]map[int]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			out[strings.ToUpper(method)+" "+path] = documentedStatuses(tb, path, method)
		}
	}
	return out
}

// errorCodes is the set of codes the OpenAPI file's Error schema lists.
func errorCodes(tb testing.TB) map[string]bool {
	tb.Helper()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum {
		out[c] = true
	}
	if len(out) == 0 {
		tb.Fatal("the OpenAPI file's Error schema lists no codes")
	}
	return out
}
