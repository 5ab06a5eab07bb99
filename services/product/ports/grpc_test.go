package ports_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/adapters/memory"
	"github.com/shoplab/shoplab/services/product/app"
	"github.com/shoplab/shoplab/services/product/ports"
)

// mustClient serves a seeded catalog on a real loopback listener and returns
// a client dialled the way other units dial product.
func mustClient(t *testing.T, spec product.CatalogSpec) shoplabv1.ProductServiceClient {
	t.Helper()
	reg := metrics.New("product", false)
	svc := app.New(memory.New(), app.Options{Metrics: reg})
	if _, err := svc.SeedCatalog(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	srv := grpcx.NewServer(logx.Discard(), reg)
	ports.NewGRPCServer(svc).Register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpcx.Dial(ln.Addr().String(), grpcx.ClientOptions{Target: "product", CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return shoplabv1.NewProductServiceClient(conn)
}

// wantErr checks both what the client sees (the errs code and field that
// grpcx restores) and the status code on the wire.
func wantErr(t *testing.T, err error, code errs.Code, wire codes.Code, field, mention string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("error = %v, want errs code %s", err, code)
	}
	if got := status.Code(err); got != wire {
		t.Fatalf("wire status = %s, want %s", got, wire)
	}
	if errs.FieldOf(err) != field {
		t.Fatalf("field = %q, want %q", errs.FieldOf(err), field)
	}
	if !strings.Contains(errs.MessageOf(err), mention) {
		t.Fatalf("message %q does not mention %q", errs.MessageOf(err), mention)
	}
}

func TestGetProduct(t *testing.T) {
	c := mustClient(t, product.CatalogSpec{Seed: 9, Size: 30})
	ctx := t.Context()
	want, _ := product.GenerateCatalog(product.CatalogSpec{Seed: 9, Size: 30})
	res, err := c.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-0012"})
	if err != nil {
		t.Fatal(err)
	}
	p, w := res.GetProduct(), want[11]
	if p.GetId() != w.ID || p.GetName() != w.Name || p.GetDescription() != w.Description || p.GetCategory() != w.Category ||
		p.GetPriceCents() != w.PriceCents || p.GetCurrency() != w.Currency || p.GetStock() != w.Stock {
		t.Fatalf("GetProduct = %v, want %+v", p, w)
	}
	_, err = c.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-7777"})
	wantErr(t, err, errs.NotFound, codes.NotFound, "", "p-7777")
	_, err = c.GetProduct(ctx, &shoplabv1.GetProductRequest{})
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "id", "")
}

func TestListAndSearchPaging(t *testing.T) {
	c := mustClient(t, product.CatalogSpec{Seed: 9, Size: 45})
	ctx := t.Context()
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		res, err := c.ListProducts(ctx, &shoplabv1.ListProductsRequest{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range res.GetProducts() {
			if seen[p.GetId()] {
				t.Fatalf("%s listed twice", p.GetId())
			}
			seen[p.GetId()] = true
		}
		if cursor = res.GetNextCursor(); cursor == "" {
			break
		}
	}
	if len(seen) != 45 || pages != 3 {
		t.Fatalf("listed %d products in %d pages, want 45 in 3 default pages", len(seen), pages)
	}
	_, err := c.ListProducts(ctx, &shoplabv1.ListProductsRequest{Cursor: "bm90LWEtY3Vyc29y"})
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "cursor", "")
	_, err = c.ListProducts(ctx, &shoplabv1.ListProductsRequest{Limit: -1})
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "limit", "")
	_, err = c.SearchProducts(ctx, &shoplabv1.SearchProductsRequest{Query: " "})
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "query", "")

	res, err := c.SearchProducts(ctx, &shoplabv1.SearchProductsRequest{Query: "for", Category: "electronics", Limit: 2})
	if err != nil || len(res.GetProducts()) == 0 {
		t.Fatalf("search = %v, %v", res, err)
	}
	for _, p := range res.GetProducts() {
		if p.GetCategory() != "electronics" {
			t.Fatalf("search let %s (%s) through the category filter", p.GetId(), p.GetCategory())
		}
	}
}

