// Package sqlite stores orders, their items and the outbox in an embedded
// SQLite database (the local env's relational store).
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

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the goose migrations of the order schema.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		// fs.Sub only fails on an invalid path, and this one is a constant.
		return migrations
	}
	return sub
}

// Store is an app.Store on SQLite.
type Store struct {
	db *sql.DB
}

var _ app.Store = (*Store)(nil)

// Open opens (creating and migrating if needed) the order database at path.
// driver "" means sqlitex.DriverName; chaos wiring passes a wrapped driver.
func Open(ctx context.Context, path, driver string) (*Store, error) {
	var opts []sqlitex.Option
	if driver != "" {
		opts = append(opts, sqlitex.WithDriver(driver))
	}
	db, err := sqlitex.Open(ctx, path, Migrations(), opts...)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Create inserts a PENDING order and its items in one transaction.
func (s *Store) Create(ctx context.Context, o order.Order) error {
	if o.Status != order.StatusPending {
		return errs.E(errs.Invalid, "a new order must be PENDING, not %s", o.Status)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `INSERT INTO orders
		(id, user_id, user_email, status, total_cents, currency, failure_code, failure_message, idempotency_key, request_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.UserID, o.UserEmail, string(o.Status), o.TotalCents, o.Currency, string(o.FailureCode), o.FailureMessage,
		o.IdempotencyKey, o.RequestHash, nanos(o.CreatedAt), nanos(o.UpdatedAt))
	if sqlitex.IsUniqueViolation(err) {
		return errs.Wrap(errs.Conflict, err, "an order with this id or idempotency key exists")
	}
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	for i, it := range o.Items {
		_, err := tx.ExecContext(ctx, `INSERT INTO order_items
			(order_id, line_no, product_id, name, category, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			o.ID, i, it.ProductID, it.Name, it.Category, it.Quantity, it.UnitPriceCents)
		if sqlitex.IsUniqueViolation(err) {
			return errs.Wrap(errs.Invalid, err, "product %q is on two lines", it.ProductID)
		}
		if err != nil {
			return fmt.Errorf("insert order item: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

const orderColumns = `id, user_id, user_email, status, total_cents, currency, failure_code, failure_message,
	idempotency_key, request_hash, created_at, updated_at`

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanOrder(sc interface{ Scan(...any) error }) (order.Order, error) {
	var o order.Order
	var status, code string
	var created, updated int64
	err := sc.Scan(&o.ID, &o.UserID, &o.UserEmail, &status, &o.TotalCents, &o.Currency, &code, &o.FailureMessage,
		&o.IdempotencyKey, &o.RequestHash, &created, &updated)
	o.Status, o.FailureCode = order.Status(status), order.FailureCode(code)
	o.CreatedAt, o.UpdatedAt = fromNanos(created), fromNanos(updated)
	return o, err
}

// queryOrders runs a SELECT of orderColumns and loads the items of every row.
func queryOrders(ctx context.Context, q querier, query string, args ...any) ([]order.Order, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	var out []order.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("scan order: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	if err := loadItems(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadItems fills the items of orders with one query.
func loadItems(ctx context.Context, q querier, orders []order.Order) error {
	if len(orders) == 0 {
		return nil
	}
	idx := make(map[string]int, len(orders))
	args := make([]any, len(orders))
	for i, o := range orders {
		idx[o.ID] = i
		args[i] = o.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT order_id, product_id, name, category, quantity, unit_price_cents
		FROM order_items WHERE order_id IN (?`+strings.Repeat(",?", len(orders)-1)+`) ORDER BY order_id, line_no`, args...)
	if err != nil {
		return fmt.Errorf("query order items: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id string
		var it order.Item
		if err := rows.Scan(&id, &it.ProductID, &it.Name, &it.Category, &it.Quantity, &it.UnitPriceCents); err != nil {
			return fmt.Errorf("scan order item: %w", err)
		}
		orders[idx[id]].Items = append(orders[idx[id]].Items, it)
	}
	return rows.Err()
}

func (s *Store) one(ctx context.Context, q querier, what, query string, args ...any) (order.Order, error) {
	found, err := queryOrders(ctx, q, query, args...)
	if err != nil {
		return order.Order{}, err
	}
	if len(found) == 0 {
		return order.Order{}, errs.E(errs.NotFound, "%s not found", what)
	}
	return found[0], nil
}

// Get returns an order by id.
func (s *Store) Get(ctx context.Context, id string) (order.Order, error) {
	return s.one(ctx, s.db, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id)
}

// GetByKey returns a user's order by idempotency key.
func (s *Store) GetByKey(ctx context.Context, userID, key string) (order.Order, error) {
	return s.one(ctx, s.db, "order for this idempotency key",
		`SELECT `+orderColumns+` FROM orders WHERE user_id = ? AND idempotency_key = ?`, userID, key)
}

// List returns a page of orders, newest first.
func (s *Store) List(ctx context.Context, q order.ListQuery) ([]order.Order, error) {
	if q.Limit <= 0 {
		return nil, errs.InvalidField("limit", "limit must be positive")
	}
	var where []string
	var args []any
	if q.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, q.UserID)
	}
	if q.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(q.Status))
	}
	if q.After != nil {
		c := nanos(q.After.CreatedAt)
		where, args = append(where, "(created_at < ? OR (created_at = ? AND id < ?))"), append(args, c, c, q.After.ID)
	}
	query := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	return queryOrders(ctx, s.db, query, append(args, q.Limit)...)
}

// settle moves a PENDING order to status inside tx and applies pricing.
// A missing order is errs.NotFound and a settled one errs.FailedPrecondition.
func settle(ctx context.Context, tx *sql.Tx, id string, to order.Status, p *order.Pricing, f app.Failure, at time.Time) error {
	var cur string
	err := tx.QueryRowContext(ctx, `SELECT status FROM orders WHERE id = ?`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, "order %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("read order status: %w", err)
	}
	if !order.CanTransition(order.Status(cur), to) {
		return errs.E(errs.FailedPrecondition, "order %s is %s and cannot become %s", id, cur, to)
	}
	var total int64
	var currency string
	if p != nil {
		total, currency = p.TotalCents, p.Currency
	}
	// The status guard repeats the check above so that the update stays
	// correct on stores whose transactions do not lock on first read.
	res, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, failure_code = ?, failure_message = ?,
		total_cents = CASE WHEN ? THEN ? ELSE total_cents END,
		currency = CASE WHEN ? THEN ? ELSE currency END,
		updated_at = ? WHERE id = ? AND status = 'PENDING'`,
		string(to), string(f.Code), f.Message, p != nil, total, p != nil, currency, nanos(at), id)
	if err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errs.E(errs.FailedPrecondition, "order %s is no longer PENDING", id)
	}
	if p == nil {
		return nil
	}
	for _, it := range p.Items {
		res, err := tx.ExecContext(ctx, `UPDATE order_items SET name = ?, category = ?, unit_price_cents = ?
			WHERE order_id = ? AND product_id = ? AND quantity = ?`,
			it.Name, it.Category, it.UnitPriceCents, id, it.ProductID, it.Quantity)
		if err != nil {
			return fmt.Errorf("price order item: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errs.E(errs.Invalid, "order %s has no line of %d x %q to price", id, it.Quantity, it.ProductID)
		}
	}
	return nil
}

// MarkPaid moves a PENDING order to PAID and writes msg to the outbox in
// one transaction.
func (s *Store) MarkPaid(ctx context.Context, id string, p order.Pricing, at time.Time, msg app.OutboxMessage) (order.Order, error) {
	if msg.EventID == "" || msg.Topic == "" || msg.Key == "" {
		return order.Order{}, errs.E(errs.Invalid, "an outbox message needs an event id, a topic and a key")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return order.Order{}, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := settle(ctx, tx, id, order.StatusPaid, &p, app.Failure{}, at); err != nil {
		return order.Order{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox (event_id, topic, msg_key, payload, created_at) VALUES (?, ?, ?, ?, ?)`,
		msg.EventID, msg.Topic, msg.Key, msg.Payload, nanos(at))
	if sqlitex.IsUniqueViolation(err) {
		return order.Order{}, errs.Wrap(errs.Conflict, err, "outbox event %s exists", msg.EventID)
	}
	if err != nil {
		return order.Order{}, fmt.Errorf("insert outbox row: %w", err)
	}
	o, err := s.one(ctx, tx, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id)
	if err != nil {
		return order.Order{}, err
	}
	if err := tx.Commit(); err != nil {
		return order.Order{}, fmt.Errorf("commit: %w", err)
	}
	return o, nil
}

// MarkFailed moves a PENDING order to FAILED.
func (s *Store) MarkFailed(ctx context.Context, id string, f app.Failure, at time.Time) (order.Order, error) {
	if f.Code == "" {
		return order.Order{}, errs.E(errs.Invalid, "a failed order needs a failure code")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return order.Order{}, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := settle(ctx, tx, id, order.StatusFailed, f.Pricing, f, at); err != nil {
		return order.Order{}, err
	}
	o, err := s.one(ctx, tx, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id)
	if err != nil {
		return order.Order{}, err
	}
	if err := tx.Commit(); err != nil {
		return order.Order{}, fmt.Errorf("commit: %w", err)
	}
	return o, nil
}

// PendingBefore returns PENDING orders created before t, oldest first.
func (s *Store) PendingBefore(ctx context.Context, t time.Time, limit int) ([]order.Order, error) {
	return queryOrders(ctx, s.db, `SELECT `+orderColumns+` FROM orders
		WHERE status = 'PENDING' AND created_at < ? ORDER BY created_at, id LIMIT ?`, nanos(t), limit)
}

// UnpublishedOutbox returns unpublished outbox rows in id order.
func (s *Store) UnpublishedOutbox(ctx context.Context, limit int) ([]app.OutboxRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, event_id, topic, msg_key, payload, created_at
		FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("query outbox: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []app.OutboxRecord
	for rows.Next() {
		var r app.OutboxRecord
		var created int64
		if err := rows.Scan(&r.ID, &r.EventID, &r.Topic, &r.Key, &r.Payload, &created); err != nil {
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		r.CreatedAt = fromNanos(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClaimOutbox leases unpublished rows to c.Owner. SQLite has one writer
// (immediate transactions), so the select and the update cannot interleave
// with another claim.
func (s *Store) ClaimOutbox(ctx context.Context, c app.Claim) ([]app.OutboxRecord, error) {
	if err := checkClaim(c); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := nanos(c.Now)
	rows, err := tx.QueryContext(ctx, `SELECT id, event_id, topic, msg_key, payload, created_at FROM outbox
		WHERE published_at IS NULL AND (lease_until <= ? OR lease_owner = ?) ORDER BY id LIMIT ?`, now, c.Owner, c.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	var out []app.OutboxRecord
	for rows.Next() {
		var r app.OutboxRecord
		var created int64
		if err := rows.Scan(&r.ID, &r.EventID, &r.Topic, &r.Key, &r.Payload, &created); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		r.CreatedAt = fromNanos(created)
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	args := []any{c.Owner, nanos(c.Now.Add(c.Lease))}
	for _, r := range out {
		args = append(args, r.ID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_owner = ?, lease_until = ?
		WHERE id IN (?`+strings.Repeat(",?", len(out)-1)+`)`, args...); err != nil {
		return nil, fmt.Errorf("lease outbox rows: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

// ClaimPending leases PENDING orders created before t to c.Owner for recovery.
func (s *Store) ClaimPending(ctx context.Context, t time.Time, c app.Claim) ([]order.Order, error) {
	if err := checkClaim(c); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	found, err := queryOrders(ctx, tx, `SELECT `+orderColumns+` FROM orders
		WHERE status = 'PENDING' AND created_at < ? AND (recovery_until <= ? OR recovery_owner = ?)
		ORDER BY created_at, id LIMIT ?`, nanos(t), nanos(c.Now), c.Owner, c.Limit)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	args := []any{c.Owner, nanos(c.Now.Add(c.Lease))}
	for _, o := range found {
		args = append(args, o.ID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET recovery_owner = ?, recovery_until = ?
		WHERE id IN (?`+strings.Repeat(",?", len(found)-1)+`)`, args...); err != nil {
		return nil, fmt.Errorf("lease pending orders: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return found, nil
}

func checkClaim(c app.Claim) error {
	switch {
	case c.Owner == "":
		return errs.InvalidField("owner", "a claim needs an owner")
	case c.Lease <= 0:
		return errs.InvalidField("lease", "a claim needs a positive lease")
	case c.Limit <= 0:
		return errs.InvalidField("limit", "a claim needs a positive limit")
	}
	return nil
}

// MarkPublished marks outbox rows published; rows already marked keep their first time.
func (s *Store) MarkPublished(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, nanos(at))
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET published_at = ?
		WHERE published_at IS NULL AND id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("mark outbox rows published: %w", err)
	}
	return nil
}

// OutboxBacklog counts unpublished outbox rows.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox backlog: %w", err)
	}
	return n, nil
}
