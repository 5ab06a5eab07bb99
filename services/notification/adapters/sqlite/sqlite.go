// Package sqlite is the local env's DedupStore: the notification unit's
// sent log in an embedded SQLite database, playing DynamoDB's role. Every
// method is one statement, so SQLite's write lock makes it atomic across the
// goroutines (partitions) that share the store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a DedupStore on SQLite.
type Store struct {
	db *sql.DB
}

var _ app.DedupStore = (*Store)(nil)

// Open opens (creating and migrating) the store at path; opts pass through
// to sqlitex.Open, e.g. sqlitex.WithDriver for the chaos driver.
func Open(ctx context.Context, path string, opts ...sqlitex.Option) (*Store, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitex.Open(ctx, path, sub, opts...)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "open dedup store")
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return storeErr(err, "ping")
	}
	return nil
}

// Claim implements app.DedupStore with one upsert: insert a claim, or take
// over a claim whose lease ended; a sent row is never touched.
func (s *Store) Claim(ctx context.Context, eventID, orderID, token string, now time.Time, lease time.Duration) (app.ClaimResult, error) {
	if err := validateClaim(eventID, token, lease); err != nil {
		return 0, err
	}
	nowMs := now.UnixMilli()
	until := now.Add(lease).UnixMilli()
	// A concurrent Release can delete the row between the upsert and the
	// read below; a few rounds settle it.
	for range 3 {
		res, err := s.db.ExecContext(ctx, `
INSERT INTO sent_events (event_id, order_id, status, token, lease_until, claimed_at)
VALUES (?, ?, 'claimed', ?, ?, ?)
ON CONFLICT (event_id) DO UPDATE SET
    order_id = excluded.order_id, token = excluded.token,
    lease_until = excluded.lease_until, claimed_at = excluded.claimed_at
WHERE sent_events.status = 'claimed' AND sent_events.lease_until <= ?`,
			eventID, orderID, token, until, nowMs, nowMs)
		if err != nil {
			return 0, storeErr(err, "claim")
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, storeErr(err, "claim")
		} else if n == 1 {
			return app.Claimed, nil
		}
		var status string
		err = s.db.QueryRowContext(ctx, `SELECT status FROM sent_events WHERE event_id = ?`, eventID).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return 0, storeErr(err, "claim")
		case status == "sent":
			return app.AlreadySent, nil
		default:
			return app.HeldByOther, nil
		}
	}
	return app.HeldByOther, nil
}

// MarkSent implements app.DedupStore; the first sent time is kept.
func (s *Store) MarkSent(ctx context.Context, eventID string, now time.Time) error {
	if eventID == "" {
		return errs.InvalidField("event_id", "is required")
	}
	_, err := s.db.ExecContext(ctx, `
INSERT INTO sent_events (event_id, order_id, status, token, lease_until, claimed_at, sent_at)
VALUES (?, '', 'sent', '', 0, ?, ?)
ON CONFLICT (event_id) DO UPDATE SET
    status = 'sent', sent_at = COALESCE(sent_events.sent_at, excluded.sent_at)`,
		eventID, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return storeErr(err, "mark sent")
	}
	return nil
}

// Release implements app.DedupStore.
func (s *Store) Release(ctx context.Context, eventID, token string) error {
	if eventID == "" || token == "" {
		return errs.InvalidField("event_id", "event id and token are required")
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM sent_events WHERE event_id = ? AND token = ? AND status = 'claimed'`, eventID, token)
	if err != nil {
		return storeErr(err, "release")
	}
	return nil
}

func validateClaim(eventID, token string, lease time.Duration) error {
	switch {
	case eventID == "":
		return errs.InvalidField("event_id", "is required")
	case token == "":
		return errs.InvalidField("token", "is required")
	case lease <= 0:
		return errs.InvalidField("lease", "must be positive, got %s", lease)
	}
	return nil
}

// storeErr marks a database failure as transient: the local store is in
// process, so its failures are locks, full disks or injected faults, all
// worth a retry rather than a dead letter.
func storeErr(err error, op string) error {
	if c := errs.CodeOf(err); c == errs.DeadlineExceeded {
		return errs.Wrap(c, err, "dedup store %s timed out", op)
	}
	return errs.Wrap(errs.Unavailable, err, "dedup store %s failed", op)
}
