// Package gateway is the public REST edge of shoplab: the domain types the
// gateway speaks in, and the rules it enforces before anything reaches the
// user, product and order units (order request validation, the canonical
// request hash behind Idempotency-Key, how a settled order maps to an error).
// It does no I/O; app holds the use cases, ports the HTTP router, adapters
// the gRPC clients and unit the composition root.
package gateway

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/user"
)

// OpenAPI is the gateway's OpenAPI 3 description, served at
// GET /api/v1/openapi.yaml. A test keeps it in step with the router.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Limits of the REST API. A limit that a unit behind the gateway enforces
// is that unit's constant, named here once, so the gateway refuses at the
// edge exactly what the unit would refuse further in; the OpenAPI file
// states the same numbers and a test holds it to these constants, so a
// request the spec allows is never refused further in (schemathesis'
// "valid request rejected"). Lengths are in characters (what JSON Schema's
// maxLength counts) unless the spec restricts the field to ASCII.
const (
	MaxOrderLines         = order.MaxItems // lines per order
	MaxLineQuantity       = 100            // units per line
	MaxIDLength           = order.MaxIDLen // order ids, payment tokens
	MaxProductIDLength    = product.MaxIDLen
	MaxIdempotencyKey     = order.MaxKeyLen // Idempotency-Key length
	MaxPageLimit          = product.MaxLimit
	MaxCursorLength       = 1024
	MaxQueryLength        = product.MaxQueryLen // ?q; ASCII
	MaxQueryWords         = product.MaxQueryWords
	MaxCategoryLength     = product.MaxCategoryLen // ?category; ASCII
	MaxEmailLength        = user.MaxEmailLen
	MinPasswordLength     = user.MinPasswordLen // at registration
	MaxPasswordLength     = user.MaxPasswordLen // at registration
	MaxLoginPasswordChars = 1024                // login refuses nothing a registration could have set
	MaxNameLength         = user.MaxNameLen
	DefaultPaymentToken   = "tok_visa"
)

// User is a customer account as the gateway shows it.
type User struct {
	ID        string
	Email     string
	Name      string
	CreatedAt time.Time
}

// Registration is a request to create an account.
type Registration struct {
	Email    string
	Password string
	Name     string
}

// Validate checks the shape of a registration at the edge; the user unit
// owns the deeper rules (password strength, email uniqueness).
func (r Registration) Validate() error {
	if err := checkEmail(r.Email); err != nil {
		return err
	}
	if err := checkText("password", r.Password); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(r.Password); n < MinPasswordLength || n > MaxPasswordLength {
		return errs.InvalidField("password", "must be %d to %d characters", MinPasswordLength, MaxPasswordLength)
	}
	if err := checkRequired("name", r.Name, MaxNameLength); err != nil {
		return err
	}
	if strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		return errs.InvalidField("name", "must not contain control characters")
	}
	return nil
}

// Credentials are an email and a password offered at login.
type Credentials struct {
	Email    string
	Password string
}

// Validate checks that both parts are present and bounded.
func (c Credentials) Validate() error {
	if err := checkEmail(c.Email); err != nil {
		return err
	}
	// Not trimmed, unlike checkRequired: spaces are password characters, and
	// a registration may have set a password of spaces only.
	if err := checkText("password", c.Password); err != nil {
		return err
	}
	if c.Password == "" {
		return errs.InvalidField("password", "is required")
	}
	if utf8.RuneCountInString(c.Password) > MaxLoginPasswordChars {
		return errs.InvalidField("password", "must be at most %d characters", MaxLoginPasswordChars)
	}
	return nil
}

func checkEmail(email string) error {
	if err := checkRequired("email", email, MaxEmailLength); err != nil {
		return err
	}
	if at := strings.IndexByte(email, '@'); at <= 0 || at == len(email)-1 {
		return errs.InvalidField("email", "must be an email address")
	}
	return nil
}

// checkRequired checks that v is valid UTF-8, not blank and at most max
// characters long.
func checkRequired(field, v string, max int) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if strings.TrimSpace(v) == "" {
		return errs.InvalidField(field, "is required")
	}
	if utf8.RuneCountInString(v) > max {
		return errs.InvalidField(field, "must be at most %d characters", max)
	}
	return nil
}

// checkText refuses a string that is not valid UTF-8. Every string that
// crosses the edge goes through it before it reaches a gRPC message, where
// protobuf would refuse it with an internal marshalling error.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return errs.InvalidField(field, "must be valid UTF-8")
	}
	return nil
}

// checkASCII checks that v holds at most max visible ASCII characters
// (0x21-0x7E), or also spaces when spaces is true.
func checkASCII(field, v string, max int, spaces bool) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if len(v) > max {
		return errs.InvalidField(field, "must be at most %d characters", max)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x21 || c > 0x7e) && !(spaces && c == ' ') {
			return errs.InvalidField(field, "must hold printable ASCII characters only")
		}
	}
	return nil
}

