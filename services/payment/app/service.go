package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/shoplab/shoplab/services/payment"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Page sizes of ListPayments.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// DefaultProcessorTimeout bounds one processor call when Options has none.
const DefaultProcessorTimeout = 10 * time.Second

// settleTimeout bounds the writes that record what the processor already
// did; they run even when the caller has gone, because the charge happened.
const settleTimeout = 5 * time.Second

// Options configures a Service. The zero value is usable.
type Options struct {
	Now              func() time.Time       // nil means time.Now
	NewID            func() (string, error) // payment ids; nil means UUIDv7, which sorts by creation
	ProcessorTimeout time.Duration          // bound on one processor call; 0 means DefaultProcessorTimeout
	Metrics          *metrics.Registry      // nil means a private registry
	Log              *slog.Logger           // nil discards
}

// Service runs the payment use cases.
type Service struct {
	store Store
	proc  Processor
	now   func() time.Time
	newID func() (string, error)
	log   *slog.Logger
	locks *orderLocks
	m     *serviceMetrics
}

// NewService returns a Service charging through proc and recording in store.
func NewService(store Store, proc Processor, o Options) (*Service, error) {
	if store == nil || proc == nil {
		return nil, errors.New("payment app: store and processor are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = func() (string, error) {
			id, err := uuid.NewV7()
			return id.String(), err
		}
	}
	if o.ProcessorTimeout <= 0 {
		o.ProcessorTimeout = DefaultProcessorTimeout
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New("payment", false)
	}
	if o.Log == nil {
		o.Log = logx.Discard()
	}
	m, err := newServiceMetrics(o.Metrics)
	if err != nil {
		return nil, fmt.Errorf("payment app: metrics: %w", err)
	}
	return &Service{
		store: store, proc: observedProcessor{next: proc, m: m, timeout: o.ProcessorTimeout}, now: o.Now, newID: o.NewID,
		log: o.Log, locks: newOrderLocks(), m: m,
	}, nil
}

// clock returns the injected time at the precision every store keeps.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func errVoided() error { return errs.E(errs.FailedPrecondition, "payment voided") }

// ProcessPayment charges an order at most once. A repeated call returns the
// stored payment; a decline is a DECLINED payment, not an error; a
// processor failure is errs.Unavailable and leaves the order chargeable by
// a retry; a voided order is errs.FailedPrecondition and is not charged.
func (s *Service) ProcessPayment(ctx context.Context, in payment.ChargeRequest) (payment.Payment, error) {
	req, err := in.Validated()
	if err != nil {
		return payment.Payment{}, err
	}
	unlock, err := s.locks.lock(ctx, req.OrderID)
	if err != nil {
		return payment.Payment{}, err
	}
	defer unlock()

	id, err := s.newID()
	if err != nil {
		return payment.Payment{}, fmt.Errorf("new payment id: %w", err)
	}
	now := s.clock()
	// The claim comes first: once it is stored, a Refund can no longer
	// slip in a tombstone unseen, and a crash after the charge leaves a
	// PROCESSING row that the next call settles.
	p, _, err := s.store.CreateIfAbsent(ctx, payment.Payment{
		ID: id, OrderID: req.OrderID, UserID: req.UserID, AmountCents: req.AmountCents, Currency: req.Currency,
		Status: payment.StatusProcessing, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return payment.Payment{}, err
	}
	if p.Status == payment.StatusVoided {
		s.compensate(ctx, p)
		return payment.Payment{}, errVoided()
	}
	if err := p.SameRequest(req); err != nil {
		return payment.Payment{}, err
	}
	if p.Status != payment.StatusProcessing {
		return s.withCharges(ctx, p), nil
	}
	// Ours, or left by a failed or crashed attempt: asking again with the
	// same idempotency key returns the processor's first verdict, if any.
	ch, err := s.proc.Charge(ctx, ChargeRequest{
		IdempotencyKey: req.OrderID, OrderID: req.OrderID, AmountCents: req.AmountCents, Currency: req.Currency, Token: req.Token,
	})
	if err != nil {
		s.m.payments.WithLabelValues("error").Inc()
		return payment.Payment{}, err
	}
	return s.settle(ctx, p, ch)
}

// settle records the processor's verdict on a PROCESSING payment.
func (s *Service) settle(ctx context.Context, p payment.Payment, ch Charge) (payment.Payment, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	got, applied, err := s.record(sctx, p.OrderID, ch)
	if err != nil {
		// The row stays PROCESSING; the next call or a GetPayment settles it.
		return payment.Payment{}, fmt.Errorf("record the processor's verdict for order %s: %w", p.OrderID, err)
	}
	if !applied && got.Status == payment.StatusVoided {
		// Another process voided the order while the processor was charging it.
		s.compensate(sctx, got)
		return payment.Payment{}, errVoided()
	}
	// Not applied otherwise means another call settled it first, with the
	// same verdict since it used the same key.
	return s.withCharges(ctx, got), nil
}

// record moves a PROCESSING payment to the processor's verdict.
func (s *Service) record(ctx context.Context, orderID string, ch Charge) (payment.Payment, bool, error) {
	change := payment.Change{Status: payment.StatusCaptured, ChargeID: ch.ID, At: s.clock()}
	if ch.Declined {
		change = payment.Change{Status: payment.StatusDeclined, DeclineCode: ch.DeclineCode, At: change.At}
	}
	got, applied, err := s.store.Transition(ctx, orderID, payment.StatusProcessing, change)
	if err == nil && applied {
		s.m.payments.WithLabelValues(outcomeOf(got.Status)).Inc()
	}
	return got, applied, err
}

func outcomeOf(st payment.Status) string {
	if st == payment.StatusCaptured {
		return "captured"
	}
	return "declined"
}

// compensate gives back a charge the processor made for a voided order,
// which only happens when a void races a charge across processes. It is
// best effort and runs whenever a voided order is touched, so a failure
// here is retried by the next call.
func (s *Service) compensate(ctx context.Context, p payment.Payment) {
	ch, err := s.proc.Lookup(ctx, p.OrderID)
	if errs.Is(err, errs.NotFound) || (err == nil && (ch.Declined || ch.Refunded)) {
		return
	}
	if err == nil {
		err = s.proc.Refund(ctx, ch.ID)
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not refund a charge of a voided order; the next call on the order retries",
			"order_id", p.OrderID, "error", err)
		return
	}
	s.m.refunds.WithLabelValues("compensated").Inc()
	s.log.InfoContext(ctx, "refunded a charge that raced a void", "order_id", p.OrderID, "charge_id", ch.ID)
}

