package grpcclient_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/adapters/grpcclient"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
)

// conn answers every call with reply (copied into the caller's message) or
// with err sent the way a unit sends it, through a gRPC status.
type conn struct {
	reply  proto.Message
	err    error
	method string
	req    any
}

func (c *conn) Invoke(_ context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	c.method, c.req = method, args
	if c.err != nil {
		return grpcx.FromStatus(grpcx.ToStatus(c.err))
	}
	proto.Merge(reply.(proto.Message), c.reply)
	return nil
}

func (c *conn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errs.E(errs.Internal, "no streams")
}

func TestErrorsFromUnits(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name      string
		call      func(c *conn) error
		sent      error
		wantCode  errs.Code
		wantField string
	}{
		{"wrong password stays unauthenticated", func(c *conn) error {
			_, err := grpcclient.NewUsers(c).Authenticate(ctx, gateway.Credentials{})
			return err
		}, errs.E(errs.Unauthenticated, "bad password"), errs.Unauthenticated, ""},
		{"a unit refusing the gateway is internal", func(c *conn) error {
			_, err := grpcclient.NewUsers(c).Register(ctx, gateway.Registration{})
			return err
		}, errs.E(errs.Unauthenticated, "who are you"), errs.Internal, ""},
		{"permission denied is internal", func(c *conn) error {
			_, err := grpcclient.NewProducts(c).GetProduct(ctx, "p1")
			return err
		}, errs.E(errs.PermissionDenied, "no"), errs.Internal, ""},
		{"query is renamed q", func(c *conn) error {
			_, err := grpcclient.NewProducts(c).SearchProducts(ctx, gateway.ProductQuery{Query: "x"})
			return err
		}, errs.InvalidField("query", "bad"), errs.Invalid, "q"},
		{"other fields pass", func(c *conn) error {
			_, err := grpcclient.NewProducts(c).SearchProducts(ctx, gateway.ProductQuery{Query: "x"})
			return err
		}, errs.InvalidField("cursor", "bad"), errs.Invalid, "cursor"},
		{"key reuse keeps its code", func(c *conn) error {
			_, err := grpcclient.NewOrders(c).CreateOrder(ctx, app.PlaceOrder{})
			return err
		}, errs.E(errs.IdempotencyMismatch, "reused"), errs.IdempotencyMismatch, ""},
		{"unavailable", func(c *conn) error {
			_, err := grpcclient.NewOrders(c).ListOrders(ctx, "u", gateway.Page{})
			return err
		}, errs.E(errs.Unavailable, "down"), errs.Unavailable, ""},
		{"no order in the answer", func(c *conn) error {
			c.err = nil
			c.reply = &shoplabv1.CreateOrderResponse{}
			_, err := grpcclient.NewOrders(c).CreateOrder(ctx, app.PlaceOrder{})
			return err
		}, nil, errs.Internal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(&conn{err: tt.sent})
			if errs.CodeOf(err) != tt.wantCode || errs.FieldOf(err) != tt.wantField {
				t.Fatalf("error %v: code %s field %q, want %s %q", err, errs.CodeOf(err), errs.FieldOf(err), tt.wantCode, tt.wantField)
			}
		})
	}
}

func TestOrderConversion(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &conn{reply: &shoplabv1.CreateOrderResponse{Replayed: true, Order: &shoplabv1.Order{
		Id: "o1", UserId: "u1", Status: shoplabv1.OrderStatus_ORDER_STATUS_FAILED, TotalCents: 300, Currency: "USD",
		FailureCode: "out_of_stock", FailureMessage: "p1 has 0 left", CreatedAt: timestamppb.New(created),
		Items: []*shoplabv1.OrderItem{{ProductId: "p1", Name: "Mug", Category: "kitchen", Quantity: 3, UnitPriceCents: 100}},
	}}}
	p := app.PlaceOrder{UserID: "u1", IdempotencyKey: "k", RequestHash: "h",
		Request: gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 3}}, PaymentToken: "tok_visa"}}
	placed, err := grpcclient.NewOrders(c).CreateOrder(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Order{ID: "o1", UserID: "u1", Status: gateway.StatusFailed, TotalCents: 300, Currency: "USD",
		FailureCode: "out_of_stock", FailureMessage: "p1 has 0 left", CreatedAt: created,
		Items: []gateway.OrderItem{{ProductID: "p1", Name: "Mug", Category: "kitchen", Quantity: 3, UnitPriceCents: 100}}}
	if !placed.Replayed || placed.Order.ID != want.ID || placed.Order.Status != want.Status || !placed.Order.CreatedAt.Equal(created) ||
		placed.Order.FailureMessage != want.FailureMessage || len(placed.Order.Items) != 1 || placed.Order.Items[0] != want.Items[0] {
		t.Errorf("placed %+v, want %+v", placed, want)
	}
	sent := c.req.(*shoplabv1.CreateOrderRequest)
	if c.method != shoplabv1.OrderService_CreateOrder_FullMethodName || sent.GetUserId() != "u1" || sent.GetIdempotencyKey() != "k" ||
		sent.GetRequestHash() != "h" || sent.GetPaymentToken() != "tok_visa" || len(sent.GetItems()) != 1 || sent.GetItems()[0].GetQuantity() != 3 {
		t.Errorf("sent %s %v", c.method, sent)
	}

	c.reply = &shoplabv1.CreateOrderResponse{Order: &shoplabv1.Order{Id: "o2"}}
	placed, err = grpcclient.NewOrders(c).CreateOrder(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if errs.CodeOf(gateway.OutcomeError(placed.Order)) != errs.Internal {
		t.Errorf("an order with an unspecified status is not refused: %+v", placed.Order)
	}
}