func reserve(ctx context.Context, c shoplabv1.ProductServiceClient, order string, pairs ...any) (*shoplabv1.ReserveStockResponse, error) {
	req := &shoplabv1.ReserveStockRequest{OrderId: order}
	for i := 0; i+1 < len(pairs); i += 2 {
		req.Lines = append(req.Lines, &shoplabv1.StockLine{ProductId: pairs[i].(string), Quantity: int32(pairs[i+1].(int))})
	}
	return c.ReserveStock(ctx, req)
}

func TestReserveReleaseCodes(t *testing.T) {
	spec := product.CatalogSpec{Seed: 9, Size: 30}
	c := mustClient(t, spec)
	catalog, _ := product.GenerateCatalog(spec)
	ctx := t.Context()

	res, err := reserve(ctx, c, "o-1", "p-0010", 2, "p-0020", 1)
	if err != nil {
		t.Fatal(err)
	}
	l := res.GetLines()[0]
	if res.GetAlreadyReserved() || len(res.GetLines()) != 2 || l.GetProductId() != "p-0010" || l.GetQuantity() != 2 ||
		l.GetName() != catalog[9].Name || l.GetCategory() != catalog[9].Category ||
		l.GetUnitPriceCents() != catalog[9].PriceCents || l.GetCurrency() != "USD" {
		t.Fatalf("ReserveStock = %v", res)
	}
	again, err := reserve(ctx, c, "o-1", "p-0011", 1)
	if err != nil || !again.GetAlreadyReserved() || len(again.GetLines()) != 2 {
		t.Fatalf("retry = %v, %v; want the first reservation", again, err)
	}

	// p-0001 is low stock: 1 unit.
	_, err = reserve(ctx, c, "o-2", "p-0010", 1, "p-0001", 2)
	wantErr(t, err, errs.OutOfStock, codes.FailedPrecondition, "", "p-0001")
	_, err = reserve(ctx, c, "o-2", "p-0404", 1)
	wantErr(t, err, errs.NotFound, codes.NotFound, "", "p-0404")
	_, err = reserve(ctx, c, "o-2")
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "lines", "")
	_, err = reserve(ctx, c, "o-2", "p-0010", product.MaxQuantity+1)
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "lines[0].quantity", "")
	_, err = reserve(ctx, c, "o-2", "p-0010", 1, "p-0010", 1)
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "lines[1].product_id", "p-0010")
	_, err = reserve(ctx, c, "", "p-0010", 1)
	wantErr(t, err, errs.Invalid, codes.InvalidArgument, "order_id", "")

	rel, err := c.ReleaseStock(ctx, &shoplabv1.ReleaseStockRequest{OrderId: "o-1"})
	if err != nil || !rel.GetReleased() {
		t.Fatalf("ReleaseStock = %v, %v; want released", rel, err)
	}
	rel, err = c.ReleaseStock(ctx, &shoplabv1.ReleaseStockRequest{OrderId: "o-1"})
	if err != nil || rel.GetReleased() {
		t.Fatalf("second ReleaseStock = %v, %v; want nothing released", rel, err)
	}
	// Compensation first, then the late reservation of the same order.
	if _, err := c.ReleaseStock(ctx, &shoplabv1.ReleaseStockRequest{OrderId: "o-late"}); err != nil {
		t.Fatal(err)
	}
	_, err = reserve(ctx, c, "o-late", "p-0010", 1)
	wantErr(t, err, errs.FailedPrecondition, codes.FailedPrecondition, "", "reservation released")

	if _, err := reserve(ctx, c, "o-3", "p-0002", 2); err != nil {
		t.Fatal(err)
	}
	inv, err := c.GetInventory(ctx, &shoplabv1.GetInventoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.GetLines()) != 30 || inv.GetActiveReservations() != 1 {
		t.Fatalf("inventory has %d lines and %d active reservations, want 30 and 1", len(inv.GetLines()), inv.GetActiveReservations())
	}
	for _, l := range inv.GetLines() {
		if l.GetAvailable()+l.GetReserved() != l.GetInitial() {
			t.Fatalf("inventory line %v breaks available + reserved == initial", l)
		}
		if l.GetProductId() == "p-0002" && (l.GetReserved() != 2 || l.GetAvailable() != 0) {
			t.Fatalf("p-0002 = %v, want its 2 units reserved", l)
		}
	}
}
