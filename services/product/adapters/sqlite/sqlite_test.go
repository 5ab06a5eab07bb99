package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/adapters/sqlite"
	"github.com/shoplab/shoplab/services/product/app"
	"github.com/shoplab/shoplab/services/product/producttest"
)

func mustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	producttest.RunStoreContract(t, func(t *testing.T) app.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "product.db"))
	})
}

// TestReopenKeepsStockAndReservations checks what a restart relies on: the
// migrations apply once, the catalog is not seeded again, and reservations
// and tombstones survive.
func TestReopenKeepsStockAndReservations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "product.db")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := mustOpen(t, path)
	producttest.MustSeed(t, s, producttest.Fixture())
	if _, err := s.Reserve(ctx, "o-1", []product.StockLine{{ProductID: "p-a", Quantity: 3}}, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, "o-gone", at); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	if seeded, err := s.SeedCatalog(ctx, producttest.Fixture()); err != nil || seeded {
		t.Fatalf("SeedCatalog after restart = %v, %v; want kept catalog", seeded, err)
	}
	p, err := s.GetProduct(ctx, "p-a")
	if err != nil || p.Stock != 7 {
		t.Fatalf("p-a after restart = %+v, %v; want 7 units", p, err)
	}
	res, err := s.Reserve(ctx, "o-1", []product.StockLine{{ProductID: "p-a", Quantity: 1}}, at)
	if err != nil || !res.AlreadyReserved || res.Units() != 3 {
		t.Fatalf("retry after restart = %+v, %v; want the first reservation", res, err)
	}
	if _, err := s.Reserve(ctx, "o-gone", []product.StockLine{{ProductID: "p-a", Quantity: 1}}, at); err == nil {
		t.Fatal("reserve of a released order succeeded after restart")
	}
}

func benchStore(b *testing.B, stock int64) *sqlite.Store {
	b.Helper()
	s := mustOpen(b, filepath.Join(b.TempDir(), "product.db"))
	catalog, err := product.GenerateCatalog(product.CatalogSpec{Seed: 1, StockMin: stock, StockMax: stock, LowStockCount: -1})
	if err != nil {
		b.Fatal(err)
	}
	producttest.MustSeed(b, s, catalog)
	return s
}

func BenchmarkListProducts(b *testing.B) {
	s := benchStore(b, 100)
	ctx := context.Background()
	queries := map[string]product.Query{
		"all":      {Limit: product.DefaultLimit + 1},
		"category": {Category: "books", Limit: product.DefaultLimit + 1},
		"search":   {Words: []string{"wireless"}, Limit: product.DefaultLimit + 1},
	}
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				q := q
				q.AfterID = product.ProductID(i%250, 300)
				if _, err := s.ListProducts(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReserveStock(b *testing.B) {
	// Enough stock that no reservation is refused, whatever b.N is.
	s := benchStore(b, product.MaxStock/1000)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			lines := []product.StockLine{
				{ProductID: product.ProductID(i%300, 300), Quantity: 1},
				{ProductID: product.ProductID((i+150)%300, 300), Quantity: 2},
			}
			if _, err := s.Reserve(ctx, fmt.Sprintf("serial-%d", i), lines, at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				lines := []product.StockLine{{ProductID: product.ProductID(i%300, 300), Quantity: 1}}
				if _, err := s.Reserve(ctx, fmt.Sprintf("parallel-%d", i), lines, at); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
