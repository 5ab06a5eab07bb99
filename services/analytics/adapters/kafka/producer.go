package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// ResultKey is the record key of a window result: its start, RFC 3339 in
// UTC, so consumers can deduplicate redeliveries by key.
func ResultKey(start time.Time) string { return start.UTC().Format(time.RFC3339Nano) }

// Publisher produces window results with an idempotent SyncProducer,
// created on first use so that the unit starts while Kafka is down.
type Publisher struct {
	brokers []string
	topic   string

	opts []kafkax.Option

	mu       sync.Mutex
	producer sarama.SyncProducer
}

var _ app.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher to topic.
func NewPublisher(brokers []string, topic string, opts ...kafkax.Option) *Publisher {
	return &Publisher{brokers: brokers, topic: topic, opts: opts}
}

// Publish implements app.Publisher. Sarama's own timeouts bound the send;
// ctx is checked before it starts.
func (p *Publisher) Publish(ctx context.Context, start time.Time, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.producer == nil {
		sp, err := sarama.NewSyncProducer(p.brokers, kafkax.ProducerConfig("analytics", p.opts...))
		if err != nil {
			return errs.Wrap(errs.Unavailable, err, "connect producer")
		}
		p.producer = sp
	}
	_, _, err := p.producer.SendMessage(&sarama.ProducerMessage{
		Topic: p.topic,
		Key:   sarama.StringEncoder(ResultKey(start)),
		Value: sarama.ByteEncoder(body),
	})
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "produce window result")
	}
	return nil
}

// Close closes the producer, if one was created.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.producer == nil {
		return nil
	}
	err := p.producer.Close()
	p.producer = nil
	return err
}
