package eventsource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-lambda-go/events"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// fakeDLQ records dead letters and fails the first failFirst calls.
type fakeDLQ struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	offsets   []int64
	attempts  []int
	causes    []error
}

func (d *fakeDLQ) deadLetter(_ context.Context, m *sarama.ConsumerMessage, cause error, attempts int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.calls <= d.failFirst {
		return errors.New("broker down")
	}
	d.offsets = append(d.offsets, m.Offset)
	d.attempts = append(d.attempts, attempts)
	d.causes = append(d.causes, cause)
	return nil
}

// harness is a Runner with an instant, recording sleep and a handler that
// records the offsets of every invocation.
type harness struct {
	r           *Runner
	sleeps      []time.Duration
	invocations [][]int64
}

func newHarness(t *testing.T, cfg Config, handle func(offsets []int64) error) *harness {
	t.Helper()
	h := &harness{}
	cfg.Brokers = []string{"127.0.0.1:1"}
	r, err := New(cfg, Deps{
		Handler: func(ctx context.Context, ev events.KafkaEvent) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("handler invoked without a deadline")
			}
			var offs []int64
			for _, recs := range ev.Records {
				for _, rec := range recs {
					offs = append(offs, rec.Offset)
				}
			}
			slices.Sort(offs)
			h.invocations = append(h.invocations, offs)
			return handle(offs)
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps = append(h.sleeps, d)
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	return h
}

func msgs(n int) []*sarama.ConsumerMessage {
	out := make([]*sarama.ConsumerMessage, n)
	for i := range out {
		out[i] = &sarama.ConsumerMessage{Topic: "orders", Partition: 1, Offset: int64(100 + i), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	return out
}

// namedFailure is a handler error that names failed records, as
// app.BatchError does.
type namedFailure map[int64]error

func (n namedFailure) Error() string { return fmt.Sprintf("%d records failed", len(n)) }
func (n namedFailure) RecordErr(topic string, partition, offset int64) error {
	if topic != "orders" || partition != 1 {
		return nil
	}
	return n[offset]
}

func TestProcessAllSucceed(t *testing.T) {
	h := newHarness(t, Config{}, func([]int64) error { return nil })
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(3), dlq); err != nil {
		t.Fatal(err)
	}
	if want := [][]int64{{100, 101, 102}}; !slices.EqualFunc(h.invocations, want, slices.Equal) {
		t.Fatalf("invocations = %v, want %v", h.invocations, want)
	}
	if len(h.sleeps) != 0 || len(dlq.offsets) != 0 {
		t.Fatalf("sleeps %v, dead letters %v; want none", h.sleeps, dlq.offsets)
	}
}

func TestProcessNamedPoisonIsRetriedThenDeadLettered(t *testing.T) {
	cfg := Config{MaxAttempts: 3, RetryBackoff: 10 * time.Millisecond}
	poison := errs.E(errs.Invalid, "record orders-1@101 is not an OrderPlaced")
	h := newHarness(t, cfg, func(offs []int64) error {
		if slices.Contains(offs, 101) {
			return namedFailure{101: poison}
		}
		return nil
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(3), dlq); err != nil {
		t.Fatal(err)
	}
	// The batch once, then the poison record alone until MaxAttempts.
	if want := [][]int64{{100, 101, 102}, {101}, {101}}; !slices.EqualFunc(h.invocations, want, slices.Equal) {
		t.Fatalf("invocations = %v, want %v", h.invocations, want)
	}
	if want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}; !slices.Equal(h.sleeps, want) {
		t.Fatalf("backoff = %v, want %v", h.sleeps, want)
	}
	if !slices.Equal(dlq.offsets, []int64{101}) || dlq.attempts[0] != 3 || !errors.Is(dlq.causes[0], poison) {
		t.Fatalf("dead letters %v (attempts %v, causes %v), want offset 101 after 3 attempts", dlq.offsets, dlq.attempts, dlq.causes)
	}
}

func TestProcessBisectsAnUnnamedPoisonRecord(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 2, RetryBackoff: time.Millisecond}, func(offs []int64) error {
		if slices.Contains(offs, 102) {
			return errs.E(errs.Invalid, "bad record somewhere")
		}
		return nil
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(4), dlq); err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{100, 101, 102, 103}, {100, 101}, {102, 103}, {102}, {102}, {103}}
	if !slices.EqualFunc(h.invocations, want, slices.Equal) {
		t.Fatalf("invocations = %v, want %v", h.invocations, want)
	}
	if !slices.Equal(dlq.offsets, []int64{102}) {
		t.Fatalf("dead letters = %v, want [102]", dlq.offsets)
	}
}

