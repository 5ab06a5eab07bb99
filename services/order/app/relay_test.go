package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// memBroker is a Publisher that records what it acked. It can fail the next
// calls, ack only part of a batch, or block until released.
type memBroker struct {
	mu       sync.Mutex
	acked    []app.OutboxRecord
	failNext int                         // calls to fail outright
	ackOnly  func(app.OutboxRecord) bool // when set, only these are acked and the call fails
	block    chan struct{}               // when set, Publish waits for it to close
	calls    int
	sent     chan struct{} // signalled after every call
	entered  chan struct{} // signalled when a call starts
}

func newBroker() *memBroker {
	return &memBroker{sent: make(chan struct{}, 100), entered: make(chan struct{}, 100)}
}

func (b *memBroker) Publish(ctx context.Context, recs []app.OutboxRecord) ([]int64, error) {
	b.entered <- struct{}{}
	b.mu.Lock()
	block := b.block
	b.mu.Unlock()
	if block != nil {
		<-block
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer func() { b.sent <- struct{}{} }()
	b.calls++
	if b.failNext > 0 {
		b.failNext--
		return nil, errs.E(errs.Unavailable, "broker down")
	}
	var ids []int64
	for _, r := range recs {
		if b.ackOnly == nil || b.ackOnly(r) {
			b.acked = append(b.acked, r)
			ids = append(ids, r.ID)
		}
	}
	if b.ackOnly != nil {
		return ids, errs.E(errs.Unavailable, "some records failed")
	}
	return ids, nil
}

func (b *memBroker) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.acked {
		out = append(out, r.Key)
	}
	return out
}

// paidOrders places n paid orders and returns their ids in commit order.
func paidOrders(t *testing.T, e *env, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		res, err := e.place(fmt.Sprintf("k%d", i), fakedeps.TokenVisa, order.Line{ProductID: "p1", Quantity: 1})
		if err != nil || res.Order.Status != order.StatusPaid {
			t.Fatalf("CreateOrder = %+v, %v", res.Order, err)
		}
		ids = append(ids, res.Order.ID)
	}
	return ids
}

func backlogOf(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.store.OutboxBacklog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDrainOnceKeepsOrderAndMarksOnlyAcked(t *testing.T) {
	e := newEnv(t)
	ids := paidOrders(t, e, 5)
	b := newBroker()
	r := app.NewOutboxRelay(e.store, b, nil, app.RelayOptions{Metrics: e.m, Now: e.clock.Now, Batch: 3})

	// The broker acks only the 2nd record of the first batch.
	b.ackOnly = func(rec app.OutboxRecord) bool { return rec.Key == ids[1] }
	n, err := r.DrainOnce(t.Context())
	if n != 1 || !errs.Is(err, errs.Unavailable) {
		t.Fatalf("DrainOnce = %d, %v; want 1 acked and the failure", n, err)
	}
	if backlogOf(t, e) != 4 {
		t.Fatalf("backlog = %d, want 4: only the acked row is marked", backlogOf(t, e))
	}
	b.ackOnly = nil
	for range 2 {
		if _, err := r.DrainOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if backlogOf(t, e) != 0 {
		t.Fatalf("backlog = %d after draining", backlogOf(t, e))
	}
	want := []string{ids[1], ids[0], ids[2], ids[3], ids[4]}
	if got := b.keys(); !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v (unacked rows first, then in id order)", got, want)
	}
	if v := value(t, e.m.Published); v != 5 {
		t.Fatalf("published counter = %v", v)
	}
	if v := value(t, e.m.ProduceErrors); v != 2 {
		t.Fatalf("produce errors = %v, want 2", v)
	}
}

func TestRelayKeepsBacklogThroughOutageAndDrains(t *testing.T) {
	e := newEnv(t)
	ids := paidOrders(t, e, 3)
	b := newBroker()
	b.failNext = 4
	r := app.NewOutboxRelay(e.store, b, e.svc.Committed(), app.RelayOptions{
		Metrics: e.m, Now: e.clock.Now, PollInterval: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for range 4 {
		waitSignal(t, b.sent)
		if n := backlogOf(t, e); n != 3 {
			t.Fatalf("backlog during the outage = %d, want 3", n)
		}
	}
	waitFor(t, func() bool { return backlogOf(t, e) == 0 })
	if got := b.keys(); !slices.Equal(got, ids) {
		t.Fatalf("published %v, want %v", got, ids)
	}
	if v := value(t, e.m.ProduceErrors); v != 12 {
		t.Fatalf("produce errors = %v, want 4 failed attempts x 3 rows", v)
	}

	// With the poll an hour away, a new commit is published because the
	// commit wakes the relay.
	res, err := e.place("late", fakedeps.TokenVisa, order.Line{ProductID: "p1", Quantity: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { k := b.keys(); return len(k) == 4 && k[3] == res.Order.ID })
}

func TestRelayStopsAfterItsBatchWithoutLosingRows(t *testing.T) {
	e := newEnv(t)
	paidOrders(t, e, 2)
	b := newBroker()
	release := make(chan struct{})
	b.block = release
	r := app.NewOutboxRelay(e.store, b, nil, app.RelayOptions{Metrics: e.m, Now: e.clock.Now})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()

	// Stop while the broker holds the batch, then let it ack: the relay
	// must still record the acks although its context has ended.
	waitSignal(t, b.entered)
	cancel()
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("relay did not stop")
	}
	if n := backlogOf(t, e); n != 0 || len(b.keys()) != 2 {
		t.Fatalf("backlog %d, published %d: acked rows must be marked during the stop", n, len(b.keys()))
	}
}

func waitSignal(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a publish attempt")
	}
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
