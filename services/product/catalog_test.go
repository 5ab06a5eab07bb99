package product_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/product"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustCatalog(tb testing.TB, spec product.CatalogSpec) []product.Product {
	tb.Helper()
	c, err := product.GenerateCatalog(spec)
	if err != nil {
		tb.Fatalf("GenerateCatalog(%+v): %v", spec, err)
	}
	return c
}

func TestCatalogSameSeedSameCatalog(t *testing.T) {
	a := mustCatalog(t, product.CatalogSpec{Seed: 7})
	b := mustCatalog(t, product.CatalogSpec{Seed: 7})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two catalogs of seed 7 differ")
	}
	c := mustCatalog(t, product.CatalogSpec{Seed: 8})
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/10 {
		t.Fatalf("seeds 7 and 8 share %d of %d products; want different catalogs", same, len(a))
	}
}

func TestCatalogShape(t *testing.T) {
	spec := product.CatalogSpec{Seed: 1}
	c := mustCatalog(t, spec)
	if len(c) != product.DefaultCatalogSize {
		t.Fatalf("size = %d, want %d", len(c), product.DefaultCatalogSize)
	}
	low, err := product.LowStockIDs(spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"p-0001", "p-0002", "p-0003", "p-0004", "p-0005"}; !slices.Equal(low, want) {
		t.Fatalf("LowStockIDs = %v, want %v", low, want)
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	perCategory := map[string]int{}
	for i, p := range c {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("p-%04d", i+1); p.ID != want {
			t.Fatalf("product %d id = %q, want %q", i, p.ID, want)
		}
		if ids[p.ID] || names[p.Name] {
			t.Fatalf("duplicate id or name: %+v", p)
		}
		ids[p.ID], names[p.Name] = true, true
		perCategory[p.Category]++
		if p.PriceCents <= 0 || p.PriceCents%100 != 99 || p.Currency != product.Currency {
			t.Errorf("%s: price %d %s, want a positive .99 USD price", p.ID, p.PriceCents, p.Currency)
		}
		if !strings.HasSuffix(p.Description, ".") || len(p.Description) < 20 {
			t.Errorf("%s: implausible description %q", p.ID, p.Description)
		}
		if i < len(low) {
			if p.Stock < 1 || p.Stock > 3 {
				t.Errorf("low-stock %s has %d units, want 1..3", p.ID, p.Stock)
			}
		} else if p.Stock < product.DefaultStockMin || p.Stock > product.DefaultStockMax {
			t.Errorf("%s has %d units, want %d..%d", p.ID, p.Stock, product.DefaultStockMin, product.DefaultStockMax)
		}
	}
	for _, cat := range product.Categories() {
		if perCategory[cat] < 10 {
			t.Errorf("category %s has %d products, want a fair share", cat, perCategory[cat])
		}
	}
}

func TestCatalogStockOverrides(t *testing.T) {
	base := mustCatalog(t, product.CatalogSpec{Seed: 3, Size: 50})
	big := mustCatalog(t, product.CatalogSpec{Seed: 3, Size: 50, StockMin: 10_000, StockMax: 20_000, LowStockCount: -1})
	for i := range big {
		if big[i].Stock < 10_000 || big[i].Stock > 20_000 {
			t.Fatalf("%s: stock %d outside 10000..20000", big[i].ID, big[i].Stock)
		}
		// Only stock changes with the stock settings.
		a, b := base[i], big[i]
		a.Stock, b.Stock = 0, 0
		if a != b {
			t.Fatalf("product %d changed beyond stock:\n%+v\n%+v", i, base[i], big[i])
		}
	}
	if ids, _ := product.LowStockIDs(product.CatalogSpec{LowStockCount: -1}); len(ids) != 0 {
		t.Fatalf("LowStockIDs with none = %v", ids)
	}
}

func TestCatalogSpecRefused(t *testing.T) {
	for _, spec := range []product.CatalogSpec{
		{Size: -1},
		{Size: product.MaxCatalogSize + 1},
		{StockMin: 10, StockMax: 5},
		{StockMin: 0, StockMax: 5},
		{StockMin: 1, StockMax: product.MaxStock + 1},
		{Size: 3, LowStockCount: 4},
	} {
		if _, err := product.GenerateCatalog(spec); err == nil {
			t.Errorf("GenerateCatalog(%+v) = nil error, want refusal", spec)
		}
	}
}

func TestProductIDWidensForBigCatalogs(t *testing.T) {
	if got := product.ProductID(0, 300); got != "p-0001" {
		t.Fatalf("ProductID(0, 300) = %q", got)
	}
	if got := product.ProductID(41, 20000); got != "p-00042" {
		t.Fatalf("ProductID(41, 20000) = %q", got)
	}
}

// TestCatalogGolden pins the catalog of one seed: scenarios and saved runs
// name products by id and expect their prices, so a change must be deliberate
// (go test ./services/product -run Golden -update).
func TestCatalogGolden(t *testing.T) {
	c := mustCatalog(t, product.CatalogSpec{Seed: 42})
	var b strings.Builder
	for _, p := range c[:12] {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", p.ID, p.Category, p.Name, p.PriceCents, p.Currency, p.Stock, p.Description)
	}
	path := filepath.Join("testdata", "catalog-seed42.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("catalog of seed 42 changed; if deliberate, run with -update.\ngot:\n%s\nwant:\n%s", b.String(), want)
	}
}
