// Package ports serves the order use cases over gRPC (OrderService). It
// converts between protobuf and domain types; errors stay errs errors and
// the grpcx server interceptor turns them into status codes.
package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// GRPCServer implements shoplabv1.OrderServiceServer on an app.Service.
type GRPCServer struct {
	shoplabv1.UnimplementedOrderServiceServer
	svc *app.Service
}

// NewGRPCServer returns the OrderService server of svc.
func NewGRPCServer(svc *app.Service) *GRPCServer { return &GRPCServer{svc: svc} }

// CreateOrder places an order.
func (s *GRPCServer) CreateOrder(ctx context.Context, req *shoplabv1.CreateOrderRequest) (*shoplabv1.CreateOrderResponse, error) {
	pr := order.PlaceRequest{
		UserID: req.GetUserId(), PaymentToken: req.GetPaymentToken(),
		IdempotencyKey: req.GetIdempotencyKey(), RequestHash: req.GetRequestHash(),
		Lines: make([]order.Line, len(req.GetItems())),
	}
	for i, l := range req.GetItems() {
		pr.Lines[i] = order.Line{ProductID: l.GetProductId(), Quantity: l.GetQuantity()}
	}
	res, err := s.svc.CreateOrder(ctx, pr)
	if err != nil {
		return nil, err
	}
	return &shoplabv1.CreateOrderResponse{Order: ToProto(res.Order), Replayed: res.Replayed}, nil
}

// GetOrder returns one order.
func (s *GRPCServer) GetOrder(ctx context.Context, req *shoplabv1.GetOrderRequest) (*shoplabv1.GetOrderResponse, error) {
	o, err := s.svc.GetOrder(ctx, req.GetId(), req.GetUserId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetOrderResponse{Order: ToProto(o)}, nil
}

// ListOrders returns a page of orders.
func (s *GRPCServer) ListOrders(ctx context.Context, req *shoplabv1.ListOrdersRequest) (*shoplabv1.ListOrdersResponse, error) {
	st, err := statusFromProto(req.GetStatus())
	if err != nil {
		return nil, err
	}
	page, next, err := s.svc.ListOrders(ctx, app.ListRequest{
		UserID: req.GetUserId(), Status: st, Limit: int(req.GetLimit()), Cursor: req.GetCursor(),
	})
	if err != nil {
		return nil, err
	}
	resp := &shoplabv1.ListOrdersResponse{Orders: make([]*shoplabv1.Order, len(page)), NextCursor: next}
	for i, o := range page {
		resp.Orders[i] = ToProto(o)
	}
	return resp, nil
}

// ToProto converts a domain order to its protobuf form.
func ToProto(o order.Order) *shoplabv1.Order {
	p := &shoplabv1.Order{
		Id: o.ID, UserId: o.UserID, Status: statusToProto(o.Status), TotalCents: o.TotalCents, Currency: o.Currency,
		FailureCode: string(o.FailureCode), FailureMessage: o.FailureMessage, IdempotencyKey: o.IdempotencyKey,
		CreatedAt: timestamppb.New(o.CreatedAt), UpdatedAt: timestamppb.New(o.UpdatedAt),
		Items: make([]*shoplabv1.OrderItem, len(o.Items)),
	}
	for i, it := range o.Items {
		p.Items[i] = &shoplabv1.OrderItem{
			ProductId: it.ProductID, Name: it.Name, Category: it.Category, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents,
		}
	}
	return p
}

func statusToProto(s order.Status) shoplabv1.OrderStatus {
	switch s {
	case order.StatusPending:
		return shoplabv1.OrderStatus_ORDER_STATUS_PENDING
	case order.StatusPaid:
		return shoplabv1.OrderStatus_ORDER_STATUS_PAID
	case order.StatusFailed:
		return shoplabv1.OrderStatus_ORDER_STATUS_FAILED
	}
	return shoplabv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
}

// statusFromProto converts a list filter; UNSPECIFIED means any status.
func statusFromProto(s shoplabv1.OrderStatus) (order.Status, error) {
	switch s {
	case shoplabv1.OrderStatus_ORDER_STATUS_UNSPECIFIED:
		return "", nil
	case shoplabv1.OrderStatus_ORDER_STATUS_PENDING:
		return order.StatusPending, nil
	case shoplabv1.OrderStatus_ORDER_STATUS_PAID:
		return order.StatusPaid, nil
	case shoplabv1.OrderStatus_ORDER_STATUS_FAILED:
		return order.StatusFailed, nil
	}
	return "", errs.InvalidField("status", "unknown order status %d", int32(s))
}
