package flink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// LateEvent is one record of the late topic: an event dropped as late and
// the watermark it was judged against.
type LateEvent struct {
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Watermark  time.Time `json:"watermark"`
}

// Merge attaches the late events to the windows as the Go engine does: a
// late event is reported by the next window to close after it. Windows
// close in start order, and a window closes after a late event exactly
// when its end - 1 ms is past the event's watermark, i.e. when it starts
// at or after the window holding watermark + 1 ms; so the reporting window
// is the first of windows (in close order) starting there. Late events
// with no such window are pending (the Go engine keeps them in a metric
// only) and are returned. windows are modified in place.
func Merge(windows []events.WindowResult, late []LateEvent, window time.Duration) (pending []LateEvent) {
	size := window.Milliseconds()
	for _, l := range late {
		wm := l.Watermark.UnixMilli() + 1
		bucket := floorDiv(wm, size) * size
		placed := false
		for i := range windows {
			if windows[i].WindowStart.UnixMilli() >= bucket {
				windows[i].LateEvents++
				placed = true
				break
			}
		}
		if !placed {
			pending = append(pending, l)
		}
	}
	return pending
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// CreateTopics creates topics with the given partition count (replication
// 1: a dev broker), so the job's input and outputs exist before it starts.
func CreateTopics(ctx context.Context, brokers []string, partitions int32, names ...string) error {
	cfg := sarama.NewConfig()
	cfg.Admin.Timeout = 15 * time.Second
	cfg.Net.DialTimeout = 5 * time.Second
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return fmt.Errorf("connect to Kafka %v: %w", brokers, err)
	}
	defer admin.Close()
	for _, n := range names {
		err := admin.CreateTopic(n, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", n, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// DeleteTopics removes topics; errors are returned, not fatal to callers
// cleaning up.
func DeleteTopics(brokers []string, names ...string) error {
	cfg := sarama.NewConfig()
	cfg.Admin.Timeout = 15 * time.Second
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	var errsOut []error
	for _, n := range names {
		if err := admin.DeleteTopic(n); err != nil {
			errsOut = append(errsOut, err)
		}
	}
	return errors.Join(errsOut...)
}

// Produce writes values to topic in order, keyed by keys[i] (the order id,
// as the order unit keys OrderPlaced), to partition 0 unless the topic's
// partitioner spreads them: a one-partition replay topic keeps the record
// order the order given.
func Produce(ctx context.Context, brokers []string, topic string, keys []string, values [][]byte) error {
	return ProduceTo(ctx, brokers, topic, keys, values, nil)
}

// ProduceTo is Produce with values[i] written to partition parts[i] (nil:
// the key's hash partitioner). Each partition keeps the order given for
// its records.
func ProduceTo(ctx context.Context, brokers []string, topic string, keys []string, values [][]byte, parts []int32) error {
	if parts != nil && len(parts) != len(values) {
		return fmt.Errorf("produce to %s: %d partitions for %d records", topic, len(parts), len(values))
	}
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Flush.Messages = 500
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Producer.Timeout = 10 * time.Second
	if parts != nil {
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
	}
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("connect to Kafka %v: %w", brokers, err)
	}
	errc := make(chan error, 1)
	go func() {
		var first error
		for range values {
			select {
			case <-p.Successes():
			case e := <-p.Errors():
				if first == nil {
					first = e.Err
				}
			case <-ctx.Done():
				if first == nil {
					first = ctx.Err()
				}
			}
			if first != nil {
				break
			}
		}
		errc <- first
	}()
	for i, v := range values {
		m := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(v)}
		if keys != nil && keys[i] != "" {
			m.Key = sarama.StringEncoder(keys[i])
		}
		if parts != nil {
			m.Partition = parts[i]
		}
		select {
		case p.Input() <- m:
		case err := <-errc:
			p.Close()
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	err = <-errc
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	return nil
}

// ReadAll returns every record of topic from its start to the end offsets
// current at the call, partition by partition, in offset order.
func ReadAll(ctx context.Context, brokers []string, topic string) ([][]byte, error) {
	cfg := sarama.NewConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Net.DialTimeout = 5 * time.Second
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka %v: %w", brokers, err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out [][]byte
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
		}
		start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("start offset of %s/%d: %w", topic, p, err)
		}
		vals, err := kafkax.ReadRange(ctx, c, topic, p, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

// ReadResults reads a finished job's outputs and returns its windows in
// close order with late_events attached (Merge), and the late events no
// window reported.
func ReadResults(ctx context.Context, brokers []string, c JobConfig) ([]events.WindowResult, []LateEvent, error) {
	raw, err := ReadAll(ctx, brokers, c.OutputTopic)
	if err != nil {
		return nil, nil, err
	}
	windows := make([]events.WindowResult, 0, len(raw))
	for _, b := range raw {
		var w events.WindowResult
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, nil, fmt.Errorf("decode a window of %s: %w: %s", c.OutputTopic, err, b)
		}
		windows = append(windows, w)
	}
	rawLate, err := ReadAll(ctx, brokers, c.LateTopic)
	if err != nil {
		return nil, nil, err
	}
	late := make([]LateEvent, 0, len(rawLate))
	for _, b := range rawLate {
		var l LateEvent
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, nil, fmt.Errorf("decode a late event of %s: %w: %s", c.LateTopic, err, b)
		}
		late = append(late, l)
	}
	w := c.Window
	if w == 0 {
		w = time.Minute
	}
	pending := Merge(windows, late, w)
	return windows, pending, nil
}
