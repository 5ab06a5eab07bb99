package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func lines(n int) []gateway.OrderLine {
	out := make([]gateway.OrderLine, n)
	for i := range out {
		out[i] = gateway.OrderLine{ProductID: fmt.Sprintf("p%d", i+1), Quantity: 1}
	}
	return out
}

func TestOrderRequestValidate(t *testing.T) {
	tests := []struct {
		name  string
		req   gateway.OrderRequest
		field string // "" means valid
	}{
		{"one line", gateway.OrderRequest{Lines: lines(1)}, ""},
		{"fifty lines", gateway.OrderRequest{Lines: lines(50)}, ""},
		{"no lines", gateway.OrderRequest{}, "items"},
		{"fifty-one lines", gateway.OrderRequest{Lines: lines(51)}, "items"},
		{"quantity 0", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p", Quantity: 0}}}, "items[0].quantity"},
		{"quantity -1", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p", Quantity: -1}}}, "items[0].quantity"},
		{"quantity 100", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p", Quantity: 100}}}, ""},
		{"quantity 101 on line 2", gateway.OrderRequest{Lines: append(lines(2), gateway.OrderLine{ProductID: "p", Quantity: 101})}, "items[2].quantity"},
		{"empty product", gateway.OrderRequest{Lines: []gateway.OrderLine{{Quantity: 1}}}, "items[0].product_id"},
		{"blank product", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: " \t", Quantity: 1}}}, "items[0].product_id"},
		{"long product", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: strings.Repeat("p", 129), Quantity: 1}}}, "items[0].product_id"},
		{"long token", gateway.OrderRequest{Lines: lines(1), PaymentToken: strings.Repeat("t", 129)}, "payment.token"},
		// issue 10, defect 7: the product unit holds ids of at most 64 bytes
		// and one line per product; the edge says so instead of a 400 from inside.
		{"product 64", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: strings.Repeat("p", 64), Quantity: 1}}}, ""},
		{"product 65", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: strings.Repeat("p", 65), Quantity: 1}}}, "items[0].product_id"},
		// issue 10, defect 7: the spec cannot say "one line per product", so
		// a repeat is valid (Normalize merges it).
		{"repeated product", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 1}, {ProductID: "p1", Quantity: 2}}}, ""},
		{"a product on every line", gateway.OrderRequest{Lines: repeated("p1", gateway.MaxOrderLines, gateway.MaxLineQuantity)}, ""},
		// issue 10, defect 1: strings that protobuf cannot marshal.
		{"product not UTF-8", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "\xff\xfe", Quantity: 1}}}, "items[0].product_id"},
		{"token not UTF-8", gateway.OrderRequest{Lines: lines(1), PaymentToken: "tok_\xff"}, "payment.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != tt.field {
				t.Fatalf("Validate = %v, want invalid %s", err, tt.field)
			}
		})
	}
}

func repeated(id string, n int, qty int32) []gateway.OrderLine {
	out := make([]gateway.OrderLine, n)
	for i := range out {
		out[i] = gateway.OrderLine{ProductID: id, Quantity: qty}
	}
	return out
}

// TestNormalizeMergesRepeatedProducts is issue 10's defect 7: a schema-valid
// order naming a product on two lines is one line per product for the order
// unit, at the place of its first line, with the quantities added.
func TestNormalizeMergesRepeatedProducts(t *testing.T) {
	got := gateway.OrderRequest{Lines: []gateway.OrderLine{
		{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 4}, {ProductID: "p1", Quantity: 2}, {ProductID: "p3", Quantity: 1}, {ProductID: "p1", Quantity: 3},
	}}.Normalize()
	want := []gateway.OrderLine{{ProductID: "p1", Quantity: 6}, {ProductID: "p2", Quantity: 4}, {ProductID: "p3", Quantity: 1}}
	if fmt.Sprint(got.Lines) != fmt.Sprint(want) || got.PaymentToken != gateway.DefaultPaymentToken {
		t.Fatalf("Normalize = %+v, want lines %v and the default token", got, want)
	}
	most := gateway.OrderRequest{Lines: repeated("p1", gateway.MaxOrderLines, gateway.MaxLineQuantity)}.Normalize()
	if len(most.Lines) != 1 || most.Lines[0].Quantity != gateway.MaxProductQuantity {
		t.Fatalf("Normalize of %d full lines of one product = %+v, want one line of %d", gateway.MaxOrderLines, most.Lines, gateway.MaxProductQuantity)
	}
	// Splitting a quantity over lines is the same order, so the same hash.
	split := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 1}, {ProductID: "p2", Quantity: 1}, {ProductID: "p1", Quantity: 1}}}
	whole := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 1}}}
	if split.Hash() != whole.Hash() {
		t.Error("splitting p1 over two lines changes the hash")
	}
}

