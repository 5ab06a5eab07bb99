// Package grpcclient implements the gateway's app interfaces over the
// user, product and order units' gRPC APIs, converting protobuf messages to
// gateway domain types. Connections come from grpcx.Dial, so every call
// already has a deadline, the request id and metrics, and errors arrive as
// errs codes.
package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Users is app.Users over shoplabv1.UserService.
type Users struct{ c shoplabv1.UserServiceClient }

// NewUsers returns a user client over cc.
func NewUsers(cc grpc.ClientConnInterface) *Users {
	return &Users{c: shoplabv1.NewUserServiceClient(cc)}
}

// Register implements app.Users.
func (u *Users) Register(ctx context.Context, r gateway.Registration) (gateway.User, error) {
	resp, err := u.c.Register(ctx, &shoplabv1.RegisterRequest{Email: r.Email, Password: r.Password, Name: r.Name})
	if err != nil {
		return gateway.User{}, dependencyError("user", err)
	}
	if resp.GetUser() == nil {
		return gateway.User{}, malformed("user", "Register returned no user")
	}
	return userFromProto(resp.GetUser()), nil
}

// Authenticate implements app.Users.
func (u *Users) Authenticate(ctx context.Context, c gateway.Credentials) (gateway.User, error) {
	resp, err := u.c.Authenticate(ctx, &shoplabv1.AuthenticateRequest{Email: c.Email, Password: c.Password})
	if err != nil {
		// Here, and only here, Unauthenticated is the client's fault: the
		// credentials are wrong.
		if errs.CodeOf(err) == errs.Unauthenticated {
			return gateway.User{}, err
		}
		return gateway.User{}, dependencyError("user", err)
	}
	if resp.GetUser().GetId() == "" {
		return gateway.User{}, malformed("user", "Authenticate returned no user id")
	}
	return userFromProto(resp.GetUser()), nil
}

func userFromProto(p *shoplabv1.User) gateway.User {
	return gateway.User{ID: p.GetId(), Email: p.GetEmail(), Name: p.GetName(), CreatedAt: timeOf(p.GetCreatedAt())}
}

// Products is app.Catalog over shoplabv1.ProductService.
type Products struct {
	c shoplabv1.ProductServiceClient
}

// NewProducts returns a product client over cc.
func NewProducts(cc grpc.ClientConnInterface) *Products {
	return &Products{c: shoplabv1.NewProductServiceClient(cc)}
}

// GetProduct implements app.Catalog.
func (p *Products) GetProduct(ctx context.Context, id string) (gateway.Product, error) {
	resp, err := p.c.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: id})
	if err != nil {
		return gateway.Product{}, dependencyError("product", err)
	}
	if resp.GetProduct() == nil {
		return gateway.Product{}, malformed("product", "GetProduct returned no product")
	}
	return productFromProto(resp.GetProduct()), nil
}

// ListProducts implements app.Catalog.
func (p *Products) ListProducts(ctx context.Context, q gateway.ProductQuery) (gateway.ProductPage, error) {
	resp, err := p.c.ListProducts(ctx, &shoplabv1.ListProductsRequest{Category: q.Category, Limit: limit32(q.Page.Limit), Cursor: q.Page.Cursor})
	if err != nil {
		return gateway.ProductPage{}, dependencyError("product", err)
	}
	return productPage(resp.GetProducts(), resp.GetNextCursor()), nil
}

// SearchProducts implements app.Catalog. The product unit names the search
// text "query"; the REST API calls it "q", so field errors are renamed.
func (p *Products) SearchProducts(ctx context.Context, q gateway.ProductQuery) (gateway.ProductPage, error) {
	resp, err := p.c.SearchProducts(ctx, &shoplabv1.SearchProductsRequest{Query: q.Query, Category: q.Category, Limit: limit32(q.Page.Limit), Cursor: q.Page.Cursor})
	if err != nil {
		return gateway.ProductPage{}, renameField(dependencyError("product", err), "query", "q")
	}
	return productPage(resp.GetProducts(), resp.GetNextCursor()), nil
}

func productPage(ps []*shoplabv1.Product, next string) gateway.ProductPage {
	out := gateway.ProductPage{Items: make([]gateway.Product, 0, len(ps)), NextCursor: next}
	for _, p := range ps {
		out.Items = append(out.Items, productFromProto(p))
	}
	return out
}

func productFromProto(p *shoplabv1.Product) gateway.Product {
	return gateway.Product{ID: p.GetId(), Name: p.GetName(), Category: p.GetCategory(), PriceCents: p.GetPriceCents(), Currency: p.GetCurrency(), Stock: p.GetStock()}
}

// Orders is app.Orders over shoplabv1.OrderService.
type Orders struct{ c shoplabv1.OrderServiceClient }

// NewOrders returns an order client over cc.
func NewOrders(cc grpc.ClientConnInterface) *Orders {
	return &Orders{c: shoplabv1.NewOrderServiceClient(cc)}
}

