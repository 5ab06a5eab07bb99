// Package product holds the catalog and stock rules of the product unit:
// products, reservations of stock per order, the inventory ledger and the
// validation of every request. It does no I/O.
package product

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Currency is the currency of every seeded price.
const Currency = "USD"

// Request bounds.
const (
	// MaxQuantity is the most units of one product a reservation line may
	// ask for: an order's whole quantity of one product (the order unit's
	// order.MaxQuantity, which it is at least).
	MaxQuantity = 5000
	// MaxLines bounds the lines of one reservation. A DynamoDB
	// TransactWriteItems call holds at most 100 actions; 50 lines plus the
	// reservation item leave room to do a whole reservation in one call.
	MaxLines = 50
	// MaxIDLen bounds product ids.
	MaxIDLen = 64
	// MaxOrderIDLen bounds order ids (UUIDs and prefixed ids fit easily).
	MaxOrderIDLen = 128
	// MaxCategoryLen bounds a category filter.
	MaxCategoryLen = 64
)

// Product is one catalog entry.
type Product struct {
	ID          string
	Name        string
	Description string
	Category    string
	PriceCents  int64
	Currency    string
	// Stock is the number of units available to reserve; when seeding a
	// catalog it is the initial stock.
	Stock int64
}

// Validate checks a product before it enters a catalog.
func (p Product) Validate() error {
	switch {
	case p.ID == "" || len(p.ID) > MaxIDLen:
		return fmt.Errorf("product %q: id must be 1..%d bytes", p.ID, MaxIDLen)
	case p.Name == "":
		return fmt.Errorf("product %s: name is required", p.ID)
	case p.Category == "":
		return fmt.Errorf("product %s: category is required", p.ID)
	case p.PriceCents < 0:
		return fmt.Errorf("product %s: negative price %d", p.ID, p.PriceCents)
	case len(p.Currency) != 3:
		return fmt.Errorf("product %s: currency %q is not an ISO 4217 code", p.ID, p.Currency)
	case p.Stock < 0:
		return fmt.Errorf("product %s: negative stock %d", p.ID, p.Stock)
	}
	return nil
}

// SearchText is the text a search matches against: the name and the
// description, lower-cased once here so that every store adapter matches the
// same way (SQLite's lower() only folds ASCII). A newline separates the two,
// and query words never hold whitespace, so no word matches across them.
func SearchText(p Product) string {
	return strings.ToLower(p.Name + "\n" + p.Description)
}

// Matches reports whether every word (already lower-cased, see ParseQuery)
// is a substring of the product's name or description.
func Matches(p Product, words []string) bool {
	text := SearchText(p)
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// StockLine asks for a quantity of one product.
type StockLine struct {
	ProductID string
	Quantity  int
}

// ReservedLine is a reserved quantity with the name, category and price of
// the product at reservation time; the order unit sells at this price.
type ReservedLine struct {
	ProductID      string
	Name           string
	Category       string
	Quantity       int
	UnitPriceCents int64
	Currency       string
}

// ReserveResult is the outcome of reserving stock for an order.
type ReserveResult struct {
	Lines []ReservedLine
	// AlreadyReserved is true when the order held its reservation before
	// this call (a retry); nothing more was taken.
	AlreadyReserved bool
}

// Units is the total quantity of the lines.
func (r ReserveResult) Units() int64 { return sumUnits(r.Lines) }

// ReleaseResult is the outcome of releasing an order's reservation.
type ReleaseResult struct {
	// Released is true only for the call that gave units back.
	Released bool
	// Lines are the lines given back by this call; empty unless Released.
	Lines []ReservedLine
}

// Units is the total quantity given back.
func (r ReleaseResult) Units() int64 { return sumUnits(r.Lines) }

func sumUnits(lines []ReservedLine) int64 {
	var n int64
	for _, l := range lines {
		n += int64(l.Quantity)
	}
	return n
}

// ValidateOrderID checks the order id of a reservation or release.
func ValidateOrderID(orderID string) error {
	if strings.TrimSpace(orderID) == "" {
		return errs.InvalidField("order_id", "order_id is required")
	}
	if len(orderID) > MaxOrderIDLen || !utf8.ValidString(orderID) {
		return errs.InvalidField("order_id", "order_id must be valid UTF-8 of at most %d bytes", MaxOrderIDLen)
	}
	return nil
}

// ValidateProductID checks a product id given in field.
func ValidateProductID(field, id string) error {
	if id == "" {
		return errs.InvalidField(field, "product id is required")
	}
	if len(id) > MaxIDLen || !utf8.ValidString(id) {
		return errs.InvalidField(field, "product id must be valid UTF-8 of at most %d bytes", MaxIDLen)
	}
	return nil
}

// ValidateReserve checks a reservation request. Lines that name the same
// product twice are refused rather than merged: a merged line would not
// match what the caller sent, and the caller (order) holds one line per
// product anyway, so a duplicate is a bug worth surfacing.
func ValidateReserve(orderID string, lines []StockLine) error {
	if err := ValidateOrderID(orderID); err != nil {
		return err
	}
	if len(lines) == 0 {
		return errs.InvalidField("lines", "at least one line is required")
	}
	if len(lines) > MaxLines {
		return errs.InvalidField("lines", "at most %d lines per reservation, got %d", MaxLines, len(lines))
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		field := fmt.Sprintf("lines[%d].product_id", i)
		if err := ValidateProductID(field, l.ProductID); err != nil {
			return err
		}
		if j, dup := seen[l.ProductID]; dup {
			return errs.InvalidField(field, "product %s already appears in lines[%d]; send one line per product", l.ProductID, j)
		}
		seen[l.ProductID] = i
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return errs.InvalidField(fmt.Sprintf("lines[%d].quantity", i), "quantity must be 1..%d, got %d", MaxQuantity, l.Quantity)
		}
	}
	return nil
}

// InventoryLine is one product's stock ledger.
type InventoryLine struct {
	ProductID string
	Initial   int64
	Available int64
	// Reserved is the units held by active (not released) reservations,
	// which includes the units of orders that were paid.
	Reserved int64
}

// Inventory is the stock ledger of the whole catalog, read at one instant.
type Inventory struct {
	Lines              []InventoryLine // ordered by product id
	ActiveReservations int64
}

// Check verifies the ledger invariant: for every product, available and
// reserved units are never negative and add up to the initial stock. Any
// other state means units leaked or were created.
func (inv Inventory) Check() error {
	var problems []error
	for _, l := range inv.Lines {
		if l.Available < 0 || l.Reserved < 0 || l.Available+l.Reserved != l.Initial {
			problems = append(problems, fmt.Errorf("product %s: available %d + reserved %d != initial %d",
				l.ProductID, l.Available, l.Reserved, l.Initial))
		}
	}
	return errors.Join(problems...)
}

// TotalAvailable is the sum of available units over the catalog.
func (inv Inventory) TotalAvailable() int64 {
	var n int64
	for _, l := range inv.Lines {
		n += l.Available
	}
	return n
}
