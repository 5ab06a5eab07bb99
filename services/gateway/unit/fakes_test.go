package unit_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// backend is one fake unit served over real gRPC on a loopback port.
type backend struct {
	addr string
	srv  *grpc.Server
	// stall makes every call wait until its deadline, like a unit that
	// accepted the connection but hangs.
	stall atomic.Bool

	mu         sync.Mutex
	requestIDs []string // request ids seen, as grpcx put them in the context
}

// Stop stops the server at once, closing its connections and listener.
func (b *backend) Stop() { b.srv.Stop() }

func (b *backend) seenRequestIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requestIDs...)
}

// startBackend serves register on 127.0.0.1:0 with the platform's gRPC
// server, so errs codes travel the way the real units send them.
func startBackend(t *testing.T, register func(*grpc.Server)) *backend {
	t.Helper()
	b := &backend{}
	spy := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		b.mu.Lock()
		b.requestIDs = append(b.requestIDs, logx.RequestID(ctx))
		b.mu.Unlock()
		if b.stall.Load() {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return h(ctx, req)
	}
	b.srv = grpcx.NewServer(logx.Discard(), metrics.New("fake", false), spy)
	register(b.srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	go func() {
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("fake server: %v", err)
		}
	}()
	t.Cleanup(b.srv.Stop)
	return b
}

// backends is the three units the gateway calls, all over one Shop.
type backends struct {
	shop                 *gatewaytest.Shop
	user, product, order *backend
}

func startBackends(t *testing.T, shop *gatewaytest.Shop) *backends {
	t.Helper()
	return &backends{
		shop:    shop,
		user:    startBackend(t, func(s *grpc.Server) { shoplabv1.RegisterUserServiceServer(s, userServer{shop: shop}) }),
		product: startBackend(t, func(s *grpc.Server) { shoplabv1.RegisterProductServiceServer(s, productServer{shop: shop}) }),
		order:   startBackend(t, func(s *grpc.Server) { shoplabv1.RegisterOrderServiceServer(s, orderServer{shop: shop}) }),
	}
}

type userServer struct {
	shoplabv1.UnimplementedUserServiceServer
	shop *gatewaytest.Shop
}

func (s userServer) Register(ctx context.Context, r *shoplabv1.RegisterRequest) (*shoplabv1.RegisterResponse, error) {
	u, err := s.shop.Register(ctx, gateway.Registration{Email: r.GetEmail(), Password: r.GetPassword(), Name: r.GetName()})
	if err != nil {
		return nil, err
	}
	return &shoplabv1.RegisterResponse{User: userProto(u)}, nil
}

func (s userServer) Authenticate(ctx context.Context, r *shoplabv1.AuthenticateRequest) (*shoplabv1.AuthenticateResponse, error) {
	u, err := s.shop.Authenticate(ctx, gateway.Credentials{Email: r.GetEmail(), Password: r.GetPassword()})
	if err != nil {
		return nil, err
	}
	return &shoplabv1.AuthenticateResponse{User: userProto(u)}, nil
}

func userProto(u gateway.User) *shoplabv1.User {
	return &shoplabv1.User{Id: u.ID, Email: u.Email, Name: u.Name, CreatedAt: timestamppb.New(u.CreatedAt)}
}

type productServer struct {
	shoplabv1.UnimplementedProductServiceServer
	shop *gatewaytest.Shop
}

