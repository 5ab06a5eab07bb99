package unit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kfake"

	s3adapter "github.com/shoplab/shoplab/services/analytics/adapters/s3"
	"github.com/shoplab/shoplab/services/analytics/adapters/s3/s3test"
	"github.com/shoplab/shoplab/services/analytics/ports"
	"github.com/shoplab/shoplab/services/analytics/unit"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

const bucket = "shoplab-analytics"

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// clock is the injected processing time.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) at(offset time.Duration) { c.set(t0.Add(offset)) }

type env struct {
	t       *testing.T
	kafka   *kfake.Cluster
	s3      *s3test.Fake
	dir     string
	clock   *clock
	prod    sarama.SyncProducer
	results *resultReader
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.TopicOrders), kfake.SeedTopics(1, events.TopicAnalyticsResults, events.TopicOrdersDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pc := kafkax.ProducerConfig("test")
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer(c.ListenAddrs(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Close() })
	e := &env{t: t, kafka: c, s3: s3test.MustStart(t, bucket), dir: t.TempDir(), clock: &clock{}, prod: prod}
	e.results = readResults(t, c.ListenAddrs())
	return e
}

// running is one life of the unit.
type running struct {
	u    *unit.Unit
	reg  *metrics.Registry
	stop func()
}

func (e *env) start(group string) *running {
	e.t.Helper()
	reg := metrics.New("analytics", false)
	u, err := unit.New(context.Background(), unit.Config{
		OpsAddr: "127.0.0.1:0", DataDir: e.dir, KafkaBrokers: e.kafka.ListenAddrs(), Group: group,
		Window: 10 * time.Second, OutOfOrderness: 5 * time.Second, IdleTimeout: 10 * time.Second,
		TickInterval: 10 * time.Millisecond, Bucket: bucket,
	}, unit.Deps{Log: logx.Discard(), Metrics: reg, Now: e.clock.now, S3: e.s3.Client})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	r := &running{u: u, reg: reg, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
			if err := u.Close(); err != nil {
				e.t.Errorf("Close: %v", err)
			}
		})
	}}
	e.t.Cleanup(r.stop)
	eventually(e.t, "unit ready", func() error { return u.Ready(context.Background()) })
	return r
}

func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func (r *running) waitMetric(t *testing.T, name string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s = %g", name, want), func() error {
		if got := r.metric(t, name); got != want {
			return fmt.Errorf("%s = %g", name, got)
		}
		return nil
	})
}

func order(id string, ts time.Duration, user string, items ...events.LineItem) events.OrderPlaced {
	var total int64
	for _, it := range items {
		total += int64(it.Quantity) * it.UnitPriceCents
	}
	return events.OrderPlaced{
		SchemaVersion: events.SchemaVersion, EventID: "ev-" + id, Type: events.TypeOrderPlaced, OccurredAt: t0.Add(ts),
		OrderID: "ord-" + id, UserID: user, UserEmail: user + "@example.com", Items: items, TotalCents: total, Currency: "USD",
	}
}

func item(product string, qty int32, cents int64) events.LineItem {
	return events.LineItem{ProductID: product, Quantity: qty, UnitPriceCents: cents, Category: "grocery"}
}

