// Package app holds the gateway's use cases. It owns the small interfaces it
// needs from the user, product and order units; adapters/grpcclient
// implements them over gRPC and tests implement them in memory.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
)

// Users is what the gateway needs from the user unit.
type Users interface {
	// Register creates an account; Conflict when the email is taken.
	Register(ctx context.Context, r gateway.Registration) (gateway.User, error)
	// Authenticate returns the user whose credentials these are.
	Authenticate(ctx context.Context, c gateway.Credentials) (gateway.User, error)
}

// Catalog is what the gateway needs from the product unit.
type Catalog interface {
	GetProduct(ctx context.Context, id string) (gateway.Product, error)
	// ListProducts pages through a category (or all of them); q.Query is ignored.
	ListProducts(ctx context.Context, q gateway.ProductQuery) (gateway.ProductPage, error)
	// SearchProducts matches q.Query; field errors name the REST parameter "q".
	SearchProducts(ctx context.Context, q gateway.ProductQuery) (gateway.ProductPage, error)
}

// PlaceOrder is a request to the order unit to place an order.
type PlaceOrder struct {
	UserID         string
	Request        gateway.OrderRequest // normalized
	IdempotencyKey string
	RequestHash    string
}

// Orders is what the gateway needs from the order unit.
type Orders interface {
	// CreateOrder places an order, idempotent per (user, key); a key reused
	// with another hash is IdempotencyMismatch.
	CreateOrder(ctx context.Context, p PlaceOrder) (gateway.PlacedOrder, error)
	// GetOrder returns userID's order id; NotFound when it is someone else's.
	GetOrder(ctx context.Context, userID, id string) (gateway.Order, error)
	// ListOrders pages through userID's orders, newest first.
	ListOrders(ctx context.Context, userID string, p gateway.Page) (gateway.OrderPage, error)
}

// Service is the gateway's use cases.
type Service struct {
	users   Users
	catalog Catalog
	orders  Orders
	tokens  *Tokens
	log     *slog.Logger
}

// New returns the use cases over their dependencies; log nil discards.
func New(users Users, catalog Catalog, orders Orders, tokens *Tokens, log *slog.Logger) (*Service, error) {
	if users == nil || catalog == nil || orders == nil || tokens == nil {
		return nil, errors.New("app.New: users, catalog, orders and tokens are required")
	}
	if log == nil {
		log = logx.Discard()
	}
	return &Service{users: users, catalog: catalog, orders: orders, tokens: tokens, log: log}, nil
}

// Register creates an account.
func (s *Service) Register(ctx context.Context, r gateway.Registration) (gateway.User, error) {
	if err := r.Validate(); err != nil {
		return gateway.User{}, err
	}
	u, err := s.users.Register(ctx, r)
	if err != nil {
		return gateway.User{}, err
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID)
	return u, nil
}

// Login checks credentials and issues a bearer token. Unknown emails and
// wrong passwords give the same error so that accounts cannot be probed.
func (s *Service) Login(ctx context.Context, c gateway.Credentials) (gateway.Session, error) {
	if err := c.Validate(); err != nil {
		return gateway.Session{}, err
	}
	u, err := s.users.Authenticate(ctx, c)
	if err != nil {
		switch errs.CodeOf(err) {
		case errs.Unauthenticated, errs.NotFound, errs.PermissionDenied:
			return gateway.Session{}, errs.Wrap(errs.Unauthenticated, err, "invalid email or password")
		}
		return gateway.Session{}, err
	}
	token, exp, err := s.tokens.Issue(u)
	if err != nil {
		return gateway.Session{}, err
	}
	return gateway.Session{Token: token, ExpiresAt: exp, User: u}, nil
}

// Authorize verifies a bearer token and returns who holds it.
func (s *Service) Authorize(token string) (gateway.Claims, error) {
	return s.tokens.Verify(token)
}

// ListProducts returns a page of the catalog; a non-empty q.Query searches.
func (s *Service) ListProducts(ctx context.Context, q gateway.ProductQuery) (gateway.ProductPage, error) {
	if err := q.Validate(); err != nil {
		return gateway.ProductPage{}, err
	}
	if q.Query != "" {
		return s.catalog.SearchProducts(ctx, q)
	}
	return s.catalog.ListProducts(ctx, q)
}

