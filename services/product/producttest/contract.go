// Package producttest is the contract suite every adapter of the product
// Store port runs: SQLite, DynamoDB and the in-memory store. The
// suite drives only the port, so an adapter passes by behaving, not by
// sharing code.
package producttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/app"
)

// NewStore returns an empty store for one test; it registers its own cleanup.
type NewStore func(t *testing.T) app.Store

// at is the time the suite reserves and releases at; stores only record it.
var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Fixture is a small hand-written catalog whose names and descriptions
// exercise search: mixed case, matches only in the description, and the
// LIKE wildcards % and _ that must match literally.
func Fixture() []product.Product {
	return []product.Product{
		{ID: "p-a", Name: "Voltix Wireless Headphones", Description: "Lightweight headphones for travel.", Category: "electronics", PriceCents: 12999, Currency: "USD", Stock: 10},
		{ID: "p-b", Name: "Nimbus WIRELESS Speaker", Description: "Reliable speaker for the Kitchen.", Category: "electronics", PriceCents: 4999, Currency: "USD", Stock: 5},
		{ID: "p-c", Name: "Hearthstone Ceramic Mug Set", Description: "Cosy mugs, 100% stoneware_glaze.", Category: "home", PriceCents: 2599, Currency: "USD", Stock: 3},
		{ID: "p-d", Name: "Brickworks Wooden Train Set", Description: "Sturdy train set for ages 3 and up.", Category: "toys", PriceCents: 3999, Currency: "USD", Stock: 1},
		{ID: "p-e", Name: "The Quiet Garden", Description: "A memoir written before wireless anything.", Category: "books", PriceCents: 1499, Currency: "EUR", Stock: 20},
	}
}

// MustSeed seeds products into s and fails the test unless it seeded.
func MustSeed(tb testing.TB, s app.Store, products []product.Product) {
	tb.Helper()
	seeded, err := s.SeedCatalog(context.Background(), products)
	if err != nil || !seeded {
		tb.Fatalf("SeedCatalog = %v, %v; want seeded", seeded, err)
	}
}

// testContext bounds one test. The bound is generous because the DynamoDB
// run shares one single-threaded moto_server with every other suite.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// RunStoreContract runs the whole suite against stores from newStore.
func RunStoreContract(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"SeedOnlyWhenEmpty", testSeedOnlyWhenEmpty},
		{"SeedRefusesBadCatalog", testSeedRefusesBadCatalog},
		{"GetProduct", testGetProduct},
		{"PagingCoversEveryProductOnce", testPagingCoversEveryProductOnce},
		{"CategoryFilter", testCategoryFilter},
		{"Search", testSearch},
		{"ReserveCarriesSaleData", testReserveCarriesSaleData},
		{"ReserveIsIdempotentFirstWins", testReserveIdempotent},
		{"ReserveAllOrNone", testReserveAllOrNone},
		{"ReleaseOnce", testReleaseOnce},
		{"LateReserveAfterReleaseRefused", testLateReserveRefused},
		{"ConcurrentReservationsNeverOversell", testConcurrentNeverOversell},
		{"ConcurrentReservationsOnTheLastUnitOneWins", testLastUnitOneWins},
		{"ConcurrentRetriesOfOneOrder", testConcurrentRetries},
		{"ReserveRacingRelease", testReserveRacingRelease},
		{"InventoryInvariantUnderConcurrency", testInventoryInvariantUnderConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore) })
	}
}

func mustStock(t *testing.T, s app.Store, id string) int64 {
	t.Helper()
	p, err := s.GetProduct(testContext(t), id)
	if err != nil {
		t.Fatalf("GetProduct(%s): %v", id, err)
	}
	return p.Stock
}

func wantStock(t *testing.T, s app.Store, want map[string]int64) {
	t.Helper()
	for id, n := range want {
		if got := mustStock(t, s, id); got != n {
			t.Errorf("stock of %s = %d, want %d", id, got, n)
		}
	}
}

func mustInventory(t *testing.T, s app.Store) product.Inventory {
	t.Helper()
	inv, err := s.Inventory(testContext(t))
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if err := inv.Check(); err != nil {
		t.Fatalf("inventory invariant broken: %v", err)
	}
	return inv
}

