// Package app holds the order unit's use cases: placing an order so that it
// is never lost and never charged twice, settling orders whose outcome is
// unknown, reading orders, and relaying the outbox to the broker. It owns
// the small interfaces (ports.go) its adapters implement.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Defaults for Options.
const (
	DefaultRecoveryGrace   = 10 * time.Second
	DefaultRecoveryBatch   = 100
	DefaultWorkflowTimeout = 15 * time.Second
)

// Deps are the ports the service drives.
type Deps struct {
	Store    Store
	Users    UserClient
	Products ProductClient
	Payments PaymentClient
}

// Options tune the service; zero values mean the defaults.
type Options struct {
	Log     *slog.Logger
	Metrics *Metrics
	Now     func() time.Time // nil means time.Now
	Rand    io.Reader        // for order and event ids; nil means crypto/rand
	// RecoveryGrace is how old a PENDING order must be before the recovery
	// loop settles it, so that it does not race a request still in flight.
	RecoveryGrace time.Duration
	// RecoveryBatch is how many PENDING orders one recovery pass settles at most.
	RecoveryBatch int
	// WorkflowTimeout bounds the work on one order once it is recorded. The
	// work is detached from the client's cancellation: a client that gives
	// up must not leave behind an order that a finished call would have settled.
	WorkflowTimeout time.Duration
	// RecoveryOwner names this service's recovery leases (ClaimPending);
	// "" means a random id, unique per process.
	RecoveryOwner string
}

// Service places, settles and reads orders.
type Service struct {
	store    Store
	users    UserClient
	products ProductClient
	payments PaymentClient

	log       *slog.Logger
	m         *Metrics
	now       func() time.Time
	randMu    sync.Mutex
	rand      io.Reader
	grace     time.Duration
	batch     int
	workflow  time.Duration
	locks     orderLocks
	committed chan struct{}
	owner     string
}

// New returns a service over deps.
func New(deps Deps, o Options) (*Service, error) {
	switch {
	case deps.Store == nil:
		return nil, errs.E(errs.Invalid, "app.New: Store is required")
	case deps.Users == nil, deps.Products == nil, deps.Payments == nil:
		return nil, errs.E(errs.Invalid, "app.New: Users, Products and Payments are required")
	}
	s := &Service{
		store: deps.Store, users: deps.Users, products: deps.Products, payments: deps.Payments,
		log: o.Log, m: o.Metrics, now: o.Now, rand: o.Rand,
		grace: o.RecoveryGrace, batch: o.RecoveryBatch, workflow: o.WorkflowTimeout,
		locks:     orderLocks{held: map[string]chan struct{}{}},
		committed: make(chan struct{}, 1),
		owner:     o.RecoveryOwner,
	}
	if s.owner == "" {
		s.owner = newOwner("recovery")
	}
	if s.log == nil {
		s.log = logx.Discard()
	}
	if s.m == nil {
		s.m = NewMetrics(metrics.New("order", false))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.grace <= 0 {
		s.grace = DefaultRecoveryGrace
	}
	if s.batch <= 0 {
		s.batch = DefaultRecoveryBatch
	}
	if s.workflow <= 0 {
		s.workflow = DefaultWorkflowTimeout
	}
	return s, nil
}

// Committed signals (coalesced) that an outbox row was committed, so the
// relay can publish it at once instead of on its next poll.
func (s *Service) Committed() <-chan struct{} { return s.committed }

// Result is the answer to CreateOrder.
type Result struct {
	Order    order.Order
	Replayed bool // the idempotency key was seen before; this is its order again
}

// CreateOrder places an order, idempotent per (user, idempotency key). It
// returns the order PAID or FAILED; when the outcome cannot be settled yet
// (a dependency is down) the order stays PENDING for the recovery loop and
// the error is errs.Unavailable, so a retry with the same key settles it.
func (s *Service) CreateOrder(ctx context.Context, req order.PlaceRequest) (res Result, err error) {
	defer func() { s.m.Orders.WithLabelValues(createOutcome(res, err)).Inc() }()
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	existing, err := s.store.GetByKey(ctx, req.UserID, req.IdempotencyKey)
	switch {
	case err == nil:
		return s.replay(ctx, existing, req)
	case !errs.Is(err, errs.NotFound):
		return Result{}, fmt.Errorf("look up idempotency key: %w", err)
	}

	start := time.Now()
	user, err := s.users.GetUser(ctx, req.UserID)
	s.observe("user", start)
	if err != nil {
		switch errs.CodeOf(err) {
		case errs.NotFound:
			return Result{}, errs.Wrap(errs.NotFound, err, "user %q does not exist", req.UserID)
		case errs.Invalid:
			return Result{}, errs.Wrap(errs.Invalid, err, "user %q was refused by the user service", req.UserID)
		}
		// Nothing was recorded: the client may simply retry.
		return Result{}, errs.Wrap(errs.Unavailable, err, "the user service is unavailable; nothing was ordered")
	}

	id, err := s.newOrderID()
	if err != nil {
		return Result{}, err
	}
	// Hold the order's lock before it becomes visible, so a concurrent retry
	// with the same key waits for this request instead of settling under it.
	unlock := s.locks.mustLock(id)
	defer unlock()
	o := order.NewPending(id, req, user.Email, s.now().UTC())
	start = time.Now()
	err = s.store.Create(ctx, o)
	s.observe("insert", start)
	if errs.Is(err, errs.Conflict) {
		// Another request with the same key won the insert.
		existing, gerr := s.store.GetByKey(ctx, req.UserID, req.IdempotencyKey)
		if gerr != nil {
			return Result{}, fmt.Errorf("look up idempotency key after conflict: %w", gerr)
		}
		return s.replay(ctx, existing, req)
	}
	if err != nil {
		return Result{}, fmt.Errorf("record order: %w", err)
	}

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.workflow)
	defer cancel()
	placed, err := s.place(wctx, o, req.PaymentToken)
	return Result{Order: placed}, err
}

