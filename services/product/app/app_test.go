package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/adapters/memory"
	"github.com/shoplab/shoplab/services/product/app"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recordingStore wraps the memory store to see what the service asks of it.
type recordingStore struct {
	*memory.Store
	reserves atomic.Int64
	lastAt   atomic.Value // time.Time
	block    bool         // Reserve waits for its context to end
}

func (r *recordingStore) Reserve(ctx context.Context, orderID string, lines []product.StockLine, at time.Time) (product.ReserveResult, error) {
	r.reserves.Add(1)
	r.lastAt.Store(at)
	if r.block {
		<-ctx.Done()
		return product.ReserveResult{}, ctx.Err()
	}
	return r.Store.Reserve(ctx, orderID, lines, at)
}

func newService(t *testing.T, spec product.CatalogSpec, o app.Options) (*app.Service, *recordingStore, *metrics.Registry) {
	t.Helper()
	store := &recordingStore{Store: memory.New()}
	reg := metrics.New("product", false)
	o.Metrics = reg
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	svc := app.New(store, o)
	if seeded, err := svc.SeedCatalog(t.Context(), spec); err != nil || !seeded {
		t.Fatalf("SeedCatalog = %v, %v", seeded, err)
	}
	return svc, store, reg
}

func gauge(t *testing.T, reg *metrics.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "shoplab_product_stock_available_units" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("stock gauge not registered")
	return 0
}

