package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoplab/shoplab/services/analytics/adapters/kafka"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

func TestPublisherKeysResultsByWindowStart(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, events.TopicAnalyticsResults))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := kafka.NewPublisher(c.ListenAddrs(), events.TopicAnalyticsResults)
	defer p.Close()
	start := time.Date(2024, 5, 1, 12, 1, 0, 0, time.FixedZone("CEST", 2*3600))
	if err := p.Publish(context.Background(), start, []byte(`{"order_count":1}`)); err != nil {
		t.Fatal(err)
	}

	cons, err := sarama.NewConsumer(c.ListenAddrs(), kafkax.ConsumerConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(events.TopicAnalyticsResults, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if string(m.Key) != "2024-05-01T10:01:00Z" || string(m.Value) != `{"order_count":1}` {
			t.Fatalf("record %s = %s", m.Key, m.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no record on analytics-results")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Publish(ctx, start, nil); err == nil {
		t.Fatal("Publish with a cancelled context succeeded")
	}
}
