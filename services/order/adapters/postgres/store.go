// Package postgres stores orders, their items and the outbox in PostgreSQL
// (the host, compose and aws-* envs' relational store, the RDS role), with
// pgx's pool and goose migrations run at Open.
//
// Pool and timeouts: pgxx.Options. By default 10 connections, none kept
// warm, statement_timeout 5 s on every connection (a runaway query is cut
// by the server, not only by the caller's deadline), a 5 s connect timeout,
// and an unreachable server fails Open at once with its address named.
//
// Locking: transactions run at READ COMMITTED. Settling an order (MarkPaid,
// MarkFailed) reads it with SELECT ... FOR UPDATE, so two replicas settling
// one order serialise on its row and the second sees it settled (an
// errs.FailedPrecondition); MarkPaid's status change, item prices and
// outbox row commit in ONE transaction. Several relays and recovery loops
// share the database through leases taken with UPDATE ... WHERE id IN
// (SELECT ... FOR UPDATE SKIP LOCKED): concurrent claimers skip each
// other's rows instead of waiting, and a row stays its owner's until the
// lease ends, so no two relays publish a row at once and no two recovery
// loops settle one order at once. A deadlock or serialization failure
// retries the transaction (pgxx.InTx); connection failures and timeouts are
// errs.Unavailable.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/pgxx"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the goose migrations of the order schema (PostgreSQL dialect).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return migrations // unreachable: the path is a constant
	}
	return sub
}

// Store is an app.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ app.Store = (*Store)(nil)

// Open connects to the database of o.URL and migrates it.
func Open(ctx context.Context, o pgxx.Options) (*Store, error) {
	pool, err := pgxx.Open(ctx, o, Migrations())
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return pgxx.Err("ping order database", s.pool.Ping(ctx), "")
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func storeErr(op string, err error) error { return pgxx.Err(op, err, "order store conflict") }

func (s *Store) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return storeErr(op, pgxx.InTx(ctx, s.pool, pgx.TxOptions{}, fn))
}