func (s productServer) GetProduct(ctx context.Context, r *shoplabv1.GetProductRequest) (*shoplabv1.GetProductResponse, error) {
	p, err := s.shop.GetProduct(ctx, r.GetId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetProductResponse{Product: productProto(p)}, nil
}

func (s productServer) ListProducts(ctx context.Context, r *shoplabv1.ListProductsRequest) (*shoplabv1.ListProductsResponse, error) {
	page, err := s.shop.ListProducts(ctx, gateway.ProductQuery{Category: r.GetCategory(), Page: gateway.Page{Limit: int(r.GetLimit()), Cursor: r.GetCursor()}})
	if err != nil {
		return nil, err
	}
	out := &shoplabv1.ListProductsResponse{NextCursor: page.NextCursor}
	for _, p := range page.Items {
		out.Products = append(out.Products, productProto(p))
	}
	return out, nil
}

func (s productServer) SearchProducts(ctx context.Context, r *shoplabv1.SearchProductsRequest) (*shoplabv1.SearchProductsResponse, error) {
	page, err := s.shop.SearchProducts(ctx, gateway.ProductQuery{Query: r.GetQuery(), Category: r.GetCategory(), Page: gateway.Page{Limit: int(r.GetLimit()), Cursor: r.GetCursor()}})
	if err != nil {
		// The product unit names its own field "query"; the gateway must
		// rename it back to "q".
		if errs.FieldOf(err) == "q" {
			return nil, errs.InvalidField("query", "%s", errs.MessageOf(err))
		}
		return nil, err
	}
	out := &shoplabv1.SearchProductsResponse{NextCursor: page.NextCursor}
	for _, p := range page.Items {
		out.Products = append(out.Products, productProto(p))
	}
	return out, nil
}

func productProto(p gateway.Product) *shoplabv1.Product {
	return &shoplabv1.Product{Id: p.ID, Name: p.Name, Category: p.Category, PriceCents: p.PriceCents, Currency: p.Currency, Stock: p.Stock}
}

type orderServer struct {
	shoplabv1.UnimplementedOrderServiceServer
	shop *gatewaytest.Shop
}

func (s orderServer) CreateOrder(ctx context.Context, r *shoplabv1.CreateOrderRequest) (*shoplabv1.CreateOrderResponse, error) {
	p := app.PlaceOrder{UserID: r.GetUserId(), IdempotencyKey: r.GetIdempotencyKey(), RequestHash: r.GetRequestHash()}
	p.Request.PaymentToken = r.GetPaymentToken()
	for _, l := range r.GetItems() {
		p.Request.Lines = append(p.Request.Lines, gateway.OrderLine{ProductID: l.GetProductId(), Quantity: l.GetQuantity()})
	}
	placed, err := s.shop.CreateOrder(ctx, p)
	if err != nil {
		return nil, err
	}
	return &shoplabv1.CreateOrderResponse{Order: orderProto(placed.Order), Replayed: placed.Replayed}, nil
}

func (s orderServer) GetOrder(ctx context.Context, r *shoplabv1.GetOrderRequest) (*shoplabv1.GetOrderResponse, error) {
	o, err := s.shop.GetOrder(ctx, r.GetUserId(), r.GetId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetOrderResponse{Order: orderProto(o)}, nil
}

func (s orderServer) ListOrders(ctx context.Context, r *shoplabv1.ListOrdersRequest) (*shoplabv1.ListOrdersResponse, error) {
	page, err := s.shop.ListOrders(ctx, r.GetUserId(), gateway.Page{Limit: int(r.GetLimit()), Cursor: r.GetCursor()})
	if err != nil {
		return nil, err
	}
	out := &shoplabv1.ListOrdersResponse{NextCursor: page.NextCursor}
	for _, o := range page.Items {
		out.Orders = append(out.Orders, orderProto(o))
	}
	return out, nil
}

func orderProto(o gateway.Order) *shoplabv1.Order {
	status := map[gateway.OrderStatus]shoplabv1.OrderStatus{
		gateway.StatusPending: shoplabv1.OrderStatus_ORDER_STATUS_PENDING,
		gateway.StatusPaid:    shoplabv1.OrderStatus_ORDER_STATUS_PAID,
		gateway.StatusFailed:  shoplabv1.OrderStatus_ORDER_STATUS_FAILED,
	}[o.Status]
	out := &shoplabv1.Order{
		Id: o.ID, UserId: o.UserID, Status: status, TotalCents: o.TotalCents, Currency: o.Currency,
		FailureCode: o.FailureCode, FailureMessage: o.FailureMessage, CreatedAt: timestamppb.New(o.CreatedAt),
	}
	for _, it := range o.Items {
		out.Items = append(out.Items, &shoplabv1.OrderItem{ProductId: it.ProductID, Name: it.Name, Category: it.Category, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	return out
}