func (e *env) produce(partition int32, evs ...events.OrderPlaced) {
	e.t.Helper()
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, _, err := e.prod.SendMessage(&sarama.ProducerMessage{
			Topic: events.TopicOrders, Partition: partition, Key: sarama.StringEncoder(ev.OrderID), Value: sarama.ByteEncoder(b),
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestUnitEndToEnd produces orders, checks that the closed window reaches
// analytics-results, the store, the ops API and S3, then restarts the unit
// (with its committed offsets, and again with none) and checks that no
// event is ever counted twice.
func TestUnitEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka cluster")
	}
	e := newEnv(t)
	ctx := context.Background()
	e.clock.at(time.Second)
	first := e.start("analytics")

	// [0s,10s): e1, e2, e4 (behind e3 in p0 but on time), e5 on p1; e3 is in [10s,20s).
	e1 := order("1", 1*time.Second, "u1", item("p-apple", 2, 150))
	e2 := order("2", 3*time.Second, "u2", item("p-bread", 1, 300))
	e3 := order("3", 12*time.Second, "u3", item("p-milk", 1, 120))
	e4 := order("4", 8*time.Second, "u1", item("p-apple", 1, 150), item("p-cheese", 3, 450))
	e5 := order("5", 5*time.Second, "u4", item("p-bread", 2, 300))
	e.produce(0, e1, e2, e3, e4, e2) // the second e2 is a redelivery
	e.produce(1, e5)
	first.waitMetric(t, "shoplab_analytics_events_consumed_total", 6)
	if got := first.metric(t, "shoplab_analytics_duplicates_dropped_total"); got != 1 {
		t.Fatalf("duplicates %g, want 1", got)
	}
	if got := first.metric(t, "shoplab_analytics_windows_closed_total"); got != 0 {
		t.Fatalf("a window closed while partition 2 had told nothing: %g", got)
	}

	// Every partition moves past 14.999s: the watermark reaches 12s and
	// closes [0s,10s). Processing time barely moves, so no partition is idle.
	e.clock.at(5 * time.Second)
	c0 := order("c0", 17*time.Second, "u5", item("p-tea", 1, 520))
	c1 := order("c1", 17500*time.Millisecond, "u6", item("p-tea", 1, 520))
	c2 := order("c2", 18*time.Second, "u7", item("p-eggs", 1, 280))
	e.produce(0, c0)
	e.produce(1, c1)
	e.produce(2, c2)

	want0 := events.WindowResult{
		SchemaVersion: events.WindowResultSchemaVersion,
		EventID:       events.WindowEventID(t0, t0.Add(10*time.Second)),
		WindowStart:   t0, WindowEnd: t0.Add(10 * time.Second),
		OrderCount: 4, RevenueCents: 300 + 300 + 150 + 1350 + 600, ItemsSold: 2 + 1 + 1 + 3 + 2, DistinctUsers: 3,
		TopProducts: []events.ProductUnits{{ProductID: "p-apple", Units: 3}, {ProductID: "p-bread", Units: 3}, {ProductID: "p-cheese", Units: 3}},
		OrderIDs:    []string{"ord-1", "ord-2", "ord-4", "ord-5"},
		ClosedAt:    t0.Add(5 * time.Second),
	}
	records := e.results.waitFor(t, 1)
	assertResult(t, records[0], want0)
	assertStored(t, first.u, []events.WindowResult{want0})
	assertArchived(t, e.s3, records[0])
	assertOpsAPI(t, first.u.OpsAddr(), want0)

	// Restart with the committed offsets: p0 resumes at e3 (its window is
	// open), so e3, e4, the second e2 and c0 come back; p1 and p2 resume at
	// their closers. e4 and e2 were accounted for by [0s,10s): duplicates.
	first.stop()
	e.clock.at(6 * time.Second)
	second := e.start("analytics")
	second.waitMetric(t, "shoplab_analytics_events_consumed_total", 6)
	if got := second.metric(t, "shoplab_analytics_duplicates_dropped_total"); got != 2 {
		t.Fatalf("after restart: %g duplicates, want 2 (e4, e2)", got)
	}

	// A straggler for the emitted window is late; a new order is counted.
	e6 := order("6", 2*time.Second, "u8", item("p-apple", 5, 150))
	e7 := order("7", 15*time.Second, "u5", item("p-milk", 2, 120))
	e.produce(1, e6)
	e.produce(2, e7)
	second.waitMetric(t, "shoplab_analytics_events_consumed_total", 8)

	// The source goes quiet: processing time closes [10s,20s).
	e.clock.at(40 * time.Second)
	want1 := events.WindowResult{
		SchemaVersion: events.WindowResultSchemaVersion,
		EventID:       events.WindowEventID(t0.Add(10*time.Second), t0.Add(20*time.Second)),
		WindowStart:   t0.Add(10 * time.Second), WindowEnd: t0.Add(20 * time.Second),
		OrderCount: 5, RevenueCents: 120 + 520 + 520 + 280 + 240, ItemsSold: 6, DistinctUsers: 4, // u5 ordered twice
		TopProducts: []events.ProductUnits{{ProductID: "p-milk", Units: 3}, {ProductID: "p-tea", Units: 2}, {ProductID: "p-eggs", Units: 1}},
		OrderIDs:    []string{"ord-3", "ord-7", "ord-c0", "ord-c1", "ord-c2"},
		LateEvents:  1,
		ClosedAt:    t0.Add(40 * time.Second),
	}
	records = e.results.waitFor(t, 2)
	assertResult(t, records[0], want0)
	assertResult(t, records[1], want1)
	assertStored(t, second.u, []events.WindowResult{want1, want0})
	assertArchived(t, e.s3, records[1])

	// Lose the offsets altogether: a new group replays the whole topic.
	// Every record is accounted for already, so nothing opens a window.
	second.stop()
	e.clock.at(41 * time.Second)
	third := e.start("analytics-replay")
	third.waitMetric(t, "shoplab_analytics_events_consumed_total", 11)
	if got := third.metric(t, "shoplab_analytics_duplicates_dropped_total"); got != 11 {
		t.Fatalf("full replay: %g duplicates, want 11", got)
	}
	if got := third.metric(t, "shoplab_analytics_open_windows"); got != 0 {
		t.Fatalf("full replay opened %g windows", got)
	}
	e.clock.at(2 * time.Minute)
	ws, err := third.u.Windows(ctx, 10)
	if err != nil || len(ws) != 2 {
		t.Fatalf("windows after a full replay: %d, %v", len(ws), err)
	}
	if got := len(e.results.snapshot()); got != 2 {
		t.Fatalf("%d results on %s after a full replay, want 2", got, events.TopicAnalyticsResults)
	}
}

func assertResult(t *testing.T, rec result, want events.WindowResult) {
	t.Helper()
	if wantKey := want.WindowStart.Format(time.RFC3339); rec.key != wantKey {
		t.Fatalf("record key %q, want %q", rec.key, wantKey)
	}
	var got events.WindowResult
	if err := json.Unmarshal(rec.value, &got); err != nil {
		t.Fatal(err)
	}
	assertWindow(t, got, want)
}

func assertWindow(t *testing.T, got, want events.WindowResult) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("window\n got %s\nwant %s", g, w)
	}
}

