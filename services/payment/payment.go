// Package payment holds the rules of order payments: what a valid charge
// request is, the states a payment moves through, and when a repeated
// request is the same request. It does no I/O.
package payment

import (
	"time"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Status is where a payment stands.
type Status string

// The statuses. Processing is internal: the order is claimed and the
// processor asked, but its answer is not recorded yet (the call failed, is
// in flight, or the unit crashed). It is settled by asking the processor
// again with the same idempotency key, so it never charges twice.
const (
	StatusProcessing Status = "PROCESSING"
	StatusCaptured   Status = "CAPTURED"
	StatusDeclined   Status = "DECLINED"
	StatusRefunded   Status = "REFUNDED"
	StatusVoided     Status = "VOIDED"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusProcessing, StatusCaptured, StatusDeclined, StatusRefunded, StatusVoided:
		return true
	}
	return false
}

// CanTransition reports whether a payment may move from one status to
// another: a claim settles once, and only a capture can be refunded.
func CanTransition(from, to Status) bool {
	switch from {
	case StatusProcessing:
		return to == StatusCaptured || to == StatusDeclined || to == StatusVoided
	case StatusCaptured:
		return to == StatusRefunded
	}
	return false
}

// Limits and defaults of a charge request.
const (
	DefaultCurrency = "USD"
	DefaultToken    = "tok_visa"
	// MaxAmountCents is Stripe's limit for USD charges ($999,999.99): a
	// larger amount is a bug in the caller, not a purchase.
	MaxAmountCents = 99_999_999
	MaxIDLen       = 128
	MaxReasonLen   = 500
)

// Payment is the one payment record of an order.
type Payment struct {
	ID           string
	OrderID      string
	UserID       string
	AmountCents  int64  // 0 for a VOIDED tombstone written before any charge
	Currency     string // "" for such a tombstone
	Status       Status
	DeclineCode  string // why the processor declined, e.g. "card_declined"
	ChargeID     string // the processor's charge id, set once captured
	RefundReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// ProcessorCharges is how many successful charges the processor holds for
	// the order. It is the processor's fact, filled in by the app; stores
	// neither keep nor return it.
	ProcessorCharges int
}

// ChargeRequest asks to charge an order.
type ChargeRequest struct {
	OrderID     string
	UserID      string
	AmountCents int64
	Currency    string
	Token       string // a Stripe-style test token; "" means DefaultToken
}

// Validated returns the request with its defaults filled in, or an
// errs.Invalid error naming the first field at fault (by proto field name).
func (r ChargeRequest) Validated() (ChargeRequest, error) {
	if err := CheckOrderID(r.OrderID); err != nil {
		return r, err
	}
	if len(r.UserID) > MaxIDLen || !utf8.ValidString(r.UserID) {
		return r, errs.InvalidField("user_id", "user_id must be at most %d bytes of UTF-8", MaxIDLen)
	}
	if r.AmountCents <= 0 || r.AmountCents > MaxAmountCents {
		return r, errs.InvalidField("amount_cents", "amount_cents must be 1..%d", MaxAmountCents)
	}
	if r.Currency == "" {
		r.Currency = DefaultCurrency
	}
	if !isCurrencyCode(r.Currency) {
		return r, errs.InvalidField("currency", "currency must be an ISO 4217 code of 3 uppercase letters")
	}
	if r.Token == "" {
		r.Token = DefaultToken
	}
	if len(r.Token) > MaxIDLen {
		return r, errs.InvalidField("payment_token", "payment_token must be at most %d bytes", MaxIDLen)
	}
	return r, nil
}

// CheckOrderID checks an order id: required, bounded, valid UTF-8.
func CheckOrderID(id string) error {
	if id == "" {
		return errs.InvalidField("order_id", "order_id is required")
	}
	if len(id) > MaxIDLen || !utf8.ValidString(id) {
		return errs.InvalidField("order_id", "order_id must be at most %d bytes of UTF-8", MaxIDLen)
	}
	return nil
}

// CheckReason checks a refund reason, which is optional.
func CheckReason(reason string) error {
	if len(reason) > MaxReasonLen || !utf8.ValidString(reason) {
		return errs.InvalidField("reason", "reason must be at most %d bytes of UTF-8", MaxReasonLen)
	}
	return nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// SameRequest reports errs.IdempotencyMismatch when req, for the order p
// already belongs to, asks for a different charge: replaying a stored result
// for a different amount would hide a bug in the caller.
func (p Payment) SameRequest(req ChargeRequest) error {
	if p.AmountCents != req.AmountCents || p.Currency != req.Currency || p.UserID != req.UserID {
		return errs.E(errs.IdempotencyMismatch,
			"order %s already has a payment of %d %s for user %q; this request asks for %d %s for user %q",
			p.OrderID, p.AmountCents, p.Currency, p.UserID, req.AmountCents, req.Currency, req.UserID)
	}
	return nil
}

// Change is what a status transition writes; empty strings leave a field as it is.
type Change struct {
	Status       Status
	DeclineCode  string
	ChargeID     string
	RefundReason string
	At           time.Time // becomes UpdatedAt
}
