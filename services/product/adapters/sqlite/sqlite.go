// Package sqlite is the product Store on embedded SQLite, the local env's
// stand-in for DynamoDB. Each Store method is one immediate transaction, so
// concurrent reservations queue instead of overselling.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
	"github.com/shoplab/shoplab/services/product"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the goose migrations of the product database.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "migrations" is valid.
		return migrationFiles
	}
	return sub
}

const (
	stateActive   = "active"
	stateReleased = "released"
)

// Store is the SQLite product store.
type Store struct {
	db *sql.DB
}

// Open opens (creating and migrating if needed) the product database at path.
func Open(ctx context.Context, path string, opts ...sqlitex.Option) (*Store, error) {
	db, err := sqlitex.Open(ctx, path, Migrations(), opts...)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SeedCatalog inserts products if the catalog is empty, in one transaction.
func (s *Store) SeedCatalog(ctx context.Context, products []product.Product) (bool, error) {
	for _, p := range products {
		if err := p.Validate(); err != nil {
			return false, errs.Wrap(errs.Invalid, err, "seed catalog: invalid product")
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("seed catalog: %w", err)
	}
	defer rollback(tx)
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM products)`).Scan(&exists); err != nil {
		return false, fmt.Errorf("seed catalog: %w", err)
	}
	if exists {
		return false, nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO products
		(id, name, description, category, price_cents, currency, initial, available, search_text)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return false, fmt.Errorf("seed catalog: %w", err)
	}
	defer stmt.Close()
	for _, p := range products {
		if _, err := stmt.ExecContext(ctx, p.ID, p.Name, p.Description, p.Category, p.PriceCents, p.Currency,
			p.Stock, p.Stock, product.SearchText(p)); err != nil {
			if sqlitex.IsUniqueViolation(err) {
				return false, errs.Wrap(errs.Invalid, err, "seed catalog: duplicate product id %s", p.ID)
			}
			return false, fmt.Errorf("seed catalog: insert %s: %w", p.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("seed catalog: commit: %w", err)
	}
	return true, nil
}

const productColumns = `id, name, description, category, price_cents, currency, available`

func scanProduct(row interface{ Scan(...any) error }) (product.Product, error) {
	var p product.Product
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Category, &p.PriceCents, &p.Currency, &p.Stock)
	return p, err
}

// GetProduct returns one product, or errs.NotFound.
func (s *Store) GetProduct(ctx context.Context, id string) (product.Product, error) {
	p, err := scanProduct(s.db.QueryRowContext(ctx, `SELECT `+productColumns+` FROM products WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return product.Product{}, errs.E(errs.NotFound, "product %s not found", id)
	}
	if err != nil {
		return product.Product{}, fmt.Errorf("get product %s: %w", id, err)
	}
	return p, nil
}