func TestOrderRequestHash(t *testing.T) {
	base := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 1}}}
	h := base.Hash()
	if len(h) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", h)
	}
	same := base
	same.PaymentToken = gateway.DefaultPaymentToken
	if same.Hash() != h {
		t.Error("an explicit default token changes the hash")
	}
	for name, other := range map[string]gateway.OrderRequest{
		"quantity":   {Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 3}, {ProductID: "p2", Quantity: 1}}},
		"line order": {Lines: []gateway.OrderLine{{ProductID: "p2", Quantity: 1}, {ProductID: "p1", Quantity: 2}}},
		"token":      {Lines: base.Lines, PaymentToken: "tok_chargeDeclined"},
		"a line":     {Lines: base.Lines[:1]},
	} {
		if other.Hash() == h {
			t.Errorf("a different %s hashes the same", name)
		}
	}
	// The order unit stores the hash under a key: it must not change for the
	// same request across releases, so the canonical form is pinned here.
	want := sha256Hex(`{"items":[{"product_id":"p1","quantity":2},{"product_id":"p2","quantity":1}],"payment":{"token":"tok_visa"}}`)
	if h != want {
		t.Errorf("hash %s is not the SHA-256 of the canonical form (%s)", h, want)
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{strings.Repeat("k", 128), true},
		{"order-2026-03-01_#1!~", true},
		{"", false},
		{strings.Repeat("k", 129), false},
		{"has space", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"naïve", false},
		{"nul\x00", false},
	}
	for _, tt := range tests {
		err := gateway.ValidateIdempotencyKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("%q: %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && (errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != "Idempotency-Key") {
			t.Errorf("%q: %v, want invalid Idempotency-Key", tt.key, err)
		}
	}
}

func TestOutcomeError(t *testing.T) {
	tests := []struct {
		status  gateway.OrderStatus
		failure string
		want    errs.Code // "" means no error
	}{
		{gateway.StatusPaid, "", ""},
		{gateway.StatusPending, "", ""},
		{gateway.StatusFailed, gateway.FailurePaymentDeclined, errs.PaymentDeclined},
		{gateway.StatusFailed, gateway.FailureOutOfStock, errs.OutOfStock},
		{gateway.StatusFailed, gateway.FailureProductNotFound, errs.NotFound},
		{gateway.StatusFailed, gateway.FailurePaymentUnavailable, errs.PaymentUnavailable},
		{gateway.StatusFailed, gateway.FailureDependencyUnavailable, errs.DependencyUnavailable},
		{gateway.StatusFailed, "cosmic_rays", errs.Internal},
		{gateway.StatusFailed, "", errs.Internal},
		{"ORDER_STATUS_UNSPECIFIED", "", errs.Internal},
	}
	for _, tt := range tests {
		err := gateway.OutcomeError(gateway.Order{ID: "o1", Status: tt.status, FailureCode: tt.failure})
		if got := errs.CodeOf(err); got != tt.want {
			t.Errorf("%s/%s: code %q, want %q (%v)", tt.status, tt.failure, got, tt.want, err)
		}
		if tt.want == errs.Internal && strings.Contains(errs.MessageOf(err), "cosmic") {
			t.Errorf("an internal error shows its cause to the client: %q", errs.MessageOf(err))
		}
	}
	err := gateway.OutcomeError(gateway.Order{Status: gateway.StatusFailed, FailureCode: gateway.FailurePaymentDeclined, FailureMessage: "card_declined"})
	if errs.MessageOf(err) != "card_declined" {
		t.Errorf("message %q, want the order unit's", errs.MessageOf(err))
	}
}

