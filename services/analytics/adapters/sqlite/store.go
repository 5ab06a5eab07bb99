// Package sqlite is the analytics window store on SQLite: the outbox of
// closed windows, the event ids they account for, and the watermark to
// resume from.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite window store.
type Store struct {
	db *sql.DB
}

var (
	_ app.WindowStore  = (*Store)(nil)
	_ app.Outbox       = (*Store)(nil)
	_ app.WindowLister = (*Store)(nil)
)

// Open opens (creating and migrating) the store at path.
func Open(ctx context.Context, path string, opts ...sqlitex.Option) (*Store, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitex.Open(ctx, path, sub, opts...)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "open analytics store")
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Checkpoint implements app.WindowStore.
func (s *Store) Checkpoint(ctx context.Context) (analytics.Checkpoint, error) {
	var cp analytics.Checkpoint
	var wm int64
	err := s.db.QueryRowContext(ctx, `SELECT watermark_ms FROM progress WHERE id = 1`).Scan(&wm)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return cp, nil
	case err != nil:
		return cp, fmt.Errorf("read watermark: %w", err)
	}
	cp.Watermark = time.UnixMilli(wm).UTC()
	rows, err := s.db.QueryContext(ctx, `SELECT event_id, window_start_ms FROM accounted_events`)
	if err != nil {
		return cp, fmt.Errorf("read accounted events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var start int64
		if err := rows.Scan(&id, &start); err != nil {
			return cp, err
		}
		cp.Seen = append(cp.Seen, analytics.SeenEvent{EventID: id, Window: time.UnixMilli(start).UTC()})
	}
	return cp, rows.Err()
}

// SaveClosed implements app.WindowStore. A window already stored is a
// Conflict: the engine never closes a window twice unless its checkpoint
// was lost.
func (s *Store) SaveClosed(ctx context.Context, windows []analytics.Window, watermark, horizon time.Time) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, w := range windows {
		body, err := json.Marshal(w.Result())
		if err != nil {
			return err
		}
		start := w.Start.UnixMilli()
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO windows (window_start_ms, window_end_ms, closed_at_ms, result) VALUES (?, ?, ?, ?)`,
			start, w.End.UnixMilli(), w.ClosedAt.UnixMilli(), string(body)); err != nil {
			if sqlitex.IsUniqueViolation(err) {
				return errs.Wrap(errs.Conflict, err, "window %s already stored", w.Start.Format(time.RFC3339Nano))
			}
			return err
		}
		for _, ids := range [][]string{w.EventIDs, w.LateEventIDs} {
			for _, id := range ids {
				// Upsert: an id the engine already forgot (past the dedup
				// retention, or pruned on resume) can come back as late
				// before the store has pruned it too.
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO accounted_events (event_id, window_start_ms) VALUES (?, ?)
					 ON CONFLICT (event_id) DO UPDATE SET window_start_ms = excluded.window_start_ms`, id, start); err != nil {
					return err
				}
			}
		}
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO progress (id, watermark_ms) VALUES (1, ?)
		 ON CONFLICT (id) DO UPDATE SET watermark_ms = max(watermark_ms, excluded.watermark_ms)`, watermark.UnixMilli()); err != nil {
		return err
	}
	if !horizon.IsZero() {
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounted_events WHERE window_start_ms < ?`, horizon.UnixMilli()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Pending implements app.Outbox.
func (s *Store) Pending(ctx context.Context, limit int) ([]app.PendingWindow, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT window_start_ms, result, published_at_ms IS NOT NULL, archived_at_ms IS NOT NULL
		 FROM windows WHERE published_at_ms IS NULL OR archived_at_ms IS NULL
		 ORDER BY window_start_ms LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.PendingWindow
	for rows.Next() {
		var start int64
		var body string
		var w app.PendingWindow
		if err := rows.Scan(&start, &body, &w.Published, &w.Archived); err != nil {
			return nil, err
		}
		w.Start = time.UnixMilli(start).UTC()
		w.Body = []byte(body)
		out = append(out, w)
	}
	return out, rows.Err()
}

// MarkPublished implements app.Outbox.
func (s *Store) MarkPublished(ctx context.Context, start, at time.Time) error {
	return s.mark(ctx, `UPDATE windows SET published_at_ms = ? WHERE window_start_ms = ? AND published_at_ms IS NULL`, start, at)
}

// MarkArchived implements app.Outbox.
func (s *Store) MarkArchived(ctx context.Context, start, at time.Time) error {
	return s.mark(ctx, `UPDATE windows SET archived_at_ms = ? WHERE window_start_ms = ? AND archived_at_ms IS NULL`, start, at)
}

func (s *Store) mark(ctx context.Context, q string, start, at time.Time) error {
	res, err := s.db.ExecContext(ctx, q, at.UnixMilli(), start.UnixMilli())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		var one int
		if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM windows WHERE window_start_ms = ?`, start.UnixMilli()).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "window %s not found", start.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// ListWindows implements app.WindowLister: the newest limit windows.
func (s *Store) ListWindows(ctx context.Context, limit int) ([]events.WindowResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT result FROM windows ORDER BY window_start_ms DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []events.WindowResult{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var r events.WindowResult
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, fmt.Errorf("decode stored window: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
