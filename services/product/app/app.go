// Package app holds the product unit's use cases: reading and searching the
// catalog, reserving and releasing stock per order, and the inventory ledger.
// It owns the Store port that adapters implement.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/product"
)

// Store keeps the catalog, the stock and the reservations. Each method is one
// atomic store operation, so that an adapter over a key-value store can map
// it to a single conditional write or transaction (DynamoDB
// TransactWriteItems), and the producttest contract suite defines the
// behaviour every adapter must show.
type Store interface {
	// SeedCatalog inserts products, each with its Stock as the initial
	// stock, only if the catalog is empty; it reports whether it did. A
	// restart therefore keeps the stock that was sold.
	SeedCatalog(ctx context.Context, products []product.Product) (bool, error)
	// GetProduct returns a product with its available stock, or errs.NotFound.
	GetProduct(ctx context.Context, id string) (product.Product, error)
	// ListProducts returns the products q selects, in id order.
	ListProducts(ctx context.Context, q product.Query) ([]product.Product, error)
	// Reserve takes the lines' units for orderID, all or none. The first
	// reservation of an order wins: later calls return its lines with
	// AlreadyReserved and take nothing, whatever lines they ask for. It fails
	// with errs.FailedPrecondition when the order's reservation was released
	// (or a release came first and left a tombstone), errs.NotFound when a
	// product does not exist and errs.OutOfStock when a product lacks units;
	// both name the product. Available stock never goes negative.
	Reserve(ctx context.Context, orderID string, lines []product.StockLine, at time.Time) (product.ReserveResult, error)
	// Release gives an active reservation's units back, exactly once. When
	// the order has no reservation it records a released tombstone so that
	// a late Reserve for it is refused.
	Release(ctx context.Context, orderID string, at time.Time) (product.ReleaseResult, error)
	// Inventory reads every product's ledger at one instant.
	Inventory(ctx context.Context) (product.Inventory, error)
	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
}

// DefaultOpTimeout bounds a store operation whose context has no earlier deadline.
const DefaultOpTimeout = 5 * time.Second

// Options configures a Service.
type Options struct {
	Now       func() time.Time  // nil means time.Now
	Log       *slog.Logger      // nil discards
	Metrics   *metrics.Registry // nil registers nothing
	OpTimeout time.Duration     // 0 means DefaultOpTimeout
}

// Service runs the product use cases over a Store.
type Service struct {
	store     Store
	now       func() time.Time
	log       *slog.Logger
	opTimeout time.Duration

	reservations *prometheus.CounterVec
	releases     *prometheus.CounterVec
	searches     *prometheus.CounterVec
	// available caches the catalog's total available units for the gauge:
	// a scrape must not scan the catalog. Reservations and releases adjust
	// it at once; RefreshStock re-reads it so that the writes of other
	// replicas sharing the store show up too.
	available atomic.Int64
}

// New returns a Service over store and registers its metrics.
func New(store Store, o Options) *Service {
	s := &Service{store: store, now: o.Now, log: o.Log, opTimeout: o.OpTimeout}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opTimeout <= 0 {
		s.opTimeout = DefaultOpTimeout
	}
	reg := o.Metrics
	if reg == nil {
		reg = metrics.New("product", false) // private, so the counters still work
	}
	s.reservations = reg.CounterVec("shoplab_product_reservations_total",
		"ReserveStock calls by outcome: reserved, already_reserved, out_of_stock, not_found, released, invalid, error.", "outcome")
	s.releases = reg.CounterVec("shoplab_product_releases_total",
		"ReleaseStock calls by outcome: released, nothing_to_release, invalid, error.", "outcome")
	s.searches = reg.CounterVec("shoplab_product_searches_total",
		"SearchProducts calls by outcome: results, no_results, invalid, error.", "outcome")
	reg.GaugeFunc("shoplab_product_stock_available_units",
		"Units available to reserve over the whole catalog, as last seen by this replica.",
		func() float64 { return float64(s.available.Load()) })
	return s
}

// withTimeout bounds a store operation; a caller's earlier deadline wins.
func (s *Service) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

