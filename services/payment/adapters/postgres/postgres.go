// Package postgres is the payment Store on PostgreSQL (the host, compose and
// aws-* envs; the RDS role), with pgx's pool and goose migrations run at Open.
// The simulated card processor (adapters/cardsim) is a separate external
// system with its own SQLite ledger and stays there in every env.
//
// Pool and timeouts: pgxx.Options (10 connections unless set,
// statement_timeout 5 s on every connection, 5 s connect timeout; an
// unreachable server fails Open at once, naming its address).
//
// Locking: CreateIfAbsent is INSERT ... ON CONFLICT (order_id) DO NOTHING
// RETURNING, then a read of the winner when it did nothing, so concurrent
// charges of one order on any replicas store one payment. Transition is one
// conditional UPDATE ... WHERE status = from RETURNING, which takes the row
// lock: of two concurrent transitions from one status exactly one applies,
// the other reads the row as it stands after the winner committed.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/pgxx"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose migrations of the payments database (PostgreSQL dialect).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return migrationFiles // unreachable: embedded at build time
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

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	return pgxx.Err("ping payment database", s.pool.Ping(ctx), "")
}

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

const columns = `id, order_id, user_id, amount_cents, currency, status, decline_code, charge_id, refund_reason, created_at, updated_at`

func storeErr(op string, err error) error { return pgxx.Err(op, err, "payment store conflict") }

// CreateIfAbsent implements app.Store.
func (s *Store) CreateIfAbsent(ctx context.Context, p payment.Payment) (payment.Payment, bool, error) {
	if !p.Status.Valid() {
		return payment.Payment{}, false, fmt.Errorf("create payment: invalid status %q", p.Status)
	}
	got, err := scanOne(s.pool.QueryRow(ctx, `INSERT INTO payments (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (order_id) DO NOTHING RETURNING `+columns,
		p.ID, p.OrderID, p.UserID, p.AmountCents, p.Currency, string(p.Status), p.DeclineCode, p.ChargeID, p.RefundReason,
		p.CreatedAt.UnixMicro(), p.UpdatedAt.UnixMicro()))
	if err == nil {
		return got, true, nil
	}
	if pgxx.IsUniqueViolation(err) {
		// ON CONFLICT names order_id only: this is the primary key.
		return payment.Payment{}, false, errs.Wrap(errs.Conflict, err, "payment id %s is taken", p.ID)
	}
	if !errs.Is(err, errs.NotFound) {
		return payment.Payment{}, false, storeErr("create payment", err)
	}
	// The order had a payment: the insert did nothing. Under READ COMMITTED
	// the read sees the committed winner.
	got, err = s.ByOrder(ctx, p.OrderID)
	return got, false, err
}

// Transition implements app.Store.
func (s *Store) Transition(ctx context.Context, orderID string, from payment.Status, c payment.Change) (payment.Payment, bool, error) {
	if !payment.CanTransition(from, c.Status) {
		return payment.Payment{}, false, fmt.Errorf("transition payment of order %s: %s -> %s is not allowed", orderID, from, c.Status)
	}
	got, err := scanOne(s.pool.QueryRow(ctx, `UPDATE payments SET
			status = $1,
			decline_code = CASE WHEN $2 = '' THEN decline_code ELSE $2 END,
			charge_id = CASE WHEN $3 = '' THEN charge_id ELSE $3 END,
			refund_reason = CASE WHEN $4 = '' THEN refund_reason ELSE $4 END,
			updated_at = $5
		WHERE order_id = $6 AND status = $7
		RETURNING `+columns,
		string(c.Status), c.DeclineCode, c.ChargeID, c.RefundReason, c.At.UnixMicro(), orderID, string(from)))
	if err == nil {
		return got, true, nil
	}
	if !errs.Is(err, errs.NotFound) {
		return payment.Payment{}, false, storeErr("transition payment", err)
	}
	// Not applied: the status moved on, or there is no payment (NotFound).
	got, err = s.ByOrder(ctx, orderID)
	return got, false, err
}

// ByOrder implements app.Store.
func (s *Store) ByOrder(ctx context.Context, orderID string) (payment.Payment, error) {
	p, err := scanOne(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM payments WHERE order_id = $1`, orderID))
	if err != nil && !errs.Is(err, errs.NotFound) {
		return payment.Payment{}, storeErr("read payment", err)
	}
	return p, err
}

// List implements app.Store.
func (s *Store) List(ctx context.Context, after string, limit int) ([]payment.Payment, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM payments WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, storeErr("list payments", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (payment.Payment, error) { return scan(r) })
	if err != nil {
		return nil, storeErr("list payments", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (payment.Payment, error) {
	var p payment.Payment
	var status string
	var created, updated int64
	if err := r.Scan(&p.ID, &p.OrderID, &p.UserID, &p.AmountCents, &p.Currency, &status, &p.DeclineCode, &p.ChargeID,
		&p.RefundReason, &created, &updated); err != nil {
		return payment.Payment{}, err
	}
	p.Status = payment.Status(status)
	p.CreatedAt = time.UnixMicro(created).UTC()
	p.UpdatedAt = time.UnixMicro(updated).UTC()
	return p, nil
}

// scanOne reads one row: errs.NotFound when there is none, the raw error
// otherwise so callers can tell a unique violation.
func scanOne(row pgx.Row) (payment.Payment, error) {
	p, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return payment.Payment{}, errs.E(errs.NotFound, "no payment for this order")
	}
	return p, err
}