// Refund refunds the order's captured payment. When the order has no
// payment it stores a VOIDED tombstone so a late ProcessPayment cannot
// charge it; DECLINED, VOIDED and REFUNDED payments are returned as they are.
func (s *Service) Refund(ctx context.Context, orderID, reason string) (payment.Payment, error) {
	if err := payment.CheckOrderID(orderID); err != nil {
		return payment.Payment{}, err
	}
	if err := payment.CheckReason(reason); err != nil {
		return payment.Payment{}, err
	}
	unlock, err := s.locks.lock(ctx, orderID)
	if err != nil {
		return payment.Payment{}, err
	}
	defer unlock()

	id, err := s.newID()
	if err != nil {
		return payment.Payment{}, fmt.Errorf("new payment id: %w", err)
	}
	now := s.clock()
	p, created, err := s.store.CreateIfAbsent(ctx, payment.Payment{
		ID: id, OrderID: orderID, Status: payment.StatusVoided, RefundReason: reason, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return payment.Payment{}, err
	}
	if created {
		s.m.refunds.WithLabelValues("voided").Inc()
		return s.withCharges(ctx, p), nil
	}
	// Each pass moves the payment one step (PROCESSING settles, CAPTURED is
	// refunded); three passes cover every path.
	for range 3 {
		switch p.Status {
		case payment.StatusProcessing:
			if p, err = s.resolveForRefund(ctx, p, reason); err != nil {
				return payment.Payment{}, err
			}
		case payment.StatusCaptured:
			return s.refundCaptured(ctx, p, reason)
		case payment.StatusVoided:
			s.compensate(ctx, p)
			return s.withCharges(ctx, p), nil
		default:
			return s.withCharges(ctx, p), nil
		}
	}
	return payment.Payment{}, errs.E(errs.Unavailable, "payment of order %s is still changing; retry", orderID)
}

// resolveForRefund settles a PROCESSING payment from the processor's
// ledger, or voids it when the processor never charged the order.
func (s *Service) resolveForRefund(ctx context.Context, p payment.Payment, reason string) (payment.Payment, error) {
	ch, err := s.proc.Lookup(ctx, p.OrderID)
	switch {
	case err == nil:
		return s.settleRecovered(ctx, p, ch)
	case !errs.Is(err, errs.NotFound):
		return payment.Payment{}, err
	}
	got, applied, err := s.store.Transition(ctx, p.OrderID, payment.StatusProcessing,
		payment.Change{Status: payment.StatusVoided, RefundReason: reason, At: s.clock()})
	if err != nil {
		return payment.Payment{}, err
	}
	if applied {
		s.m.refunds.WithLabelValues("voided").Inc()
	}
	return got, nil
}

func (s *Service) refundCaptured(ctx context.Context, p payment.Payment, reason string) (payment.Payment, error) {
	// Refunding at the processor first: if the update below is lost, the
	// retry finds CAPTURED again and the processor's refund is a no-op.
	if err := s.proc.Refund(ctx, p.ChargeID); err != nil {
		return payment.Payment{}, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	got, applied, err := s.store.Transition(sctx, p.OrderID, payment.StatusCaptured,
		payment.Change{Status: payment.StatusRefunded, RefundReason: reason, At: s.clock()})
	if err != nil {
		return payment.Payment{}, fmt.Errorf("record the refund of order %s: %w", p.OrderID, err)
	}
	if applied {
		s.m.refunds.WithLabelValues("refunded").Inc()
	}
	return s.withCharges(ctx, got), nil
}

// settleRecovered records a verdict found in the processor's ledger for a
// PROCESSING payment whose own attempt never recorded it.
func (s *Service) settleRecovered(ctx context.Context, p payment.Payment, ch Charge) (payment.Payment, error) {
	got, applied, err := s.record(ctx, p.OrderID, ch)
	if err != nil {
		return payment.Payment{}, err
	}
	if applied {
		s.m.recovered.Inc()
	}
	return got, nil
}

// GetPayment returns the order's payment; errs.NotFound when there is none
// or when the only attempt never reached the processor.
func (s *Service) GetPayment(ctx context.Context, orderID string) (payment.Payment, error) {
	if err := payment.CheckOrderID(orderID); err != nil {
		return payment.Payment{}, err
	}
	p, err := s.store.ByOrder(ctx, orderID)
	if err != nil {
		return payment.Payment{}, err
	}
	if p.Status == payment.StatusProcessing {
		if p, err = s.resolve(ctx, p); err != nil {
			return payment.Payment{}, err
		}
		if p.Status == payment.StatusProcessing {
			return payment.Payment{}, errs.E(errs.NotFound, "order %s has no settled payment", orderID)
		}
	}
	return s.withCharges(ctx, p), nil
}

// resolve settles a PROCESSING payment when the processor has a verdict
// for it, and returns it unchanged when the processor has none.
func (s *Service) resolve(ctx context.Context, p payment.Payment) (payment.Payment, error) {
	ch, err := s.proc.Lookup(ctx, p.OrderID)
	if errs.Is(err, errs.NotFound) {
		return p, nil
	}
	if err != nil {
		return payment.Payment{}, err
	}
	return s.settleRecovered(ctx, p, ch)
}

// ListPayments pages through every payment in id order with the
// processor's charge counts, for reconciliation. PROCESSING payments the
// processor has a verdict for are settled on the way; the others are
// listed as PROCESSING. The cursor is opaque.
func (s *Service) ListPayments(ctx context.Context, limit int, cursor string) ([]payment.Payment, string, error) {
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, "", errs.InvalidField("limit", "limit must be 1..%d (0 means %d)", MaxPageSize, DefaultPageSize)
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	// One extra row tells whether another page exists without a second query.
	ps, err := s.store.List(ctx, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ps) > limit {
		ps = ps[:limit]
		next = encodeCursor(ps[len(ps)-1].ID)
	}
	ids := make([]string, len(ps))
	for i := range ps {
		if ps[i].Status == payment.StatusProcessing {
			settled, err := s.resolve(ctx, ps[i])
			if err != nil {
				// Listing must not fail because one order's verdict is unreadable.
				s.log.WarnContext(ctx, "could not settle a processing payment while listing", "order_id", ps[i].OrderID, "error", err)
			} else {
				ps[i] = settled
			}
		}
		ids[i] = ps[i].OrderID
	}
	counts, err := s.proc.CapturedCharges(ctx, ids)
	if err != nil {
		// Reconciliation needs exact counts, so no guessing here.
		return nil, "", err
	}
	for i := range ps {
		ps[i].ProcessorCharges = counts[ps[i].OrderID]
	}
	return ps, next, nil
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > payment.MaxIDLen {
		return "", errs.InvalidField("cursor", "cursor is not one this service returned")
	}
	return string(b), nil
}

// withCharges fills in the processor's charge count for one payment. The
// payment is already decided, so a failure to count does not fail the call
// (which would make a caller treat a capture as an error); it falls back to
// what the payment itself proves, and ListPayments stays exact.
func (s *Service) withCharges(ctx context.Context, p payment.Payment) payment.Payment {
	counts, err := s.proc.CapturedCharges(ctx, []string{p.OrderID})
	if err != nil {
		s.log.WarnContext(ctx, "could not count processor charges", "order_id", p.OrderID, "error", err)
		if p.ChargeID != "" {
			p.ProcessorCharges = 1
		}
		return p
	}
	p.ProcessorCharges = counts[p.OrderID]
	return p
}