// replay answers a retried idempotency key with its order, settling the
// order first when it is still PENDING so the client gets a definitive answer
// when one can be had.
func (s *Service) replay(ctx context.Context, o order.Order, req order.PlaceRequest) (Result, error) {
	if o.RequestHash != req.RequestHash {
		return Result{}, errs.E(errs.IdempotencyMismatch, "idempotency key %q was used for a different request", req.IdempotencyKey)
	}
	if o.Status != order.StatusPending {
		return Result{Order: o, Replayed: true}, nil
	}
	unlock, err := s.locks.lock(ctx, o.ID)
	if err != nil {
		return Result{Order: o, Replayed: true}, errs.Wrap(errs.Unavailable, err, "order %s is still being placed; retry with the same idempotency key", o.ID)
	}
	defer unlock()
	o, err = s.store.Get(ctx, o.ID) // the request we waited for may have settled it
	if err != nil {
		return Result{}, fmt.Errorf("reload order: %w", err)
	}
	if o.Status != order.StatusPending {
		return Result{Order: o, Replayed: true}, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.workflow)
	defer cancel()
	o, err = s.settle(wctx, o, order.FailureDependencyUnavailable, nil)
	return Result{Order: o, Replayed: true}, err
}

// place runs a recorded PENDING order to its outcome: reserve the stock,
// charge the payment, then mark it PAID with its outbox row, or release the
// stock and mark it FAILED. Whenever an answer is unclear it falls back to
// settle, which asks the payment unit what really happened.
func (s *Service) place(ctx context.Context, o order.Order, token string) (order.Order, error) {
	start := time.Now()
	reserved, err := s.products.ReserveStock(ctx, o.ID, o.Lines())
	s.observe("reserve", start)
	if err != nil {
		switch errs.CodeOf(err) {
		case errs.OutOfStock:
			return s.fail(ctx, o, Failure{Code: order.FailureOutOfStock, Message: errs.MessageOf(err)})
		case errs.NotFound:
			return s.fail(ctx, o, Failure{Code: order.FailureProductNotFound, Message: errs.MessageOf(err)})
		}
		// The reservation may or may not have been taken.
		s.log.WarnContext(ctx, "reserve stock failed; settling", "order_id", o.ID, "error", err)
		return s.settle(ctx, o, order.FailureDependencyUnavailable, nil)
	}
	pricing, err := order.Price(o.Items, reserved)
	if err != nil {
		s.log.ErrorContext(ctx, "reservation does not match the order; settling", "order_id", o.ID, "error", err)
		return s.settle(ctx, o, order.FailureDependencyUnavailable, nil)
	}

	start = time.Now()
	pay, err := s.payments.ProcessPayment(ctx, Charge{
		OrderID: o.ID, UserID: o.UserID, AmountCents: pricing.TotalCents, Currency: pricing.Currency, Token: token,
	})
	s.observe("payment", start)
	if err != nil {
		switch errs.CodeOf(err) {
		case errs.Invalid:
			// The payment unit refused the request itself (a bad token): no
			// charge can follow, and the client must hear why.
			failed, ferr := s.fail(ctx, o, Failure{Code: order.FailurePaymentDeclined, Message: errs.MessageOf(err), Pricing: &pricing})
			if ferr != nil {
				return failed, ferr
			}
			return failed, err
		case errs.PaymentDeclined:
			return s.fail(ctx, o, Failure{Code: order.FailurePaymentDeclined, Message: errs.MessageOf(err), Pricing: &pricing})
		}
		// A processor failure, a timeout or a lost answer: the charge may
		// have happened, so only the payment unit's record can tell.
		s.log.WarnContext(ctx, "process payment failed; settling", "order_id", o.ID, "error", err)
		return s.settle(ctx, o, order.FailurePaymentUnavailable, &pricing)
	}
	return s.resolve(ctx, o, pay, &pricing, order.FailurePaymentUnavailable)
}