// ValidateProductID checks a product id given in field: 1 to
// MaxProductIDLength visible ASCII characters.
func ValidateProductID(field, id string) error {
	if id == "" {
		return errs.InvalidField(field, "is required")
	}
	return checkASCII(field, id, MaxProductIDLength, false)
}

// ValidateOrderID checks an order id given in field.
func ValidateOrderID(field, id string) error {
	if id == "" {
		return errs.InvalidField(field, "is required")
	}
	if err := checkText(field, id); err != nil {
		return err
	}
	if utf8.RuneCountInString(id) > MaxIDLength {
		return errs.InvalidField(field, "must be at most %d characters", MaxIDLength)
	}
	return nil
}

// Session is the answer to a successful login: a bearer token for User.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      User
}

// Claims are what a verified bearer token says about its holder.
type Claims struct {
	UserID    string
	Email     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Product is one catalog entry with its available stock.
type Product struct {
	ID         string
	Name       string
	Category   string
	PriceCents int64
	Currency   string
	Stock      int64
}

// ProductQuery selects a page of the catalog. Query non-empty means a
// free-text search; Limit 0 means the product unit's default.
type ProductQuery struct {
	Category string
	Query    string
	Page     Page
}

// Validate checks the bounds of a catalog query.
func (q ProductQuery) Validate() error {
	if err := checkASCII("category", q.Category, MaxCategoryLength, true); err != nil {
		return err
	}
	if err := checkASCII("q", q.Query, MaxQueryLength, true); err != nil {
		return err
	}
	if q.Query != "" {
		if n := len(strings.Fields(q.Query)); n < 1 || n > MaxQueryWords {
			return errs.InvalidField("q", "must hold 1 to %d words", MaxQueryWords)
		}
	}
	return q.Page.Validate()
}

// Page asks for one page of a list. Limit 0 means the owning unit's default.
type Page struct {
	Limit  int
	Cursor string
}

// Validate checks the bounds of a page request.
func (p Page) Validate() error {
	if p.Limit < 0 || p.Limit > MaxPageLimit {
		return errs.InvalidField("limit", "must be an integer between 1 and %d", MaxPageLimit)
	}
	return checkASCII("cursor", p.Cursor, MaxCursorLength, false)
}

// ProductPage is one page of products; NextCursor is empty on the last page.
type ProductPage struct {
	Items      []Product
	NextCursor string
}

// OrderStatus is where an order stands. The names are the order unit's
// (and the reconciler's), so they read the same everywhere.
type OrderStatus string

// The order statuses.
const (
	StatusPending OrderStatus = "PENDING" // outcome not settled yet
	StatusPaid    OrderStatus = "PAID"
	StatusFailed  OrderStatus = "FAILED"
)

// The failure codes the order unit sets on a FAILED order.
const (
	FailurePaymentDeclined       = "payment_declined"
	FailureOutOfStock            = "out_of_stock"
	FailureProductNotFound       = "product_not_found"
	FailurePaymentUnavailable    = "payment_unavailable"
	FailureDependencyUnavailable = "dependency_unavailable"
)

// OrderItem is one line of an order at the price it was sold at.
type OrderItem struct {
	ProductID      string
	Name           string
	Category       string
	Quantity       int32
	UnitPriceCents int64
}

// Order is an order as the gateway shows it to its owner.
type Order struct {
	ID             string
	UserID         string
	Status         OrderStatus
	Items          []OrderItem
	TotalCents     int64
	Currency       string
	FailureCode    string
	FailureMessage string
	CreatedAt      time.Time
}

// OrderPage is one page of a user's orders.
type OrderPage struct {
	Items      []Order
	NextCursor string
}

// OrderLine asks for a quantity of one product.
type OrderLine struct {
	ProductID string
	Quantity  int32
}

// OrderRequest is the body of POST /api/v1/orders.
type OrderRequest struct {
	Lines        []OrderLine
	PaymentToken string // "" means DefaultPaymentToken
}

// MaxProductQuantity is the most units of one product an order can hold:
// lines of the same product are added up (see Normalize), so every line
// may name it. The order and product units accept this much on one line.
const MaxProductQuantity = MaxOrderLines * MaxLineQuantity

// Normalize fills the defaults and merges the lines of a repeated product
// into its first line, quantities added, so that two requests that mean the
// same thing hash the same and the order unit gets one line per product.
// Merging is what a cart does; refusing a schema-valid body would not be
// expressible in the OpenAPI file (JSON Schema's uniqueItems compares whole
// lines, not product ids). The quantities of a validated request add up to
// at most MaxProductQuantity.
func (r OrderRequest) Normalize() OrderRequest {
	if r.PaymentToken == "" {
		r.PaymentToken = DefaultPaymentToken
	}
	at := make(map[string]int, len(r.Lines))
	merged := make([]OrderLine, 0, len(r.Lines))
	for _, l := range r.Lines {
		if i, ok := at[l.ProductID]; ok {
			merged[i].Quantity += l.Quantity
			continue
		}
		at[l.ProductID] = len(merged)
		merged = append(merged, l)
	}
	r.Lines = merged
	return r
}

// Validate applies the edge rules to the request as the client wrote it,
// naming the offending field by its place there ("items[3].quantity"), and
// stops at the first fault. A product may appear on several lines.
func (r OrderRequest) Validate() error {
	if len(r.Lines) == 0 {
		return errs.InvalidField("items", "must hold at least one item")
	}
	if len(r.Lines) > MaxOrderLines {
		return errs.InvalidField("items", "must hold at most %d items", MaxOrderLines)
	}
	for i, l := range r.Lines {
		field := fmt.Sprintf("items[%d].product_id", i)
		if err := ValidateProductID(field, l.ProductID); err != nil {
			return err
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return errs.InvalidField(fmt.Sprintf("items[%d].quantity", i), "must be between 1 and %d", MaxLineQuantity)
		}
	}
	return checkASCII("payment.token", r.PaymentToken, MaxIDLength, false)
}

// canonicalOrder fixes the key order and spelling of the hashed form; it is
// a separate type so that changing the wire DTO can never silently change
// the hash of requests already stored under an Idempotency-Key.
type canonicalOrder struct {
	Items   []canonicalLine `json:"items"`
	Payment struct {
		Token string `json:"token"`
	} `json:"payment"`
}

type canonicalLine struct {
	ProductID string `json:"product_id"`
	Quantity  int32  `json:"quantity"`
}

// Hash is the request_hash sent with an Idempotency-Key: the hex SHA-256 of
// the normalized request re-encoded canonically, so whitespace, key order
// and an omitted default token do not make a retry look different, nor does
// splitting a product's quantity over several lines. Line order does count
// (by each product's first line): it is part of what the client asked for.
func (r OrderRequest) Hash() string {
	r = r.Normalize()
	var c canonicalOrder
	c.Items = make([]canonicalLine, len(r.Lines))
	for i, l := range r.Lines {
		c.Items[i] = canonicalLine(l)
	}
	c.Payment.Token = r.PaymentToken
	// Marshalling plain strings and ints cannot fail.
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// IdempotencyKeyHeader is the request header that makes POST /api/v1/orders
// safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// ValidateIdempotencyKey checks a client's Idempotency-Key: 1 to 128 visible
// ASCII characters, so it is safe to store, log and compare byte for byte.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return errs.InvalidField(IdempotencyKeyHeader, "header is required")
	}
	if len(key) > MaxIdempotencyKey {
		return errs.InvalidField(IdempotencyKeyHeader, "must be at most %d characters", MaxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return errs.InvalidField(IdempotencyKeyHeader, "must hold visible ASCII characters only")
		}
	}
	return nil
}

