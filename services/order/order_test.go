package order_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func validRequest() order.PlaceRequest {
	return order.PlaceRequest{
		UserID:         "u1",
		Lines:          []order.Line{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 100}},
		PaymentToken:   "tok_visa",
		IdempotencyKey: "k1",
		RequestHash:    "h1",
	}
}

func TestValidate(t *testing.T) {
	many := make([]order.Line, order.MaxItems+1)
	for i := range many {
		many[i] = order.Line{ProductID: "p" + strings.Repeat("x", i), Quantity: 1}
	}
	tests := []struct {
		name      string
		mutate    func(*order.PlaceRequest)
		wantField string // "" means valid
	}{
		{"valid", func(*order.PlaceRequest) {}, ""},
		{"fifty items", func(r *order.PlaceRequest) { r.Lines = many[:order.MaxItems] }, ""},
		{"key of 128", func(r *order.PlaceRequest) { r.IdempotencyKey = strings.Repeat("k", 128) }, ""},
		{"no user", func(r *order.PlaceRequest) { r.UserID = "" }, "user_id"},
		{"blank user", func(r *order.PlaceRequest) { r.UserID = "  " }, "user_id"},
		{"long user", func(r *order.PlaceRequest) { r.UserID = strings.Repeat("u", 129) }, "user_id"},
		{"no items", func(r *order.PlaceRequest) { r.Lines = nil }, "items"},
		{"51 items", func(r *order.PlaceRequest) { r.Lines = many }, "items"},
		{"empty product", func(r *order.PlaceRequest) { r.Lines[1].ProductID = "" }, "items[1].product_id"},
		{"long product", func(r *order.PlaceRequest) { r.Lines[0].ProductID = strings.Repeat("p", 129) }, "items[0].product_id"},
		{"zero quantity", func(r *order.PlaceRequest) { r.Lines[0].Quantity = 0 }, "items[0].quantity"},
		{"negative quantity", func(r *order.PlaceRequest) { r.Lines[1].Quantity = -1 }, "items[1].quantity"},
		{"quantity at max", func(r *order.PlaceRequest) { r.Lines[1].Quantity = order.MaxQuantity }, ""},
		{"quantity over max", func(r *order.PlaceRequest) { r.Lines[1].Quantity = order.MaxQuantity + 1 }, "items[1].quantity"},
		{"duplicate product", func(r *order.PlaceRequest) { r.Lines[1].ProductID = "p1" }, "items[1].product_id"},
		{"no token", func(r *order.PlaceRequest) { r.PaymentToken = "" }, "payment_token"},
		{"long token", func(r *order.PlaceRequest) { r.PaymentToken = strings.Repeat("t", 257) }, "payment_token"},
		{"no key", func(r *order.PlaceRequest) { r.IdempotencyKey = "" }, "idempotency_key"},
		{"key of 129", func(r *order.PlaceRequest) { r.IdempotencyKey = strings.Repeat("k", 129) }, "idempotency_key"},
		{"no hash", func(r *order.PlaceRequest) { r.RequestHash = "" }, "request_hash"},
		{"long hash", func(r *order.PlaceRequest) { r.RequestHash = strings.Repeat("h", 257) }, "request_hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			tc.mutate(&r)
			err := r.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.wantField {
				t.Fatalf("Validate() = %v (field %q), want Invalid on %q", err, errs.FieldOf(err), tc.wantField)
			}
		})
	}
}

func TestDuplicateMessageNamesFirstLine(t *testing.T) {
	r := validRequest()
	r.Lines = append(r.Lines, order.Line{ProductID: "p1", Quantity: 2})
	err := r.Validate()
	if !strings.Contains(errs.MessageOf(err), "items[0]") || errs.FieldOf(err) != "items[2].product_id" {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestCanTransition(t *testing.T) {
	all := []order.Status{order.StatusPending, order.StatusPaid, order.StatusFailed, "BOGUS"}
	allowed := map[[2]order.Status]bool{
		{order.StatusPending, order.StatusPaid}:   true,
		{order.StatusPending, order.StatusFailed}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := order.CanTransition(from, to), allowed[[2]order.Status{from, to}]; got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestPrice(t *testing.T) {
	items := []order.Item{{ProductID: "a", Quantity: 2}, {ProductID: "b", Quantity: 3}}
	good := []order.ReservedLine{
		{ProductID: "b", Name: "B", Category: "cb", Quantity: 3, UnitPriceCents: 100, Currency: "EUR"},
		{ProductID: "a", Name: "A", Category: "ca", Quantity: 2, UnitPriceCents: 250, Currency: "EUR"},
	}
	p, err := order.Price(items, good)
	if err != nil {
		t.Fatal(err)
	}
	if p.TotalCents != 800 || p.Currency != "EUR" || p.Items[0].Name != "A" || p.Items[1].Category != "cb" || p.Items[0].UnitPriceCents != 250 {
		t.Fatalf("Price = %+v", p)
	}
	if p, _ := order.Price(items[:1], []order.ReservedLine{{ProductID: "a", Quantity: 2, UnitPriceCents: 1}}); p.Currency != order.DefaultCurrency {
		t.Fatalf("currency = %q, want the default", p.Currency)
	}
	bad := map[string][]order.ReservedLine{
		"missing line":   good[:1],
		"wrong quantity": {good[0], {ProductID: "a", Quantity: 1, UnitPriceCents: 250, Currency: "EUR"}},
		"mixed currency": {good[0], {ProductID: "a", Quantity: 2, UnitPriceCents: 250, Currency: "USD"}},
		"duplicate line": {good[0], good[0]},
		"foreign line":   {good[0], {ProductID: "z", Quantity: 2}},
		"negative price": {good[0], {ProductID: "a", Quantity: 2, UnitPriceCents: -1, Currency: "EUR"}},
	}
	for name, lines := range bad {
		if _, err := order.Price(items, lines); !errs.Is(err, errs.Internal) {
			t.Errorf("%s: Price = %v, want Internal", name, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := order.Cursor{CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), ID: "0190-abc:def"}
	got, err := order.DecodeCursor(c.Encode())
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("DecodeCursor(Encode(%v)) = %v, %v", c, got, err)
	}
	for _, bad := range []string{"!!", "bm90LWEtY3Vyc29y", "YWJjOmlk", "MTIzOg"} {
		if _, err := order.DecodeCursor(bad); errs.FieldOf(err) != "cursor" {
			t.Errorf("DecodeCursor(%q) = %v, want Invalid on cursor", bad, err)
		}
	}
}

func TestNormalizeLimit(t *testing.T) {
	for in, want := range map[int]int{0: 20, 1: 1, 100: 100} {
		if got, err := order.NormalizeLimit(in); err != nil || got != want {
			t.Errorf("NormalizeLimit(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []int{-1, 101} {
		if _, err := order.NormalizeLimit(in); errs.FieldOf(err) != "limit" {
			t.Errorf("NormalizeLimit(%d) = %v, want Invalid on limit", in, err)
		}
	}
}