// settle decides a PENDING order from its payment record. It is the one
// path the request path (after an unclear answer), a retried key and the
// recovery loop share. With no payment it voids the order at the payment
// unit first, so a charge still in flight can no longer land, and then
// fails it. When payment or product cannot be reached the order stays
// PENDING and the error is errs.Unavailable. hint is the failure code used
// when the order fails for want of a payment; pricing is the reservation's,
// when this request made it, or nil.
func (s *Service) settle(ctx context.Context, o order.Order, hint order.FailureCode, pricing *order.Pricing) (order.Order, error) {
	start := time.Now()
	defer s.observe("settle", start)
	// The payment can move under us (a late charge, a concurrent void), and
	// then Refund says so; asking again decides on the new state.
	for range 3 {
		pay, err := s.payments.GetPayment(ctx, o.ID)
		if err == nil {
			return s.resolve(ctx, o, pay, pricing, hint)
		}
		if !errs.Is(err, errs.NotFound) {
			return o, s.unsettled(ctx, o, "get payment", err)
		}
		pay, err = s.payments.Refund(ctx, o.ID, "order not completed")
		switch {
		case err == nil:
			return s.resolve(ctx, o, pay, pricing, hint)
		case errs.Is(err, errs.FailedPrecondition), errs.Is(err, errs.Conflict):
			continue
		default:
			return o, s.unsettled(ctx, o, "void payment", err)
		}
	}
	return o, s.unsettled(ctx, o, "settle", errs.E(errs.Unavailable, "the payment of order %s kept changing", o.ID))
}

// resolve settles o from a final payment state. pricing is nil when the
// stock must be reserved again (idempotently) to learn the prices.
func (s *Service) resolve(ctx context.Context, o order.Order, pay Payment, pricing *order.Pricing, hint order.FailureCode) (order.Order, error) {
	switch pay.Status {
	case PaymentCaptured:
		if pricing == nil {
			p, err := s.reserveAgain(ctx, o)
			if err != nil {
				return s.refundUnreserved(ctx, o, err)
			}
			pricing = &p
		}
		return s.commitPaid(ctx, o, *pricing, pay)
	case PaymentDeclined:
		msg := "the payment was declined"
		if pay.DeclineCode != "" {
			msg += ": " + pay.DeclineCode
		}
		return s.fail(ctx, o, Failure{Code: order.FailurePaymentDeclined, Message: msg, Pricing: pricing})
	case PaymentVoided, PaymentRefunded:
		return s.fail(ctx, o, Failure{
			Code:    hint,
			Message: fmt.Sprintf("the payment could not be completed (payment %s)", strings.ToLower(string(pay.Status))),
			Pricing: pricing,
		})
	}
	return o, errs.E(errs.Internal, "the payment of order %s has an unknown status %q", o.ID, pay.Status)
}

// reserveAgain re-reads a captured order's reservation (ReserveStock is
// idempotent per order) to price it.
func (s *Service) reserveAgain(ctx context.Context, o order.Order) (order.Pricing, error) {
	start := time.Now()
	reserved, err := s.products.ReserveStock(ctx, o.ID, o.Lines())
	s.observe("reserve", start)
	if err != nil {
		return order.Pricing{}, err
	}
	return order.Price(o.Items, reserved)
}

// refundUnreserved handles a captured order whose stock cannot be reserved.
// A transient failure leaves it PENDING; a definitive refusal (the stock is
// gone or was released) means it cannot be delivered, so the charge is
// refunded and the order fails.
func (s *Service) refundUnreserved(ctx context.Context, o order.Order, cause error) (order.Order, error) {
	var code order.FailureCode
	switch errs.CodeOf(cause) {
	case errs.OutOfStock, errs.FailedPrecondition:
		code = order.FailureOutOfStock
	case errs.NotFound:
		code = order.FailureProductNotFound
	default:
		return o, s.unsettled(ctx, o, "reserve stock of a captured order", cause)
	}
	s.log.ErrorContext(ctx, "captured order has no stock; refunding", "order_id", o.ID, "error", cause)
	pay, err := s.payments.Refund(ctx, o.ID, "stock could not be reserved")
	if err != nil {
		return o, s.unsettled(ctx, o, "refund", err)
	}
	if pay.Status == PaymentCaptured {
		return o, s.unsettled(ctx, o, "refund", errs.E(errs.Unavailable, "payment of order %s is still captured after refund", o.ID))
	}
	return s.fail(ctx, o, Failure{Code: code, Message: "the stock could not be reserved; the payment was refunded"})
}

