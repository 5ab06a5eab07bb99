// Package ports turns ProductService gRPC calls into product use cases.
// Handlers return errs errors; the grpcx server interceptor maps them to
// status codes, so no status is built here.
package ports

import (
	"context"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/app"
)

// GRPCServer implements shoplabv1.ProductServiceServer over an app.Service.
type GRPCServer struct {
	shoplabv1.UnimplementedProductServiceServer
	svc *app.Service
}

// NewGRPCServer returns the gRPC adapter of svc.
func NewGRPCServer(svc *app.Service) *GRPCServer { return &GRPCServer{svc: svc} }

// Register registers the server on g.
func (s *GRPCServer) Register(g *grpc.Server) { shoplabv1.RegisterProductServiceServer(g, s) }

// GetProduct returns one product by id.
func (s *GRPCServer) GetProduct(ctx context.Context, req *shoplabv1.GetProductRequest) (*shoplabv1.GetProductResponse, error) {
	p, err := s.svc.GetProduct(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.GetProductResponse{Product: toProto(p)}, nil
}

// ListProducts pages through the catalog.
func (s *GRPCServer) ListProducts(ctx context.Context, req *shoplabv1.ListProductsRequest) (*shoplabv1.ListProductsResponse, error) {
	page, err := s.svc.ListProducts(ctx, app.ListRequest{
		Category: req.GetCategory(), Limit: int(req.GetLimit()), Cursor: req.GetCursor(),
	})
	if err != nil {
		return nil, err
	}
	return &shoplabv1.ListProductsResponse{Products: toProtos(page.Products), NextCursor: page.NextCursor}, nil
}

// SearchProducts pages through the products matching a free-text query.
func (s *GRPCServer) SearchProducts(ctx context.Context, req *shoplabv1.SearchProductsRequest) (*shoplabv1.SearchProductsResponse, error) {
	page, err := s.svc.SearchProducts(ctx, app.SearchRequest{
		Query: req.GetQuery(), Category: req.GetCategory(), Limit: int(req.GetLimit()), Cursor: req.GetCursor(),
	})
	if err != nil {
		return nil, err
	}
	return &shoplabv1.SearchProductsResponse{Products: toProtos(page.Products), NextCursor: page.NextCursor}, nil
}

// ReserveStock takes stock for an order, idempotently and all lines or none.
func (s *GRPCServer) ReserveStock(ctx context.Context, req *shoplabv1.ReserveStockRequest) (*shoplabv1.ReserveStockResponse, error) {
	lines := make([]product.StockLine, len(req.GetLines()))
	for i, l := range req.GetLines() {
		lines[i] = product.StockLine{ProductID: l.GetProductId(), Quantity: int(l.GetQuantity())}
	}
	res, err := s.svc.ReserveStock(ctx, req.GetOrderId(), lines)
	if err != nil {
		return nil, err
	}
	out := &shoplabv1.ReserveStockResponse{
		Lines:           make([]*shoplabv1.ReservedLine, len(res.Lines)),
		AlreadyReserved: res.AlreadyReserved,
	}
	for i, l := range res.Lines {
		out.Lines[i] = &shoplabv1.ReservedLine{
			ProductId: l.ProductID, Name: l.Name, Category: l.Category,
			// Quantities are bounded by product.MaxQuantity, so int32 holds them.
			Quantity: int32(l.Quantity), UnitPriceCents: l.UnitPriceCents, Currency: l.Currency,
		}
	}
	return out, nil
}

// ReleaseStock gives an order's reservation back, once.
func (s *GRPCServer) ReleaseStock(ctx context.Context, req *shoplabv1.ReleaseStockRequest) (*shoplabv1.ReleaseStockResponse, error) {
	released, err := s.svc.ReleaseStock(ctx, req.GetOrderId())
	if err != nil {
		return nil, err
	}
	return &shoplabv1.ReleaseStockResponse{Released: released}, nil
}

// GetInventory reports every product's stock ledger.
func (s *GRPCServer) GetInventory(ctx context.Context, _ *shoplabv1.GetInventoryRequest) (*shoplabv1.GetInventoryResponse, error) {
	inv, err := s.svc.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	out := &shoplabv1.GetInventoryResponse{
		Lines:              make([]*shoplabv1.InventoryLine, len(inv.Lines)),
		ActiveReservations: inv.ActiveReservations,
	}
	for i, l := range inv.Lines {
		out.Lines[i] = &shoplabv1.InventoryLine{ProductId: l.ProductID, Initial: l.Initial, Available: l.Available, Reserved: l.Reserved}
	}
	return out, nil
}

func toProto(p product.Product) *shoplabv1.Product {
	return &shoplabv1.Product{
		Id: p.ID, Name: p.Name, Description: p.Description, Category: p.Category,
		PriceCents: p.PriceCents, Currency: p.Currency, Stock: p.Stock,
	}
}

func toProtos(ps []product.Product) []*shoplabv1.Product {
	out := make([]*shoplabv1.Product, len(ps))
	for i, p := range ps {
		out[i] = toProto(p)
	}
	return out
}
