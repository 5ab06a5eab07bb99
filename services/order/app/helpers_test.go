package app_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/adapters/sqlite"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// clock is a settable clock for the injected Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seeded is a deterministic io.Reader for ids; safe because the service
// serialises its reads.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

// env is one order service over a SQLite store and fake dependencies.
type env struct {
	t     *testing.T
	path  string
	clock *clock
	deps  fakedeps.Deps
	reg   *metrics.Registry
	m     *app.Metrics
	store *sqlite.Store
	svc   *app.Service
}

const grace = 10 * time.Second

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "orders.db"), clock: newClock(), deps: fakedeps.Standard()}
	e.start(e.deps.Users, e.deps.Products, e.deps.Payments)
	return e
}

// start opens the store at e.path and builds a service over the clients:
// the fakes themselves or wrappers around them.
func (e *env) start(users app.UserClient, products app.ProductClient, payments app.PaymentClient) {
	e.t.Helper()
	store, err := sqlite.Open(e.t.Context(), e.path, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = store.Close() })
	e.store = store
	e.reg = metrics.New("order", false)
	e.m = app.NewMetrics(e.reg)
	e.svc, err = app.New(app.Deps{Store: store, Users: users, Products: products, Payments: payments}, app.Options{
		Metrics: e.m, Now: e.clock.Now, Rand: seeded{rand.NewChaCha8([32]byte{1})}, RecoveryGrace: grace,
		WorkflowTimeout: 5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// restart closes the store and starts a new service on the same database,
// as a new process would after a crash.
func (e *env) restart() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start(e.deps.Users, e.deps.Products, e.deps.Payments)
}

func (e *env) place(key, token string, lines ...order.Line) (app.Result, error) {
	e.t.Helper()
	if len(lines) == 0 {
		lines = []order.Line{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 1}}
	}
	return e.svc.CreateOrder(e.t.Context(), order.PlaceRequest{
		UserID: "u1", Lines: lines, PaymentToken: token, IdempotencyKey: key, RequestHash: "hash-" + key,
	})
}

func (e *env) get(id string) order.Order {
	e.t.Helper()
	o, err := e.store.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return o
}

func (e *env) byKey(key string) order.Order {
	e.t.Helper()
	o, err := e.store.GetByKey(e.t.Context(), "u1", key)
	if err != nil {
		e.t.Fatalf("GetByKey(%s): %v", key, err)
	}
	return o
}

func (e *env) outbox() []app.OutboxRecord {
	e.t.Helper()
	recs, err := e.store.UnpublishedOutbox(e.t.Context(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *env) stock(id string) int64 { return e.deps.Products.Stock(id) }

// checkInvariants ends every scenario: the stock ledger balances, and every
// order is settled consistently with its payment and reservation.
func (e *env) checkInvariants(ids ...string) {
	e.t.Helper()
	if err := e.deps.Products.CheckStock(); err != nil {
		e.t.Fatal(err)
	}
	events := map[string]int{}
	for _, r := range e.outbox() {
		events[r.Key]++
	}
	for _, id := range ids {
		o := e.get(id)
		charges := e.deps.Payments.Charges(id)
		switch o.Status {
		case order.StatusPaid:
			if charges != 1 || !e.deps.Products.Reserved(id) || events[id] != 1 {
				e.t.Fatalf("PAID order %s: charges %d, reserved %v, events %d; want 1, true, 1", id, charges, e.deps.Products.Reserved(id), events[id])
			}
		case order.StatusFailed:
			if charges != 0 || e.deps.Products.Reserved(id) || events[id] != 0 || o.FailureCode == "" {
				e.t.Fatalf("FAILED order %s (%s): charges %d, reserved %v, events %d; want 0, false, 0", id, o.FailureCode, charges, e.deps.Products.Reserved(id), events[id])
			}
		default:
			e.t.Fatalf("order %s is %s", id, o.Status)
		}
	}
}

// killSwitch stands for the order process dying: once killed, every call
// through a wrapped client fails as if the process were gone, so nothing
// more reaches the dependencies or, through them, the store.
type killSwitch struct {
	mu   sync.Mutex
	dead bool
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	k.dead = true
	k.mu.Unlock()
}

func (k *killSwitch) check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return context.Canceled
	}
	return nil
}

// killPoint says where a wrapper kills the process: before or after a method runs.
type killPoint struct {
	method string
	after  bool
}

type killingUsers struct {
	app.UserClient
	k *killSwitch
}

func (w killingUsers) GetUser(ctx context.Context, id string) (app.User, error) {
	if err := w.k.check(); err != nil {
		return app.User{}, err
	}
	return w.UserClient.GetUser(ctx, id)
}

type killingProducts struct {
	app.ProductClient
	k  *killSwitch
	at killPoint
}

func (w killingProducts) ReserveStock(ctx context.Context, id string, lines []order.Line) ([]order.ReservedLine, error) {
	if err := w.k.check(); err != nil {
		return nil, err
	}
	if w.at == (killPoint{"ReserveStock", false}) {
		w.k.kill()
		return nil, context.Canceled
	}
	res, err := w.ProductClient.ReserveStock(ctx, id, lines)
	if w.at == (killPoint{"ReserveStock", true}) {
		w.k.kill()
		return nil, context.Canceled
	}
	return res, err
}

func (w killingProducts) ReleaseStock(ctx context.Context, id string) (bool, error) {
	if err := w.k.check(); err != nil {
		return false, err
	}
	ok, err := w.ProductClient.ReleaseStock(ctx, id)
	if w.at == (killPoint{"ReleaseStock", true}) {
		w.k.kill()
		return false, context.Canceled
	}
	return ok, err
}

type killingPayments struct {
	app.PaymentClient
	k  *killSwitch
	at killPoint
}

func (w killingPayments) ProcessPayment(ctx context.Context, c app.Charge) (app.Payment, error) {
	if err := w.k.check(); err != nil {
		return app.Payment{}, err
	}
	p, err := w.PaymentClient.ProcessPayment(ctx, c)
	if w.at == (killPoint{"ProcessPayment", true}) {
		w.k.kill()
		return app.Payment{}, context.Canceled
	}
	return p, err
}

func (w killingPayments) GetPayment(ctx context.Context, id string) (app.Payment, error) {
	if err := w.k.check(); err != nil {
		return app.Payment{}, err
	}
	return w.PaymentClient.GetPayment(ctx, id)
}

func (w killingPayments) Refund(ctx context.Context, id, reason string) (app.Payment, error) {
	if err := w.k.check(); err != nil {
		return app.Payment{}, err
	}
	return w.PaymentClient.Refund(ctx, id, reason)
}

// decode parses an outbox row as OrderPlaced.
func decode(t *testing.T, r app.OutboxRecord) events.OrderPlaced {
	t.Helper()
	ev, err := events.DecodeOrderPlaced(r.Payload)
	if err != nil {
		t.Fatalf("outbox row %d: %v", r.ID, err)
	}
	return ev
}

// value reads a counter or gauge, so tests need not pull in testutil's dependencies.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("metric %v is neither a counter nor a gauge", m.Desc())
	return 0
}
