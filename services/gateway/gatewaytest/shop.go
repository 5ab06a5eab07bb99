// Package gatewaytest is an in-memory stand-in for the units behind the
// gateway (user, product, order), for tests only. Shop implements the app
// interfaces directly; the unit tests also serve it over real gRPC.
package gatewaytest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// The payment tokens whose outcome Shop fakes by default, as the payment
// unit's card processor does, plus one that leaves the order PENDING.
const (
	TokenDeclined        = "tok_chargeDeclined"
	TokenProcessingError = "tok_processingError"
	TokenPending         = "tok_pending"
)

// Shop is an in-memory user, product and order unit with the semantics the
// gateway relies on: unique emails, paging, per-(user, key) idempotency
// with request hashes, owner-only reads, and failure codes on orders.
type Shop struct {
	// TokenFailures maps a payment token to the failure code it causes.
	TokenFailures map[string]string
	// LeakOrders makes GetOrder and ListOrders ignore ownership, to prove
	// that the gateway does not rely on the order unit alone.
	LeakOrders bool

	now      func() time.Time
	mu       sync.Mutex
	users    map[string]shopUser // by lower-cased email
	products map[string]gateway.Product
	orders   []gateway.Order // in creation order
	byKey    map[string]keyed
	creates  []app.PlaceOrder
}

type shopUser struct {
	gateway.User
	password string
}

type keyed struct {
	hash  string
	index int
}

// NewShop returns an empty shop whose timestamps come from now (nil: time.Now).
func NewShop(now func() time.Time) *Shop {
	if now == nil {
		now = time.Now
	}
	return &Shop{
		TokenFailures: map[string]string{
			TokenDeclined:        gateway.FailurePaymentDeclined,
			TokenProcessingError: gateway.FailurePaymentUnavailable,
		},
		now:      now,
		users:    map[string]shopUser{},
		products: map[string]gateway.Product{},
		byKey:    map[string]keyed{},
	}
}

// AddProduct puts p in the catalog.
func (s *Shop) AddProduct(p gateway.Product) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.products[p.ID] = p
}

// Product returns the catalog entry of id as it stands.
func (s *Shop) Product(id string) (gateway.Product, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products[id]
	return p, ok
}

// Creates returns every CreateOrder request received, in order.
func (s *Shop) Creates() []app.PlaceOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.creates)
}

// Register implements app.Users.
func (s *Shop) Register(_ context.Context, r gateway.Registration) (gateway.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(r.Email)
	if _, ok := s.users[k]; ok {
		return gateway.User{}, errs.E(errs.Conflict, "email %s is already registered", r.Email)
	}
	if len(r.Password) < 8 {
		return gateway.User{}, errs.InvalidField("password", "must be at least 8 characters")
	}
	u := gateway.User{ID: "usr-" + strconv.Itoa(len(s.users)+1), Email: r.Email, Name: r.Name, CreatedAt: s.now().UTC()}
	s.users[k] = shopUser{User: u, password: r.Password}
	return u, nil
}

// Authenticate implements app.Users: NotFound for an unknown email and
// Unauthenticated for a wrong password, as a user unit may well answer.
func (s *Shop) Authenticate(_ context.Context, c gateway.Credentials) (gateway.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(c.Email)]
	if !ok {
		return gateway.User{}, errs.E(errs.NotFound, "no user %s", c.Email)
	}
	if u.password != c.Password {
		return gateway.User{}, errs.E(errs.Unauthenticated, "wrong password")
	}
	return u.User, nil
}

// GetProduct implements app.Catalog.
func (s *Shop) GetProduct(_ context.Context, id string) (gateway.Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products[id]
	if !ok {
		return gateway.Product{}, errs.E(errs.NotFound, "product %s not found", id)
	}
	return p, nil
}

// ListProducts implements app.Catalog: by id, the cursor is the last id seen.
func (s *Shop) ListProducts(_ context.Context, q gateway.ProductQuery) (gateway.ProductPage, error) {
	return s.page(q, func(gateway.Product) bool { return true })
}

// SearchProducts implements app.Catalog; a query holding '*' is refused as
// a product unit would refuse a malformed query, naming the REST field.
func (s *Shop) SearchProducts(_ context.Context, q gateway.ProductQuery) (gateway.ProductPage, error) {
	if strings.Contains(q.Query, "*") {
		return gateway.ProductPage{}, errs.InvalidField("q", "wildcards are not supported")
	}
	needle := strings.ToLower(q.Query)
	return s.page(q, func(p gateway.Product) bool { return strings.Contains(strings.ToLower(p.Name), needle) })
}

