// Package mailbox is the local env's email provider: a Mailer that "sends"
// by writing the email to a SQLite mailbox table, and a query API over it
// for the ops endpoint GET /ops/v1/mailbox and the scenario invariants.
package mailbox

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"time"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MaxListLimit bounds one List call. It is high because the scenario
// reconciler reads a run's whole mailbox in one call
// (GET /ops/v1/mailbox?limit=1000000); the bound only refuses absurd
// requests, it does not page.
const MaxListLimit = 1_000_000

// Message is one email in the mailbox.
type Message struct {
	ID      int64     `json:"id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Body    string    `json:"body"`
	OrderID string    `json:"order_id"`
	EventID string    `json:"event_id"`
	SentAt  time.Time `json:"sent_at"`
}

// Options configures Open.
type Options struct {
	Now    func() time.Time // stamps sent_at; nil means time.Now
	Driver string           // database/sql driver; "" means sqlitex.DriverName
}

// Mailbox is the SQLite mailbox. Send is idempotent per event id: the
// event_id column is UNIQUE and a second Send of the same event is a no-op,
// which is what makes local delivery exactly-once even when the handler
// crashes between sending and marking the event sent.
type Mailbox struct {
	db  *sql.DB
	now func() time.Time
}

var _ app.Mailer = (*Mailbox)(nil)

// Open opens (creating and migrating) the mailbox database at path.
func Open(ctx context.Context, path string, o Options) (*Mailbox, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var opts []sqlitex.Option
	if o.Driver != "" {
		opts = append(opts, sqlitex.WithDriver(o.Driver))
	}
	db, err := sqlitex.Open(ctx, path, sub, opts...)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "open mailbox")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Mailbox{db: db, now: o.Now}, nil
}

// Close closes the database.
func (m *Mailbox) Close() error { return m.db.Close() }

// Ping checks that the database answers, for readiness.
func (m *Mailbox) Ping(ctx context.Context) error {
	if err := m.db.PingContext(ctx); err != nil {
		return mailboxErr(err, "ping")
	}
	return nil
}

// Send implements app.Mailer.
func (m *Mailbox) Send(ctx context.Context, e notification.Email) error {
	if err := e.Validate(); err != nil {
		return err
	}
	_, err := m.db.ExecContext(ctx, `
INSERT INTO mailbox (sender, "to", subject, body, order_id, event_id, sent_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id) DO NOTHING`,
		e.From, e.To, e.Subject, e.Body, e.OrderID, e.EventID, m.now().UnixMilli())
	if err != nil {
		return mailboxErr(err, "send")
	}
	return nil
}

// List returns up to limit emails, newest first. limit must be in
// [1, MaxListLimit].
func (m *Mailbox) List(ctx context.Context, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, errs.InvalidField("limit", "must be between 1 and %d, got %d", MaxListLimit, limit)
	}
	rows, err := m.db.QueryContext(ctx, `
SELECT id, sender, "to", subject, body, order_id, event_id, sent_at
FROM mailbox ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, mailboxErr(err, "list")
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var msg Message
		var sentAt int64
		if err := rows.Scan(&msg.ID, &msg.From, &msg.To, &msg.Subject, &msg.Body, &msg.OrderID, &msg.EventID, &sentAt); err != nil {
			return nil, mailboxErr(err, "list")
		}
		msg.SentAt = time.UnixMilli(sentAt).UTC()
		out = append(out, msg)
	}
	if err := rows.Err(); err != nil {
		return nil, mailboxErr(err, "list")
	}
	return out, nil
}

// Count returns how many emails the mailbox holds.
func (m *Mailbox) Count(ctx context.Context) (int, error) {
	var n int
	if err := m.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailbox`).Scan(&n); err != nil {
		return 0, mailboxErr(err, "count")
	}
	return n, nil
}

// mailboxErr marks a database failure as transient (see the sqlite
// dedup store for why).
func mailboxErr(err error, op string) error {
	if c := errs.CodeOf(err); c == errs.DeadlineExceeded {
		return errs.Wrap(c, err, "mailbox %s timed out", op)
	}
	return errs.Wrap(errs.Unavailable, err, "mailbox %s failed", op)
}
