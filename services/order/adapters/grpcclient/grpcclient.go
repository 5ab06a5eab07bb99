// Package grpcclient implements the order unit's client ports on the
// generated gRPC clients of the user, product and payment units. Connections
// come from grpcx.Dial, so every call has a deadline and errors arrive as
// errs codes.
package grpcclient

import (
	"context"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Users is an app.UserClient over UserService.
type Users struct{ c shoplabv1.UserServiceClient }

// NewUsers returns a user client on cc.
func NewUsers(cc grpc.ClientConnInterface) *Users {
	return &Users{c: shoplabv1.NewUserServiceClient(cc)}
}

// GetUser returns a user by id.
func (u *Users) GetUser(ctx context.Context, id string) (app.User, error) {
	resp, err := u.c.GetUser(ctx, &shoplabv1.GetUserRequest{Id: id})
	if err != nil {
		return app.User{}, err
	}
	if resp.GetUser().GetId() == "" {
		return app.User{}, errs.E(errs.Internal, "user service answered GetUser(%q) without a user", id)
	}
	return app.User{ID: resp.GetUser().GetId(), Email: resp.GetUser().GetEmail()}, nil
}

// Products is an app.ProductClient over ProductService.
type Products struct {
	c shoplabv1.ProductServiceClient
}

// NewProducts returns a product client on cc.
func NewProducts(cc grpc.ClientConnInterface) *Products {
	return &Products{c: shoplabv1.NewProductServiceClient(cc)}
}

// ReserveStock reserves an order's lines.
func (p *Products) ReserveStock(ctx context.Context, orderID string, lines []order.Line) ([]order.ReservedLine, error) {
	req := &shoplabv1.ReserveStockRequest{OrderId: orderID, Lines: make([]*shoplabv1.StockLine, len(lines))}
	for i, l := range lines {
		req.Lines[i] = &shoplabv1.StockLine{ProductId: l.ProductID, Quantity: l.Quantity}
	}
	resp, err := p.c.ReserveStock(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]order.ReservedLine, len(resp.GetLines()))
	for i, l := range resp.GetLines() {
		out[i] = order.ReservedLine{
			ProductID: l.GetProductId(), Name: l.GetName(), Category: l.GetCategory(),
			Quantity: l.GetQuantity(), UnitPriceCents: l.GetUnitPriceCents(), Currency: l.GetCurrency(),
		}
	}
	return out, nil
}

// ReleaseStock releases an order's reservation.
func (p *Products) ReleaseStock(ctx context.Context, orderID string) (bool, error) {
	resp, err := p.c.ReleaseStock(ctx, &shoplabv1.ReleaseStockRequest{OrderId: orderID})
	if err != nil {
		return false, err
	}
	return resp.GetReleased(), nil
}

// Payments is an app.PaymentClient over PaymentService.
type Payments struct {
	c shoplabv1.PaymentServiceClient
}

// NewPayments returns a payment client on cc.
func NewPayments(cc grpc.ClientConnInterface) *Payments {
	return &Payments{c: shoplabv1.NewPaymentServiceClient(cc)}
}

// ProcessPayment charges an order.
func (p *Payments) ProcessPayment(ctx context.Context, c app.Charge) (app.Payment, error) {
	resp, err := p.c.ProcessPayment(ctx, &shoplabv1.ProcessPaymentRequest{
		OrderId: c.OrderID, UserId: c.UserID, AmountCents: c.AmountCents, Currency: c.Currency, PaymentToken: c.Token,
	})
	if err != nil {
		return app.Payment{}, err
	}
	return fromProto(c.OrderID, resp.GetPayment())
}

// GetPayment returns an order's payment.
func (p *Payments) GetPayment(ctx context.Context, orderID string) (app.Payment, error) {
	resp, err := p.c.GetPayment(ctx, &shoplabv1.GetPaymentRequest{OrderId: orderID})
	if err != nil {
		return app.Payment{}, err
	}
	return fromProto(orderID, resp.GetPayment())
}

// Refund refunds or voids an order's payment.
func (p *Payments) Refund(ctx context.Context, orderID, reason string) (app.Payment, error) {
	resp, err := p.c.Refund(ctx, &shoplabv1.RefundRequest{OrderId: orderID, Reason: reason})
	if err != nil {
		return app.Payment{}, err
	}
	return fromProto(orderID, resp.GetPayment())
}

// fromProto converts a payment, refusing one that is not the order's or
// has no status: acting on it could mark an uncharged order PAID.
func fromProto(orderID string, p *shoplabv1.Payment) (app.Payment, error) {
	if p == nil {
		return app.Payment{}, errs.E(errs.Internal, "payment service answered without a payment for order %s", orderID)
	}
	if p.GetOrderId() != "" && p.GetOrderId() != orderID {
		return app.Payment{}, errs.E(errs.Internal, "payment service answered for order %s, asked about %s", p.GetOrderId(), orderID)
	}
	out := app.Payment{OrderID: orderID, AmountCents: p.GetAmountCents(), Currency: p.GetCurrency(), DeclineCode: p.GetDeclineCode()}
	switch p.GetStatus() {
	case shoplabv1.PaymentStatus_PAYMENT_STATUS_CAPTURED:
		out.Status = app.PaymentCaptured
	case shoplabv1.PaymentStatus_PAYMENT_STATUS_DECLINED:
		out.Status = app.PaymentDeclined
	case shoplabv1.PaymentStatus_PAYMENT_STATUS_REFUNDED:
		out.Status = app.PaymentRefunded
	case shoplabv1.PaymentStatus_PAYMENT_STATUS_VOIDED:
		out.Status = app.PaymentVoided
	default:
		return app.Payment{}, errs.E(errs.Internal, "payment of order %s has status %v", orderID, p.GetStatus())
	}
	return out, nil
}