// Create inserts a PENDING order and its items in one transaction.
func (s *Store) Create(ctx context.Context, o order.Order) error {
	if o.Status != order.StatusPending {
		return errs.E(errs.Invalid, "a new order must be PENDING, not %s", o.Status)
	}
	return s.inTx(ctx, "create order", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders
			(id, user_id, user_email, status, total_cents, currency, failure_code, failure_message, idempotency_key, request_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			o.ID, o.UserID, o.UserEmail, string(o.Status), o.TotalCents, o.Currency, string(o.FailureCode), o.FailureMessage,
			o.IdempotencyKey, o.RequestHash, nanos(o.CreatedAt), nanos(o.UpdatedAt))
		if pgxx.IsUniqueViolation(err) {
			return errs.Wrap(errs.Conflict, err, "an order with this id or idempotency key exists")
		}
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		b := &pgx.Batch{}
		for i, it := range o.Items {
			b.Queue(`INSERT INTO order_items (order_id, line_no, product_id, name, category, quantity, unit_price_cents)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, o.ID, i, it.ProductID, it.Name, it.Category, it.Quantity, it.UnitPriceCents)
		}
		br := tx.SendBatch(ctx, b)
		for _, it := range o.Items {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				if pgxx.IsUniqueViolation(err) {
					return errs.Wrap(errs.Invalid, err, "product %q is on two lines", it.ProductID)
				}
				return fmt.Errorf("insert order item: %w", err)
			}
		}
		return br.Close()
	})
}

const orderColumns = `id, user_id, user_email, status, total_cents, currency, failure_code, failure_message,
	idempotency_key, request_hash, created_at, updated_at`

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanOrder(sc pgx.CollectableRow) (order.Order, error) {
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
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanOrder)
	if err != nil {
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
	ids := make([]string, len(orders))
	for i, o := range orders {
		idx[o.ID] = i
		ids[i] = o.ID
	}
	rows, err := q.Query(ctx, `SELECT order_id, product_id, name, category, quantity, unit_price_cents
		FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line_no`, ids)
	if err != nil {
		return fmt.Errorf("query order items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var it order.Item
		if err := rows.Scan(&id, &it.ProductID, &it.Name, &it.Category, &it.Quantity, &it.UnitPriceCents); err != nil {
			return fmt.Errorf("scan order item: %w", err)
		}
		orders[idx[id]].Items = append(orders[idx[id]].Items, it)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query order items: %w", err)
	}
	return nil
}

func one(ctx context.Context, q querier, what, query string, args ...any) (order.Order, error) {
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
	o, err := one(ctx, s.pool, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
	return o, storeErr("get order", err)
}

// GetByKey returns a user's order by idempotency key.
func (s *Store) GetByKey(ctx context.Context, userID, key string) (order.Order, error) {
	o, err := one(ctx, s.pool, "order for this idempotency key",
		`SELECT `+orderColumns+` FROM orders WHERE user_id = $1 AND idempotency_key = $2`, userID, key)
	return o, storeErr("get order by key", err)
}

// List returns a page of orders, newest first.
func (s *Store) List(ctx context.Context, q order.ListQuery) ([]order.Order, error) {
	if q.Limit <= 0 {
		return nil, errs.InvalidField("limit", "limit must be positive")
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.UserID != "" {
		where = append(where, "user_id = "+arg(q.UserID))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(string(q.Status)))
	}
	if q.After != nil {
		where = append(where, "(created_at, id) < ("+arg(nanos(q.After.CreatedAt))+", "+arg(q.After.ID)+")")
	}
	query := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT " + arg(q.Limit)
	out, err := queryOrders(ctx, s.pool, query, args...)
	return out, storeErr("list orders", err)
}

// settle moves a PENDING order to status inside tx and applies pricing.
// The row lock (FOR UPDATE) makes a concurrent settle of the same order
// wait, then see it settled.
func settle(ctx context.Context, tx pgx.Tx, id string, to order.Status, p *order.Pricing, f app.Failure, at time.Time) error {
	var cur string
	err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1 FOR UPDATE`, id).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := tx.Exec(ctx, `UPDATE orders SET status = $1, failure_code = $2, failure_message = $3,
		total_cents = CASE WHEN $4 THEN $5 ELSE total_cents END,
		currency = CASE WHEN $4 THEN $6 ELSE currency END,
		updated_at = $7 WHERE id = $8 AND status = 'PENDING'`,
		string(to), string(f.Code), f.Message, p != nil, total, currency, nanos(at), id)
	if err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return errs.E(errs.FailedPrecondition, "order %s is no longer PENDING", id)
	}
	if p == nil {
		return nil
	}
	for _, it := range p.Items {
		tag, err := tx.Exec(ctx, `UPDATE order_items SET name = $1, category = $2, unit_price_cents = $3
			WHERE order_id = $4 AND product_id = $5 AND quantity = $6`,
			it.Name, it.Category, it.UnitPriceCents, id, it.ProductID, it.Quantity)
		if err != nil {
			return fmt.Errorf("price order item: %w", err)
		}
		if tag.RowsAffected() != 1 {
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
	var o order.Order
	err := s.inTx(ctx, "mark order paid", func(tx pgx.Tx) error {
		if err := settle(ctx, tx, id, order.StatusPaid, &p, app.Failure{}, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, topic, msg_key, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
			msg.EventID, msg.Topic, msg.Key, msg.Payload, nanos(at))
		if pgxx.IsUniqueViolation(err) {
			return errs.Wrap(errs.Conflict, err, "outbox event %s exists", msg.EventID)
		}
		if err != nil {
			return fmt.Errorf("insert outbox row: %w", err)
		}
		o, err = one(ctx, tx, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// MarkFailed moves a PENDING order to FAILED.
func (s *Store) MarkFailed(ctx context.Context, id string, f app.Failure, at time.Time) (order.Order, error) {
	if f.Code == "" {
		return order.Order{}, errs.E(errs.Invalid, "a failed order needs a failure code")
	}
	var o order.Order
	err := s.inTx(ctx, "mark order failed", func(tx pgx.Tx) error {
		if err := settle(ctx, tx, id, order.StatusFailed, f.Pricing, f, at); err != nil {
			return err
		}
		var err error
		o, err = one(ctx, tx, fmt.Sprintf("order %q", id), `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// PendingBefore returns PENDING orders created before t, oldest first.
func (s *Store) PendingBefore(ctx context.Context, t time.Time, limit int) ([]order.Order, error) {
	out, err := queryOrders(ctx, s.pool, `SELECT `+orderColumns+` FROM orders
		WHERE status = 'PENDING' AND created_at < $1 ORDER BY created_at, id LIMIT $2`, nanos(t), limit)
	return out, storeErr("find pending orders", err)
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

// ClaimPending leases PENDING orders created before t to c.Owner. SKIP
// LOCKED lets concurrent claimers pass over each other's candidate rows.
func (s *Store) ClaimPending(ctx context.Context, t time.Time, c app.Claim) ([]order.Order, error) {
	if err := checkClaim(c); err != nil {
		return nil, err
	}
	var out []order.Order
	err := s.inTx(ctx, "claim pending orders", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE orders SET recovery_owner = $1, recovery_until = $2
			WHERE id IN (SELECT id FROM orders
				WHERE status = 'PENDING' AND created_at < $3 AND (recovery_until <= $4 OR recovery_owner = $1)
				ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
			RETURNING `+orderColumns, c.Owner, nanos(c.Now.Add(c.Lease)), nanos(t), nanos(c.Now), c.Limit)
		if err != nil {
			return fmt.Errorf("claim pending orders: %w", err)
		}
		out, err = pgx.CollectRows(rows, scanOrder)
		if err != nil {
			return fmt.Errorf("claim pending orders: %w", err)
		}
		// RETURNING keeps no order.
		sort.Slice(out, func(i, j int) bool {
			if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
				return out[i].CreatedAt.Before(out[j].CreatedAt)
			}
			return out[i].ID < out[j].ID
		})
		return loadItems(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanOutbox(rows pgx.CollectableRow) (app.OutboxRecord, error) {
	var r app.OutboxRecord
	var created int64
	err := rows.Scan(&r.ID, &r.EventID, &r.Topic, &r.Key, &r.Payload, &created)
	r.CreatedAt = fromNanos(created)
	return r, err
}

// UnpublishedOutbox returns unpublished outbox rows in id order.
func (s *Store) UnpublishedOutbox(ctx context.Context, limit int) ([]app.OutboxRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, event_id, topic, msg_key, payload, created_at
		FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, storeErr("query outbox", err)
	}
	out, err := pgx.CollectRows(rows, scanOutbox)
	return out, storeErr("query outbox", err)
}

// ClaimOutbox leases unpublished rows to c.Owner, in id order. SKIP LOCKED
// lets two relays claim at once, each getting rows the other did not.
func (s *Store) ClaimOutbox(ctx context.Context, c app.Claim) ([]app.OutboxRecord, error) {
	if err := checkClaim(c); err != nil {
		return nil, err
	}
	var out []app.OutboxRecord
	err := s.inTx(ctx, "claim outbox", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE outbox SET lease_owner = $1, lease_until = $2
			WHERE id IN (SELECT id FROM outbox
				WHERE published_at IS NULL AND (lease_until <= $3 OR lease_owner = $1)
				ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
			RETURNING id, event_id, topic, msg_key, payload, created_at`,
			c.Owner, nanos(c.Now.Add(c.Lease)), nanos(c.Now), c.Limit)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		out, err = pgx.CollectRows(rows, scanOutbox)
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkPublished marks outbox rows published; rows already marked keep their first time.
func (s *Store) MarkPublished(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET published_at = $1 WHERE published_at IS NULL AND id = ANY($2)`, nanos(at), ids)
	return storeErr("mark outbox rows published", err)
}

// OutboxBacklog counts unpublished outbox rows.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	return n, storeErr("count outbox backlog", err)
}
