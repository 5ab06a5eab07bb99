package product_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/product"
)

func TestValidateReserve(t *testing.T) {
	line := func(id string, q int) product.StockLine { return product.StockLine{ProductID: id, Quantity: q} }
	many := make([]product.StockLine, product.MaxLines+1)
	for i := range many {
		many[i] = line(product.ProductID(i, 1000), 1)
	}
	tests := []struct {
		name    string
		orderID string
		lines   []product.StockLine
		field   string // "" means valid
	}{
		{"valid", "o-1", []product.StockLine{line("p-0001", 1), line("p-0002", 1000)}, ""},
		{"max lines", "o-1", many[:product.MaxLines], ""},
		{"empty order id", "", []product.StockLine{line("p-0001", 1)}, "order_id"},
		{"blank order id", "  ", []product.StockLine{line("p-0001", 1)}, "order_id"},
		{"long order id", strings.Repeat("o", product.MaxOrderIDLen+1), []product.StockLine{line("p-0001", 1)}, "order_id"},
		{"no lines", "o-1", nil, "lines"},
		{"too many lines", "o-1", many, "lines"},
		{"empty product id", "o-1", []product.StockLine{line("p-0001", 1), line("", 1)}, "lines[1].product_id"},
		{"zero quantity", "o-1", []product.StockLine{line("p-0001", 0)}, "lines[0].quantity"},
		{"negative quantity", "o-1", []product.StockLine{line("p-0001", -3)}, "lines[0].quantity"},
		{"quantity over max", "o-1", []product.StockLine{line("p-0001", product.MaxQuantity+1)}, "lines[0].quantity"},
		{"duplicate product", "o-1", []product.StockLine{line("p-0001", 1), line("p-0002", 1), line("p-0001", 2)}, "lines[2].product_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := product.ValidateReserve(tt.orderID, tt.lines)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateReserve: %v, want nil", err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field {
				t.Fatalf("ValidateReserve: %v (field %q), want invalid field %q", err, errs.FieldOf(err), tt.field)
			}
		})
	}
}

func TestPageLimit(t *testing.T) {
	tests := []struct {
		in, want int
		ok       bool
	}{
		{0, product.DefaultLimit, true}, {1, 1, true}, {100, 100, true},
		{-1, 0, false}, {101, 0, false},
	}
	for _, tt := range tests {
		got, err := product.PageLimit(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("PageLimit(%d) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && errs.FieldOf(err) != "limit" {
			t.Errorf("PageLimit(%d) field = %q, want limit", tt.in, errs.FieldOf(err))
		}
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil means refused
	}{
		{"Wireless", []string{"wireless"}},
		{"  wireless   HEADPHONES ", []string{"wireless", "headphones"}},
		{"oak oak Oak", []string{"oak"}},
		{"", nil},
		{" \t\n", nil},
		{strings.Repeat("a", product.MaxQueryLen+1), nil},
		{"a b c d e f g h i", nil},
		{"a b c d e f g h", []string{"a", "b", "c", "d", "e", "f", "g", "h"}},
		{"\xff", nil},
	}
	for _, tt := range tests {
		got, err := product.ParseQuery(tt.in)
		if tt.want == nil {
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "query" {
				t.Errorf("ParseQuery(%q) = %v, %v; want invalid field query", tt.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseQuery(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCursorRoundTripAndRefusal(t *testing.T) {
	for _, id := range []string{"p-0001", "p-99999", "weird id/with+chars"} {
		got, err := product.DecodeCursor(product.EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q, %v", id, got, err)
		}
	}
	if got, err := product.DecodeCursor(""); err != nil || got != "" {
		t.Errorf("DecodeCursor(\"\") = %q, %v; want first page", got, err)
	}
	bad := []string{
		"!!!not base64",
		base64.RawURLEncoding.EncodeToString([]byte("p-0001")),      // no prefix
		base64.RawURLEncoding.EncodeToString([]byte("after:")),      // no id
		base64.StdEncoding.EncodeToString([]byte("after:p-0001??")), // padded, other alphabet
	}
	for _, c := range bad {
		if _, err := product.DecodeCursor(c); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "cursor" {
			t.Errorf("DecodeCursor(%q) = %v; want invalid field cursor", c, err)
		}
	}
}

func TestNormalizeCategory(t *testing.T) {
	if got, err := product.NormalizeCategory("  Books "); err != nil || got != "books" {
		t.Fatalf("NormalizeCategory = %q, %v; want books", got, err)
	}
	if _, err := product.NormalizeCategory(strings.Repeat("x", product.MaxCategoryLen+1)); errs.FieldOf(err) != "category" {
		t.Fatalf("long category: %v, want invalid field category", err)
	}
}

func TestMatchesAllWordsInNameOrDescription(t *testing.T) {
	p := product.Product{Name: "Voltix Wireless Headphones", Description: "A sleek pair for Travel."}
	tests := []struct {
		words []string
		want  bool
	}{
		{[]string{"wireless"}, true},
		{[]string{"wire", "travel"}, true}, // substring, one word per field
		{[]string{"headphones", "sleek", "voltix"}, true},
		{[]string{"wireless", "speaker"}, false}, // every word must match
		{[]string{"headphonesa"}, false},         // never across name and description
	}
	for _, tt := range tests {
		if got := product.Matches(p, tt.words); got != tt.want {
			t.Errorf("Matches(%v) = %v, want %v", tt.words, got, tt.want)
		}
	}
}

func TestInventoryCheck(t *testing.T) {
	ok := product.Inventory{Lines: []product.InventoryLine{
		{ProductID: "a", Initial: 10, Available: 7, Reserved: 3},
		{ProductID: "b", Initial: 5, Available: 0, Reserved: 5},
	}}
	if err := ok.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := ok.TotalAvailable(); got != 7 {
		t.Fatalf("TotalAvailable = %d, want 7", got)
	}
	bad := product.Inventory{Lines: []product.InventoryLine{
		{ProductID: "a", Initial: 10, Available: 8, Reserved: 3},
		{ProductID: "b", Initial: 5, Available: -1, Reserved: 6},
	}}
	err := bad.Check()
	if err == nil || !strings.Contains(err.Error(), "product a") || !strings.Contains(err.Error(), "product b") {
		t.Fatalf("Check = %v; want both products named", err)
	}
}

func TestProductValidate(t *testing.T) {
	good := product.Product{ID: "p-1", Name: "n", Category: "c", PriceCents: 1, Currency: "USD", Stock: 1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mutate := range []func(*product.Product){
		func(p *product.Product) { p.ID = "" },
		func(p *product.Product) { p.Name = "" },
		func(p *product.Product) { p.Category = "" },
		func(p *product.Product) { p.PriceCents = -1 },
		func(p *product.Product) { p.Currency = "US" },
		func(p *product.Product) { p.Stock = -1 },
	} {
		p := good
		mutate(&p)
		if p.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
		}
	}
}