// ListProducts returns the products q selects, in id order.
func (s *Store) ListProducts(ctx context.Context, q product.Query) ([]product.Product, error) {
	if q.Limit < 1 {
		return nil, errs.InvalidField("limit", "limit must be at least 1")
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + productColumns + ` FROM products WHERE id > ?`)
	args := []any{q.AfterID}
	if q.Category != "" {
		b.WriteString(` AND category = ?`)
		args = append(args, q.Category)
	}
	// instr, not LIKE: query words may hold % and _, which must match literally.
	for _, w := range q.Words {
		b.WriteString(` AND instr(search_text, ?) > 0`)
		args = append(args, w)
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	out := make([]product.Product, 0, q.Limit)
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("list products: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return out, nil
}

// Reserve takes the lines' units for orderID in one immediate transaction:
// all lines or none, the first reservation of an order wins, and a released
// order is refused.
func (s *Store) Reserve(ctx context.Context, orderID string, lines []product.StockLine, at time.Time) (product.ReserveResult, error) {
	var res product.ReserveResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	defer rollback(tx)

	state, err := reservationState(ctx, tx, orderID)
	if err != nil {
		return res, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	switch state {
	case stateActive:
		held, err := reservedLines(ctx, tx, orderID)
		if err != nil {
			return res, fmt.Errorf("reserve %s: %w", orderID, err)
		}
		return product.ReserveResult{Lines: held, AlreadyReserved: true}, nil
	case stateReleased:
		return res, errs.E(errs.FailedPrecondition, "reservation released: order %s was released before, so it cannot reserve again", orderID)
	}

	if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, state, created_at) VALUES (?, ?, ?)`,
		orderID, stateActive, formatTime(at)); err != nil {
		return res, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	out := make([]product.ReservedLine, 0, len(lines))
	for i, l := range lines {
		// The conditional decrement is the same guard a DynamoDB
		// ConditionExpression (available >= :q) would give.
		rl := product.ReservedLine{ProductID: l.ProductID, Quantity: l.Quantity}
		err := tx.QueryRowContext(ctx, `UPDATE products SET available = available - ?1
			WHERE id = ?2 AND available >= ?1
			RETURNING name, category, price_cents, currency`, l.Quantity, l.ProductID).
			Scan(&rl.Name, &rl.Category, &rl.UnitPriceCents, &rl.Currency)
		if errors.Is(err, sql.ErrNoRows) {
			return res, shortfall(ctx, tx, l)
		}
		if err != nil {
			return res, fmt.Errorf("reserve %s: take %s: %w", orderID, l.ProductID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservation_lines
			(order_id, line_no, product_id, name, category, quantity, unit_price_cents, currency)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			orderID, i, rl.ProductID, rl.Name, rl.Category, rl.Quantity, rl.UnitPriceCents, rl.Currency); err != nil {
			return res, fmt.Errorf("reserve %s: line %d: %w", orderID, i, err)
		}
		out = append(out, rl)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("reserve %s: commit: %w", orderID, err)
	}
	return product.ReserveResult{Lines: out}, nil
}

// shortfall explains why a conditional decrement took nothing.
func shortfall(ctx context.Context, tx *sql.Tx, l product.StockLine) error {
	var available int64
	err := tx.QueryRowContext(ctx, `SELECT available FROM products WHERE id = ?`, l.ProductID).Scan(&available)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errs.E(errs.NotFound, "product %s not found", l.ProductID)
	case err != nil:
		return fmt.Errorf("reserve: read %s: %w", l.ProductID, err)
	}
	return errs.E(errs.OutOfStock, "product %s has %d units available, %d requested", l.ProductID, available, l.Quantity)
}

// Release gives an active reservation's units back exactly once, or leaves
// a tombstone when the order never reserved.
func (s *Store) Release(ctx context.Context, orderID string, at time.Time) (product.ReleaseResult, error) {
	var res product.ReleaseResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("release %s: %w", orderID, err)
	}
	defer rollback(tx)

	state, err := reservationState(ctx, tx, orderID)
	if err != nil {
		return res, fmt.Errorf("release %s: %w", orderID, err)
	}
	switch state {
	case stateReleased:
		return res, nil
	case "":
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, state, created_at, released_at) VALUES (?, ?, ?, ?)`,
			orderID, stateReleased, formatTime(at), formatTime(at)); err != nil {
			return res, fmt.Errorf("release %s: tombstone: %w", orderID, err)
		}
		if err := tx.Commit(); err != nil {
			return res, fmt.Errorf("release %s: commit: %w", orderID, err)
		}
		return res, nil
	}
	held, err := reservedLines(ctx, tx, orderID)
	if err != nil {
		return res, fmt.Errorf("release %s: %w", orderID, err)
	}
	for _, l := range held {
		if _, err := tx.ExecContext(ctx, `UPDATE products SET available = available + ? WHERE id = ?`, l.Quantity, l.ProductID); err != nil {
			return res, fmt.Errorf("release %s: give back %s: %w", orderID, l.ProductID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET state = ?, released_at = ? WHERE order_id = ?`,
		stateReleased, formatTime(at), orderID); err != nil {
		return res, fmt.Errorf("release %s: %w", orderID, err)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("release %s: commit: %w", orderID, err)
	}
	return product.ReleaseResult{Released: true, Lines: held}, nil
}

// Inventory reads the ledger in one statement, hence one snapshot: reserved
// is summed from the active reservations' lines, a ledger kept apart from
// products.available, so the invariant check really cross-checks the two.
func (s *Store) Inventory(ctx context.Context) (product.Inventory, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT p.id, p.initial, p.available, COALESCE(h.units, 0),
		       (SELECT COUNT(*) FROM reservations WHERE state = 'active')
		FROM products p
		LEFT JOIN (
			SELECT l.product_id, SUM(l.quantity) AS units
			FROM reservation_lines l JOIN reservations r ON r.order_id = l.order_id
			WHERE r.state = 'active'
			GROUP BY l.product_id
		) h ON h.product_id = p.id
		ORDER BY p.id`)
	if err != nil {
		return product.Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	defer rows.Close()
	var inv product.Inventory
	for rows.Next() {
		var l product.InventoryLine
		if err := rows.Scan(&l.ProductID, &l.Initial, &l.Available, &l.Reserved, &inv.ActiveReservations); err != nil {
			return product.Inventory{}, fmt.Errorf("inventory: %w", err)
		}
		inv.Lines = append(inv.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return product.Inventory{}, fmt.Errorf("inventory: %w", err)
	}
	return inv, nil
}

// reservationState returns "active", "released" or "" when orderID has no row.
func reservationState(ctx context.Context, tx *sql.Tx, orderID string) (string, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM reservations WHERE order_id = ?`, orderID).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return state, err
}

func reservedLines(ctx context.Context, tx *sql.Tx, orderID string) ([]product.ReservedLine, error) {
	rows, err := tx.QueryContext(ctx, `SELECT product_id, name, category, quantity, unit_price_cents, currency
		FROM reservation_lines WHERE order_id = ? ORDER BY line_no`, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []product.ReservedLine
	for rows.Next() {
		var l product.ReservedLine
		if err := rows.Scan(&l.ProductID, &l.Name, &l.Category, &l.Quantity, &l.UnitPriceCents, &l.Currency); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// rollback undoes tx unless it was committed; deferred right after
// BeginTx so that every early return lets go of the write lock. After a
// Commit it returns sql.ErrTxDone, which is fine to ignore.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