func inventoryLine(t *testing.T, inv product.Inventory, id string) product.InventoryLine {
	t.Helper()
	for _, l := range inv.Lines {
		if l.ProductID == id {
			return l
		}
	}
	t.Fatalf("inventory has no line for %s", id)
	return product.InventoryLine{}
}

func wantCode(t *testing.T, err error, code errs.Code, mention string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	if mention != "" && !strings.Contains(errs.MessageOf(err), mention) {
		t.Fatalf("message %q does not mention %q", errs.MessageOf(err), mention)
	}
}

func lines(pairs ...any) []product.StockLine {
	var out []product.StockLine
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, product.StockLine{ProductID: pairs[i].(string), Quantity: pairs[i+1].(int)})
	}
	return out
}

func testSeedOnlyWhenEmpty(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	if _, err := s.Reserve(ctx, "o-seed", lines("p-a", 2), at); err != nil {
		t.Fatal(err)
	}
	other := Fixture()
	other[0].Stock = 999
	other = append(other, product.Product{ID: "p-z", Name: "Z", Category: "toys", PriceCents: 1, Currency: "USD", Stock: 1})
	seeded, err := s.SeedCatalog(ctx, other)
	if err != nil || seeded {
		t.Fatalf("second SeedCatalog = %v, %v; want false (catalog present)", seeded, err)
	}
	wantStock(t, s, map[string]int64{"p-a": 8})
	if _, err := s.GetProduct(ctx, "p-z"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("product of the ignored seed exists: %v", err)
	}
}

func testSeedRefusesBadCatalog(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	dup := append(Fixture(), Fixture()[0])
	if seeded, err := s.SeedCatalog(ctx, dup); err == nil || seeded {
		t.Fatalf("SeedCatalog with a duplicate id = %v, %v; want an error", seeded, err)
	}
	bad := Fixture()
	bad[2].Stock = -1
	if seeded, err := s.SeedCatalog(ctx, bad); err == nil || seeded {
		t.Fatalf("SeedCatalog with negative stock = %v, %v; want an error", seeded, err)
	}
	// Nothing was half-loaded: a good seed still finds the catalog empty.
	MustSeed(t, s, Fixture())
}