func (s *Shop) page(q gateway.ProductQuery, match func(gateway.Product) bool) (gateway.ProductPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := q.Page.Limit
	if limit == 0 {
		limit = 20
	}
	ids := make([]string, 0, len(s.products))
	for id := range s.products {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := gateway.ProductPage{Items: []gateway.Product{}}
	for _, id := range ids {
		p := s.products[id]
		if id <= q.Page.Cursor || (q.Category != "" && p.Category != q.Category) || !match(p) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = out.Items[len(out.Items)-1].ID
			break
		}
		out.Items = append(out.Items, p)
	}
	return out, nil
}

// CreateOrder implements app.Orders.
func (s *Shop) CreateOrder(_ context.Context, p app.PlaceOrder) (gateway.PlacedOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates = append(s.creates, p)
	k := p.UserID + "\x00" + p.IdempotencyKey
	if prev, ok := s.byKey[k]; ok {
		if prev.hash != p.RequestHash {
			return gateway.PlacedOrder{}, errs.E(errs.IdempotencyMismatch, "idempotency key %q was used with a different request", p.IdempotencyKey)
		}
		return gateway.PlacedOrder{Order: s.orders[prev.index], Replayed: true}, nil
	}
	o := gateway.Order{
		ID: fmt.Sprintf("ord-%d", len(s.orders)+1), UserID: p.UserID, Status: gateway.StatusPaid,
		Currency: "USD", CreatedAt: s.now().UTC(), Items: []gateway.OrderItem{},
	}
	fail := func(code, msg string) {
		o.Status, o.FailureCode, o.FailureMessage = gateway.StatusFailed, code, msg
	}
	for _, l := range p.Request.Lines {
		prod, ok := s.products[l.ProductID]
		if !ok {
			fail(gateway.FailureProductNotFound, "product "+l.ProductID+" does not exist")
			break
		}
		if prod.Stock < int64(l.Quantity) {
			fail(gateway.FailureOutOfStock, fmt.Sprintf("product %s has %d left", l.ProductID, prod.Stock))
			break
		}
		o.Items = append(o.Items, gateway.OrderItem{ProductID: prod.ID, Name: prod.Name, Category: prod.Category, Quantity: l.Quantity, UnitPriceCents: prod.PriceCents})
		o.TotalCents += prod.PriceCents * int64(l.Quantity)
	}
	if o.Status == gateway.StatusPaid {
		if code, ok := s.TokenFailures[p.Request.PaymentToken]; ok {
			fail(code, "")
		} else if p.Request.PaymentToken == TokenPending {
			o.Status = gateway.StatusPending
		}
	}
	if o.Status != gateway.StatusFailed {
		for _, it := range o.Items {
			prod := s.products[it.ProductID]
			prod.Stock -= int64(it.Quantity)
			s.products[it.ProductID] = prod
		}
	}
	s.orders = append(s.orders, o)
	s.byKey[k] = keyed{hash: p.RequestHash, index: len(s.orders) - 1}
	return gateway.PlacedOrder{Order: o}, nil
}

// GetOrder implements app.Orders.
func (s *Shop) GetOrder(_ context.Context, userID, id string) (gateway.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orders {
		if o.ID == id && (o.UserID == userID || s.LeakOrders) {
			return o, nil
		}
	}
	return gateway.Order{}, errs.E(errs.NotFound, "order %s not found", id)
}

// ListOrders implements app.Orders: newest first, the cursor is the
// position to continue from.
func (s *Shop) ListOrders(_ context.Context, userID string, p gateway.Page) (gateway.OrderPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := p.Limit
	if limit == 0 {
		limit = 20
	}
	start := len(s.orders) - 1
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 || n >= len(s.orders) {
			return gateway.OrderPage{}, errs.InvalidField("cursor", "is not a cursor of this list")
		}
		start = n
	}
	out := gateway.OrderPage{Items: []gateway.Order{}}
	for i := start; i >= 0; i-- {
		o := s.orders[i]
		if o.UserID != userID && !s.LeakOrders {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = strconv.Itoa(i)
			break
		}
		out.Items = append(out.Items, o)
	}
	return out, nil
}
