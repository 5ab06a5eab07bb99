package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/adapters/kafka"
	"github.com/shoplab/shoplab/services/order/adapters/sqlite"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// flaky fails the first n publishes, then passes through.
type flaky struct {
	app.Publisher
	mu    sync.Mutex
	n     int
	tries int
}

func (f *flaky) Publish(ctx context.Context, recs []app.OutboxRecord) ([]int64, error) {
	f.mu.Lock()
	f.tries++
	fail := f.tries <= f.n
	f.mu.Unlock()
	if fail {
		return nil, errs.E(errs.Unavailable, "injected broker outage")
	}
	return f.Publisher.Publish(ctx, recs)
}

// TestRelayToKafka runs the relay from a SQLite outbox to kfake through a
// publisher that fails its first attempts: the backlog is kept through the
// outage and every OrderPlaced event arrives afterwards, keyed by order id.
func TestRelayToKafka(t *testing.T) {
	ctx := t.Context()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.TopicOrders))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "orders.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	pub, err := kafka.NewPublisher(c.ListenAddrs(), "order-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })

	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]events.OrderPlaced{}
	for i := range 4 {
		id := fmt.Sprintf("order-%d", i)
		o := order.Order{ID: id, UserID: "u1", Status: order.StatusPending, Items: []order.Item{{ProductID: "p1", Quantity: 1}},
			IdempotencyKey: id, RequestHash: "h", CreatedAt: now, UpdatedAt: now}
		if err := store.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		ev := events.OrderPlaced{SchemaVersion: 1, EventID: "ev-" + id, Type: events.TypeOrderPlaced, OccurredAt: now,
			OrderID: id, UserID: "u1", Items: []events.LineItem{{ProductID: "p1", Quantity: 1, UnitPriceCents: 100, Category: "c"}},
			TotalCents: 100, Currency: "USD"}
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		p := order.Pricing{Items: []order.Item{{ProductID: "p1", Quantity: 1, UnitPriceCents: 100, Category: "c"}}, TotalCents: 100, Currency: "USD"}
		if _, err := store.MarkPaid(ctx, id, p, now, app.OutboxMessage{EventID: ev.EventID, Topic: events.TopicOrders, Key: id, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		want[id] = ev
	}

	f := &flaky{Publisher: pub, n: 3}
	relay := app.NewOutboxRelay(store, f, nil, app.RelayOptions{
		Batch: 3, PollInterval: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	})
	for range 3 {
		if _, err := relay.DrainOnce(ctx); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("DrainOnce during the outage = %v", err)
		}
		if n, _ := store.OutboxBacklog(ctx); n != 4 {
			t.Fatalf("backlog during the outage = %d, want 4", n)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = relay.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	got := consumeAll(t, c.ListenAddrs(), events.TopicOrders, 4)
	for id, ev := range want {
		m := got[id]
		if m == nil {
			t.Fatalf("no record keyed %s", id)
		}
		dec, err := events.DecodeOrderPlaced(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(dec) != fmt.Sprint(ev) {
			t.Fatalf("record %s = %+v, want %+v", id, dec, ev)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := store.OutboxBacklog(ctx); n != 0; n, _ = store.OutboxBacklog(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("backlog = %d after delivery", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