// GetProduct returns one product.
func (s *Service) GetProduct(ctx context.Context, id string) (gateway.Product, error) {
	if err := gateway.ValidateProductID("id", id); err != nil {
		return gateway.Product{}, err
	}
	return s.catalog.GetProduct(ctx, id)
}

// PlaceOrder places userID's order under an Idempotency-Key. It returns the
// placed order in every case the order unit answered; for a FAILED order
// the error is the outcome's (see gateway.OutcomeError), so a replay of a
// failed order fails the same way and still says it was a replay.
func (s *Service) PlaceOrder(ctx context.Context, userID, key string, req gateway.OrderRequest) (gateway.PlacedOrder, error) {
	if userID == "" {
		return gateway.PlacedOrder{}, errs.E(errs.Unauthenticated, "a bearer token is required")
	}
	if err := gateway.ValidateIdempotencyKey(key); err != nil {
		return gateway.PlacedOrder{}, err
	}
	// Validated as written, so a fault is named by the client's own line
	// index; then merged, so the order unit gets one line per product.
	if err := req.Validate(); err != nil {
		return gateway.PlacedOrder{}, err
	}
	req = req.Normalize()
	placed, err := s.orders.CreateOrder(ctx, PlaceOrder{UserID: userID, Request: req, IdempotencyKey: key, RequestHash: req.Hash()})
	if err != nil {
		// The payment unit names its own field; the client wrote payment.token.
		if errs.Is(err, errs.Invalid) && errs.FieldOf(err) == "payment_token" {
			return gateway.PlacedOrder{}, errs.InvalidField("payment.token", "%s", errs.MessageOf(err))
		}
		return gateway.PlacedOrder{}, err
	}
	if placed.Order.UserID != "" && placed.Order.UserID != userID {
		return gateway.PlacedOrder{}, errs.Wrap(errs.Internal, fmt.Errorf("order %s belongs to %s, not the caller %s", placed.Order.ID, placed.Order.UserID, userID), "internal error")
	}
	s.log.InfoContext(ctx, "order placed", "order_id", placed.Order.ID, "user_id", userID,
		"status", string(placed.Order.Status), "failure_code", placed.Order.FailureCode, "replayed", placed.Replayed)
	return placed, gateway.OutcomeError(placed.Order)
}

// GetOrder returns one of userID's orders; anybody else's is NotFound, so
// that order ids cannot be probed.
func (s *Service) GetOrder(ctx context.Context, userID, id string) (gateway.Order, error) {
	if userID == "" {
		return gateway.Order{}, errs.E(errs.Unauthenticated, "a bearer token is required")
	}
	if err := gateway.ValidateOrderID("id", id); err != nil {
		return gateway.Order{}, err
	}
	o, err := s.orders.GetOrder(ctx, userID, id)
	if err != nil {
		return gateway.Order{}, err
	}
	// The order unit already filters by owner; checking again here means a
	// bug there cannot leak one customer's order to another.
	if o.UserID != userID {
		s.log.ErrorContext(ctx, "order unit returned another user's order", "order_id", o.ID, "owner", o.UserID, "caller", userID)
		return gateway.Order{}, errs.E(errs.NotFound, "order %s not found", id)
	}
	return o, nil
}

// ListOrders returns a page of userID's orders.
func (s *Service) ListOrders(ctx context.Context, userID string, p gateway.Page) (gateway.OrderPage, error) {
	// Never ask with an empty user: the order unit reads it as "everybody".
	if userID == "" {
		return gateway.OrderPage{}, errs.E(errs.Unauthenticated, "a bearer token is required")
	}
	if err := p.Validate(); err != nil {
		return gateway.OrderPage{}, err
	}
	page, err := s.orders.ListOrders(ctx, userID, p)
	if err != nil {
		return gateway.OrderPage{}, err
	}
	mine := page.Items[:0:0]
	for _, o := range page.Items {
		if o.UserID != userID {
			s.log.ErrorContext(ctx, "order unit listed another user's order", "order_id", o.ID, "owner", o.UserID, "caller", userID)
			continue
		}
		mine = append(mine, o)
	}
	page.Items = mine
	return page, nil
}
