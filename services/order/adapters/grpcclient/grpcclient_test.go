package grpcclient_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/adapters/grpcclient"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpcx.Dial(addr, grpcx.ClientOptions{Target: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestOverTheWire checks that results and the errs codes the app branches
// on (OutOfStock, NotFound, Invalid with its field, Unavailable) survive the
// gRPC round trip.
func TestOverTheWire(t *testing.T) {
	ctx := t.Context()
	d := fakedeps.Standard()
	addrs := fakedeps.Serve(t, d)
	users := grpcclient.NewUsers(dial(t, addrs.User))
	products := grpcclient.NewProducts(dial(t, addrs.Product))
	payments := grpcclient.NewPayments(dial(t, addrs.Payment))

	if u, err := users.GetUser(ctx, "u1"); err != nil || u.Email != "u1@example.com" {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	if _, err := users.GetUser(ctx, "ghost"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("GetUser(ghost) = %v", err)
	}

	lines, err := products.ReserveStock(ctx, "o1", []order.Line{{ProductID: "p1", Quantity: 2}})
	if err != nil || len(lines) != 1 || lines[0] != (order.ReservedLine{ProductID: "p1", Name: "Go Book", Category: "books", Quantity: 2, UnitPriceCents: 1250, Currency: "USD"}) {
		t.Fatalf("ReserveStock = %+v, %v", lines, err)
	}
	if _, err := products.ReserveStock(ctx, "o2", []order.Line{{ProductID: "p2", Quantity: 9}}); !errs.Is(err, errs.OutOfStock) {
		t.Fatalf("ReserveStock(too many) = %v, want OutOfStock", err)
	}
	if _, err := products.ReserveStock(ctx, "o3", []order.Line{{ProductID: "zz", Quantity: 1}}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("ReserveStock(unknown) = %v, want NotFound", err)
	}
	if released, err := products.ReleaseStock(ctx, "o1"); err != nil || !released {
		t.Fatalf("ReleaseStock = %v, %v", released, err)
	}

	charge := app.Charge{OrderID: "o1", UserID: "u1", AmountCents: 2500, Currency: "USD", Token: fakedeps.TokenVisa}
	if p, err := payments.ProcessPayment(ctx, charge); err != nil || p.Status != app.PaymentCaptured || p.AmountCents != 2500 {
		t.Fatalf("ProcessPayment = %+v, %v", p, err)
	}
	charge.OrderID, charge.Token = "o2", fakedeps.TokenDeclined
	if p, err := payments.ProcessPayment(ctx, charge); err != nil || p.Status != app.PaymentDeclined || p.DeclineCode != "card_declined" {
		t.Fatalf("ProcessPayment(declined) = %+v, %v", p, err)
	}
	charge.OrderID, charge.Token = "o3", fakedeps.TokenProcessingError
	if _, err := payments.ProcessPayment(ctx, charge); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("ProcessPayment(processing error) = %v, want Unavailable", err)
	}
	charge.Token = "tok_nope"
	if _, err := payments.ProcessPayment(ctx, charge); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "payment_token" {
		t.Fatalf("ProcessPayment(bad token) = %v, want Invalid on payment_token", err)
	}
	if _, err := payments.GetPayment(ctx, "o3"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("GetPayment(none) = %v", err)
	}
	if p, err := payments.Refund(ctx, "o3", "test"); err != nil || p.Status != app.PaymentVoided {
		t.Fatalf("Refund(none) = %+v, %v; want VOIDED", p, err)
	}
	if p, err := payments.Refund(ctx, "o1", "test"); err != nil || p.Status != app.PaymentRefunded {
		t.Fatalf("Refund(captured) = %+v, %v; want REFUNDED", p, err)
	}
}

// oddPayments answers GetPayment with whatever payment it is given.
type oddPayments struct {
	shoplabv1.UnimplementedPaymentServiceServer
	p *shoplabv1.Payment
}

func (o oddPayments) GetPayment(context.Context, *shoplabv1.GetPaymentRequest) (*shoplabv1.GetPaymentResponse, error) {
	return &shoplabv1.GetPaymentResponse{Payment: o.p}, nil
}

// TestRefusesPaymentsItCannotTrust checks that answers which could make an
// order PAID by mistake are errors, not payments.
func TestRefusesPaymentsItCannotTrust(t *testing.T) {
	for name, p := range map[string]*shoplabv1.Payment{
		"no payment":     nil,
		"no status":      {OrderId: "o1"},
		"another order":  {OrderId: "o2", Status: shoplabv1.PaymentStatus_PAYMENT_STATUS_CAPTURED},
		"unknown status": {OrderId: "o1", Status: 42},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpcx.NewServer(logx.Discard(), metrics.New("odd", false))
			shoplabv1.RegisterPaymentServiceServer(srv, oddPayments{p: p})
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(srv.Stop)
			got, err := grpcclient.NewPayments(dial(t, ln.Addr().String())).GetPayment(t.Context(), "o1")
			if !errs.Is(err, errs.Internal) {
				t.Fatalf("GetPayment = %+v, %v; want Internal", got, err)
			}
		})
	}
}
