// Package cardsim is a simulated card processor with Stripe's test tokens
// and idempotency keys. It keeps its own ledger (the processor_charges
// table in a database of its own: the processor is another company's
// system, so nothing in the payment unit can write both atomically) and
// answers after a configurable, seeded latency.
package cardsim

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

// Stripe's test tokens that the simulator knows.
const (
	TokenVisa              = "tok_visa"
	TokenMastercard        = "tok_mastercard"
	TokenAmex              = "tok_amex"
	TokenChargeDeclined    = "tok_chargeDeclined"
	TokenInsufficientFunds = "tok_chargeDeclinedInsufficientFunds"
	TokenExpiredCard       = "tok_chargeDeclinedExpiredCard"
	TokenProcessingError   = "tok_processingError"
)

// behaviour is what a token makes the processor do.
type behaviour struct {
	declineCode string // non-empty: decline with this code
	fail        bool   // fail with a processing error, recording nothing
}

var tokens = map[string]behaviour{
	"":                     {}, // no token: the default card, as the API's default
	TokenVisa:              {},
	TokenMastercard:        {},
	TokenAmex:              {},
	TokenChargeDeclined:    {declineCode: "card_declined"},
	TokenInsufficientFunds: {declineCode: "insufficient_funds"},
	TokenExpiredCard:       {declineCode: "expired_card"},
	TokenProcessingError:   {fail: true},
}

// Tokens lists, sorted, every token the simulator knows ("" included: the
// default card). The gateway's OpenAPI file enumerates the same set, so a
// client that follows the spec never meets "unknown payment token".
func Tokens() []string {
	out := make([]string, 0, len(tokens))
	for t := range tokens {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// countChunk bounds the ids in one IN (...) query, well under SQLite's
// limit on bound parameters.
const countChunk = 500

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose migrations of the processor's ledger.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return migrationFiles // unreachable: embedded at build time
	}
	return sub
}

// Config configures the simulated processor.
type Config struct {
	Latency time.Duration    // added to every call but the charge count
	Jitter  time.Duration    // up to this much more, drawn from Rand
	Rand    *rand.Rand       // required when Jitter > 0; seeded by the caller so runs repeat
	Now     func() time.Time // ledger timestamps; nil means time.Now
}

// Processor is the simulated card processor. It implements app.Processor.
type Processor struct {
	db      *sql.DB
	latency time.Duration
	jitter  time.Duration
	now     func() time.Time

	randMu sync.Mutex // *rand.Rand is not safe for concurrent use
	rand   *rand.Rand
}

var _ app.Processor = (*Processor)(nil)

// Open opens (creating and migrating) the processor's ledger at path.
func Open(ctx context.Context, path string, cfg Config, opts ...sqlitex.Option) (*Processor, error) {
	if cfg.Latency < 0 || cfg.Jitter < 0 {
		return nil, errors.New("cardsim: latency and jitter must not be negative")
	}
	if cfg.Jitter > 0 && cfg.Rand == nil {
		return nil, errors.New("cardsim: jitter needs a seeded Rand")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := sqlitex.Open(ctx, path, Migrations(), opts...)
	if err != nil {
		return nil, fmt.Errorf("cardsim: %w", err)
	}
	return &Processor{db: db, latency: cfg.Latency, jitter: cfg.Jitter, rand: cfg.Rand, now: cfg.Now}, nil
}

// Ping checks that the ledger answers, for readiness.
func (p *Processor) Ping(ctx context.Context) error { return p.db.PingContext(ctx) }

// Close closes the ledger.
func (p *Processor) Close() error { return p.db.Close() }

// delay is this call's simulated network and processing time.
func (p *Processor) delay() time.Duration {
	d := p.latency
	if p.jitter > 0 {
		p.randMu.Lock()
		d += time.Duration(p.rand.Int64N(int64(p.jitter) + 1))
		p.randMu.Unlock()
	}
	return d
}

// wait sleeps for the call's latency, or returns early when ctx ends.
func (p *Processor) wait(ctx context.Context) error {
	d := p.delay()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("card processor: %w", ctx.Err())
	}
}

// Charge implements app.Processor. A known key replays its first verdict,
// even for a token that would now fail; concurrent calls with one key
// record one charge between them.
func (p *Processor) Charge(ctx context.Context, req app.ChargeRequest) (app.Charge, error) {
	b, ok := tokens[req.Token]
	switch {
	case !ok:
		return app.Charge{}, errs.InvalidField("payment_token", "unknown payment token %q; test tokens are tok_visa, tok_chargeDeclined, tok_processingError, ...", req.Token)
	case req.IdempotencyKey == "":
		return app.Charge{}, errs.InvalidField("idempotency_key", "an idempotency key is required")
	case req.OrderID == "":
		return app.Charge{}, errs.InvalidField("order_id", "order_id is required")
	case req.AmountCents <= 0:
		return app.Charge{}, errs.InvalidField("amount_cents", "amount_cents must be positive")
	case req.Currency == "":
		return app.Charge{}, errs.InvalidField("currency", "currency is required")
	}
	if err := p.wait(ctx); err != nil {
		return app.Charge{}, err
	}
	if r, err := p.byKey(ctx, req.IdempotencyKey); err == nil {
		return r.replay(req)
	} else if !errs.Is(err, errs.NotFound) {
		return app.Charge{}, err
	}
	if b.fail {
		return app.Charge{}, errs.E(errs.Unavailable, "card processor: processing error, nothing was charged")
	}
	status := "succeeded"
	if b.declineCode != "" {
		status = "failed"
	}
	// ON CONFLICT DO NOTHING and re-reading: whichever concurrent call with
	// this key inserted first, every one of them returns that row.
	_, err := p.db.ExecContext(ctx, `
		INSERT INTO processor_charges (id, idempotency_key, order_id, amount_cents, currency, status, decline_code, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`,
		newChargeID(), req.IdempotencyKey, req.OrderID, req.AmountCents, req.Currency, status, b.declineCode, p.now().UnixMicro())
	if err != nil {
		return app.Charge{}, ledgerErr("record charge", err)
	}
	r, err := p.byKey(ctx, req.IdempotencyKey)
	if err != nil {
		return app.Charge{}, err
	}
	return r.replay(req)
}

