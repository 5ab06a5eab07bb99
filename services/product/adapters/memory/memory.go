// Package memory is an in-process product Store behind one mutex. It runs
// the same contract suite as the real adapters, which keeps the contract
// honest about what is SQL-specific, and it backs fast tests of the layers
// above.
package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/product"
)

type item struct {
	p       product.Product // p.Stock is the available stock
	initial int64
	search  string
}

type reservation struct {
	released bool
	lines    []product.ReservedLine
}

// Store is the in-memory product store.
type Store struct {
	mu           sync.Mutex
	items        map[string]*item
	ids          []string // sorted
	reservations map[string]*reservation
}

// New returns an empty store.
func New() *Store {
	return &Store{items: map[string]*item{}, reservations: map[string]*reservation{}}
}

// Ping always succeeds unless ctx has ended.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// SeedCatalog inserts products if the catalog is empty.
func (s *Store) SeedCatalog(ctx context.Context, products []product.Product) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	seen := make(map[string]bool, len(products))
	for _, p := range products {
		if err := p.Validate(); err != nil {
			return false, errs.Wrap(errs.Invalid, err, "seed catalog: invalid product")
		}
		if seen[p.ID] {
			return false, errs.E(errs.Invalid, "seed catalog: duplicate product id %s", p.ID)
		}
		seen[p.ID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) > 0 {
		return false, nil
	}
	for _, p := range products {
		s.items[p.ID] = &item{p: p, initial: p.Stock, search: product.SearchText(p)}
		s.ids = append(s.ids, p.ID)
	}
	slices.Sort(s.ids)
	return true, nil
}

// GetProduct returns one product, or errs.NotFound.
func (s *Store) GetProduct(ctx context.Context, id string) (product.Product, error) {
	if err := ctx.Err(); err != nil {
		return product.Product{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok {
		return product.Product{}, errs.E(errs.NotFound, "product %s not found", id)
	}
	return it.p, nil
}

// ListProducts returns the products q selects, in id order.
func (s *Store) ListProducts(ctx context.Context, q product.Query) ([]product.Product, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Limit < 1 {
		return nil, errs.InvalidField("limit", "limit must be at least 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start, found := slices.BinarySearch(s.ids, q.AfterID)
	if found {
		start++
	}
	var out []product.Product
	for _, id := range s.ids[start:] {
		it := s.items[id]
		if q.Category != "" && it.p.Category != q.Category {
			continue
		}
		if !containsAll(it.search, q.Words) {
			continue
		}
		out = append(out, it.p)
		if len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func containsAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// Reserve takes the lines' units for orderID, all or none.
func (s *Store) Reserve(ctx context.Context, orderID string, lines []product.StockLine, _ time.Time) (product.ReserveResult, error) {
	if err := ctx.Err(); err != nil {
		return product.ReserveResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reservations[orderID]; ok {
		if r.released {
			return product.ReserveResult{}, errs.E(errs.FailedPrecondition,
				"reservation released: order %s was released before, so it cannot reserve again", orderID)
		}
		return product.ReserveResult{Lines: slices.Clone(r.lines), AlreadyReserved: true}, nil
	}
	// Check every line before taking anything: all or none.
	out := make([]product.ReservedLine, 0, len(lines))
	for _, l := range lines {
		it, ok := s.items[l.ProductID]
		if !ok {
			return product.ReserveResult{}, errs.E(errs.NotFound, "product %s not found", l.ProductID)
		}
		if it.p.Stock < int64(l.Quantity) {
			return product.ReserveResult{}, errs.E(errs.OutOfStock, "product %s has %d units available, %d requested",
				l.ProductID, it.p.Stock, l.Quantity)
		}
		out = append(out, product.ReservedLine{
			ProductID: l.ProductID, Name: it.p.Name, Category: it.p.Category, Quantity: l.Quantity,
			UnitPriceCents: it.p.PriceCents, Currency: it.p.Currency,
		})
	}
	for _, l := range lines {
		s.items[l.ProductID].p.Stock -= int64(l.Quantity)
	}
	s.reservations[orderID] = &reservation{lines: out}
	return product.ReserveResult{Lines: slices.Clone(out)}, nil
}

// Release gives an active reservation's units back exactly once, or leaves
// a tombstone when the order never reserved.
func (s *Store) Release(ctx context.Context, orderID string, _ time.Time) (product.ReleaseResult, error) {
	if err := ctx.Err(); err != nil {
		return product.ReleaseResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reservations[orderID]
	if !ok {
		s.reservations[orderID] = &reservation{released: true}
		return product.ReleaseResult{}, nil
	}
	if r.released {
		return product.ReleaseResult{}, nil
	}
	for _, l := range r.lines {
		s.items[l.ProductID].p.Stock += int64(l.Quantity)
	}
	r.released = true
	return product.ReleaseResult{Released: true, Lines: slices.Clone(r.lines)}, nil
}

// Inventory reads every product's ledger under the lock, so at one instant.
func (s *Store) Inventory(ctx context.Context) (product.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return product.Inventory{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := map[string]int64{}
	var inv product.Inventory
	for _, r := range s.reservations {
		if r.released {
			continue
		}
		inv.ActiveReservations++
		for _, l := range r.lines {
			held[l.ProductID] += int64(l.Quantity)
		}
	}
	inv.Lines = make([]product.InventoryLine, 0, len(s.ids))
	for _, id := range s.ids {
		it := s.items[id]
		inv.Lines = append(inv.Lines, product.InventoryLine{ProductID: id, Initial: it.initial, Available: it.p.Stock, Reserved: held[id]})
	}
	return inv, nil
}