func counter(t *testing.T, reg *metrics.Registry, name, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestSeedOnceAndStockGauge(t *testing.T) {
	spec := product.CatalogSpec{Seed: 3, Size: 10, StockMin: 100, StockMax: 100, LowStockCount: -1}
	svc, store, reg := newService(t, spec, app.Options{})
	ctx := t.Context()
	if got := gauge(t, reg); got != 1000 {
		t.Fatalf("gauge after seeding = %v, want 1000", got)
	}
	if seeded, err := svc.SeedCatalog(ctx, product.CatalogSpec{Seed: 4, Size: 20}); err != nil || seeded {
		t.Fatalf("second SeedCatalog = %v, %v; want kept catalog", seeded, err)
	}
	if _, err := svc.ReserveStock(ctx, "o-1", []product.StockLine{{ProductID: "p-0001", Quantity: 7}, {ProductID: "p-0002", Quantity: 3}}); err != nil {
		t.Fatal(err)
	}
	if at, _ := store.lastAt.Load().(time.Time); !at.Equal(t0) {
		t.Fatalf("store got time %v, want the injected %v", at, t0)
	}
	if _, err := svc.ReserveStock(ctx, "o-1", []product.StockLine{{ProductID: "p-0003", Quantity: 50}}); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg); got != 990 {
		t.Fatalf("gauge after reserving 10 units (and a retry) = %v, want 990", got)
	}
	// Another replica's write is seen on refresh.
	if _, err := store.Store.Reserve(ctx, "o-elsewhere", []product.StockLine{{ProductID: "p-0004", Quantity: 40}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshStock(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg); got != 950 {
		t.Fatalf("gauge after refresh = %v, want 950", got)
	}
	if released, err := svc.ReleaseStock(ctx, "o-1"); err != nil || !released {
		t.Fatalf("ReleaseStock = %v, %v", released, err)
	}
	if got := gauge(t, reg); got != 960 {
		t.Fatalf("gauge after release = %v, want 960", got)
	}
	for outcome, want := range map[string]float64{"reserved": 1, "already_reserved": 1} {
		if got := counter(t, reg, "shoplab_product_reservations_total", outcome); got != want {
			t.Errorf("reservations{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

func TestReserveOutcomesAndValidation(t *testing.T) {
	svc, store, reg := newService(t, product.CatalogSpec{Seed: 1, Size: 20}, app.Options{})
	ctx := t.Context()
	// p-0001 is a low-stock product with 1 unit.
	if _, err := svc.ReserveStock(ctx, "o-1", []product.StockLine{{ProductID: "p-0001", Quantity: 2}}); !errs.Is(err, errs.OutOfStock) {
		t.Fatalf("over-reserve = %v, want out of stock", err)
	}
	if _, err := svc.ReserveStock(ctx, "o-2", []product.StockLine{{ProductID: "p-9999", Quantity: 1}}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown product = %v, want not found", err)
	}
	if _, err := svc.ReleaseStock(ctx, "o-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReserveStock(ctx, "o-3", []product.StockLine{{ProductID: "p-0010", Quantity: 1}}); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("late reserve = %v, want failed precondition", err)
	}
	before := store.reserves.Load()
	_, err := svc.ReserveStock(ctx, "o-4", []product.StockLine{{ProductID: "p-0010", Quantity: 0}})
	if errs.FieldOf(err) != "lines[0].quantity" {
		t.Fatalf("zero quantity = %v, want invalid lines[0].quantity", err)
	}
	if _, err := svc.ReleaseStock(ctx, ""); errs.FieldOf(err) != "order_id" {
		t.Fatalf("release without order id = %v, want invalid order_id", err)
	}
	if store.reserves.Load() != before {
		t.Fatal("an invalid request reached the store")
	}
	for outcome, want := range map[string]float64{"out_of_stock": 1, "not_found": 1, "released": 1, "invalid": 1} {
		if got := counter(t, reg, "shoplab_product_reservations_total", outcome); got != want {
			t.Errorf("reservations{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
	if got := counter(t, reg, "shoplab_product_releases_total", "nothing_to_release"); got != 1 {
		t.Errorf("releases{nothing_to_release} = %v, want 1", got)
	}
}

func TestListPagesAndCursor(t *testing.T) {
	svc, _, _ := newService(t, product.CatalogSpec{Seed: 1, Size: 40}, app.Options{})
	ctx := t.Context()
	first, err := svc.ListProducts(ctx, app.ListRequest{})
	if err != nil || len(first.Products) != product.DefaultLimit || first.NextCursor == "" {
		t.Fatalf("first page = %d products, cursor %q, %v; want %d and a cursor", len(first.Products), first.NextCursor, err, product.DefaultLimit)
	}
	second, err := svc.ListProducts(ctx, app.ListRequest{Cursor: first.NextCursor})
	if err != nil || len(second.Products) != 20 || second.Products[0].ID != "p-0021" {
		t.Fatalf("second page = %+v, %v", second, err)
	}
	// 40 products make exactly two pages: the second must not point at an empty third.
	if second.NextCursor != "" {
		t.Fatalf("last page has cursor %q, want none", second.NextCursor)
	}
	if _, err := svc.ListProducts(ctx, app.ListRequest{Cursor: "garbage!"}); errs.FieldOf(err) != "cursor" {
		t.Fatalf("bad cursor = %v, want invalid cursor", err)
	}
	if _, err := svc.ListProducts(ctx, app.ListRequest{Limit: 101}); errs.FieldOf(err) != "limit" {
		t.Fatalf("limit 101 = %v, want invalid limit", err)
	}
	books, err := svc.ListProducts(ctx, app.ListRequest{Category: " BOOKS ", Limit: 100})
	if err != nil || len(books.Products) == 0 {
		t.Fatalf("books = %+v, %v", books, err)
	}
	for _, p := range books.Products {
		if p.Category != "books" {
			t.Fatalf("category filter let %s (%s) through", p.ID, p.Category)
		}
	}
}

func TestSearch(t *testing.T) {
	svc, _, reg := newService(t, product.CatalogSpec{Seed: 1, Size: 300}, app.Options{})
	ctx := t.Context()
	if _, err := svc.SearchProducts(ctx, app.SearchRequest{Query: "   "}); errs.FieldOf(err) != "query" {
		t.Fatalf("blank query = %v, want invalid query", err)
	}
	page, err := svc.SearchProducts(ctx, app.SearchRequest{Query: "WIRELESS", Limit: 100})
	if err != nil || len(page.Products) == 0 {
		t.Fatalf("search wireless = %+v, %v", page, err)
	}
	for _, p := range page.Products {
		if !strings.Contains(strings.ToLower(p.Name+" "+p.Description), "wireless") {
			t.Fatalf("%s %q does not match wireless", p.ID, p.Name)
		}
	}
	if page, err := svc.SearchProducts(ctx, app.SearchRequest{Query: "xylophonequartz"}); err != nil || len(page.Products) != 0 {
		t.Fatalf("search nonsense = %+v, %v", page, err)
	}
	for outcome, want := range map[string]float64{"invalid": 1, "results": 1, "no_results": 1} {
		if got := counter(t, reg, "shoplab_product_searches_total", outcome); got != want {
			t.Errorf("searches{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

func TestStoreCallsAreBounded(t *testing.T) {
	svc, store, _ := newService(t, product.CatalogSpec{Seed: 1, Size: 10}, app.Options{OpTimeout: 50 * time.Millisecond})
	store.block = true
	start := time.Now()
	_, err := svc.ReserveStock(t.Context(), "o-1", []product.StockLine{{ProductID: "p-0007", Quantity: 1}})
	if !errs.Is(err, errs.DeadlineExceeded) {
		t.Fatalf("blocked store = %v, want deadline exceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("bounded call took %v", elapsed)
	}
}

func TestSeedRefusesBadSpec(t *testing.T) {
	svc := app.New(memory.New(), app.Options{})
	if _, err := svc.SeedCatalog(t.Context(), product.CatalogSpec{StockMin: 9, StockMax: 1}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad spec = %v, want invalid", err)
	}
}
