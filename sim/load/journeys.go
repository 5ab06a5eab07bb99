package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/shoplab/shoplab/sim/shopclient"
)

// Journey is what one simulated customer does in one iteration. Run makes
// its requests through s, which measures them; returning an error marks the
// iteration failed (so does any request s counted as an error).
type Journey interface {
	Name() string
	Run(ctx context.Context, s *Session) error
}

// Names of the built-in journeys.
const (
	JourneyBrowse           = "browse"
	JourneySearch           = "search"
	JourneyCheckout         = "checkout"
	JourneyDeclinedCheckout = "declined_checkout"
)

// Card tokens of the payment unit's simulated processor.
const (
	cardVisa     = "tok_visa"
	cardDeclined = "tok_chargeDeclined"
)

const browsePageSize = 20

// NewJourney returns a journey named name that runs run; pass it to
// WithJourney to make it available to Config.Journeys.
func NewJourney(name string, run func(ctx context.Context, s *Session) error) Journey {
	return &journey{name: name, run: run}
}

type journey struct {
	name      string
	run       func(ctx context.Context, s *Session) error
	customers bool
}

func (j *journey) Name() string                              { return j.name }
func (j *journey) Run(ctx context.Context, s *Session) error { return j.run(ctx, s) }
func (j *journey) NeedsCustomers() bool                      { return j.customers }
func builtin(name string, customers bool, run func(context.Context, *Session) error) Journey {
	return &journey{name: name, run: run, customers: customers}
}

// BuiltinJourneys returns the journeys every runner knows.
func BuiltinJourneys() []Journey {
	return []Journey{
		builtin(JourneyBrowse, false, browse),
		builtin(JourneySearch, false, search),
		builtin(JourneyCheckout, true, checkout(cardVisa)),
		builtin(JourneyDeclinedCheckout, true, checkout(cardDeclined, http.StatusPaymentRequired)),
	}
}

// browse lists the first page of the catalog, sometimes the next one
// through its cursor, and views a product it saw.
func browse(ctx context.Context, s *Session) error {
	page, err := s.ListProducts(ctx, browsePageSize, "")
	if err != nil {
		return err
	}
	items := page.Items
	if page.NextCursor != "" && s.Rand.IntN(2) == 0 {
		next, err := s.ListProducts(ctx, browsePageSize, page.NextCursor)
		if err != nil {
			return err
		}
		if len(next.Items) > 0 {
			items = next.Items
		}
	}
	if len(items) == 0 {
		return nil // an empty catalog has nothing to view
	}
	_, err = s.GetProduct(ctx, items[s.Rand.IntN(len(items))].ID)
	return err
}

// ErrNoCatalog is returned by journeys that need the catalog snapshot when
// it holds nothing they can use (Prepare not run, or an empty catalog).
var ErrNoCatalog = errors.New("load: the catalog snapshot has no usable products; call Prepare")

// search looks up a word taken from the catalog's product names.
func search(ctx context.Context, s *Session) error {
	words := s.Catalog().Words
	if len(words) == 0 {
		return ErrNoCatalog
	}
	_, err := s.SearchProducts(ctx, words[s.Rand.IntN(len(words))], browsePageSize)
	return err
}

// checkout buys one to three distinct in-stock products of the snapshot
// with card. A 409 is expected: customers race for the same stock and the
// snapshot ages. extra lists the statuses the card itself should cause.
func checkout(card string, extra ...int) func(context.Context, *Session) error {
	expect := append([]int{http.StatusConflict}, extra...)
	return func(ctx context.Context, s *Session) error {
		in := s.Catalog().InStock
		if len(in) == 0 {
			return ErrNoCatalog
		}
		n := min(1+s.Rand.IntN(3), len(in))
		lines := make([]shopclient.OrderLine, 0, n)
		for len(lines) < n {
			id := in[s.Rand.IntN(len(in))].ID
			if !slices.ContainsFunc(lines, func(l shopclient.OrderLine) bool { return l.ProductID == id }) {
				lines = append(lines, shopclient.OrderLine{ProductID: id, Quantity: 1})
			}
		}
		att, err := s.PlaceOrder(ctx, shopclient.OrderRequest{Items: lines, Payment: shopclient.Payment{Token: card}}, expect...)
		if err != nil && !slices.Contains(expect, StatusOf(err)) {
			return err
		}
		if card == cardDeclined && att.Outcome == OutcomeCreated {
			return fmt.Errorf("order %s with the declined card %s was paid", att.OrderID, card)
		}
		return nil
	}
}

// picker draws journeys in proportion to their weights.
type picker struct {
	journeys []Journey
	cum      []float64 // cumulative weights, in name order
}

// newPicker orders journeys by name, so that the same seed draws the same
// sequence whatever the map's iteration order.
func newPicker(weights map[string]float64, known map[string]Journey) picker {
	var p picker
	var total float64
	for _, name := range sortedKeys(weights) {
		if w := weights[name]; w > 0 {
			total += w
			p.journeys = append(p.journeys, known[name])
			p.cum = append(p.cum, total)
		}
	}
	return p
}

func (p picker) pick(r *rand.Rand) Journey {
	x := r.Float64() * p.cum[len(p.cum)-1]
	i := sort.SearchFloat64s(p.cum, x)
	if i < len(p.cum) && p.cum[i] == x {
		i++ // x on a boundary belongs to the next journey's half-open range
	}
	return p.journeys[min(i, len(p.journeys)-1)]
}

// Catalog is the product snapshot Prepare loads.
type Catalog struct {
	Products []shopclient.Product
	InStock  []shopclient.Product // Stock > 0 when loaded
	Words    []string             // distinct lower-case words of 4+ letters from the names, sorted
}

func newCatalog(products []shopclient.Product) Catalog {
	c := Catalog{Products: products}
	seen := map[string]bool{}
	for _, p := range products {
		if p.Stock > 0 {
			c.InStock = append(c.InStock, p)
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(p.Name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if len([]rune(w)) >= 4 && !seen[w] {
				seen[w] = true
				c.Words = append(c.Words, w)
			}
		}
	}
	sort.Strings(c.Words)
	return c
}
