// Package ports serves the payment use cases over gRPC as
// shoplabv1.PaymentService. Handlers return errs errors; grpcx's server
// interceptor turns them into status codes.
package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/payment"
)

// Payments is what the gRPC server needs from the app layer.
type Payments interface {
	ProcessPayment(ctx context.Context, req payment.ChargeRequest) (payment.Payment, error)
	Refund(ctx context.Context, orderID, reason string) (payment.Payment, error)
	GetPayment(ctx context.Context, orderID string) (payment.Payment, error)
	ListPayments(ctx context.Context, limit int, cursor string) ([]payment.Payment, string, error)
}

// GRPCServer implements shoplabv1.PaymentServiceServer over Payments.
type GRPCServer struct {
	pb.UnimplementedPaymentServiceServer
	payments Payments
}

// NewGRPCServer returns a PaymentService server over payments.
func NewGRPCServer(payments Payments) *GRPCServer { return &GRPCServer{payments: payments} }

// ProcessPayment implements shoplabv1.PaymentServiceServer.
func (s *GRPCServer) ProcessPayment(ctx context.Context, req *pb.ProcessPaymentRequest) (*pb.ProcessPaymentResponse, error) {
	p, err := s.payments.ProcessPayment(ctx, payment.ChargeRequest{
		OrderID: req.GetOrderId(), UserID: req.GetUserId(), AmountCents: req.GetAmountCents(),
		Currency: req.GetCurrency(), Token: req.GetPaymentToken(),
	})
	if err != nil {
		return nil, err
	}
	return &pb.ProcessPaymentResponse{Payment: toProto(p)}, nil
}

// Refund implements shoplabv1.PaymentServiceServer.
func (s *GRPCServer) Refund(ctx context.Context, req *pb.RefundRequest) (*pb.RefundResponse, error) {
	p, err := s.payments.Refund(ctx, req.GetOrderId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &pb.RefundResponse{Payment: toProto(p)}, nil
}

// GetPayment implements shoplabv1.PaymentServiceServer.
func (s *GRPCServer) GetPayment(ctx context.Context, req *pb.GetPaymentRequest) (*pb.GetPaymentResponse, error) {
	p, err := s.payments.GetPayment(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &pb.GetPaymentResponse{Payment: toProto(p)}, nil
}

// ListPayments implements shoplabv1.PaymentServiceServer.
func (s *GRPCServer) ListPayments(ctx context.Context, req *pb.ListPaymentsRequest) (*pb.ListPaymentsResponse, error) {
	ps, next, err := s.payments.ListPayments(ctx, int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, err
	}
	out := &pb.ListPaymentsResponse{Payments: make([]*pb.Payment, len(ps)), NextCursor: next}
	for i, p := range ps {
		out.Payments[i] = toProto(p)
	}
	return out, nil
}

var statusToProto = map[payment.Status]pb.PaymentStatus{
	payment.StatusCaptured: pb.PaymentStatus_PAYMENT_STATUS_CAPTURED,
	payment.StatusDeclined: pb.PaymentStatus_PAYMENT_STATUS_DECLINED,
	payment.StatusRefunded: pb.PaymentStatus_PAYMENT_STATUS_REFUNDED,
	payment.StatusVoided:   pb.PaymentStatus_PAYMENT_STATUS_VOIDED,
	// PROCESSING has no wire value: ListPayments shows a still-unsettled
	// attempt as UNSPECIFIED (only there; the other calls settle or hide it).
}

func toProto(p payment.Payment) *pb.Payment {
	return &pb.Payment{
		Id: p.ID, OrderId: p.OrderID, UserId: p.UserID, AmountCents: p.AmountCents, Currency: p.Currency,
		Status: statusToProto[p.Status], DeclineCode: p.DeclineCode, ProcessorChargeId: p.ChargeID,
		ProcessorCharges: int32(p.ProcessorCharges),
		CreatedAt:        timestamppb.New(p.CreatedAt), UpdatedAt: timestamppb.New(p.UpdatedAt),
	}
}