// Lookup implements app.Processor.
func (p *Processor) Lookup(ctx context.Context, key string) (app.Charge, error) {
	if err := p.wait(ctx); err != nil {
		return app.Charge{}, err
	}
	r, err := p.byKey(ctx, key)
	if err != nil {
		return app.Charge{}, err
	}
	return r.charge(), nil
}

// Refund implements app.Processor. Refunding a refunded charge succeeds
// without doing anything; refunding a declined one is refused.
func (p *Processor) Refund(ctx context.Context, chargeID string) error {
	if chargeID == "" {
		return errs.InvalidField("charge_id", "charge_id is required")
	}
	if err := p.wait(ctx); err != nil {
		return err
	}
	res, err := p.db.ExecContext(ctx,
		`UPDATE processor_charges SET refunded_at = COALESCE(refunded_at, ?) WHERE id = ? AND status = 'succeeded'`,
		p.now().UnixMicro(), chargeID)
	if err != nil {
		return ledgerErr("refund", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ledgerErr("refund", err)
	} else if n == 1 {
		return nil
	}
	var status string
	err = p.db.QueryRowContext(ctx, `SELECT status FROM processor_charges WHERE id = ?`, chargeID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, "card processor: no charge %s", chargeID)
	}
	if err != nil {
		return ledgerErr("refund", err)
	}
	return errs.E(errs.FailedPrecondition, "card processor: charge %s was declined, there is nothing to refund", chargeID)
}

// CapturedCharges implements app.Processor. It is the ledger report that
// reconciliation reads, so it has no simulated latency.
func (p *Processor) CapturedCharges(ctx context.Context, orderIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(orderIDs))
	for start := 0; start < len(orderIDs); start += countChunk {
		chunk := orderIDs[start:min(start+countChunk, len(orderIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := p.db.QueryContext(ctx,
			`SELECT order_id, COUNT(*) FROM processor_charges WHERE status = 'succeeded' AND order_id IN (?`+
				strings.Repeat(",?", len(chunk)-1)+`) GROUP BY order_id`, args...)
		if err != nil {
			return nil, ledgerErr("count charges", err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				_ = rows.Close()
				return nil, ledgerErr("count charges", err)
			}
			out[id] = n
		}
		if err := rows.Close(); err != nil {
			return nil, ledgerErr("count charges", err)
		}
		if err := rows.Err(); err != nil {
			return nil, ledgerErr("count charges", err)
		}
	}
	return out, nil
}

// record is one ledger row.
type record struct {
	id, orderID, currency, status, declineCode string
	amountCents                                int64
	refunded                                   bool
}

func (p *Processor) byKey(ctx context.Context, key string) (record, error) {
	var r record
	var refundedAt sql.NullInt64
	err := p.db.QueryRowContext(ctx,
		`SELECT id, order_id, amount_cents, currency, status, decline_code, refunded_at FROM processor_charges WHERE idempotency_key = ?`, key).
		Scan(&r.id, &r.orderID, &r.amountCents, &r.currency, &r.status, &r.declineCode, &refundedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errs.E(errs.NotFound, "card processor: no charge for idempotency key %q", key)
	}
	if err != nil {
		return r, ledgerErr("read charge", err)
	}
	r.refunded = refundedAt.Valid
	return r, nil
}

// replay returns the recorded verdict, refusing a key reused for a
// different charge as Stripe does.
func (r record) replay(req app.ChargeRequest) (app.Charge, error) {
	if r.orderID != req.OrderID || r.amountCents != req.AmountCents || r.currency != req.Currency {
		return app.Charge{}, errs.E(errs.IdempotencyMismatch,
			"card processor: idempotency key %q was used for a different charge", req.IdempotencyKey)
	}
	return r.charge(), nil
}

func (r record) charge() app.Charge {
	return app.Charge{ID: r.id, Declined: r.status == "failed", DeclineCode: r.declineCode, Refunded: r.refunded}
}

// newChargeID returns a Stripe-looking charge id.
func newChargeID() string {
	return "ch_" + strings.ReplaceAll(uuid.NewString(), "-", "")
}

// ledgerErr reports a ledger failure as the processor being unavailable,
// which the payment unit treats as retryable; the caller's own deadline
// or cancellation keeps its meaning.
func ledgerErr(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("card processor: %s: %w", op, err)
	}
	return errs.Wrap(errs.Unavailable, fmt.Errorf("%s: %w", op, err), "card processor unavailable")
}
