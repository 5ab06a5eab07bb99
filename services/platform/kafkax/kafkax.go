// Package kafkax holds the sarama configuration every shoplab Kafka client
// uses: short network timeouts so a broker outage is noticed in seconds, an
// idempotent acks=all producer, and consumer groups that start at the oldest
// offset.
package kafkax

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"
)

// Version is the Kafka protocol version shoplab speaks: 3.x brokers (MSK,
// Apache Kafka, Redpanda) and kfake all accept it.
var Version = sarama.V3_6_0_0

// base returns the settings shared by producers and consumers. Sarama's
// defaults (30 s dial/read/write) would let one dead broker stall a caller
// for far too long; these fail a broken call within seconds and retry.
func base(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = Version
	c.Net.DialTimeout = 2 * time.Second
	c.Net.ReadTimeout = 5 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	c.Metadata.RefreshFrequency = 30 * time.Second
	c.Metadata.Timeout = 5 * time.Second
	return c
}

// Dialer opens a client's broker connections (sarama's proxy.Dialer). The
// embedded env passes one so that a unit's Kafka traffic, bootstrap and
// advertised broker addresses alike, crosses that unit's own proxy.
type Dialer interface {
	Dial(network, addr string) (net.Conn, error)
}

// Option adjusts a config built here.
type Option func(*sarama.Config)

// WithDialer sends every broker connection through d; nil changes nothing.
func WithDialer(d Dialer) Option {
	return func(c *sarama.Config) {
		if d != nil {
			c.Net.Proxy.Enable = true
			c.Net.Proxy.Dialer = d
		}
	}
}

func apply(c *sarama.Config, opts []Option) *sarama.Config {
	for _, o := range opts {
		o(c)
	}
	return c
}

// ProducerConfig is an idempotent, acks=all producer config for a
// SyncProducer. Idempotence needs one in-flight request per connection.
func ProducerConfig(clientID string, opts ...Option) *sarama.Config {
	c := base(clientID)
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 3
	c.Producer.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Timeout = 5 * time.Second
	c.Producer.Partitioner = sarama.NewHashPartitioner // key = order id keeps an order's events in order
	return apply(c, opts)
}

// ConsumerConfig is a consumer-group config that starts at the oldest offset
// and leaves committing to the caller (MarkMessage then Commit), so offsets
// move only after the records were processed.
func ConsumerConfig(clientID string, opts ...Option) *sarama.Config {
	c := base(clientID)
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Return.Errors = true
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 1 * time.Second
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	c.Consumer.Retry.Backoff = 500 * time.Millisecond
	c.Consumer.MaxWaitTime = 250 * time.Millisecond
	return apply(c, opts)
}

// ReadRange returns the values of partition p of topic from offset start
// up to end (exclusive), in order: a bounded read of what a topic held at
// a moment, as the analytics readers and the differential tests need.
func ReadRange(ctx context.Context, c sarama.Consumer, topic string, p int32, start, end int64) ([][]byte, error) {
	if end <= start {
		return nil, nil
	}
	pc, err := c.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, fmt.Errorf("read %s/%d: %w", topic, p, err)
	}
	defer pc.Close()
	var out [][]byte
	for next := start; next < end; {
		select {
		case m := <-pc.Messages():
			out = append(out, m.Value)
			next = m.Offset + 1
		case e := <-pc.Errors():
			return nil, fmt.Errorf("read %s/%d: %w", topic, p, e.Err)
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s/%d: %w", topic, p, ctx.Err())
		}
	}
	return out, nil
}