// CreateOrder implements app.Orders.
func (o *Orders) CreateOrder(ctx context.Context, p app.PlaceOrder) (gateway.PlacedOrder, error) {
	req := &shoplabv1.CreateOrderRequest{
		UserId:         p.UserID,
		PaymentToken:   p.Request.PaymentToken,
		IdempotencyKey: p.IdempotencyKey,
		RequestHash:    p.RequestHash,
		Items:          make([]*shoplabv1.OrderLine, 0, len(p.Request.Lines)),
	}
	for _, l := range p.Request.Lines {
		req.Items = append(req.Items, &shoplabv1.OrderLine{ProductId: l.ProductID, Quantity: l.Quantity})
	}
	resp, err := o.c.CreateOrder(ctx, req)
	if err != nil {
		return gateway.PlacedOrder{}, dependencyError("order", err)
	}
	if resp.GetOrder().GetId() == "" {
		return gateway.PlacedOrder{}, malformed("order", "CreateOrder returned no order")
	}
	return gateway.PlacedOrder{Order: orderFromProto(resp.GetOrder()), Replayed: resp.GetReplayed()}, nil
}

// GetOrder implements app.Orders.
func (o *Orders) GetOrder(ctx context.Context, userID, id string) (gateway.Order, error) {
	resp, err := o.c.GetOrder(ctx, &shoplabv1.GetOrderRequest{Id: id, UserId: userID})
	if err != nil {
		return gateway.Order{}, dependencyError("order", err)
	}
	if resp.GetOrder() == nil {
		return gateway.Order{}, malformed("order", "GetOrder returned no order")
	}
	return orderFromProto(resp.GetOrder()), nil
}

// ListOrders implements app.Orders.
func (o *Orders) ListOrders(ctx context.Context, userID string, p gateway.Page) (gateway.OrderPage, error) {
	resp, err := o.c.ListOrders(ctx, &shoplabv1.ListOrdersRequest{UserId: userID, Limit: limit32(p.Limit), Cursor: p.Cursor})
	if err != nil {
		return gateway.OrderPage{}, dependencyError("order", err)
	}
	out := gateway.OrderPage{Items: make([]gateway.Order, 0, len(resp.GetOrders())), NextCursor: resp.GetNextCursor()}
	for _, po := range resp.GetOrders() {
		out.Items = append(out.Items, orderFromProto(po))
	}
	return out, nil
}

func orderFromProto(p *shoplabv1.Order) gateway.Order {
	o := gateway.Order{
		ID:             p.GetId(),
		UserID:         p.GetUserId(),
		Status:         statusFromProto(p.GetStatus()),
		Items:          make([]gateway.OrderItem, 0, len(p.GetItems())),
		TotalCents:     p.GetTotalCents(),
		Currency:       p.GetCurrency(),
		FailureCode:    p.GetFailureCode(),
		FailureMessage: p.GetFailureMessage(),
		CreatedAt:      timeOf(p.GetCreatedAt()),
	}
	for _, it := range p.GetItems() {
		o.Items = append(o.Items, gateway.OrderItem{
			ProductID: it.GetProductId(), Name: it.GetName(), Category: it.GetCategory(),
			Quantity: it.GetQuantity(), UnitPriceCents: it.GetUnitPriceCents(),
		})
	}
	return o
}

func statusFromProto(s shoplabv1.OrderStatus) gateway.OrderStatus {
	switch s {
	case shoplabv1.OrderStatus_ORDER_STATUS_PENDING:
		return gateway.StatusPending
	case shoplabv1.OrderStatus_ORDER_STATUS_PAID:
		return gateway.StatusPaid
	case shoplabv1.OrderStatus_ORDER_STATUS_FAILED:
		return gateway.StatusFailed
	}
	// gateway.OutcomeError refuses anything it does not know.
	return gateway.OrderStatus(s.String())
}

func timeOf(ts *timestamppb.Timestamp) (t time.Time) {
	if ts == nil {
		return t
	}
	return ts.AsTime().UTC()
}

// limit32 narrows a validated page limit; values outside int32 cannot reach
// here (gateway.Page.Validate caps them) but are clamped rather than wrapped.
func limit32(n int) int32 {
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	if n < 0 {
		return 0
	}
	return int32(n)
}

// dependencyError keeps the errs code a dependency sent, except the codes
// that would blame the client for the gateway's own standing with a unit:
// a unit refusing the gateway is a misconfiguration, so it is internal.
func dependencyError(target string, err error) error {
	switch errs.CodeOf(err) {
	case errs.Unauthenticated, errs.PermissionDenied:
		return errs.Wrap(errs.Internal, fmt.Errorf("%s unit refused the gateway: %w", target, err), "internal error")
	}
	return err
}

// malformed is an answer that breaks the API contract: the dependency is up
// but not usable, which is the gateway's (internal) problem to report.
func malformed(target, what string) error {
	return errs.Wrap(errs.Internal, fmt.Errorf("%s unit: %s", target, what), "internal error")
}

// renameField rewrites the field of an errs error from a dependency's name
// to the REST parameter's name, keeping code, message and cause.
func renameField(err error, from, to string) error {
	var e *errs.Error
	if !errors.As(err, &e) || e.Field != from {
		return err
	}
	c := *e
	c.Field = to
	return &c
}
