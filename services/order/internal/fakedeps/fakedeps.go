// Package fakedeps holds in-memory stand-ins for the units the order unit
// calls (user, product, payment) with the semantics their protos promise:
// idempotent reservations with release tombstones, payments at most once per
// order with void tombstones, and the processor's test tokens. They implement
// the app's client ports directly, and serve the real gRPC APIs (grpc.go)
// for end-to-end tests. Tests only; the real units live elsewhere.
package fakedeps

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Test tokens, as the payment unit's processor understands them.
const (
	TokenVisa            = "tok_visa"
	TokenDeclined        = "tok_chargeDeclined"
	TokenProcessingError = "tok_processingError"
)

// outage is a switch that makes every call of a fake fail as unreachable.
type outage struct{ down atomic.Bool }

// SetDown makes every later call fail with errs.Unavailable (true) or work again (false).
func (o *outage) SetDown(down bool) { o.down.Store(down) }

func (o *outage) check(unit string) error {
	if o.down.Load() {
		return errs.E(errs.Unavailable, "%s is down", unit)
	}
	return nil
}

// Users is an in-memory user unit.
type Users struct {
	outage
	mu    sync.Mutex
	users map[string]app.User
}

// NewUsers returns a user unit holding users.
func NewUsers(users ...app.User) *Users {
	u := &Users{users: map[string]app.User{}}
	for _, x := range users {
		u.users[x.ID] = x
	}
	return u
}

