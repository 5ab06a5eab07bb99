package flink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
)

// ReplayConfig is one bounded replay through the job.
type ReplayConfig struct {
	Brokers        []string
	Window         time.Duration // default 1 min
	OutOfOrderness time.Duration // default 5 s
	// Prefix names the topics the replay creates (and deletes after):
	// <prefix><random>-orders, -results, -late.
	Prefix string
	// Keep leaves the topics in place (for inspection).
	Keep bool
	// Partitions is the input topic's partition count (default 1).
	Partitions int32
	// PartitionOf[i] is the partition values[i] is produced to; required
	// with Partitions > 1 (nil: every record to partition 0).
	PartitionOf []int32
}

// Replay produces values (OrderPlaced JSON, in order, keyed by keys) to a
// fresh topic of rc.Partitions partitions, values[i] to rc.PartitionOf[i],
// runs the job over it as a bounded read with idleness off (the end of
// input closes every open window, as the Go engine's Flush), and returns
// the windows in close order with late_events attached, plus the late
// events no window reported. One partition keeps the order the records
// were given in. With several, each partition keeps its own order but
// Flink interleaves them as its fetches return (README "Several
// partitions"): per split, a split assigned but not yet read holds the
// watermark at its minimum, a finished one stops holding it.
func (s *Server) Replay(ctx context.Context, rc ReplayConfig, keys []string, values [][]byte) ([]events.WindowResult, []LateEvent, error) {
	prefix := rc.Prefix
	if prefix == "" {
		prefix = "shoplab-replay-"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	base := prefix + hex.EncodeToString(b)
	c := JobConfig{
		Brokers: rc.Brokers, InputTopic: base + "-orders", OutputTopic: base + "-results", LateTopic: base + "-late",
		Group: base, Window: rc.Window, OutOfOrderness: rc.OutOfOrderness, IdleTimeout: -1,
		// Dedup must not forget within a replay, however long it runs.
		StateTTL: 24 * time.Hour,
	}
	parts := rc.Partitions
	if parts == 0 {
		parts = 1
	}
	if parts > 1 && len(rc.PartitionOf) != len(values) {
		return nil, nil, fmt.Errorf("flink replay: %d partitions need a partition for each of the %d records, got %d", parts, len(values), len(rc.PartitionOf))
	}
	for i, p := range rc.PartitionOf {
		if p < 0 || p >= parts {
			return nil, nil, fmt.Errorf("flink replay: record %d to partition %d of %d", i, p, parts)
		}
	}
	if err := CreateTopics(ctx, rc.Brokers, parts, c.InputTopic); err != nil {
		return nil, nil, err
	}
	if !rc.Keep {
		defer DeleteTopics(rc.Brokers, c.InputTopic, c.OutputTopic, c.LateTopic)
	}
	if err := CreateTopics(ctx, rc.Brokers, 1, c.OutputTopic, c.LateTopic); err != nil {
		return nil, nil, err
	}
	if err := ProduceTo(ctx, rc.Brokers, c.InputTopic, keys, values, rc.PartitionOf); err != nil {
		return nil, nil, err
	}
	if err := s.Run(ctx, c); err != nil {
		return nil, nil, fmt.Errorf("flink replay over %s: %w", c.InputTopic, err)
	}
	return ReadResults(ctx, rc.Brokers, c)
}

// KeysOf returns the order ids of evs, the key the order unit gives each.
func KeysOf(evs []events.OrderPlaced) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.OrderID
	}
	return out
}