// commitPaid marks o PAID and writes its OrderPlaced outbox row in one
// local transaction, then wakes the relay.
func (s *Service) commitPaid(ctx context.Context, o order.Order, p order.Pricing, pay Payment) (order.Order, error) {
	if pay.AmountCents != 0 && (pay.AmountCents != p.TotalCents || (pay.Currency != "" && pay.Currency != p.Currency)) {
		// The charge is what the customer paid; a mismatch is a bug upstream
		// that reconciliation must see, but it does not undo the payment.
		s.log.ErrorContext(ctx, "captured amount differs from the order total", "order_id", o.ID,
			"charged_cents", pay.AmountCents, "charged_currency", pay.Currency, "total_cents", p.TotalCents, "currency", p.Currency)
	}
	at := s.now().UTC()
	eventID, err := s.newEventID()
	if err != nil {
		return o, err
	}
	ev := events.OrderPlaced{
		SchemaVersion: events.SchemaVersion, EventID: eventID, Type: events.TypeOrderPlaced, OccurredAt: at,
		OrderID: o.ID, UserID: o.UserID, UserEmail: o.UserEmail, Items: make([]events.LineItem, len(p.Items)),
		TotalCents: p.TotalCents, Currency: p.Currency,
	}
	for i, it := range p.Items {
		ev.Items[i] = events.LineItem{ProductID: it.ProductID, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents, Category: it.Category}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return o, errs.Wrap(errs.Internal, err, "encode OrderPlaced")
	}
	start := time.Now()
	paid, err := s.store.MarkPaid(ctx, o.ID, p, at, OutboxMessage{EventID: eventID, Topic: events.TopicOrders, Key: o.ID, Payload: payload})
	s.observe("commit", start)
	if errs.Is(err, errs.FailedPrecondition) {
		return s.alreadySettled(ctx, o, order.StatusPaid)
	}
	if err != nil {
		// The charge stands and the order is PENDING: the recovery loop will
		// find the payment CAPTURED and commit it.
		s.log.ErrorContext(ctx, "commit paid order failed", "order_id", o.ID, "error", err)
		return o, fmt.Errorf("record payment of order %s: %w", o.ID, err)
	}
	select {
	case s.committed <- struct{}{}:
	default:
	}
	return paid, nil
}

// fail releases o's stock and then marks it FAILED. The release comes
// first: a FAILED order is never looked at again, so its stock must already
// be back; an order left PENDING by a failed release is retried by recovery.
func (s *Service) fail(ctx context.Context, o order.Order, f Failure) (order.Order, error) {
	start := time.Now()
	_, err := s.products.ReleaseStock(ctx, o.ID)
	s.observe("release", start)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return o, s.unsettled(ctx, o, "release stock", err)
	}
	failed, err := s.store.MarkFailed(ctx, o.ID, f, s.now().UTC())
	if errs.Is(err, errs.FailedPrecondition) {
		return s.alreadySettled(ctx, o, order.StatusFailed)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "mark order failed", "order_id", o.ID, "error", err)
		return o, fmt.Errorf("record failure of order %s: %w", o.ID, err)
	}
	return failed, nil
}

// alreadySettled returns o as another settlement left it. Locks make that
// impossible within one process; it can only come from another replica.
func (s *Service) alreadySettled(ctx context.Context, o order.Order, want order.Status) (order.Order, error) {
	cur, err := s.store.Get(ctx, o.ID)
	if err != nil {
		return o, fmt.Errorf("reload settled order: %w", err)
	}
	if cur.Status != want {
		s.log.ErrorContext(ctx, "order settled two ways", "order_id", o.ID, "status", cur.Status, "wanted", want)
	}
	return cur, nil
}

// unsettled logs why o stays PENDING and returns the errs.Unavailable the caller sees.
func (s *Service) unsettled(ctx context.Context, o order.Order, step string, cause error) error {
	s.log.WarnContext(ctx, "order left pending", "order_id", o.ID, "step", step, "error", cause)
	return errs.Wrap(errs.Unavailable, cause, "order %s is not settled yet (%s failed); retry with the same idempotency key", o.ID, step)
}

