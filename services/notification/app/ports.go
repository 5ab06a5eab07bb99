// Package app is the notification use case: turn a batch of Kafka records
// (the AWS Lambda MSK event shape) into exactly one confirmation email per
// OrderPlaced event. It owns the two small ports it needs, Mailer and
// DedupStore; adapters implement them.
package app

import (
	"context"
	"time"

	"github.com/shoplab/shoplab/services/notification"
)

// Mailer delivers an email. A Mailer whose backend can do so (the local
// mailbox) makes Send idempotent per Email.EventID, which closes the last
// duplicate window of the dedup protocol; SES cannot, see Handler.
type Mailer interface {
	// Send delivers m. Errors carry errs codes: Invalid when the backend
	// refused this message for good (bad address), Unavailable or
	// DeadlineExceeded when a retry may succeed.
	Send(ctx context.Context, m notification.Email) error
}

// ClaimResult is the outcome of DedupStore.Claim.
type ClaimResult int

// The claim outcomes.
const (
	// Claimed: the caller holds the event until the lease ends and must
	// send, then MarkSent (or Release if the send failed).
	Claimed ClaimResult = iota + 1
	// AlreadySent: the email of this event went out; skip it.
	AlreadySent
	// HeldByOther: another invocation holds a live lease; retry later. If it
	// crashed, its lease runs out and a retry takes the event over.
	HeldByOther
)

// String names r for logs and test failures.
func (r ClaimResult) String() string {
	switch r {
	case Claimed:
		return "claimed"
	case AlreadySent:
		return "already_sent"
	case HeldByOther:
		return "held_by_other"
	}
	return "unknown"
}

// DedupStore records which events had their email sent (the DynamoDB role
// in AWS). Every method is a single conditional write, so concurrent
// handlers and redelivered batches agree on one sender per event.
type DedupStore interface {
	// Claim takes eventID for token until now+lease, if nobody sent it and
	// nobody else holds a live lease (an expired lease is taken over).
	// An empty id, token or a non-positive lease is an Invalid error.
	Claim(ctx context.Context, eventID, orderID, token string, now time.Time, lease time.Duration) (ClaimResult, error)
	// MarkSent records that eventID's email went out. It is unconditional
	// and idempotent: whoever sent it, later claims must see AlreadySent.
	MarkSent(ctx context.Context, eventID string, now time.Time) error
	// Release drops token's claim on eventID so that a retry need not wait
	// for the lease; it does nothing if token no longer holds the claim or
	// the event was sent.
	Release(ctx context.Context, eventID, token string) error
}