// SeedCatalog loads the catalog spec describes if the store holds none yet
// and primes the stock gauge. It reports whether it seeded.
func (s *Service) SeedCatalog(ctx context.Context, spec product.CatalogSpec) (bool, error) {
	products, err := product.GenerateCatalog(spec)
	if err != nil {
		return false, errs.Wrap(errs.Invalid, err, "invalid catalog settings")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	seeded, err := s.store.SeedCatalog(ctx, products)
	if err != nil {
		return false, fmt.Errorf("seed catalog: %w", err)
	}
	if seeded {
		s.log.InfoContext(ctx, "catalog seeded", "products", len(products), "seed", spec.Seed)
	} else {
		s.log.InfoContext(ctx, "catalog already present; seed settings ignored", "seed", spec.Seed)
	}
	if err := s.RefreshStock(ctx); err != nil {
		return seeded, err
	}
	return seeded, nil
}

// RefreshStock re-reads the total available units for the stock gauge.
func (s *Service) RefreshStock(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	inv, err := s.store.Inventory(ctx)
	if err != nil {
		return fmt.Errorf("refresh stock gauge: %w", err)
	}
	s.available.Store(inv.TotalAvailable())
	return nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.store.Ping(ctx)
}

// GetProduct returns one product with its available stock.
func (s *Service) GetProduct(ctx context.Context, id string) (product.Product, error) {
	if err := product.ValidateProductID("id", id); err != nil {
		return product.Product{}, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.store.GetProduct(ctx, id)
}

// ListRequest asks for a page of the catalog.
type ListRequest struct {
	Category string // empty means every category
	Limit    int    // 0 means product.DefaultLimit
	Cursor   string // from the previous page; empty for the first
}

// SearchRequest asks for a page of the products matching a free-text query.
type SearchRequest struct {
	Query    string
	Category string
	Limit    int
	Cursor   string
}

// Page is a page of products and the cursor of the next page ("" at the end).
type Page struct {
	Products   []product.Product
	NextCursor string
}

// ListProducts pages through the catalog in id order.
func (s *Service) ListProducts(ctx context.Context, r ListRequest) (Page, error) {
	q, err := pageQuery(r.Category, r.Limit, r.Cursor)
	if err != nil {
		return Page{}, err
	}
	return s.page(ctx, q)
}

// SearchProducts pages through the products whose name or description holds
// every word of the query, case-insensitively.
func (s *Service) SearchProducts(ctx context.Context, r SearchRequest) (Page, error) {
	words, err := product.ParseQuery(r.Query)
	if err != nil {
		s.searches.WithLabelValues("invalid").Inc()
		return Page{}, err
	}
	q, err := pageQuery(r.Category, r.Limit, r.Cursor)
	if err != nil {
		s.searches.WithLabelValues("invalid").Inc()
		return Page{}, err
	}
	q.Words = words
	p, err := s.page(ctx, q)
	switch {
	case err != nil:
		s.searches.WithLabelValues("error").Inc()
	case len(p.Products) == 0:
		s.searches.WithLabelValues("no_results").Inc()
	default:
		s.searches.WithLabelValues("results").Inc()
	}
	return p, err
}

func pageQuery(category string, limit int, cursor string) (product.Query, error) {
	cat, err := product.NormalizeCategory(category)
	if err != nil {
		return product.Query{}, err
	}
	n, err := product.PageLimit(limit)
	if err != nil {
		return product.Query{}, err
	}
	after, err := product.DecodeCursor(cursor)
	if err != nil {
		return product.Query{}, err
	}
	return product.Query{Category: cat, AfterID: after, Limit: n}, nil
}

// page asks the store for one product more than the page holds: its
// presence is how we know that a next page exists, so the last page never
// carries a cursor to an empty one.
func (s *Service) page(ctx context.Context, q product.Query) (Page, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	limit := q.Limit
	q.Limit++
	ps, err := s.store.ListProducts(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("list products: %w", err)
	}
	if len(ps) <= limit {
		return Page{Products: ps}, nil
	}
	ps = ps[:limit]
	return Page{Products: ps, NextCursor: product.EncodeCursor(ps[limit-1].ID)}, nil
}

// ReserveStock takes stock for an order, all lines or none, idempotently per
// order id (the first reservation wins; see Store.Reserve).
func (s *Service) ReserveStock(ctx context.Context, orderID string, lines []product.StockLine) (product.ReserveResult, error) {
	if err := product.ValidateReserve(orderID, lines); err != nil {
		s.reservations.WithLabelValues("invalid").Inc()
		return product.ReserveResult{}, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.store.Reserve(ctx, orderID, lines, s.now())
	s.reservations.WithLabelValues(reserveOutcome(res, err)).Inc()
	if err != nil {
		return product.ReserveResult{}, err
	}
	if !res.AlreadyReserved {
		s.available.Add(-res.Units())
	}
	return res, nil
}

func reserveOutcome(res product.ReserveResult, err error) string {
	switch errs.CodeOf(err) {
	case "":
		if res.AlreadyReserved {
			return "already_reserved"
		}
		return "reserved"
	case errs.OutOfStock:
		return "out_of_stock"
	case errs.NotFound:
		return "not_found"
	case errs.FailedPrecondition:
		return "released"
	}
	return "error"
}

// ReleaseStock gives an order's reserved units back exactly once; it
// reports whether this call did. Releasing an order with no reservation
// blocks any later reservation for it.
func (s *Service) ReleaseStock(ctx context.Context, orderID string) (bool, error) {
	if err := product.ValidateOrderID(orderID); err != nil {
		s.releases.WithLabelValues("invalid").Inc()
		return false, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.store.Release(ctx, orderID, s.now())
	switch {
	case err != nil:
		s.releases.WithLabelValues("error").Inc()
		return false, err
	case res.Released:
		s.releases.WithLabelValues("released").Inc()
		s.available.Add(res.Units())
	default:
		s.releases.WithLabelValues("nothing_to_release").Inc()
	}
	return res.Released, nil
}

// Inventory returns the stock ledger of every product.
func (s *Service) Inventory(ctx context.Context) (product.Inventory, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	inv, err := s.store.Inventory(ctx)
	if err != nil {
		return product.Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	// A full read is the freshest total there is; keep the gauge in step.
	s.available.Store(inv.TotalAvailable())
	return inv, nil
}
