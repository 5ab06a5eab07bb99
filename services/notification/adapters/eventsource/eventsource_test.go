package eventsource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kfake"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification/adapters/eventsource"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/adapters/sqlite"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

const partitions = 3

func startKafka(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, shopevents.TopicOrders),
		kfake.SeedTopics(1, shopevents.TopicAnalyticsResults, shopevents.TopicOrdersDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func produce(t *testing.T, brokers []string, manual bool, msgs ...*sarama.ProducerMessage) {
	t.Helper()
	cfg := kafkax.ProducerConfig("test-producer")
	if manual {
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
	}
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
}

func orderEvent(t *testing.T, n int) []byte {
	t.Helper()
	b, err := json.Marshal(shopevents.OrderPlaced{
		SchemaVersion: shopevents.SchemaVersion, Type: shopevents.TypeOrderPlaced,
		EventID: fmt.Sprintf("evt-%d", n), OrderID: fmt.Sprintf("ord-%d", n),
		OccurredAt: time.Date(2026, 4, 1, 9, 0, n, 0, time.UTC),
		UserID:     fmt.Sprintf("usr-%d", n), UserEmail: fmt.Sprintf("buyer%d@example.com", n),
		Items:      []shopevents.LineItem{{ProductID: "p1", Quantity: 1, UnitPriceCents: 100 * int64(n+1)}},
		TotalCents: 100 * int64(n+1), Currency: "USD",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running is a runner wired to the real handler, SQLite dedup and mailbox
// in dir, as the unit wires it.
type running struct {
	runner  *eventsource.Runner
	mb      *mailbox.Mailbox
	reg     *metrics.Registry
	records atomic.Int64 // records the handler was given
	stop    func()
}

func startRunner(t *testing.T, brokers []string, dir string) *running {
	t.Helper()
	ctx := t.Context()
	mb, err := mailbox.Open(ctx, filepath.Join(dir, "mailbox.db"), mailbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "dedup.db"))
	if err != nil {
		t.Fatal(err)
	}
	rn := &running{mb: mb, reg: metrics.New("notification", false)}
	h, err := app.NewHandler(app.Config{}, app.Deps{Mailer: mb, Dedup: store, Metrics: rn.reg})
	if err != nil {
		t.Fatal(err)
	}
	rn.runner, err = eventsource.New(eventsource.Config{
		Brokers:      brokers,
		BatchSize:    4,
		BatchWindow:  20 * time.Millisecond,
		MaxAttempts:  2,
		RetryBackoff: time.Millisecond,
	}, eventsource.Deps{
		Handler: func(ctx context.Context, ev events.KafkaEvent) error {
			for _, recs := range ev.Records {
				rn.records.Add(int64(len(recs)))
			}
			return h.Handle(ctx, ev)
		},
		Metrics: rn.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rn.runner.Run(rctx) }()
	stopped := false
	rn.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("runner did not stop within 30s")
		}
		_ = mb.Close()
		_ = store.Close()
	}
	t.Cleanup(rn.stop)
	return rn
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", within, what, state)
		}
		<-tick.C
	}
}

type kafkaView struct {
	client sarama.Client
	admin  sarama.ClusterAdmin
}

