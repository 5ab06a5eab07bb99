// Package sqlite is the payment Store on embedded SQLite (the local env).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose migrations of the payments database.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return migrationFiles // unreachable: embedded at build time
	}
	return sub
}

// Store is an app.Store on a SQLite database.
type Store struct {
	db *sql.DB
}

var _ app.Store = (*Store)(nil)

// Open opens (creating and migrating) the payments database at path.
func Open(ctx context.Context, path string, opts ...sqlitex.Option) (*Store, error) {
	db, err := sqlitex.Open(ctx, path, Migrations(), opts...)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

const columns = `id, order_id, user_id, amount_cents, currency, status, decline_code, charge_id, refund_reason, created_at, updated_at`

// CreateIfAbsent implements app.Store.
func (s *Store) CreateIfAbsent(ctx context.Context, p payment.Payment) (payment.Payment, bool, error) {
	if !p.Status.Valid() {
		return payment.Payment{}, false, fmt.Errorf("create payment: invalid status %q", p.Status)
	}
	// sqlitex opens write transactions IMMEDIATE, so the insert and the
	// read-back see the same state even with other writers queued.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return payment.Payment{}, false, storeErr("create payment", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `INSERT INTO payments (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id) DO NOTHING`,
		p.ID, p.OrderID, p.UserID, p.AmountCents, p.Currency, string(p.Status), p.DeclineCode, p.ChargeID, p.RefundReason,
		p.CreatedAt.UnixMicro(), p.UpdatedAt.UnixMicro())
	if sqlitex.IsUniqueViolation(err) {
		return payment.Payment{}, false, errs.Wrap(errs.Conflict, err, "payment id %s is taken", p.ID)
	}
	if err != nil {
		return payment.Payment{}, false, storeErr("create payment", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return payment.Payment{}, false, storeErr("create payment", err)
	}
	got, err := scanOne(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE order_id = ?`, p.OrderID))
	if err != nil {
		return payment.Payment{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return payment.Payment{}, false, storeErr("create payment", err)
	}
	return got, n == 1, nil
}

// Transition implements app.Store.
func (s *Store) Transition(ctx context.Context, orderID string, from payment.Status, c payment.Change) (payment.Payment, bool, error) {
	if !payment.CanTransition(from, c.Status) {
		return payment.Payment{}, false, fmt.Errorf("transition payment of order %s: %s -> %s is not allowed", orderID, from, c.Status)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return payment.Payment{}, false, storeErr("transition payment", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE payments SET
			status = ?,
			decline_code = CASE WHEN ? = '' THEN decline_code ELSE ? END,
			charge_id = CASE WHEN ? = '' THEN charge_id ELSE ? END,
			refund_reason = CASE WHEN ? = '' THEN refund_reason ELSE ? END,
			updated_at = ?
		WHERE order_id = ? AND status = ?`,
		string(c.Status), c.DeclineCode, c.DeclineCode, c.ChargeID, c.ChargeID, c.RefundReason, c.RefundReason,
		c.At.UnixMicro(), orderID, string(from))
	if err != nil {
		return payment.Payment{}, false, storeErr("transition payment", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return payment.Payment{}, false, storeErr("transition payment", err)
	}
	got, err := scanOne(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE order_id = ?`, orderID))
	if err != nil {
		return payment.Payment{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return payment.Payment{}, false, storeErr("transition payment", err)
	}
	return got, n == 1, nil
}

// ByOrder implements app.Store.
func (s *Store) ByOrder(ctx context.Context, orderID string) (payment.Payment, error) {
	return scanOne(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE order_id = ?`, orderID))
}

// List implements app.Store.
func (s *Store) List(ctx context.Context, after string, limit int) ([]payment.Payment, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM payments WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, storeErr("list payments", err)
	}
	defer rows.Close()
	var out []payment.Payment
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, storeErr("list payments", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
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

func scanOne(row *sql.Row) (payment.Payment, error) {
	p, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return payment.Payment{}, errs.E(errs.NotFound, "no payment for this order")
	}
	if err != nil {
		return payment.Payment{}, storeErr("read payment", err)
	}
	return p, nil
}

// storeErr classifies a database failure: the caller's own deadline or
// cancellation keeps its meaning, anything else is the store being
// unavailable, which callers may retry.
func storeErr(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return errs.Wrap(errs.Unavailable, fmt.Errorf("%s: %w", op, err), "payment store unavailable")
}