// GetUser returns a user.
func (u *Users) GetUser(_ context.Context, id string) (app.User, error) {
	if err := u.check("user"); err != nil {
		return app.User{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.users[id]
	if !ok {
		return app.User{}, errs.E(errs.NotFound, "user %q not found", id)
	}
	return x, nil
}

// Product is a catalog entry with its stock.
type Product struct {
	ID, Name, Category, Currency string
	PriceCents                   int64
	Stock                        int64
}

type reservation struct {
	lines    []order.ReservedLine
	released bool // a tombstone when lines is empty
}

// Products is an in-memory product unit.
type Products struct {
	outage
	mu           sync.Mutex
	products     map[string]*Product
	initial      map[string]int64
	reservations map[string]*reservation
}

// NewProducts returns a product unit with ps in its catalog.
func NewProducts(ps ...Product) *Products {
	p := &Products{products: map[string]*Product{}, initial: map[string]int64{}, reservations: map[string]*reservation{}}
	for _, x := range ps {
		p.products[x.ID] = &x
		p.initial[x.ID] = x.Stock
	}
	return p
}

// ReserveStock takes stock for an order, all lines or none, idempotently.
func (p *Products) ReserveStock(_ context.Context, orderID string, lines []order.Line) ([]order.ReservedLine, error) {
	if err := p.check("product"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.reservations[orderID]; ok {
		if r.released {
			return nil, errs.E(errs.FailedPrecondition, "the reservation of order %s was released", orderID)
		}
		return append([]order.ReservedLine(nil), r.lines...), nil
	}
	for i, l := range lines {
		x, ok := p.products[l.ProductID]
		if !ok {
			return nil, errs.E(errs.NotFound, "product %q not found", l.ProductID)
		}
		if l.Quantity <= 0 {
			return nil, errs.InvalidField(fmt.Sprintf("lines[%d].quantity", i), "quantity must be positive")
		}
		if x.Stock < int64(l.Quantity) {
			return nil, errs.E(errs.OutOfStock, "only %d of %q left", x.Stock, l.ProductID)
		}
	}
	r := &reservation{}
	for _, l := range lines {
		x := p.products[l.ProductID]
		x.Stock -= int64(l.Quantity)
		r.lines = append(r.lines, order.ReservedLine{
			ProductID: x.ID, Name: x.Name, Category: x.Category, Quantity: l.Quantity, UnitPriceCents: x.PriceCents, Currency: x.Currency,
		})
	}
	p.reservations[orderID] = r
	return append([]order.ReservedLine(nil), r.lines...), nil
}

// ReleaseStock gives a reservation back and tombstones the order.
func (p *Products) ReleaseStock(_ context.Context, orderID string) (bool, error) {
	if err := p.check("product"); err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.reservations[orderID]
	if !ok {
		p.reservations[orderID] = &reservation{released: true}
		return false, nil
	}
	if r.released {
		return false, nil
	}
	for _, l := range r.lines {
		p.products[l.ProductID].Stock += int64(l.Quantity)
	}
	r.released = true
	return true, nil
}

// Stock returns a product's available units.
func (p *Products) Stock(id string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.products[id].Stock
}

// Reserved reports whether an order holds an active (not released) reservation.
func (p *Products) Reserved(orderID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.reservations[orderID]
	return ok && !r.released
}

// Released reports whether an order's reservation was released (or tombstoned).
func (p *Products) Released(orderID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.reservations[orderID]
	return ok && r.released
}

// CheckStock verifies the ledger: for every product, available plus the
// units of active reservations equals the initial stock.
func (p *Products) CheckStock() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := map[string]int64{}
	for _, r := range p.reservations {
		if r.released {
			continue
		}
		for _, l := range r.lines {
			held[l.ProductID] += int64(l.Quantity)
		}
	}
	ids := make([]string, 0, len(p.products))
	for id := range p.products {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if got := p.products[id].Stock + held[id]; got != p.initial[id] {
			return fmt.Errorf("product %s: available %d + reserved %d != initial %d", id, p.products[id].Stock, held[id], p.initial[id])
		}
	}
	return nil
}

// Payments is an in-memory payment unit with its card processor.
type Payments struct {
	outage
	mu       sync.Mutex
	payments map[string]*app.Payment
	charges  map[string]int // successful charges at the processor, by order
	calls    map[string]int // ProcessPayment calls, by order
}

// NewPayments returns an empty payment unit.
func NewPayments() *Payments {
	return &Payments{payments: map[string]*app.Payment{}, charges: map[string]int{}, calls: map[string]int{}}
}

// ProcessPayment charges an order at most once. A voided order is never
// charged: its VOIDED record is returned instead.
func (p *Payments) ProcessPayment(_ context.Context, c app.Charge) (app.Payment, error) {
	if err := p.check("payment"); err != nil {
		return app.Payment{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[c.OrderID]++
	if x, ok := p.payments[c.OrderID]; ok {
		return *x, nil
	}
	pay := app.Payment{OrderID: c.OrderID, AmountCents: c.AmountCents, Currency: c.Currency}
	switch c.Token {
	case TokenVisa:
		pay.Status = app.PaymentCaptured
		p.charges[c.OrderID]++
	case TokenDeclined:
		pay.Status, pay.DeclineCode = app.PaymentDeclined, "card_declined"
	case TokenProcessingError:
		return app.Payment{}, errs.E(errs.Unavailable, "the card processor failed; no payment was made")
	default:
		return app.Payment{}, errs.InvalidField("payment_token", "unknown payment token %q", c.Token)
	}
	p.payments[c.OrderID] = &pay
	return pay, nil
}

// GetPayment returns an order's payment.
func (p *Payments) GetPayment(_ context.Context, orderID string) (app.Payment, error) {
	if err := p.check("payment"); err != nil {
		return app.Payment{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	x, ok := p.payments[orderID]
	if !ok {
		return app.Payment{}, errs.E(errs.NotFound, "no payment for order %s", orderID)
	}
	return *x, nil
}

// Refund refunds a capture or voids an order with no payment.
func (p *Payments) Refund(_ context.Context, orderID, _ string) (app.Payment, error) {
	if err := p.check("payment"); err != nil {
		return app.Payment{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	x, ok := p.payments[orderID]
	if !ok {
		x = &app.Payment{OrderID: orderID, Status: app.PaymentVoided}
		p.payments[orderID] = x
		return *x, nil
	}
	if x.Status == app.PaymentCaptured {
		x.Status = app.PaymentRefunded
		p.charges[orderID]--
	}
	return *x, nil
}

// Charges returns how many successful charges the processor holds for an order.
func (p *Payments) Charges(orderID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.charges[orderID]
}

// Status returns an order's payment status, "" when there is none.
func (p *Payments) Status(orderID string) app.PaymentStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.payments[orderID]; ok {
		return x.Status
	}
	return ""
}

// Calls returns how many times ProcessPayment was called for an order.
func (p *Payments) Calls(orderID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[orderID]
}

// Deps are the three fake units together.
type Deps struct {
	Users    *Users
	Products *Products
	Payments *Payments
}

// Standard returns fakes with user "u1" (u1@example.com), products "p1"
// (10 in stock at 1250 cents, "books") and "p2" (3 in stock at 500 cents,
// "games"), in USD.
func Standard() Deps {
	return Deps{
		Users: NewUsers(app.User{ID: "u1", Email: "u1@example.com"}, app.User{ID: "u2", Email: "u2@example.com"}),
		Products: NewProducts(
			Product{ID: "p1", Name: "Go Book", Category: "books", Currency: "USD", PriceCents: 1250, Stock: 10},
			Product{ID: "p2", Name: "Chess", Category: "games", Currency: "USD", PriceCents: 500, Stock: 3},
		),
		Payments: NewPayments(),
	}
}