// GetOrder returns one order. With userID set, another user's order is
// errs.NotFound, so ids cannot be probed.
func (s *Service) GetOrder(ctx context.Context, id, userID string) (order.Order, error) {
	if id == "" {
		return order.Order{}, errs.InvalidField("id", "id is required")
	}
	if utf8.RuneCountInString(id) > order.MaxIDLen {
		return order.Order{}, errs.InvalidField("id", "id is longer than %d characters", order.MaxIDLen)
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return order.Order{}, err
	}
	if userID != "" && o.UserID != userID {
		return order.Order{}, errs.E(errs.NotFound, "order %q not found", id)
	}
	return o, nil
}

// ListRequest asks for a page of orders.
type ListRequest struct {
	UserID string       // empty lists every user's orders
	Status order.Status // empty means any
	Limit  int          // 0 means order.DefaultLimit
	Cursor string       // from a previous page; empty starts at the newest
}

// ListOrders returns a page of orders, newest first, and the cursor of the
// next page ("" on the last).
func (s *Service) ListOrders(ctx context.Context, r ListRequest) ([]order.Order, string, error) {
	limit, err := order.NormalizeLimit(r.Limit)
	if err != nil {
		return nil, "", err
	}
	if r.Status != "" && !r.Status.Valid() {
		return nil, "", errs.InvalidField("status", "unknown status %q", r.Status)
	}
	q := order.ListQuery{UserID: r.UserID, Status: r.Status, Limit: limit + 1}
	if r.Cursor != "" {
		c, err := order.DecodeCursor(r.Cursor)
		if err != nil {
			return nil, "", err
		}
		q.After = &c
	}
	page, err := s.store.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = order.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Encode()
	}
	return page, next, nil
}

// observe records the duration of a stage. It reads the wall clock, not
// the injected one: it measures this process, not the simulated world.
func (s *Service) observe(stage string, start time.Time) {
	s.m.Stage.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}

// newOrderID returns a UUIDv7 whose time is the injected clock's, so ids
// sort by creation time in a simulated world too.
func (s *Service) newOrderID() (string, error) {
	var u uuid.UUID
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, u[:])
	s.randMu.Unlock()
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "new order id")
	}
	ms := uint64(s.now().UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String(), nil
}

// newEventID returns a random (version 4) UUID.
func (s *Service) newEventID() (string, error) {
	s.randMu.Lock()
	u, err := uuid.NewRandomFromReader(s.rand)
	s.randMu.Unlock()
	if err != nil {
		return "", errs.Wrap(errs.Internal, err, "new event id")
	}
	return u.String(), nil
}

// createOutcome labels a CreateOrder result for the orders metric.
func createOutcome(r Result, err error) string {
	switch {
	case r.Replayed:
		return "replayed"
	case r.Order.ID == "":
		// Nothing was recorded: a refused request or a dependency that was down.
		switch errs.CodeOf(err) {
		case errs.Unavailable, errs.DeadlineExceeded:
			return "unavailable"
		case errs.Internal:
			return "error"
		}
		return "rejected"
	}
	return statusOutcome(r.Order, err)
}

// statusOutcome labels an order by where it ended: paid, its failure code, or pending.
func statusOutcome(o order.Order, err error) string {
	switch o.Status {
	case order.StatusPaid:
		return "paid"
	case order.StatusFailed:
		return string(o.FailureCode)
	}
	if err != nil && !errs.Is(err, errs.Unavailable) {
		return "error"
	}
	return "pending"
}

// orderLocks serialises the work on one order within this process: a
// retried key waits for the request placing its order, and the recovery
// loop skips orders a request is still working on.
type orderLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// lock takes id's lock, waiting for its holder until ctx ends.
func (l *orderLocks) lock(ctx context.Context, id string) (func(), error) {
	for {
		unlock, ok := l.tryLock(id)
		if ok {
			return unlock, nil
		}
		l.mu.Lock()
		ch, busy := l.held[id]
		l.mu.Unlock()
		if !busy {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// mustLock takes the lock of an id no one else can know yet.
func (l *orderLocks) mustLock(id string) func() {
	unlock, ok := l.tryLock(id)
	if !ok {
		// A fresh random id is never held; waiting would be wrong, not slow.
		return func() {}
	}
	return unlock
}

// tryLock takes id's lock if it is free.
func (l *orderLocks) tryLock(id string) (func(), bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.held[id]; busy {
		return nil, false
	}
	ch := make(chan struct{})
	l.held[id] = ch
	return func() {
		l.mu.Lock()
		delete(l.held, id)
		l.mu.Unlock()
		close(ch)
	}, true
}
