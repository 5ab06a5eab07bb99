package kafka_test

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/order/adapters/kafka"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

func records(from, n int) []app.OutboxRecord {
	var out []app.OutboxRecord
	for i := from; i < from+n; i++ {
		out = append(out, app.OutboxRecord{ID: int64(i), OutboxMessage: app.OutboxMessage{
			EventID: fmt.Sprintf("ev-%d", i), Topic: events.TopicOrders, Key: fmt.Sprintf("order-%d", i),
			Payload: fmt.Appendf(nil, `{"n":%d}`, i),
		}})
	}
	return out
}

// consumeAll reads every partition of topic from the start until want
// records arrived, keyed by record key.
func consumeAll(t *testing.T, brokers []string, topic string, want int) map[string]*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, kafkax.ConsumerConfig("order-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *sarama.ConsumerMessage)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pc.Close() }()
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
	}
	got := map[string]*sarama.ConsumerMessage{}
	deadline := time.After(15 * time.Second)
	for len(got) < want {
		select {
		case m := <-msgs:
			if prev, dup := got[string(m.Key)]; dup {
				t.Logf("duplicate record for key %s (offsets %d, %d)", m.Key, prev.Offset, m.Offset)
			}
			got[string(m.Key)] = m
		case <-deadline:
			t.Fatalf("consumed %d of %d records", len(got), want)
		}
	}
	return got
}

func TestPublishDeliversKeyedRecords(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, events.TopicOrders))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pub, err := kafka.NewPublisher(c.ListenAddrs(), "order-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })

	recs := records(1, 5)
	acked, err := pub.Publish(t.Context(), recs)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if !slices.Equal(acked, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("acked = %v", acked)
	}
	got := consumeAll(t, c.ListenAddrs(), events.TopicOrders, 5)
	for _, r := range recs {
		m := got[r.Key]
		if m == nil || string(m.Value) != string(r.Payload) {
			t.Fatalf("record %s = %v", r.Key, m)
		}
		if len(m.Headers) != 1 || string(m.Headers[0].Key) != kafka.HeaderEventID || string(m.Headers[0].Value) != r.EventID {
			t.Fatalf("record %s headers = %v", r.Key, m.Headers)
		}
	}
}

// A broker that is down when the unit starts and comes back later: the
// publisher fails with Unavailable, then recovers without a restart.
func TestPublishRecoversWhenTheBrokerComesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for sarama to give up on a dead broker")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens here until the cluster starts

	pub, err := kafka.NewPublisher([]string{fmt.Sprintf("127.0.0.1:%d", port)}, "order-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	acked, err := pub.Publish(t.Context(), records(1, 2))
	if !errs.Is(err, errs.Unavailable) || len(acked) != 0 {
		t.Fatalf("Publish to a dead broker = %v, %v; want none acked and Unavailable", acked, err)
	}

	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, events.TopicOrders))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	acked, err = pub.Publish(t.Context(), records(1, 2))
	if err != nil || !slices.Equal(acked, []int64{1, 2}) {
		t.Fatalf("Publish after the broker came up = %v, %v", acked, err)
	}
	consumeAll(t, c.ListenAddrs(), events.TopicOrders, 2)
}

func TestNewPublisherRefusesNoBrokers(t *testing.T) {
	for _, brokers := range [][]string{nil, {""}} {
		if _, err := kafka.NewPublisher(brokers, "x"); !errs.Is(err, errs.Invalid) {
			t.Errorf("NewPublisher(%q) = %v, want Invalid", brokers, err)
		}
	}
}

func TestClosedPublisherRefuses(t *testing.T) {
	pub, err := kafka.NewPublisher([]string{"127.0.0.1:1"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(t.Context(), records(1, 1)); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Publish after Close = %v", err)
	}
}
