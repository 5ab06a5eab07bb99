package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

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
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	shop := gatewaytest.NewShop(now)
	// Only the failures a client can cause: an unavailable payment is a 503
	// by design, not a bug the fuzzer should report.
	shop.TokenFailures = map[string]string{gatewaytest.TokenDeclined: gateway.FailurePaymentDeclined}
	shop.AddProduct(gateway.Product{ID: "p1", Name: "Mug", Category: "kitchen", PriceCents: 100, Currency: "USD", Stock: 1 << 40})
	shop.AddProduct(gateway.Product{ID: "p2", Name: "Lamp", Category: "office", PriceCents: 100, Currency: "USD", Stock: 0})
	tokens, err := app.NewTokens([]byte("0123456789abcdef0123456789abcdef"), 0, now)
	if err != nil {
		f.Fatal(err)
	}
	svc, err := app.New(shop, shop, shop, tokens, nil)
	if err != nil {
		f.Fatal(err)
	}
	h, err := ports.NewHandler(svc, ports.Options{Registry: metrics.New("gateway", false), MaxBodyBytes: 4 << 10})
	if err != nil {
		f.Fatal(err)
	}
	token, _, err := tokens.Issue(gateway.User{ID: "usr-1", Email: "a@example.com"})
	if err != nil {
		f.Fatal(err)
	}

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
