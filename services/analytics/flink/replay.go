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
}

// Replay produces values (OrderPlaced JSON, in order, keyed by keys) to a
// fresh one-partition topic, runs the job over it as a bounded read with
// idleness off (the end of input closes every open window, as the Go
// engine's Flush), and returns the windows in close order with late_events
// attached, plus the late events no window reported. Only one partition
// keeps the order the records were given in: Flink reads several
// partitions in an order of its own.
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
	if err := CreateTopics(ctx, rc.Brokers, 1, c.InputTopic, c.OutputTopic, c.LateTopic); err != nil {
		return nil, nil, err
	}
	if !rc.Keep {
		defer DeleteTopics(rc.Brokers, c.InputTopic, c.OutputTopic, c.LateTopic)
	}
	if err := Produce(ctx, rc.Brokers, c.InputTopic, keys, values); err != nil {
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
