package app

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// memStore is an in-memory WindowStore and Outbox whose saves can fail.
type memStore struct {
	mu        sync.Mutex
	failSaves int
	saves     int
	windows   []analytics.Window
	published map[int64]bool
	archived  map[int64]bool
	cp        analytics.Checkpoint
}

func newMemStore() *memStore {
	return &memStore{published: map[int64]bool{}, archived: map[int64]bool{}}
}

func (s *memStore) Checkpoint(context.Context) (analytics.Checkpoint, error) { return s.cp, nil }

func (s *memStore) SaveClosed(_ context.Context, ws []analytics.Window, wm, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.failSaves > 0 {
		s.failSaves--
		return errors.New("disk full")
	}
	s.windows = append(s.windows, ws...)
	s.cp.Watermark = wm
	return nil
}

func (s *memStore) saved() []analytics.Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]analytics.Window(nil), s.windows...)
}

func (s *memStore) Pending(_ context.Context, limit int) ([]PendingWindow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PendingWindow
	for _, w := range s.windows {
		k := w.Start.UnixMilli()
		if s.published[k] && s.archived[k] {
			continue
		}
		body, _ := json.Marshal(w.Result())
		out = append(out, PendingWindow{Start: w.Start, Body: body, Published: s.published[k], Archived: s.archived[k]})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) MarkPublished(_ context.Context, start, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published[start.UnixMilli()] = true
	return nil
}

func (s *memStore) MarkArchived(_ context.Context, start, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.archived[start.UnixMilli()] = true
	return nil
}

type recCommitter struct {
	mu   sync.Mutex
	last map[int32]int64
}

func (c *recCommitter) Commit(offs map[int32]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[int32]int64{}
	}
	maps.Copy(c.last, offs)
}