func testGetProduct(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	for _, want := range Fixture() {
		got, err := s.GetProduct(ctx, want.ID)
		if err != nil || got != want {
			t.Fatalf("GetProduct(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	_, err := s.GetProduct(ctx, "p-nope")
	wantCode(t, err, errs.NotFound, "p-nope")
}

func generated(t *testing.T, size int) []product.Product {
	t.Helper()
	c, err := product.GenerateCatalog(product.CatalogSpec{Seed: 11, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pageAll walks q's pages with the store's own AfterID paging.
func pageAll(t *testing.T, s app.Store, q product.Query) []string {
	t.Helper()
	var ids []string
	for range 10_000 {
		page, err := s.ListProducts(testContext(t), q)
		if err != nil {
			t.Fatalf("ListProducts(%+v): %v", q, err)
		}
		if len(page) > q.Limit {
			t.Fatalf("ListProducts(%+v) returned %d > limit", q, len(page))
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if len(page) < q.Limit {
			return ids
		}
		q.AfterID = page[len(page)-1].ID
	}
	t.Fatal("paging did not end")
	return nil
}

func testPagingCoversEveryProductOnce(t *testing.T, newStore NewStore) {
	s := newStore(t)
	catalog := generated(t, 137)
	MustSeed(t, s, catalog)
	want := make([]string, len(catalog))
	for i, p := range catalog {
		want[i] = p.ID
	}
	for _, limit := range []int{1, 7, 50, 137, 500} {
		got := pageAll(t, s, product.Query{Limit: limit})
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: paged %d ids, want every one of %d exactly once in id order", limit, len(got), len(want))
		}
	}
	// AfterID need not be an existing id.
	page, err := s.ListProducts(testContext(t), product.Query{AfterID: "p-0050x", Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != "p-0051" || page[1].ID != "p-0052" {
		t.Fatalf("page after p-0050x = %v, %v; want p-0051, p-0052", page, err)
	}
	page, err = s.ListProducts(testContext(t), product.Query{AfterID: "p-0137", Limit: 5})
	if err != nil || len(page) != 0 {
		t.Fatalf("page after the last id = %v, %v; want empty", page, err)
	}
}

func testCategoryFilter(t *testing.T, newStore NewStore) {
	s := newStore(t)
	catalog := generated(t, 137)
	MustSeed(t, s, catalog)
	for _, cat := range product.Categories() {
		var want []string
		for _, p := range catalog {
			if p.Category == cat {
				want = append(want, p.ID)
			}
		}
		got := pageAll(t, s, product.Query{Category: cat, Limit: 4})
		if !slices.Equal(got, want) {
			t.Errorf("category %s: got %v, want %v", cat, got, want)
		}
	}
	if got := pageAll(t, s, product.Query{Category: "spaceships", Limit: 10}); len(got) != 0 {
		t.Errorf("unknown category: got %v, want none", got)
	}
}

func testSearch(t *testing.T, newStore NewStore) {
	s := newStore(t)
	MustSeed(t, s, Fixture())
	tests := []struct {
		category string
		words    []string
		want     []string
	}{
		{"", []string{"wireless"}, []string{"p-a", "p-b", "p-e"}}, // any case, name or description
		{"", []string{"wireless", "speaker"}, []string{"p-b"}},    // every word must match
		{"", []string{"kitchen"}, []string{"p-b"}},                // description only, upper-case there
		{"", []string{"train", "sturdy"}, []string{"p-d"}},        // one word in each field
		{"", []string{"less"}, []string{"p-a", "p-b", "p-e"}},     // substrings match
		{"", []string{"100%"}, []string{"p-c"}},                   // % is literal
		{"", []string{"%"}, []string{"p-c"}},
		{"", []string{"_"}, []string{"p-c"}}, // _ is literal
		{"", []string{"headphoneslightweight"}, nil},
		{"", []string{"zebra"}, nil},
		{"electronics", []string{"wireless"}, []string{"p-a", "p-b"}},
		{"books", []string{"wireless"}, []string{"p-e"}},
		{"toys", []string{"wireless"}, nil},
	}
	for _, tt := range tests {
		got := pageAll(t, s, product.Query{Category: tt.category, Words: tt.words, Limit: 1})
		if !slices.Equal(got, tt.want) {
			t.Errorf("search %q in %q = %v, want %v", tt.words, tt.category, got, tt.want)
		}
	}
	// Returned products carry their current stock.
	page, err := s.ListProducts(testContext(t), product.Query{Words: []string{"train"}, Limit: 5})
	if err != nil || len(page) != 1 || page[0] != Fixture()[3] {
		t.Fatalf("search train = %+v, %v", page, err)
	}
}

func testReserveCarriesSaleData(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	res, err := s.Reserve(ctx, "o-1", lines("p-e", 3, "p-a", 2), at)
	if err != nil {
		t.Fatal(err)
	}
	want := []product.ReservedLine{
		{ProductID: "p-e", Name: "The Quiet Garden", Category: "books", Quantity: 3, UnitPriceCents: 1499, Currency: "EUR"},
		{ProductID: "p-a", Name: "Voltix Wireless Headphones", Category: "electronics", Quantity: 2, UnitPriceCents: 12999, Currency: "USD"},
	}
	if res.AlreadyReserved || !slices.Equal(res.Lines, want) {
		t.Fatalf("Reserve = %+v; want lines %+v in request order, not already reserved", res, want)
	}
	wantStock(t, s, map[string]int64{"p-e": 17, "p-a": 8})
	inv := mustInventory(t, s)
	if l := inventoryLine(t, inv, "p-a"); l != (product.InventoryLine{ProductID: "p-a", Initial: 10, Available: 8, Reserved: 2}) {
		t.Fatalf("inventory p-a = %+v", l)
	}
	if inv.ActiveReservations != 1 {
		t.Fatalf("active reservations = %d, want 1", inv.ActiveReservations)
	}
}

func testReserveIdempotent(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	first, err := s.Reserve(ctx, "o-1", lines("p-a", 2), at)
	if err != nil {
		t.Fatal(err)
	}
	for _, retry := range [][]product.StockLine{lines("p-a", 2), lines("p-b", 3), lines("p-a", 9, "p-c", 1)} {
		again, err := s.Reserve(ctx, "o-1", retry, at.Add(time.Second))
		if err != nil {
			t.Fatalf("retry %v: %v", retry, err)
		}
		if !again.AlreadyReserved || !slices.Equal(again.Lines, first.Lines) {
			t.Fatalf("retry %v = %+v; want the first reservation %+v, already reserved", retry, again, first.Lines)
		}
	}
	wantStock(t, s, map[string]int64{"p-a": 8, "p-b": 5, "p-c": 3})
	if inv := mustInventory(t, s); inv.ActiveReservations != 1 {
		t.Fatalf("active reservations = %d, want 1", inv.ActiveReservations)
	}
}

func testReserveAllOrNone(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	_, err := s.Reserve(ctx, "o-2", lines("p-a", 1, "p-c", 1, "p-d", 2), at)
	wantCode(t, err, errs.OutOfStock, "p-d")
	_, err = s.Reserve(ctx, "o-2", lines("p-a", 1, "p-missing", 1), at)
	wantCode(t, err, errs.NotFound, "p-missing")
	wantStock(t, s, map[string]int64{"p-a": 10, "p-c": 3, "p-d": 1})
	if inv := mustInventory(t, s); inv.ActiveReservations != 0 {
		t.Fatalf("active reservations after refusals = %d, want 0", inv.ActiveReservations)
	}
	// A refused reservation leaves no trace: the order may try again.
	res, err := s.Reserve(ctx, "o-2", lines("p-a", 1, "p-d", 1), at)
	if err != nil || res.AlreadyReserved {
		t.Fatalf("Reserve after refusals = %+v, %v; want a fresh reservation", res, err)
	}
	wantStock(t, s, map[string]int64{"p-a": 9, "p-d": 0})
	// The last unit is gone.
	_, err = s.Reserve(ctx, "o-3", lines("p-d", 1), at)
	wantCode(t, err, errs.OutOfStock, "p-d")
}

func testReleaseOnce(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	reserved, err := s.Reserve(ctx, "o-3", lines("p-b", 5, "p-c", 2), at)
	if err != nil {
		t.Fatal(err)
	}
	wantStock(t, s, map[string]int64{"p-b": 0, "p-c": 1})
	rel, err := s.Release(ctx, "o-3", at)
	if err != nil || !rel.Released || !slices.Equal(rel.Lines, reserved.Lines) || rel.Units() != 7 {
		t.Fatalf("Release = %+v, %v; want released with the reserved lines", rel, err)
	}
	wantStock(t, s, map[string]int64{"p-b": 5, "p-c": 3})
	for range 3 {
		rel, err := s.Release(ctx, "o-3", at)
		if err != nil || rel.Released || len(rel.Lines) != 0 {
			t.Fatalf("second Release = %+v, %v; want nothing released", rel, err)
		}
	}
	wantStock(t, s, map[string]int64{"p-b": 5, "p-c": 3})
	if inv := mustInventory(t, s); inv.ActiveReservations != 0 {
		t.Fatalf("active reservations = %d, want 0", inv.ActiveReservations)
	}
}

func testLateReserveRefused(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	// Compensation ran before the reservation arrived (a retried request).
	rel, err := s.Release(ctx, "o-late", at)
	if err != nil || rel.Released {
		t.Fatalf("Release without reservation = %+v, %v; want nothing released", rel, err)
	}
	_, err = s.Reserve(ctx, "o-late", lines("p-a", 4), at)
	wantCode(t, err, errs.FailedPrecondition, "reservation released")
	// A reservation that was released is refused the same way.
	if _, err := s.Reserve(ctx, "o-back", lines("p-a", 1), at); err != nil {
		t.Fatal(err)
	}
	if rel, err := s.Release(ctx, "o-back", at); err != nil || !rel.Released {
		t.Fatalf("Release = %+v, %v", rel, err)
	}
	_, err = s.Reserve(ctx, "o-back", lines("p-a", 1), at)
	wantCode(t, err, errs.FailedPrecondition, "reservation released")
	wantStock(t, s, map[string]int64{"p-a": 10})
	if rel, err := s.Release(ctx, "o-late", at); err != nil || rel.Released {
		t.Fatalf("Release of the tombstone = %+v, %v; want nothing", rel, err)
	}
	if inv := mustInventory(t, s); inv.ActiveReservations != 0 {
		t.Fatalf("active reservations = %d, want 0 (tombstones are not reservations)", inv.ActiveReservations)
	}
}

func testConcurrentNeverOversell(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, []product.Product{{ID: "p-hot", Name: "Hot Item", Category: "toys", PriceCents: 100, Currency: "USD", Stock: 10}})
	const buyers = 50
	var wg sync.WaitGroup
	results := make(chan error, buyers)
	for i := range buyers {
		wg.Go(func() {
			_, err := s.Reserve(ctx, fmt.Sprintf("o-%02d", i), lines("p-hot", 1), at)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	sold, refused := 0, 0
	for err := range results {
		switch {
		case err == nil:
			sold++
		case errs.Is(err, errs.OutOfStock):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if sold != 10 || refused != buyers-10 {
		t.Fatalf("sold %d, refused %d; want 10 sold and %d refused", sold, refused, buyers-10)
	}
	wantStock(t, s, map[string]int64{"p-hot": 0})
	inv := mustInventory(t, s)
	if l := inventoryLine(t, inv, "p-hot"); l.Reserved != 10 || inv.ActiveReservations != 10 {
		t.Fatalf("inventory %+v, %d active; want 10 reserved by 10 orders", l, inv.ActiveReservations)
	}
}

// testLastUnitOneWins races orders of two lines for the last unit of one
// product, each also taking a plentiful one: exactly one order wins, and
// the losers take nothing of the plentiful product either (all or none).
func testLastUnitOneWins(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture()) // p-d has 1 unit, p-e 20
	const buyers = 8
	var wg sync.WaitGroup
	errc := make(chan error, buyers)
	for i := range buyers {
		wg.Go(func() {
			_, err := s.Reserve(ctx, fmt.Sprintf("o-last-%d", i), lines("p-e", 2, "p-d", 1), at)
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	won := 0
	for err := range errc {
		switch {
		case err == nil:
			won++
		case errs.Is(err, errs.OutOfStock):
			wantCode(t, err, errs.OutOfStock, "p-d")
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d orders got the last unit, want exactly 1", won)
	}
	wantStock(t, s, map[string]int64{"p-d": 0, "p-e": 18})
	if inv := mustInventory(t, s); inv.ActiveReservations != 1 {
		t.Fatalf("active reservations = %d, want 1", inv.ActiveReservations)
	}
}

func testConcurrentRetries(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	const retries = 20
	var wg sync.WaitGroup
	results := make(chan product.ReserveResult, retries)
	for range retries {
		wg.Go(func() {
			res, err := s.Reserve(ctx, "o-retry", lines("p-a", 2), at)
			if err != nil {
				t.Errorf("Reserve: %v", err)
				return
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	fresh := 0
	for res := range results {
		if !res.AlreadyReserved {
			fresh++
		}
		if res.Units() != 2 {
			t.Errorf("lines = %+v, want 2 units of p-a", res.Lines)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d calls reserved afresh, want exactly 1", fresh)
	}
	wantStock(t, s, map[string]int64{"p-a": 8})
}

// testReserveRacingRelease races a reservation with the compensation of the
// same order, as a retry and a rollback do under chaos. Whichever wins, the
// order must end up holding nothing.
func testReserveRacingRelease(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	MustSeed(t, s, Fixture())
	for i := range 30 {
		order := fmt.Sprintf("o-race-%d", i)
		var wg sync.WaitGroup
		var resErr error
		var rel product.ReleaseResult
		wg.Go(func() { _, resErr = s.Reserve(ctx, order, lines("p-e", 1), at) })
		wg.Go(func() {
			var err error
			if rel, err = s.Release(ctx, order, at); err != nil {
				t.Errorf("Release(%s): %v", order, err)
			}
		})
		wg.Wait()
		switch {
		case resErr == nil && !rel.Released:
			t.Fatalf("%s: reservation succeeded but the release gave nothing back", order)
		case resErr != nil && !errs.Is(resErr, errs.FailedPrecondition):
			t.Fatalf("%s: reserve failed with %v, want success or reservation released", order, resErr)
		}
		if _, err := s.Reserve(ctx, order, lines("p-e", 1), at); !errs.Is(err, errs.FailedPrecondition) {
			t.Fatalf("%s: reserve after the race = %v, want reservation released", order, err)
		}
	}
	wantStock(t, s, map[string]int64{"p-e": 20})
	if inv := mustInventory(t, s); inv.ActiveReservations != 0 {
		t.Fatalf("active reservations = %d, want 0", inv.ActiveReservations)
	}
}

// testInventoryInvariantUnderConcurrency runs buyers that reserve and
// sometimes release against a scarce catalog while a reader checks every
// inventory snapshot, then reconciles the final ledger against what the
// buyers know they hold.
func testInventoryInvariantUnderConcurrency(t *testing.T, newStore NewStore) {
	ctx := testContext(t)
	s := newStore(t)
	catalog, err := product.GenerateCatalog(product.CatalogSpec{Seed: 5, Size: 12, StockMin: 5, StockMax: 15, LowStockCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	MustSeed(t, s, catalog)

	const buyers, opsPerBuyer = 8, 40
	held := make([]map[string]int64, buyers) // per buyer: product -> units it still holds
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snapshots int
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		// Paced, so that on a one-thread emulator (moto) the reader's whole
		// table reads do not starve the buyers; it still checks dozens of
		// snapshots taken mid-run.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			inv, err := s.Inventory(ctx)
			if err != nil {
				t.Errorf("Inventory: %v", err)
				return
			}
			if err := inv.Check(); err != nil {
				t.Errorf("snapshot %d: %v", snapshots, err)
				return
			}
			snapshots++
		}
	})
	for b := range buyers {
		held[b] = map[string]int64{}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(b), 99))
			var mine []string
			reservedLines := map[string][]product.ReservedLine{}
			for op := range opsPerBuyer {
				if len(mine) > 0 && rng.IntN(3) == 0 {
					order := mine[rng.IntN(len(mine))]
					rel, err := s.Release(ctx, order, at)
					if err != nil {
						t.Errorf("Release(%s): %v", order, err)
						return
					}
					if rel.Released {
						for _, l := range reservedLines[order] {
							held[b][l.ProductID] -= int64(l.Quantity)
						}
					}
					continue
				}
				order := fmt.Sprintf("o-%d-%d", b, op)
				var req []product.StockLine
				for _, i := range rng.Perm(len(catalog))[:1+rng.IntN(3)] {
					req = append(req, product.StockLine{ProductID: catalog[i].ID, Quantity: 1 + rng.IntN(3)})
				}
				res, err := s.Reserve(ctx, order, req, at)
				switch {
				case errs.Is(err, errs.OutOfStock):
					continue
				case err != nil:
					t.Errorf("Reserve(%s): %v", order, err)
					return
				}
				mine = append(mine, order)
				reservedLines[order] = res.Lines
				for _, l := range res.Lines {
					held[b][l.ProductID] += int64(l.Quantity)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readerWG.Wait()
	if t.Failed() {
		return
	}
	inv := mustInventory(t, s)
	for _, p := range catalog {
		var want int64
		for b := range buyers {
			want += held[b][p.ID]
		}
		l := inventoryLine(t, inv, p.ID)
		if l.Initial != p.Stock || l.Reserved != want {
			t.Errorf("%s: inventory %+v; want initial %d and %d reserved by the buyers", p.ID, l, p.Stock, want)
		}
	}
	t.Logf("%d consistent inventory snapshots taken during the run", snapshots)
}