func TestProcessRetriesTransientFailuresWithoutLimit(t *testing.T) {
	cfg := Config{MaxAttempts: 1, RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 500 * time.Millisecond}
	calls := 0
	h := newHarness(t, cfg, func([]int64) error {
		calls++
		if calls <= 6 {
			return errs.E(errs.Unavailable, "dedup store down")
		}
		return nil
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(2), dlq); err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	if want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms, 500 * ms}; !slices.Equal(h.sleeps, want) {
		t.Fatalf("backoff = %v, want %v (doubling, capped)", h.sleeps, want)
	}
	if len(dlq.offsets) != 0 {
		t.Fatalf("transient failures were dead-lettered: %v", dlq.offsets)
	}
	if len(h.invocations) != 7 {
		t.Fatalf("%d invocations, want 7", len(h.invocations))
	}
}

func TestProcessMixedFailuresRetryOnlyFailedRecords(t *testing.T) {
	transientLeft := 2
	h := newHarness(t, Config{MaxAttempts: 2, RetryBackoff: time.Millisecond}, func(offs []int64) error {
		failed := namedFailure{}
		if slices.Contains(offs, 100) {
			failed[100] = errs.E(errs.Invalid, "poison")
		}
		if slices.Contains(offs, 102) && transientLeft > 0 {
			transientLeft--
			failed[102] = errs.E(errs.DeadlineExceeded, "mail timeout")
		}
		if len(failed) == 0 {
			return nil
		}
		return failed
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(3), dlq); err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{100, 101, 102}, {100, 102}, {102}}
	if !slices.EqualFunc(h.invocations, want, slices.Equal) {
		t.Fatalf("invocations = %v, want %v", h.invocations, want)
	}
	if !slices.Equal(dlq.offsets, []int64{100}) {
		t.Fatalf("dead letters = %v, want [100]", dlq.offsets)
	}
}

func TestProcessIsolatesAPanickingRecord(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 1}, func(offs []int64) error {
		if slices.Contains(offs, 100) {
			panic("nil map")
		}
		return nil
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(t.Context(), msgs(2), dlq); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dlq.offsets, []int64{100}) || !strings.Contains(dlq.causes[0].Error(), "nil map") {
		t.Fatalf("dead letters = %v %v, want [100] with the panic", dlq.offsets, dlq.causes)
	}
}

func TestProcessRetriesTheDeadLetterProducer(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 1, RetryBackoff: time.Millisecond}, func(offs []int64) error {
		return namedFailure{100: errs.E(errs.Invalid, "poison")}
	})
	dlq := &fakeDLQ{failFirst: 2}
	if err := h.r.process(t.Context(), msgs(1), dlq); err != nil {
		t.Fatal(err)
	}
	if dlq.calls != 3 || !slices.Equal(dlq.offsets, []int64{100}) {
		t.Fatalf("dead-letter calls %d, letters %v; want 3 calls and [100]", dlq.calls, dlq.offsets)
	}
}

func TestProcessStopsWhenTheSessionEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	h := newHarness(t, Config{}, func([]int64) error {
		cancel() // a rebalance while the handler runs
		return errs.E(errs.Unavailable, "down")
	})
	dlq := &fakeDLQ{}
	if err := h.r.process(ctx, msgs(2), dlq); !errors.Is(err, context.Canceled) {
		t.Fatalf("process = %v, want context.Canceled so nothing is committed", err)
	}
	if len(h.invocations) != 1 || len(dlq.offsets) != 0 {
		t.Fatalf("invocations %v, dead letters %v after the session ended", h.invocations, dlq.offsets)
	}
}

