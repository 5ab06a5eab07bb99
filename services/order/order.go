// Package order holds the order unit's domain: an order, its lines, the
// rules a request must follow and the only status transitions allowed. It
// does no I/O; app drives it and adapters store it.
package order

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Status is where an order stands. PENDING is the only status that moves.
type Status string

// The statuses. Their names are stored, so they are stable.
const (
	StatusPending Status = "PENDING"
	StatusPaid    Status = "PAID"
	StatusFailed  Status = "FAILED"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusPaid || s == StatusFailed
}

// CanTransition reports whether an order may move from one status to
// another: PENDING settles once, to PAID or FAILED, and a settled order never
// moves again (a PAID order's stock is never released, a FAILED order is
// never charged).
func CanTransition(from, to Status) bool {
	return from == StatusPending && (to == StatusPaid || to == StatusFailed)
}

// FailureCode says why an order FAILED; the gateway maps it to an HTTP status.
type FailureCode string

// The failure codes of order.proto. Their names reach clients, so they are stable.
const (
	FailurePaymentDeclined       FailureCode = "payment_declined"
	FailureOutOfStock            FailureCode = "out_of_stock"
	FailurePaymentUnavailable    FailureCode = "payment_unavailable"
	FailureProductNotFound       FailureCode = "product_not_found"
	FailureDependencyUnavailable FailureCode = "dependency_unavailable"
)

// Request limits.
const (
	MaxItems = 50
	// MaxQuantity bounds the units of one product in an order. The gateway
	// adds up the lines of a product a client repeats (up to MaxItems lines
	// of 100 units), so one line here may hold that much.
	MaxQuantity     = 5000
	MaxKeyLen       = 128 // idempotency key
	MaxIDLen        = 128 // order, user and product ids
	MaxHashLen      = 256 // request hash
	MaxTokenLen     = 256 // payment token
	DefaultLimit    = 20
	MaxLimit        = 100
	DefaultCurrency = "USD" // when the catalog does not say
)

// Line asks for a quantity of one product.
type Line struct {
	ProductID string
	Quantity  int32
}

// Item is one line of an order at the price it was sold at. Name, Category
// and UnitPriceCents are known once the stock is reserved.
type Item struct {
	ProductID      string
	Name           string
	Category       string
	Quantity       int32
	UnitPriceCents int64
}

