package notification_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/platform/errs"
)

var update = flag.Bool("update", false, "rewrite golden files")

func placed() events.OrderPlaced {
	return events.OrderPlaced{
		SchemaVersion: 1, EventID: "0b8f6c1e-evt", Type: events.TypeOrderPlaced,
		OccurredAt: time.Date(2026, 4, 1, 9, 30, 15, 0, time.FixedZone("CEST", 2*3600)),
		OrderID:    "ord-42", UserID: "usr-7", UserEmail: "Ann Buyer <ann@example.com>",
		Items: []events.LineItem{
			{ProductID: "book-1", Quantity: 2, UnitPriceCents: 1250, Category: "books"},
			{ProductID: "pen-9\r\nBcc: x@evil.test", Quantity: 1, UnitPriceCents: 5},
		},
		TotalCents: 2505, Currency: "EUR",
	}
}

func TestConfirmationGolden(t *testing.T) {
	e := placed()
	to, ok := notification.Recipient(e, "")
	if !ok {
		t.Fatal("no recipient")
	}
	m, err := notification.Confirmation(e, "orders@shoplab.local", to)
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "ann@example.com" || m.Subject != "Your shoplab order ord-42 is confirmed" || m.EventID != e.EventID || m.OrderID != "ord-42" {
		t.Fatalf("email = %+v", m)
	}
	golden := filepath.Join("testdata", "confirmation.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(m.Body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != string(want) {
		t.Fatalf("body differs from %s (go test -update to accept):\n%s", golden, m.Body)
	}
	// The body must not depend on anything but the event.
	again, _ := notification.Confirmation(e, "orders@shoplab.local", to)
	if again != m {
		t.Fatal("confirmation is not deterministic")
	}
}

func TestRecipient(t *testing.T) {
	tests := []struct {
		name, email, user, domain string
		want                      string
		ok                        bool
	}{
		{"event address", "ann@example.com", "u1", "", "ann@example.com", true},
		{"display name stripped", "Ann <ann@example.com>", "u1", "", "ann@example.com", true},
		{"missing, fallback", "", "u1", "users.shoplab.local", "user-u1@users.shoplab.local", true},
		{"invalid, fallback", "ann at example", "u1", "users.shoplab.local", "user-u1@users.shoplab.local", true},
		{"header injection, fallback", "a@b.c\r\nBcc: x@y.z", "u1", "d.local", "user-u1@d.local", true},
		{"odd user id sanitised", "", "u/1 @x", "d.local", "user-u-1--x@d.local", true},
		{"missing, no fallback", "", "u1", "", "", false},
		{"missing, no user", "", "", "d.local", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := placed()
			e.UserEmail, e.UserID = tc.email, tc.user
			got, ok := notification.Recipient(e, tc.domain)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Recipient = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		cents    int64
		currency string
		want     string
	}{
		{0, "USD", "0.00 USD"},
		{5, "USD", "0.05 USD"},
		{123456, "EUR", "1234.56 EUR"},
		{-50, "EUR", "-0.50 EUR"},
		{100, "", "1.00"},
		{math.MinInt64, "X", "-92233720368547758.08 X"},
	} {
		if got := notification.Money(tc.cents, tc.currency); got != tc.want {
			t.Errorf("Money(%d, %q) = %q, want %q", tc.cents, tc.currency, got, tc.want)
		}
	}
}

func TestEmailValidate(t *testing.T) {
	good := notification.Email{EventID: "e", OrderID: "o", From: "a@b.c", To: "d@e.f", Subject: "s", Body: "b"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*notification.Email){
		"event_id": func(m *notification.Email) { m.EventID = "" },
		"order_id": func(m *notification.Email) { m.OrderID = "" },
		"subject":  func(m *notification.Email) { m.Subject = "a\nb" },
		"from":     func(m *notification.Email) { m.From = "nobody" },
		"to":       func(m *notification.Email) { m.To = "" },
	} {
		m := good
		mutate(&m)
		if err := m.Validate(); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != field {
			t.Errorf("bad %s: Validate = %v", field, err)
		}
	}
}
