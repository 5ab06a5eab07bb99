package fakedeps

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Addrs are the addresses of the fake units' gRPC servers.
type Addrs struct {
	User, Product, Payment string
}

// Serve starts one real gRPC server per fake unit on 127.0.0.1:0, each
// built with grpcx.NewServer so errors cross the wire with their errs codes
// as the real units' do. The servers stop in t.Cleanup.
func Serve(t testing.TB, d Deps) Addrs {
	t.Helper()
	serve := func(name string, register func(*grpc.Server)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen for fake %s: %v", name, err)
		}
		srv := grpcx.NewServer(logx.Discard(), metrics.New("fake-"+name, false))
		register(srv)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
		return ln.Addr().String()
	}
	return Addrs{
		User: serve("user", func(s *grpc.Server) { shoplabv1.RegisterUserServiceServer(s, userServer{u: d.Users}) }),
		Product: serve("product", func(s *grpc.Server) {
			shoplabv1.RegisterProductServiceServer(s, productServer{p: d.Products})
		}),
		Payment: serve("payment", func(s *grpc.Server) {
			shoplabv1.RegisterPaymentServiceServer(s, paymentServer{p: d.Payments})
		}),
	}
}

type userServer struct {
	shoplabv1.UnimplementedUserServiceServer
	u *Users
}

// GetUser serves Users.GetUser.
func (s userServer) GetUser(ctx context.Context, req *shoplabv1.GetUserRequest) (*shoplabv1.GetUserResponse, error) {
	u, err := s.u.GetUser(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetUserResponse{User: &shoplabv1.User{Id: u.ID, Email: u.Email}}, nil
}

type productServer struct {
	shoplabv1.UnimplementedProductServiceServer
	p *Products
}

// ReserveStock serves Products.ReserveStock; already_reserved reports a retry.
func (s productServer) ReserveStock(ctx context.Context, req *shoplabv1.ReserveStockRequest) (*shoplabv1.ReserveStockResponse, error) {
	if req.GetOrderId() == "" {
		return nil, errs.InvalidField("order_id", "order_id is required")
	}
	lines := make([]order.Line, len(req.GetLines()))
	for i, l := range req.GetLines() {
		lines[i] = order.Line{ProductID: l.GetProductId(), Quantity: l.GetQuantity()}
	}
	already := s.p.Reserved(req.GetOrderId())
	got, err := s.p.ReserveStock(ctx, req.GetOrderId(), lines)
	if err != nil {
		return nil, err
	}
	resp := &shoplabv1.ReserveStockResponse{AlreadyReserved: already}
	for _, l := range got {
		resp.Lines = append(resp.Lines, &shoplabv1.ReservedLine{
			ProductId: l.ProductID, Name: l.Name, Category: l.Category, Quantity: l.Quantity,
			UnitPriceCents: l.UnitPriceCents, Currency: l.Currency,
		})
	}
	return resp, nil
}

// ReleaseStock serves Products.ReleaseStock.
func (s productServer) ReleaseStock(ctx context.Context, req *shoplabv1.ReleaseStockRequest) (*shoplabv1.ReleaseStockResponse, error) {
	released, err := s.p.ReleaseStock(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.ReleaseStockResponse{Released: released}, nil
}

type paymentServer struct {
	shoplabv1.UnimplementedPaymentServiceServer
	p *Payments
}

func toProto(p app.Payment) *shoplabv1.Payment {
	st := map[app.PaymentStatus]shoplabv1.PaymentStatus{
		app.PaymentCaptured: shoplabv1.PaymentStatus_PAYMENT_STATUS_CAPTURED,
		app.PaymentDeclined: shoplabv1.PaymentStatus_PAYMENT_STATUS_DECLINED,
		app.PaymentRefunded: shoplabv1.PaymentStatus_PAYMENT_STATUS_REFUNDED,
		app.PaymentVoided:   shoplabv1.PaymentStatus_PAYMENT_STATUS_VOIDED,
	}[p.Status]
	return &shoplabv1.Payment{
		Id: "pay-" + p.OrderID, OrderId: p.OrderID, AmountCents: p.AmountCents, Currency: p.Currency,
		Status: st, DeclineCode: p.DeclineCode,
	}
}

// ProcessPayment serves Payments.ProcessPayment.
func (s paymentServer) ProcessPayment(ctx context.Context, req *shoplabv1.ProcessPaymentRequest) (*shoplabv1.ProcessPaymentResponse, error) {
	p, err := s.p.ProcessPayment(ctx, app.Charge{
		OrderID: req.GetOrderId(), UserID: req.GetUserId(), AmountCents: req.GetAmountCents(),
		Currency: req.GetCurrency(), Token: req.GetPaymentToken(),
	})
	if err != nil {
		return nil, err
	}
	return &shoplabv1.ProcessPaymentResponse{Payment: toProto(p)}, nil
}

// GetPayment serves Payments.GetPayment.
func (s paymentServer) GetPayment(ctx context.Context, req *shoplabv1.GetPaymentRequest) (*shoplabv1.GetPaymentResponse, error) {
	p, err := s.p.GetPayment(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetPaymentResponse{Payment: toProto(p)}, nil
}

// Refund serves Payments.Refund.
func (s paymentServer) Refund(ctx context.Context, req *shoplabv1.RefundRequest) (*shoplabv1.RefundResponse, error) {
	p, err := s.p.Refund(ctx, req.GetOrderId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.RefundResponse{Payment: toProto(p)}, nil
}