// Order is one order and its items.
type Order struct {
	ID             string
	UserID         string
	UserEmail      string // from the user unit at creation, for the OrderPlaced event
	Status         Status
	Items          []Item
	TotalCents     int64
	Currency       string
	FailureCode    FailureCode
	FailureMessage string
	IdempotencyKey string
	RequestHash    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Lines returns the product ids and quantities of o, in order.
func (o Order) Lines() []Line {
	out := make([]Line, len(o.Items))
	for i, it := range o.Items {
		out[i] = Line{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	return out
}

// PlaceRequest is a client's request to place an order.
type PlaceRequest struct {
	UserID         string
	Lines          []Line
	PaymentToken   string
	IdempotencyKey string
	RequestHash    string
}

// Validate checks r and returns an errs.Invalid error naming the first field
// at fault. A product may appear on one line only: merging duplicates would
// change the request behind the client's back (and could push a quantity
// over the limit), so they are refused with the index of the repeat.
func (r PlaceRequest) Validate() error {
	switch {
	case strings.TrimSpace(r.UserID) == "":
		return errs.InvalidField("user_id", "user_id is required")
	case len(r.UserID) > MaxIDLen:
		return errs.InvalidField("user_id", "user_id is longer than %d characters", MaxIDLen)
	case len(r.Lines) == 0:
		return errs.InvalidField("items", "an order needs at least one item")
	case len(r.Lines) > MaxItems:
		return errs.InvalidField("items", "an order holds at most %d items, got %d", MaxItems, len(r.Lines))
	}
	seen := make(map[string]int, len(r.Lines))
	for i, l := range r.Lines {
		switch {
		case strings.TrimSpace(l.ProductID) == "":
			return errs.InvalidField(fmt.Sprintf("items[%d].product_id", i), "product_id is required")
		case len(l.ProductID) > MaxIDLen:
			return errs.InvalidField(fmt.Sprintf("items[%d].product_id", i), "product_id is longer than %d characters", MaxIDLen)
		case l.Quantity < 1 || l.Quantity > MaxQuantity:
			return errs.InvalidField(fmt.Sprintf("items[%d].quantity", i), "quantity must be between 1 and %d, got %d", MaxQuantity, l.Quantity)
		}
		if j, dup := seen[l.ProductID]; dup {
			return errs.InvalidField(fmt.Sprintf("items[%d].product_id", i), "product %q is already on items[%d]; send one line per product", l.ProductID, j)
		}
		seen[l.ProductID] = i
	}
	switch {
	case r.PaymentToken == "":
		return errs.InvalidField("payment_token", "payment_token is required")
	case len(r.PaymentToken) > MaxTokenLen:
		return errs.InvalidField("payment_token", "payment_token is longer than %d characters", MaxTokenLen)
	case r.IdempotencyKey == "":
		return errs.InvalidField("idempotency_key", "idempotency_key is required")
	case len(r.IdempotencyKey) > MaxKeyLen:
		return errs.InvalidField("idempotency_key", "idempotency_key is longer than %d characters", MaxKeyLen)
	case r.RequestHash == "":
		return errs.InvalidField("request_hash", "request_hash is required")
	case len(r.RequestHash) > MaxHashLen:
		return errs.InvalidField("request_hash", "request_hash is longer than %d characters", MaxHashLen)
	}
	return nil
}

// NewPending returns the PENDING order for a validated request.
func NewPending(id string, r PlaceRequest, userEmail string, now time.Time) Order {
	items := make([]Item, len(r.Lines))
	for i, l := range r.Lines {
		items[i] = Item{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return Order{
		ID: id, UserID: r.UserID, UserEmail: userEmail, Status: StatusPending, Items: items,
		IdempotencyKey: r.IdempotencyKey, RequestHash: r.RequestHash, CreatedAt: now, UpdatedAt: now,
	}
}

// ReservedLine is what the product unit reserved for one line.
type ReservedLine struct {
	ProductID      string
	Name           string
	Category       string
	Quantity       int32
	UnitPriceCents int64
	Currency       string
}

// Pricing is an order's items at their reserved prices and its total.
type Pricing struct {
	Items      []Item
	TotalCents int64
	Currency   string
}

// Price fills items from a reservation and totals them. Every item must be
// reserved exactly once at its quantity, in one currency: anything else
// means the reservation is not this order's, and charging it would be wrong.
func Price(items []Item, reserved []ReservedLine) (Pricing, error) {
	byID := make(map[string]ReservedLine, len(reserved))
	for _, r := range reserved {
		if _, dup := byID[r.ProductID]; dup {
			return Pricing{}, errs.E(errs.Internal, "reservation lists product %q twice", r.ProductID)
		}
		byID[r.ProductID] = r
	}
	if len(byID) != len(items) {
		return Pricing{}, errs.E(errs.Internal, "reservation has %d lines, the order %d", len(byID), len(items))
	}
	p := Pricing{Items: make([]Item, len(items))}
	for i, it := range items {
		r, ok := byID[it.ProductID]
		switch {
		case !ok:
			return Pricing{}, errs.E(errs.Internal, "reservation lacks product %q", it.ProductID)
		case r.Quantity != it.Quantity:
			return Pricing{}, errs.E(errs.Internal, "reservation holds %d of %q, the order %d", r.Quantity, it.ProductID, it.Quantity)
		case r.UnitPriceCents < 0:
			return Pricing{}, errs.E(errs.Internal, "reservation prices %q at %d cents", it.ProductID, r.UnitPriceCents)
		}
		cur := r.Currency
		if cur == "" {
			cur = DefaultCurrency
		}
		if p.Currency == "" {
			p.Currency = cur
		} else if p.Currency != cur {
			return Pricing{}, errs.E(errs.Internal, "reservation mixes currencies %s and %s", p.Currency, cur)
		}
		p.Items[i] = Item{ProductID: it.ProductID, Name: r.Name, Category: r.Category, Quantity: it.Quantity, UnitPriceCents: r.UnitPriceCents}
		p.TotalCents += int64(it.Quantity) * r.UnitPriceCents
	}
	return p, nil
}

// Cursor is a position in the newest-first order listing: the last order of
// a page. It is opaque to clients.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + ":" + c.ID))
}

// DecodeCursor parses a cursor made by Encode; anything else is an errs.Invalid on "cursor".
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errs.InvalidField("cursor", "malformed cursor")
	}
	ts, id, ok := strings.Cut(string(b), ":")
	n, perr := strconv.ParseInt(ts, 10, 64)
	if !ok || perr != nil || id == "" {
		return Cursor{}, errs.InvalidField("cursor", "malformed cursor")
	}
	return Cursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

// ListQuery selects a page of orders, newest first.
type ListQuery struct {
	UserID string // empty means every user (ops and reconciliation)
	Status Status // empty means any
	Limit  int    // 1..MaxLimit
	After  *Cursor
}

// NormalizeLimit returns the page size for a requested limit: 0 means
// DefaultLimit; anything outside 1..MaxLimit is an errs.Invalid on "limit".
func NormalizeLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLimit, nil
	case limit < 0 || limit > MaxLimit:
		return 0, errs.InvalidField("limit", "limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	return limit, nil
}
