// Package app holds the payment unit's use cases: charge an order at most
// once, refund or void it, and report payments for reconciliation. It owns
// the Store and Processor ports its adapters implement.
package app

import (
	"context"

	"github.com/shoplab/shoplab/services/payment"
)

// Store keeps the one payment of each order. Its UNIQUE order id is what
// makes a payment per order unique across processes.
type Store interface {
	// CreateIfAbsent stores p unless p.OrderID already has a payment, and
	// returns the order's payment either way; created tells which.
	// errs.Conflict when p.ID is taken by another order.
	CreateIfAbsent(ctx context.Context, p payment.Payment) (stored payment.Payment, created bool, err error)
	// Transition applies change to the order's payment if its status is
	// still from, and returns the payment as stored afterwards; applied is
	// false when the status had moved on. errs.NotFound when there is none.
	Transition(ctx context.Context, orderID string, from payment.Status, change payment.Change) (stored payment.Payment, applied bool, err error)
	// ByOrder returns the order's payment; errs.NotFound when there is none.
	ByOrder(ctx context.Context, orderID string) (payment.Payment, error)
	// List returns up to limit payments whose id is greater than after
	// ("" for the first page), in id order.
	List(ctx context.Context, after string, limit int) ([]payment.Payment, error)
}

// Processor is the card processor, spoken to with Stripe's idempotency
// rules: a repeated idempotency key returns the first outcome and never
// charges again.
type Processor interface {
	// Charge charges req.Token once per req.IdempotencyKey. A decline is an
	// outcome (Charge.Declined), not an error. errs.Unavailable means the
	// processor failed and recorded nothing; errs.Invalid names a bad field
	// (e.g. "payment_token"); errs.IdempotencyMismatch means the key was
	// used for a different charge.
	Charge(ctx context.Context, req ChargeRequest) (Charge, error)
	// Lookup returns the outcome recorded for an idempotency key;
	// errs.NotFound when the processor has none.
	Lookup(ctx context.Context, idempotencyKey string) (Charge, error)
	// Refund refunds a captured charge; refunding it again is a no-op.
	Refund(ctx context.Context, chargeID string) error
	// CapturedCharges counts, per order id, the successful charges the
	// processor holds (refunded ones included: they were charged).
	CapturedCharges(ctx context.Context, orderIDs []string) (map[string]int, error)
}

// ChargeRequest is one call to Processor.Charge.
type ChargeRequest struct {
	IdempotencyKey string // the order id: one charge per order, ever
	OrderID        string
	AmountCents    int64
	Currency       string
	Token          string
}

// Charge is the processor's record of a charge attempt that reached a verdict.
type Charge struct {
	ID          string
	Declined    bool
	DeclineCode string // set when Declined
	Refunded    bool
}
