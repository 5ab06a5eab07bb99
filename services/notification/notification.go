// Package notification holds the rules of the notification unit: who gets
// the order confirmation and what it says. It does no I/O; the use case
// lives in app and the transports in adapters.
package notification

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Email is one order confirmation, ready for a Mailer. EventID is the
// deduplication key: the outbox row keeps its event id across re-sends, so
// one event id means one order confirmation.
type Email struct {
	EventID string
	OrderID string
	From    string
	To      string
	Subject string
	Body    string
}

// Validate reports the first missing or unsafe field of m as an Invalid error.
func (m Email) Validate() error {
	switch {
	case m.EventID == "":
		return errs.InvalidField("event_id", "is required")
	case m.OrderID == "":
		return errs.InvalidField("order_id", "is required")
	case m.Subject == "":
		return errs.InvalidField("subject", "is required")
	case strings.ContainsAny(m.Subject, "\r\n"):
		// A newline in a header would let an event inject headers.
		return errs.InvalidField("subject", "must be a single line")
	}
	if _, err := ParseAddress(m.From); err != nil {
		return errs.InvalidField("from", "%s", errs.MessageOf(err))
	}
	if _, err := ParseAddress(m.To); err != nil {
		return errs.InvalidField("to", "%s", errs.MessageOf(err))
	}
	return nil
}

// ParseAddress returns the bare address of s ("Ann <ann@x.org>" gives
// "ann@x.org"), or an Invalid error when s is not one RFC 5322 address.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.E(errs.Invalid, "an email address is required")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", errs.E(errs.Invalid, "an email address must be a single line")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", errs.Wrap(errs.Invalid, err, "%q is not an email address", s)
	}
	if !strings.Contains(a.Address, "@") {
		return "", errs.E(errs.Invalid, "%q has no domain", s)
	}
	return a.Address, nil
}

// Recipient chooses who gets the confirmation of e. The event's user_email
// wins when it is a valid address. Otherwise, when fallbackDomain is set,
// the address is derived from the user id ("user-<id>@<fallbackDomain>"),
// which is deterministic so that a redelivered event reaches the same
// mailbox; the local env sets it so that every order still gets exactly one
// email the invariants can count. With no fallback domain (AWS, where a
// made-up address would bounce and hurt the sender's reputation) ok is
// false and the caller skips the email and logs why.
func Recipient(e events.OrderPlaced, fallbackDomain string) (to string, ok bool) {
	if addr, err := ParseAddress(e.UserEmail); err == nil {
		return addr, true
	}
	if fallbackDomain == "" || e.UserID == "" {
		return "", false
	}
	local := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, e.UserID)
	addr, err := ParseAddress("user-" + local + "@" + fallbackDomain)
	if err != nil {
		return "", false
	}
	return addr, true
}

// Confirmation builds the confirmation email of e from sender to to. The
// text depends on the event alone (never on the clock), so a resend is
// byte-for-byte the first send.
func Confirmation(e events.OrderPlaced, from, to string) (Email, error) {
	orderID := singleLine(e.OrderID)
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nthank you for shopping at shoplab. Your payment was accepted and order %s is confirmed.\n\n", orderID)
	b.WriteString("Items:\n")
	if len(e.Items) == 0 {
		b.WriteString("  (none listed)\n")
	}
	for _, it := range e.Items {
		line := int64(it.Quantity) * it.UnitPriceCents
		fmt.Fprintf(&b, "  - %d x %s", it.Quantity, singleLine(it.ProductID))
		if it.Category != "" {
			fmt.Fprintf(&b, " (%s)", singleLine(it.Category))
		}
		fmt.Fprintf(&b, " at %s = %s\n", Money(it.UnitPriceCents, e.Currency), Money(line, e.Currency))
	}
	fmt.Fprintf(&b, "\nTotal: %s\n", Money(e.TotalCents, e.Currency))
	fmt.Fprintf(&b, "Placed at: %s\n", e.OccurredAt.UTC().Format(time.DateTime+" MST"))
	fmt.Fprintf(&b, "\nOrder reference: %s\n\n-- \nshoplab\n", orderID)
	m := Email{
		EventID: e.EventID,
		OrderID: e.OrderID,
		From:    from,
		To:      to,
		Subject: Subject(e.OrderID),
		Body:    b.String(),
	}
	return m, m.Validate()
}

// Subject is the subject line of the confirmation of orderID.
func Subject(orderID string) string {
	return "Your shoplab order " + singleLine(orderID) + " is confirmed"
}

// Money formats cents as "12.34 USD" (or "-0.50 EUR"); an empty currency
// leaves the amount bare.
func Money(cents int64, currency string) string {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign = "-"
		u = uint64(-(cents + 1)) + 1 // safe for math.MinInt64
	}
	s := fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
	if c := singleLine(currency); c != "" {
		s += " " + c
	}
	return s
}

// singleLine replaces control characters so that event text can never
// break a header or forge lines in the body.
func singleLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
