package payment_test

import (
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestChargeRequestValidated(t *testing.T) {
	ok := payment.ChargeRequest{OrderID: "o1", UserID: "u1", AmountCents: 100, Currency: "EUR", Token: "tok_visa"}
	tests := []struct {
		name  string
		edit  func(r *payment.ChargeRequest)
		field string // "" means valid
	}{
		{"valid", func(*payment.ChargeRequest) {}, ""},
		{"no user is fine", func(r *payment.ChargeRequest) { r.UserID = "" }, ""},
		{"max amount", func(r *payment.ChargeRequest) { r.AmountCents = payment.MaxAmountCents }, ""},
		{"no order", func(r *payment.ChargeRequest) { r.OrderID = "" }, "order_id"},
		{"long order", func(r *payment.ChargeRequest) { r.OrderID = strings.Repeat("o", 129) }, "order_id"},
		{"bad utf-8 order", func(r *payment.ChargeRequest) { r.OrderID = "o\xff" }, "order_id"},
		{"long user", func(r *payment.ChargeRequest) { r.UserID = strings.Repeat("u", 129) }, "user_id"},
		{"zero amount", func(r *payment.ChargeRequest) { r.AmountCents = 0 }, "amount_cents"},
		{"negative amount", func(r *payment.ChargeRequest) { r.AmountCents = -1 }, "amount_cents"},
		{"amount over max", func(r *payment.ChargeRequest) { r.AmountCents = payment.MaxAmountCents + 1 }, "amount_cents"},
		{"lower-case currency", func(r *payment.ChargeRequest) { r.Currency = "eur" }, "currency"},
		{"two-letter currency", func(r *payment.ChargeRequest) { r.Currency = "EU" }, "currency"},
		{"four-letter currency", func(r *payment.ChargeRequest) { r.Currency = "EURO" }, "currency"},
		{"digit currency", func(r *payment.ChargeRequest) { r.Currency = "E1R" }, "currency"},
		{"long token", func(r *payment.ChargeRequest) { r.Token = strings.Repeat("t", 129) }, "payment_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			_, err := r.Validated()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validated = %v, want ok", err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field {
				t.Fatalf("Validated = %v, want Invalid on %s", err, tt.field)
			}
		})
	}
	got, err := payment.ChargeRequest{OrderID: "o1", AmountCents: 1}.Validated()
	if err != nil || got.Currency != "USD" || got.Token != "tok_visa" {
		t.Fatalf("defaults: %+v, %v; want USD and tok_visa", got, err)
	}
}

func TestCanTransition(t *testing.T) {
	all := []payment.Status{payment.StatusProcessing, payment.StatusCaptured, payment.StatusDeclined, payment.StatusRefunded, payment.StatusVoided}
	allowed := map[[2]payment.Status]bool{
		{payment.StatusProcessing, payment.StatusCaptured}: true,
		{payment.StatusProcessing, payment.StatusDeclined}: true,
		{payment.StatusProcessing, payment.StatusVoided}:   true,
		{payment.StatusCaptured, payment.StatusRefunded}:   true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := payment.CanTransition(from, to); got != allowed[[2]payment.Status{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
	if payment.Status("PAID").Valid() || !payment.StatusVoided.Valid() {
		t.Error("Valid is wrong")
	}
}

func TestSameRequest(t *testing.T) {
	p := payment.Payment{OrderID: "o1", UserID: "u1", AmountCents: 100, Currency: "USD"}
	if err := p.SameRequest(payment.ChargeRequest{OrderID: "o1", UserID: "u1", AmountCents: 100, Currency: "USD", Token: "tok_amex"}); err != nil {
		t.Fatalf("same charge with another token: %v", err)
	}
	for _, r := range []payment.ChargeRequest{
		{OrderID: "o1", UserID: "u1", AmountCents: 101, Currency: "USD"},
		{OrderID: "o1", UserID: "u1", AmountCents: 100, Currency: "EUR"},
		{OrderID: "o1", UserID: "u2", AmountCents: 100, Currency: "USD"},
	} {
		if err := p.SameRequest(r); !errs.Is(err, errs.IdempotencyMismatch) {
			t.Errorf("SameRequest(%+v) = %v, want IdempotencyMismatch", r, err)
		}
	}
	if err := payment.CheckReason(strings.Repeat("r", 501)); errs.FieldOf(err) != "reason" {
		t.Errorf("long reason: %v", err)
	}
}