func (c *recCommitter) offsets() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.last)
}

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func record(t *testing.T, p int32, off int64, id string, ts time.Duration) Record {
	t.Helper()
	b, err := json.Marshal(events.OrderPlaced{
		SchemaVersion: 1, EventID: id, Type: events.TypeOrderPlaced, OccurredAt: t0.Add(ts),
		OrderID: "ord-" + id, UserID: "u", TotalCents: 100, Currency: "USD",
		Items: []events.LineItem{{ProductID: "p", Quantity: 1, UnitPriceCents: 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return Record{Partition: p, Offset: off, Value: b}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestProcessorRetriesAFailedSaveAndHoldsOffsets(t *testing.T) {
	store := newMemStore()
	store.failSaves = 2
	clk := &fixedClock{t: t0}
	m := NewMetrics(metrics.New("analytics", false))
	woken := make(chan struct{}, 10)
	p, err := NewProcessor(context.Background(), ProcessorConfig{
		Engine:       []analytics.Option{analytics.WithWindow(10 * time.Second), analytics.WithOutOfOrderness(5 * time.Second)},
		TickInterval: 5 * time.Millisecond,
	}, store, logx.Discard(), m, clk.now, func() { woken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	c := &recCommitter{}
	if err := p.Assign(ctx, []int32{0}, c); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		record(t, 0, 0, "a", time.Second),
		{Partition: 0, Offset: 1, Value: []byte(`{"not":"an event"}`)},
		record(t, 0, 2, "b", 16*time.Second), // closes [0,10)
	} {
		if err := p.Deliver(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The window is saved on the third attempt, once, and only then is
	// partition 0 committed past a.
	waitUntil(t, "window saved", func() bool { return len(store.saved()) == 1 })
	<-woken
	if got := store.saved()[0]; got.OrderCount != 1 || got.EventIDs[0] != "a" {
		t.Fatalf("saved %+v", got)
	}
	if err := p.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.offsets(); got[0] != 2 {
		t.Fatalf("committed %v, want p0 at 2 (b's window is open)", got)
	}
	store.mu.Lock()
	saves := store.saves
	store.mu.Unlock()
	if saves != 3 {
		t.Fatalf("%d save attempts, want 3", saves)
	}
}

func TestProcessorStopsOnlyWhenAskedAndRefusesAfterwards(t *testing.T) {
	p, err := NewProcessor(context.Background(), ProcessorConfig{TickInterval: time.Millisecond}, newMemStore(), logx.Discard(),
		NewMetrics(metrics.New("analytics", false)), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Deliver(context.Background(), Record{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Deliver after stop: %v", err)
	}
}

type flakyPublisher struct {
	fails int
	got   []time.Time
}

func (f *flakyPublisher) Publish(_ context.Context, start time.Time, _ []byte) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("broker down")
	}
	f.got = append(f.got, start)
	return nil
}

type flakyArchiver struct {
	down bool
	got  []time.Time
}

func (f *flakyArchiver) Archive(_ context.Context, start time.Time, _ []byte) error {
	if f.down {
		return errors.New("s3 down")
	}
	f.got = append(f.got, start)
	return nil
}

func TestRelayKeepsOrderAndRetries(t *testing.T) {
	store := newMemStore()
	ws := []analytics.Window{{Start: t0}, {Start: t0.Add(10 * time.Second)}, {Start: t0.Add(20 * time.Second)}}
	if err := store.SaveClosed(context.Background(), ws, t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	pub := &flakyPublisher{fails: 1}
	arch := &flakyArchiver{down: true}
	r := NewRelay(store, pub, arch, logx.Discard(), NewMetrics(metrics.New("analytics", false)), time.Now, time.Second)
	ctx := context.Background()

	if r.Flush(ctx) {
		t.Fatal("flush reported an empty outbox with the broker down")
	}
	if len(pub.got) != 0 {
		t.Fatalf("published %v past a failure", pub.got)
	}
	// The broker is back, the object store is still down: results flow
	// to the topic, in order, and the windows stay in the outbox.
	if r.Flush(ctx) {
		t.Fatal("flush reported an empty outbox with S3 down")
	}
	if len(pub.got) != 3 || !pub.got[0].Equal(t0) || !pub.got[2].Equal(t0.Add(20*time.Second)) {
		t.Fatalf("published %v", pub.got)
	}
	if p, _ := store.Pending(ctx, 10); len(p) != 3 {
		t.Fatalf("%d pending, want 3 until archived", len(p))
	}
	arch.down = false
	if !r.Flush(ctx) {
		t.Fatal("outbox not empty once everything is up")
	}
	if len(pub.got) != 3 || len(arch.got) != 3 {
		t.Fatalf("published %d, archived %d; want each window once", len(pub.got), len(arch.got))
	}
}

// TestProcessorSkipsWatermarkTicks: a tick (the Flink engine's ticker) an
// hour after the events is counted as a tick, not invalid, and does not
// move the watermark: the window of a is closed by b, not by the tick.
func TestProcessorSkipsWatermarkTicks(t *testing.T) {
	store := newMemStore()
	clk := &fixedClock{t: t0}
	m := NewMetrics(metrics.New("analytics", false))
	p, err := NewProcessor(context.Background(), ProcessorConfig{
		Engine:       []analytics.Option{analytics.WithWindow(10 * time.Second), analytics.WithOutOfOrderness(5 * time.Second)},
		TickInterval: 5 * time.Millisecond,
	}, store, logx.Discard(), m, clk.now, func() {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := p.Assign(ctx, []int32{0}, &recCommitter{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		record(t, 0, 0, "a", time.Second),
		{Partition: 0, Offset: 1, Value: events.EncodeWatermarkTick(t0.Add(time.Hour))},
		record(t, 0, 2, "b", 8*time.Second), // on time only if the tick moved nothing
		record(t, 0, 3, "c", 16*time.Second),
	} {
		if err := p.Deliver(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "window saved", func() bool { return len(store.saved()) == 1 })
	if got := store.saved()[0]; got.OrderCount != 2 || got.LateEvents != 0 {
		t.Fatalf("saved %+v, want [0,10) with a and b, none late", got)
	}
	if ticks, invalid := value(t, m.Ticks), value(t, m.Invalid); ticks != 1 || invalid != 0 {
		t.Fatalf("ticks %v, invalid %v; want 1 and 0", ticks, invalid)
	}
}

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