func newKafkaView(t *testing.T, brokers []string) *kafkaView {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkax.ConsumerConfig("test-view"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return &kafkaView{client: client, admin: admin}
}

// uncommitted says, per partition of orders, how far the group's committed
// offset is behind the high-water mark.
func (v *kafkaView) uncommitted(t *testing.T) (int64, string) {
	t.Helper()
	ps := []int32{0, 1, 2}
	offs, err := v.admin.ListConsumerGroupOffsets(eventsource.DefaultGroup, map[string][]int32{shopevents.TopicOrders: ps})
	if err != nil {
		return -1, err.Error()
	}
	var behind int64
	var state []string
	for _, p := range ps {
		hwm, err := v.client.GetOffset(shopevents.TopicOrders, p, sarama.OffsetNewest)
		if err != nil {
			return -1, err.Error()
		}
		committed := int64(0)
		if b := offs.GetBlock(shopevents.TopicOrders, p); b != nil && b.Offset >= 0 {
			committed = b.Offset
		}
		behind += hwm - committed
		state = append(state, fmt.Sprintf("p%d committed %d of %d", p, committed, hwm))
	}
	return behind, strings.Join(state, ", ")
}

// deadLetters reads every record of the DLQ topic.
func (v *kafkaView) deadLetters(t *testing.T) []*sarama.ConsumerMessage {
	t.Helper()
	hwm, err := v.client.GetOffset(shopevents.TopicOrdersDLQ, 0, sarama.OffsetNewest)
	if err != nil || hwm == 0 {
		return nil
	}
	c, err := sarama.NewConsumerFromClient(v.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(shopevents.TopicOrdersDLQ, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	timeout := time.After(10 * time.Second)
	for int64(len(out)) < hwm {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case <-timeout:
			t.Fatalf("read %d of %d dead letters", len(out), hwm)
		}
	}
	return out
}

func TestRunnerDeliversOneEmailPerOrderAndDeadLettersPoison(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Kafka consumer group against kfake")
	}
	brokers := startKafka(t)
	view := newKafkaView(t, brokers)
	const orders = 12
	var msgs []*sarama.ProducerMessage
	for i := range orders {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: shopevents.TopicOrders, Key: sarama.StringEncoder(fmt.Sprintf("ord-%d", i)), Value: sarama.ByteEncoder(orderEvent(t, i))})
	}
	// The outbox relay re-publishes some rows (same event id).
	for i := range 4 {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: shopevents.TopicOrders, Key: sarama.StringEncoder(fmt.Sprintf("ord-%d", i)), Value: sarama.ByteEncoder(orderEvent(t, i))})
	}
	poison := []byte(`{"type":"OrderPlaced","this is":"not an order"`)
	msgs = append(msgs, &sarama.ProducerMessage{
		Topic: shopevents.TopicOrders, Key: sarama.StringEncoder("ord-poison"), Value: sarama.ByteEncoder(poison),
		Headers: []sarama.RecordHeader{{Key: []byte("traceparent"), Value: []byte("00-abc-01")}},
	})
	produce(t, brokers, false, msgs...)

	dir := t.TempDir()
	first := startRunner(t, brokers, dir)
	eventually(t, 60*time.Second, "every order emailed, the poison dead-lettered, offsets committed", func() (bool, string) {
		n, err := first.mb.Count(t.Context())
		if err != nil {
			return false, err.Error()
		}
		behind, state := view.uncommitted(t)
		dl := len(view.deadLetters(t))
		return n == orders && dl == 1 && behind == 0, fmt.Sprintf("%d emails, %d dead letters, %s", n, dl, state)
	})

	got, err := first.mb.List(t.Context(), mailbox.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	perOrder := map[string]int{}
	for _, m := range got {
		perOrder[m.OrderID]++
	}
	for i := range orders {
		if id := fmt.Sprintf("ord-%d", i); perOrder[id] != 1 {
			t.Errorf("order %s has %d emails, want 1", id, perOrder[id])
		}
	}
	dl := view.deadLetters(t)[0]
	hdr := map[string]string{}
	for _, h := range dl.Headers {
		hdr[string(h.Key)] = string(h.Value)
	}
	if string(dl.Value) != string(poison) || string(dl.Key) != "ord-poison" {
		t.Errorf("dead letter %q/%q, want the poison record as produced", dl.Key, dl.Value)
	}
	if hdr[eventsource.HeaderOriginalTopic] != shopevents.TopicOrders || hdr[eventsource.HeaderOriginalOffset] == "" ||
		hdr[eventsource.HeaderOriginalPartition] == "" || hdr[eventsource.HeaderAttempts] != "2" || hdr["traceparent"] != "00-abc-01" {
		t.Errorf("dead letter headers = %v", hdr)
	}
	ref := fmt.Sprintf("orders-%s@%s", hdr[eventsource.HeaderOriginalPartition], hdr[eventsource.HeaderOriginalOffset])
	if !strings.Contains(hdr[eventsource.HeaderError], ref) || !strings.Contains(hdr[eventsource.HeaderError], "invalid_argument") {
		t.Errorf("error header %q does not name %s as invalid", hdr[eventsource.HeaderError], ref)
	}
	eventually(t, 10*time.Second, "lag 0", func() (bool, string) {
		return first.runner.Lag() == 0, fmt.Sprintf("lag %d", first.runner.Lag())
	})
	for name, want := range map[string]float64{
		"shoplab_notification_emails_sent_total":        orders,
		"shoplab_notification_duplicates_skipped_total": 4,
		"shoplab_notification_dlq_records_total":        1,
		"shoplab_notification_records_consumed_total":   orders + 4 + 1,
	} {
		if got := gathered(t, first.reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gathered(t, first.reg, "shoplab_notification_handler_errors_total"); got < 2 {
		t.Errorf("handler errors = %v, want at least the 2 poison attempts", got)
	}
	first.stop()

	// A restarted runner resumes from the committed offsets: it is handed
	// only what was produced since, one sentinel per partition.
	second := startRunner(t, brokers, dir)
	var sentinels []*sarama.ProducerMessage
	for p := range partitions {
		n := 100 + p
		sentinels = append(sentinels, &sarama.ProducerMessage{Topic: shopevents.TopicOrders, Partition: int32(p), Key: sarama.StringEncoder(fmt.Sprintf("ord-%d", n)), Value: sarama.ByteEncoder(orderEvent(t, n))})
	}
	produce(t, brokers, true, sentinels...)
	eventually(t, 60*time.Second, "the sentinels emailed", func() (bool, string) {
		n, err := second.mb.Count(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return n == orders+partitions, fmt.Sprintf("%d emails", n)
	})
	if got := second.records.Load(); got != partitions {
		t.Errorf("restarted runner was handed %d records, want only the %d sentinels", got, partitions)
	}
	if dl := view.deadLetters(t); len(dl) != 1 {
		t.Errorf("%d dead letters after the restart, want still 1", len(dl))
	}
}

// gathered reads a counter's value from reg.
func gathered(t *testing.T, reg *metrics.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}