func assertStored(t *testing.T, u *unit.Unit, want []events.WindowResult) {
	t.Helper()
	got, err := u.Windows(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d stored windows, want %d", len(got), len(want))
	}
	for i := range want {
		assertWindow(t, got[i], want[i])
	}
}

func assertArchived(t *testing.T, fake *s3test.Fake, rec result) {
	t.Helper()
	var start struct {
		WindowStart time.Time `json:"window_start"`
	}
	if err := json.Unmarshal(rec.value, &start); err != nil {
		t.Fatal(err)
	}
	key := s3adapter.ObjectKey(start.WindowStart)
	eventually(t, "archived "+key, func() error {
		out, err := fake.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		body, err := io.ReadAll(out.Body)
		if err != nil {
			return err
		}
		if string(body) != string(rec.value) {
			return fmt.Errorf("archived %s, published %s", body, rec.value)
		}
		return nil
	})
}

func assertOpsAPI(t *testing.T, addr string, want events.WindowResult) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/ops/v1/analytics/windows?limit=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body ports.WindowsResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || len(body.Windows) != 1 {
		t.Fatalf("ops API: %d, %+v, %v", resp.StatusCode, body, err)
	}
	assertWindow(t, body.Windows[0], want)
}

type result struct {
	key   string
	value []byte
}

// resultReader collects every record of analytics-results.
type resultReader struct {
	mu   sync.Mutex
	recs []result
}

func readResults(t *testing.T, brokers []string) *resultReader {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, kafkax.ConsumerConfig("test-results"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := c.ConsumePartition(events.TopicAnalyticsResults, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	r := &resultReader{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range pc.Messages() {
			r.mu.Lock()
			r.recs = append(r.recs, result{key: string(m.Key), value: m.Value})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
		_ = c.Close()
	})
	return r
}

func (r *resultReader) snapshot() []result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// waitFor waits until n results arrived and fails if more did.
func (r *resultReader) waitFor(t *testing.T, n int) []result {
	t.Helper()
	eventually(t, fmt.Sprintf("%d results", n), func() error {
		if got := len(r.snapshot()); got < n {
			return fmt.Errorf("%d results", got)
		}
		return nil
	})
	recs := r.snapshot()
	if len(recs) != n {
		t.Fatalf("%d results, want %d", len(recs), n)
	}
	return recs
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, errors.Join(err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
