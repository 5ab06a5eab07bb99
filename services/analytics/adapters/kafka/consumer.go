// Package kafka connects the analytics unit to Kafka with sarama: a
// consumer group on the orders topic that feeds the processor, and a
// producer for analytics-results.
package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// Sink is what the consumer feeds: the processor.
type Sink interface {
	Assign(ctx context.Context, partitions []int32, c app.Committer) error
	Deliver(ctx context.Context, r app.Record) error
	Revoke(ctx context.Context) error
}

// retryBackoff is the pause before reconnecting after a failure.
const retryBackoff = time.Second

// revokeTimeout bounds the final commit when a session ends.
const revokeTimeout = 5 * time.Second

// Consumer runs a consumer group on one topic. It connects lazily and keeps
// retrying, so the unit starts, and stays up, while Kafka is down.
type Consumer struct {
	brokers []string
	group   string
	topic   string
	sink    Sink
	log     *slog.Logger
	opts    []kafkax.Option

	mu     sync.Mutex
	active bool // a session holds partitions
}

// NewConsumer returns a consumer of topic in group.
func NewConsumer(brokers []string, group, topic string, sink Sink, log *slog.Logger, opts ...kafkax.Option) *Consumer {
	return &Consumer{brokers: brokers, group: group, topic: topic, sink: sink, log: log, opts: opts}
}

// Ready reports whether a group session currently holds partitions.
func (c *Consumer) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return errs.E(errs.Unavailable, "not consuming %s yet", c.topic)
	}
	return nil
}

func (c *Consumer) setActive(v bool) {
	c.mu.Lock()
	c.active = v
	c.mu.Unlock()
}

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		cg, err := sarama.NewConsumerGroup(c.brokers, c.group, kafkax.ConsumerConfig("analytics", c.opts...))
		if err != nil {
			c.log.Warn("connect consumer group; will retry", "group", c.group, "error", err)
			sleep(ctx, retryBackoff)
			continue
		}
		c.consume(ctx, cg)
		if err := cg.Close(); err != nil {
			c.log.Warn("close consumer group", "error", err)
		}
	}
	return nil
}

func (c *Consumer) consume(ctx context.Context, cg sarama.ConsumerGroup) {
	go func() {
		for err := range cg.Errors() {
			c.log.Warn("consumer group", "group", c.group, "error", err)
		}
	}()
	h := handler{c: c}
	for ctx.Err() == nil {
		// Consume returns at every rebalance; loop to rejoin.
		err := cg.Consume(ctx, []string{c.topic}, h)
		switch {
		case err == nil:
		case errors.Is(err, sarama.ErrClosedConsumerGroup):
			return
		case errors.Is(err, app.ErrStopped):
			return
		default:
			c.log.Warn("consume; will retry", "topic", c.topic, "error", err)
			if errors.Is(err, sarama.ErrOutOfBrokers) {
				return // reconnect from scratch
			}
			sleep(ctx, retryBackoff)
		}
	}
}

type handler struct{ c *Consumer }

func (h handler) Setup(s sarama.ConsumerGroupSession) error {
	if err := h.c.sink.Assign(s.Context(), s.Claims()[h.c.topic], sessionCommitter{s: s, topic: h.c.topic}); err != nil {
		return err
	}
	h.c.setActive(true)
	return nil
}

func (h handler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.c.setActive(false)
	// The session context is already cancelled; the final commit still
	// has to happen before sarama releases the partitions.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.Context()), revokeTimeout)
	defer cancel()
	return h.c.sink.Revoke(ctx)
}

func (h handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if err := h.c.sink.Deliver(s.Context(), app.Record{Partition: msg.Partition, Offset: msg.Offset, Value: msg.Value}); err != nil {
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// sessionCommitter commits through the session that owns the partitions.
type sessionCommitter struct {
	s     sarama.ConsumerGroupSession
	topic string
}

func (c sessionCommitter) Commit(offsets map[int32]int64) {
	for p, off := range offsets {
		c.s.MarkOffset(c.topic, p, off, "")
	}
	c.s.Commit()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