func TestEventHasTheLambdaShape(t *testing.T) {
	h := newHarness(t, Config{}, func([]int64) error { return nil })
	ts := time.Date(2026, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
	ev := h.r.event([]*sarama.ConsumerMessage{
		{Topic: "orders", Partition: 2, Offset: 7, Key: []byte("o-1"), Value: []byte(`{"x":1}`), Timestamp: ts,
			Headers: []*sarama.RecordHeader{{Key: []byte("traceparent"), Value: []byte{0xff, 0x01}}}},
		{Topic: "orders", Partition: 0, Offset: 3, Value: nil, Timestamp: ts},
	})
	if ev.EventSource != EventSource || ev.BootstrapServers != "127.0.0.1:1" {
		t.Fatalf("event source %q, servers %q", ev.EventSource, ev.BootstrapServers)
	}
	r := ev.Records["orders-2"]
	if len(r) != 1 || len(ev.Records["orders-0"]) != 1 {
		t.Fatalf("records = %+v, want one under orders-2 and one under orders-0", ev.Records)
	}
	if r[0].Key != base64.StdEncoding.EncodeToString([]byte("o-1")) || r[0].Value != base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)) {
		t.Fatalf("key/value = %q/%q, want base64", r[0].Key, r[0].Value)
	}
	if r[0].Partition != 2 || r[0].Offset != 7 || !r[0].Timestamp.Equal(ts) || r[0].TimestampType != "CREATE_TIME" {
		t.Fatalf("record = %+v", r[0])
	}
	if len(r[0].Headers) != 1 || string(r[0].Headers[0]["traceparent"]) != "\xff\x01" {
		t.Fatalf("headers = %v", r[0].Headers)
	}
	if tomb := ev.Records["orders-0"][0]; tomb.Value != "" || tomb.Key != "" {
		t.Fatalf("a null key and value must stay empty, got %+v", tomb)
	}
}

func TestDeadLetterMessageHeaders(t *testing.T) {
	ts := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	m := &sarama.ConsumerMessage{Topic: "orders", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("v"), Timestamp: ts,
		Headers: []*sarama.RecordHeader{{Key: []byte("traceparent"), Value: []byte("t")}}}
	out := deadLetterMessage("orders-dlq", m, errors.New(strings.Repeat("x", 5000)), 3, ts.Add(time.Minute))
	got := map[string]string{}
	for _, h := range out.Headers {
		got[string(h.Key)] = string(h.Value)
	}
	want := map[string]string{
		"traceparent":           "t",
		HeaderOriginalTopic:     "orders",
		HeaderOriginalPartition: "2",
		HeaderOriginalOffset:    "7",
		HeaderOriginalTimestamp: "2026-02-03T04:05:06Z",
		HeaderAttempts:          "3",
		HeaderDeadLetteredAt:    "2026-02-03T04:06:06Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got[HeaderError]) != maxErrorHeader {
		t.Errorf("error header has %d bytes, want it cut to %d", len(got[HeaderError]), maxErrorHeader)
	}
	if out.Topic != "orders-dlq" {
		t.Errorf("topic = %s", out.Topic)
	}
}

func TestNewValidates(t *testing.T) {
	ok := func(context.Context, events.KafkaEvent) error { return nil }
	for _, tc := range []struct {
		field string
		cfg   Config
		deps  Deps
	}{
		{"Handler", Config{Brokers: []string{"b:1"}}, Deps{}},
		{"Brokers", Config{}, Deps{Handler: ok}},
		{"Brokers", Config{Brokers: []string{""}}, Deps{Handler: ok}},
		{"BatchSize", Config{Brokers: []string{"b:1"}, BatchSize: 10001}, Deps{Handler: ok}},
		{"MaxAttempts", Config{Brokers: []string{"b:1"}, MaxAttempts: -1}, Deps{Handler: ok}},
		{"DLQTopic", Config{Brokers: []string{"b:1"}, Topic: "x", DLQTopic: "x"}, Deps{Handler: ok}},
		{"RetryBackoff", Config{Brokers: []string{"b:1"}, RetryBackoff: time.Minute, MaxRetryBackoff: time.Second}, Deps{Handler: ok}},
	} {
		_, err := New(tc.cfg, tc.deps)
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.field {
			t.Errorf("New(%+v) = %v, want invalid_argument on %s", tc.cfg, err, tc.field)
		}
	}
}