func TestRegistrationAndCredentials(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"valid", gateway.Registration{Email: "a@b.c", Password: "password1", Name: "A"}.Validate(), ""},
		{"no email", gateway.Registration{Password: "password1", Name: "A"}.Validate(), "email"},
		{"no at", gateway.Registration{Email: "ab.c", Password: "password1", Name: "A"}.Validate(), "email"},
		{"at first", gateway.Registration{Email: "@b.c", Password: "password1", Name: "A"}.Validate(), "email"},
		{"at last", gateway.Registration{Email: "a@", Password: "password1", Name: "A"}.Validate(), "email"},
		{"long email", gateway.Registration{Email: strings.Repeat("a", 250) + "@b.cd", Password: "password1", Name: "A"}.Validate(), "email"},
		{"no password", gateway.Registration{Email: "a@b.c", Name: "A"}.Validate(), "password"},
		{"blank name", gateway.Registration{Email: "a@b.c", Password: "password1", Name: "  "}.Validate(), "name"},
		{"login valid", gateway.Credentials{Email: "a@b.c", Password: "password1"}.Validate(), ""},
		{"login no password", gateway.Credentials{Email: "a@b.c"}.Validate(), "password"},
		{"page limit", gateway.Page{Limit: 101}.Validate(), "limit"},
		{"page cursor", gateway.Page{Cursor: strings.Repeat("c", 1025)}.Validate(), "cursor"},
		{"query q", gateway.ProductQuery{Query: strings.Repeat("q", 257)}.Validate(), "q"},
		{"query category", gateway.ProductQuery{Category: strings.Repeat("c", 129)}.Validate(), "category"},
		{"query valid", gateway.ProductQuery{Query: "mug", Page: gateway.Page{Limit: 100}}.Validate(), ""},
		// issue 10, defect 7: the user unit's password and name rules.
		{"short password", gateway.Registration{Email: "a@b.c", Password: "1234567", Name: "A"}.Validate(), "password"},
		{"password 72 chars", gateway.Registration{Email: "a@b.c", Password: strings.Repeat("é", 72), Name: "A"}.Validate(), ""},
		{"password 73 chars", gateway.Registration{Email: "a@b.c", Password: strings.Repeat("p", 73), Name: "A"}.Validate(), "password"},
		{"name 101 chars", gateway.Registration{Email: "a@b.c", Password: "password1", Name: strings.Repeat("n", 101)}.Validate(), "name"},
		{"name control char", gateway.Registration{Email: "a@b.c", Password: "password1", Name: "A\x07"}.Validate(), "name"},
		{"login long password in chars", gateway.Credentials{Email: "a@b.c", Password: strings.Repeat("é", 1024)}.Validate(), ""},
		// Registration takes a password of spaces (spaces are password
		// characters), so login must not refuse it as blank (schemathesis).
		{"register spaces password", gateway.Registration{Email: "a@b.c", Password: "        ", Name: "A"}.Validate(), ""},
		{"login spaces password", gateway.Credentials{Email: "a@b.c", Password: "        "}.Validate(), ""},
		{"login one space", gateway.Credentials{Email: "a@b.c", Password: " "}.Validate(), ""},
		{"login password too long", gateway.Credentials{Email: "a@b.c", Password: strings.Repeat("x", 1025)}.Validate(), "password"},
		{"query nine words", gateway.ProductQuery{Query: "a b c d e f g h i"}.Validate(), "q"},
		{"query 201", gateway.ProductQuery{Query: strings.Repeat("q", 201)}.Validate(), "q"},
		{"category 65", gateway.ProductQuery{Category: strings.Repeat("c", 65)}.Validate(), "category"},
		// issue 10, defect 1: invalid UTF-8 in every string of the edge.
		{"email not UTF-8", gateway.Registration{Email: "\xff\xfe@example.com", Password: "password1", Name: "A"}.Validate(), "email"},
		{"password not UTF-8", gateway.Credentials{Email: "a@b.c", Password: "pass\xffword"}.Validate(), "password"},
		{"name not UTF-8", gateway.Registration{Email: "a@b.c", Password: "password1", Name: "\xff"}.Validate(), "name"},
		{"q not UTF-8", gateway.ProductQuery{Query: "\xff"}.Validate(), "q"},
		{"category not UTF-8", gateway.ProductQuery{Category: "\xff"}.Validate(), "category"},
		{"cursor not UTF-8", gateway.Page{Cursor: "\xff"}.Validate(), "cursor"},
		{"product id not UTF-8", gateway.ValidateProductID("id", "\xff\xfe"), "id"},
		{"order id not UTF-8", gateway.ValidateOrderID("id", "\xff\xfe"), "id"},
	}
	for _, tt := range tests {
		if tt.field == "" {
			if tt.err != nil {
				t.Errorf("%s: %v", tt.name, tt.err)
			}
			continue
		}
		if errs.CodeOf(tt.err) != errs.Invalid || errs.FieldOf(tt.err) != tt.field {
			t.Errorf("%s: %v, want invalid %s", tt.name, tt.err, tt.field)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