// PlacedOrder is what placing an order gave: the order, and whether the
// Idempotency-Key had been seen before so this is the first result again.
type PlacedOrder struct {
	Order    Order
	Replayed bool
}

// OutcomeError returns the error a client sees for a settled order: nil for
// PAID and PENDING (the order is the answer), a coded error for FAILED.
// Unknown failure codes and statuses are internal errors: the gateway must
// not guess at an outcome it does not understand.
func OutcomeError(o Order) error {
	switch o.Status {
	case StatusPaid, StatusPending:
		return nil
	case StatusFailed:
	default:
		return errs.Wrap(errs.Internal, fmt.Errorf("order %s has unknown status %q", o.ID, o.Status), "the order outcome is unknown")
	}
	msg := func(def string) string {
		if o.FailureMessage != "" {
			return o.FailureMessage
		}
		return def
	}
	switch o.FailureCode {
	case FailurePaymentDeclined:
		return errs.E(errs.PaymentDeclined, "%s", msg("the payment was declined"))
	case FailureOutOfStock:
		return errs.E(errs.OutOfStock, "%s", msg("not enough stock for this order"))
	case FailureProductNotFound:
		return errs.E(errs.NotFound, "%s", msg("a product of this order does not exist"))
	case FailurePaymentUnavailable:
		// The order is FAILED for good: a retry needs a new Idempotency-Key,
		// so the code differs from a plain, retryable "unavailable".
		return errs.E(errs.PaymentUnavailable, "%s; the order failed, retry with a new Idempotency-Key", msg("the payment could not be completed"))
	case FailureDependencyUnavailable:
		return errs.E(errs.DependencyUnavailable, "%s; the order failed, retry with a new Idempotency-Key", msg("a dependency was unavailable"))
	}
	return errs.Wrap(errs.Internal, fmt.Errorf("order %s failed with unknown failure code %q", o.ID, o.FailureCode), "the order outcome is unknown")
}
