// Package kafka publishes the order outbox to Kafka with an idempotent,
// acks=all sarama SyncProducer (kafkax.ProducerConfig).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// Header names set on every record, so consumers can deduplicate and route
// without parsing the payload.
const (
	HeaderEventID = "event_id"
)

// Publisher is an app.Publisher on a sarama SyncProducer. The producer is
// built lazily and rebuilt after a failed send, so the unit starts while
// the broker is down and recovers from an outage without a restart.
type Publisher struct {
	brokers  []string
	clientID string
	opts     []kafkax.Option

	mu       sync.Mutex
	producer sarama.SyncProducer
	closed   bool
}

var _ app.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher to brokers; it connects on first use.
func NewPublisher(brokers []string, clientID string, opts ...kafkax.Option) (*Publisher, error) {
	if len(brokers) == 0 {
		return nil, errs.InvalidField("kafka_brokers", "at least one Kafka broker is required")
	}
	for i, b := range brokers {
		if b == "" {
			return nil, errs.InvalidField(fmt.Sprintf("kafka_brokers[%d]", i), "broker address is empty")
		}
	}
	return &Publisher{brokers: brokers, clientID: clientID, opts: opts}, nil
}

// Publish sends recs in one batch (sarama keeps per-partition order with one
// in-flight request per connection) and returns the ids the broker acked.
// sarama's send takes no context; kafkax's timeouts bound it instead, and a
// stopping relay waits for the batch in hand rather than abandoning it.
func (p *Publisher) Publish(ctx context.Context, recs []app.OutboxRecord) ([]int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errs.E(errs.Unavailable, "publisher is closed")
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "publish outbox")
	}
	if p.producer == nil {
		prod, err := sarama.NewSyncProducer(p.brokers, kafkax.ProducerConfig(p.clientID, p.opts...))
		if err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "connect to Kafka")
		}
		p.producer = prod
	}
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = &sarama.ProducerMessage{
			Topic:    r.Topic,
			Key:      sarama.StringEncoder(r.Key),
			Value:    sarama.ByteEncoder(r.Payload),
			Headers:  []sarama.RecordHeader{{Key: []byte(HeaderEventID), Value: []byte(r.EventID)}},
			Metadata: r.ID,
		}
	}
	err := p.producer.SendMessages(msgs)
	if err == nil {
		acked := make([]int64, len(recs))
		for i, r := range recs {
			acked[i] = r.ID
		}
		return acked, nil
	}
	// Some messages may have been acked: they are reported so they are not
	// sent again. The rest are not, and the producer is rebuilt, because an
	// idempotent producer that failed a batch can be left with sequence
	// numbers the broker no longer accepts.
	failed := map[int64]bool{}
	var perrs sarama.ProducerErrors
	if errors.As(err, &perrs) {
		for _, pe := range perrs {
			if id, ok := pe.Msg.Metadata.(int64); ok {
				failed[id] = true
			}
		}
	} else {
		for _, r := range recs {
			failed[r.ID] = true
		}
	}
	var acked []int64
	for _, r := range recs {
		if !failed[r.ID] {
			acked = append(acked, r.ID)
		}
	}
	p.resetLocked()
	return acked, errs.Wrap(errs.Unavailable, err, "publish %d of %d outbox records", len(recs)-len(acked), len(recs))
}

func (p *Publisher) resetLocked() {
	if p.producer != nil {
		_ = p.producer.Close()
		p.producer = nil
	}
}

// Close closes the producer; later Publish calls fail.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.producer == nil {
		return nil
	}
	err := p.producer.Close()
	p.producer = nil
	return err
}
