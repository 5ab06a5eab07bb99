package ports_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/gateway/ports"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// benchHandler is the gateway's whole HTTP handler (router, auth, request
// id, metrics, access log) over in-process fakes of the units, and a
// bearer token for it.
func benchHandler(b *testing.B) (http.Handler, string) {
	b.Helper()
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	shop := gatewaytest.NewShop(now)
	shop.AddProduct(gateway.Product{ID: "p-0042", Name: "Stoneware Pour-Over Coffee Dripper", Category: "kitchen",
		PriceCents: 2499, Currency: "USD", Stock: 1 << 40})
	tokens, err := app.NewTokens([]byte("0123456789abcdef0123456789abcdef"), 0, now)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := app.New(shop, shop, shop, tokens, nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := ports.NewHandler(svc, ports.Options{Registry: metrics.New("gateway", false)})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := tokens.Issue(gateway.User{ID: "usr-1", Email: "a@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	return h, token
}

// BenchmarkGatewayHandler measures the gateway's own work per request,
// without the gRPC hops behind it (BenchmarkGRPCHop in grpcx has those).
func BenchmarkGatewayHandler(b *testing.B) {
	h, token := benchHandler(b)
	b.Run("GET product", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/products/p-0042", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.Run("POST order", func(b *testing.B) {
		body := []byte(`{"items":[{"product_id":"p-0042","quantity":1}],"payment":{"token":"tok_visa"}}`)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+token)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
