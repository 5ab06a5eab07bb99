package app

import (
	"context"
	"time"

	"github.com/shoplab/shoplab/services/order"
)

// Store keeps orders, their items and the outbox. Every adapter passes the
// contract suite in ordertest.
type Store interface {
	// Create inserts a PENDING order with its items in one transaction. A
	// second order with the same (user id, idempotency key) is an errs.Conflict.
	Create(ctx context.Context, o order.Order) error
	// Get returns an order by id, errs.NotFound when there is none.
	Get(ctx context.Context, id string) (order.Order, error)
	// GetByKey returns a user's order by idempotency key, errs.NotFound when there is none.
	GetByKey(ctx context.Context, userID, key string) (order.Order, error)
	// List returns up to q.Limit orders, newest first (created_at, then id, descending).
	List(ctx context.Context, q order.ListQuery) ([]order.Order, error)
	// MarkPaid moves a PENDING order to PAID with its priced items and
	// inserts msg into the outbox, in ONE transaction: both happen or
	// neither. A settled order is an errs.FailedPrecondition and is left as is.
	MarkPaid(ctx context.Context, id string, p order.Pricing, at time.Time, msg OutboxMessage) (order.Order, error)
	// MarkFailed moves a PENDING order to FAILED, with its priced items when
	// known. A settled order is an errs.FailedPrecondition and is left as is.
	MarkFailed(ctx context.Context, id string, f Failure, at time.Time) (order.Order, error)
	// PendingBefore returns up to limit PENDING orders created before t, oldest first.
	PendingBefore(ctx context.Context, t time.Time, limit int) ([]order.Order, error)
	// UnpublishedOutbox returns up to limit outbox rows not yet published, in id order.
	UnpublishedOutbox(ctx context.Context, limit int) ([]OutboxRecord, error)
	// ClaimOutbox leases to c.Owner up to c.Limit unpublished rows, in id
	// order, whose lease is free at c.Now (never leased, expired, or
	// already c.Owner's), until c.Now+c.Lease, and returns them. While a
	// lease runs no other owner gets the row, so the relays of several
	// replicas on one database never publish the same row at once.
	ClaimOutbox(ctx context.Context, c Claim) ([]OutboxRecord, error)
	// ClaimPending leases to c.Owner up to c.Limit PENDING orders created
	// before t, oldest first, whose recovery lease is free at c.Now, until
	// c.Now+c.Lease, so two replicas' recovery loops never settle one order at once.
	ClaimPending(ctx context.Context, t time.Time, c Claim) ([]order.Order, error)
	// MarkPublished records that the broker acked the rows with these ids.
	MarkPublished(ctx context.Context, ids []int64, at time.Time) error
	// OutboxBacklog counts the rows not yet published.
	OutboxBacklog(ctx context.Context) (int, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// Claim asks a Store for rows leased to one worker. Leases compare the
// callers' clocks, so replicas' clocks must agree to well within Lease.
type Claim struct {
	Owner string        // who holds the lease: one relay or recovery loop
	Now   time.Time     // the owner's clock
	Lease time.Duration // how long the rows stay the owner's
	Limit int           // at most this many rows
}

// Failure is why an order FAILED, with its pricing when the stock had been reserved.
type Failure struct {
	Code    order.FailureCode
	Message string
	Pricing *order.Pricing
}

// OutboxMessage is an event to publish once the transaction that wrote it commits.
type OutboxMessage struct {
	EventID string // unique; consumers deduplicate by it
	Topic   string
	Key     string // the order id: an order's events stay in order on one partition
	Payload []byte
}

// OutboxRecord is a stored OutboxMessage with its position in the outbox.
type OutboxRecord struct {
	ID        int64 // increasing in insert order
	CreatedAt time.Time
	OutboxMessage
}

// User is what the order unit needs to know about a customer.
type User struct {
	ID    string
	Email string
}

// UserClient reads users from the user unit.
type UserClient interface {
	// GetUser returns a user; errs.NotFound when there is none.
	GetUser(ctx context.Context, id string) (User, error)
}

// ProductClient reserves and releases stock in the product unit.
type ProductClient interface {
	// ReserveStock takes stock for an order, all lines or none; idempotent
	// per order. errs.OutOfStock or errs.NotFound when it cannot.
	ReserveStock(ctx context.Context, orderID string, lines []order.Line) ([]order.ReservedLine, error)
	// ReleaseStock gives an order's reservation back and keeps a later
	// ReserveStock from taking it again; idempotent, harmless with no reservation.
	ReleaseStock(ctx context.Context, orderID string) (released bool, err error)
}

// PaymentStatus is the state of an order's payment.
type PaymentStatus string

// The payment statuses of payment.proto.
const (
	PaymentCaptured PaymentStatus = "CAPTURED"
	PaymentDeclined PaymentStatus = "DECLINED"
	PaymentRefunded PaymentStatus = "REFUNDED"
	PaymentVoided   PaymentStatus = "VOIDED"
)

// Payment is an order's payment as the payment unit reports it.
type Payment struct {
	OrderID     string
	Status      PaymentStatus
	AmountCents int64
	Currency    string
	DeclineCode string
}

// Charge asks to charge an order.
type Charge struct {
	OrderID     string
	UserID      string
	AmountCents int64
	Currency    string
	Token       string
}

// PaymentClient charges orders in the payment unit, at most once per order.
type PaymentClient interface {
	// ProcessPayment charges an order, idempotent per order. A decline is a
	// result; a processor failure is errs.Unavailable and leaves no payment.
	ProcessPayment(ctx context.Context, c Charge) (Payment, error)
	// GetPayment returns an order's payment, errs.NotFound when there is none.
	GetPayment(ctx context.Context, orderID string) (Payment, error)
	// Refund refunds a captured payment or, when there is none, voids the
	// order so that a late ProcessPayment can no longer charge it.
	Refund(ctx context.Context, orderID, reason string) (Payment, error)
}

// Publisher sends outbox records to the broker.
type Publisher interface {
	// Publish sends recs and returns the ids of those the broker acked
	// (acks=all). An error means some or all were not acked; they are sent
	// again later, so a record may reach consumers twice but never zero times.
	Publish(ctx context.Context, recs []OutboxRecord) (acked []int64, err error)
}
