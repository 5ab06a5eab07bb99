// Package eventsource is the local stand-in for AWS Lambda's MSK event
// source mapping: a sarama consumer group that batches records of a topic
// into the Lambda KafkaEvent shape, invokes a handler with the Lambda
// signature, commits offsets only after the batch was handled, retries
// failures with exponential backoff, isolates poison records and moves them
// to a dead-letter topic.
//
// Retry policy. A record is poison when the handler fails it with an
// errs.Invalid error (or panics on it): it is retried up to MaxAttempts
// times, then dead-lettered with headers saying where it came from and why,
// and the partition moves on. Every other failure (store or mail outage,
// timeout, misconfiguration) is retried without limit, with capped
// exponential backoff, holding the partition: dead-lettering a valid order
// because a dependency was down would lose its email, while a stalled
// partition shows in the lag gauge and catches up once the fault clears.
// This is stricter than MSK's MaximumRetryAttempts, which dead-letters on
// any error.
package eventsource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification/internal/obs"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Headers added to a dead-lettered record, next to the original headers.
const (
	HeaderOriginalTopic     = "shoplab-original-topic"
	HeaderOriginalPartition = "shoplab-original-partition"
	HeaderOriginalOffset    = "shoplab-original-offset"
	HeaderOriginalTimestamp = "shoplab-original-timestamp"
	HeaderError             = "shoplab-error"
	HeaderAttempts          = "shoplab-attempts"
	HeaderDeadLetteredAt    = "shoplab-dead-lettered-at"
)

// EventSource is the KafkaEvent.EventSource the runner sets: the value
// Lambda uses for a self-managed Kafka cluster, which a local one is.
const EventSource = "SelfManagedKafka"

// Defaults for Config's zero values.
const (
	DefaultGroup           = "notification"
	DefaultBatchSize       = 100
	DefaultBatchWindow     = 500 * time.Millisecond
	DefaultMaxAttempts     = 3
	DefaultRetryBackoff    = 200 * time.Millisecond
	DefaultMaxRetryBackoff = 30 * time.Second
	DefaultInvokeTimeout   = 60 * time.Second
)

// HandlerFunc is a Lambda handler for Kafka events, such as app.Handler.Handle.
type HandlerFunc func(ctx context.Context, ev events.KafkaEvent) error

// Config holds the runner's settings.
type Config struct {
	Brokers         []string
	Topic           string        // "" means events.TopicOrders
	DLQTopic        string        // "" means events.TopicOrdersDLQ
	Group           string        // consumer group; "" means DefaultGroup
	ClientID        string        // "" means the group name
	BatchSize       int           // records per invocation at most
	BatchWindow     time.Duration // how long a batch waits to fill after its first record
	MaxAttempts     int           // invocations of a poison record before it is dead-lettered
	RetryBackoff    time.Duration // first retry delay; doubles per consecutive failure
	MaxRetryBackoff time.Duration // cap of the retry delay
	InvokeTimeout   time.Duration // deadline of one invocation, like a Lambda function timeout
	Dialer          kafkax.Dialer // nil dials brokers directly; wiring routes through a proxy
}

// Deps are the runner's handler and tools.
type Deps struct {
	Handler HandlerFunc
	Log     *slog.Logger      // nil discards
	Metrics *metrics.Registry // nil keeps the collectors unexported
	Now     func() time.Time  // nil means time.Now; stamps dead letters
	// Sleep waits d or until ctx ends; nil means a timer. Tests make it
	// instant and record the backoff schedule.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Runner consumes a topic and invokes a handler, as described in the
// package comment.
type Runner struct {
	cfg     Config
	handler HandlerFunc
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error

	connected atomic.Bool
	mu        sync.Mutex
	lags      map[partitionKey]*partitionLag

	consumed, batches, handlerErrors, dlqCount, bisections prometheus.Counter
	lagGauge                                               *prometheus.GaugeVec
}

type partitionKey struct {
	topic     string
	partition int32
}

// partitionLag tracks one owned partition: hwm is the broker's high-water
// mark, next the offset after the last handled record (-1 until known).
type partitionLag struct {
	hwm, next int64
}

// New checks cfg and returns a Runner; it connects in Run.
func New(cfg Config, deps Deps) (*Runner, error) {
	if cfg.Topic == "" {
		cfg.Topic = shopevents.TopicOrders
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = shopevents.TopicOrdersDLQ
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Group
	}
	setDefault(&cfg.BatchSize, DefaultBatchSize)
	setDefault(&cfg.BatchWindow, DefaultBatchWindow)
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.RetryBackoff, DefaultRetryBackoff)
	setDefault(&cfg.MaxRetryBackoff, DefaultMaxRetryBackoff)
	setDefault(&cfg.InvokeTimeout, DefaultInvokeTimeout)
	switch {
	case deps.Handler == nil:
		return nil, errs.InvalidField("Handler", "is required")
	case len(cfg.Brokers) == 0:
		return nil, errs.InvalidField("Brokers", "at least one broker address is required")
	case cfg.Topic == cfg.DLQTopic:
		return nil, errs.InvalidField("DLQTopic", "must differ from the consumed topic %q", cfg.Topic)
	case cfg.BatchSize < 1 || cfg.BatchSize > 10000:
		// Lambda's MSK mapping allows up to 10,000 records per batch.
		return nil, errs.InvalidField("BatchSize", "must be between 1 and 10000, got %d", cfg.BatchSize)
	case cfg.BatchWindow < 0:
		return nil, errs.InvalidField("BatchWindow", "must not be negative")
	case cfg.MaxAttempts < 1:
		return nil, errs.InvalidField("MaxAttempts", "must be at least 1, got %d", cfg.MaxAttempts)
	case cfg.RetryBackoff < 0 || cfg.MaxRetryBackoff < cfg.RetryBackoff:
		return nil, errs.InvalidField("RetryBackoff", "must be positive and at most MaxRetryBackoff")
	case cfg.InvokeTimeout < 0:
		return nil, errs.InvalidField("InvokeTimeout", "must be positive")
	}
	for _, b := range cfg.Brokers {
		if b == "" {
			return nil, errs.InvalidField("Brokers", "empty broker address")
		}
	}
	r := &Runner{
		cfg:     cfg,
		handler: deps.Handler,
		log:     deps.Log,
		now:     deps.Now,
		sleep:   deps.Sleep,
		lags:    map[partitionKey]*partitionLag{},
	}
	if r.log == nil {
		r.log = logx.Discard()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.sleep == nil {
		r.sleep = sleepTimer
	}
	reg := deps.Metrics
	r.consumed = obs.Counter(reg, "shoplab_notification_records_consumed_total", "Records received from Kafka (redeliveries included).")
	r.batches = obs.Counter(reg, "shoplab_notification_batches_invoked_total", "Handler invocations, retries and bisections included.")
	r.handlerErrors = obs.Counter(reg, "shoplab_notification_handler_errors_total", "Handler invocations that returned an error.")
	r.dlqCount = obs.Counter(reg, "shoplab_notification_dlq_records_total", "Poison records moved to the dead-letter topic.")
	r.bisections = obs.Counter(reg, "shoplab_notification_batch_bisections_total", "Failed batches split in two to find a poison record the handler did not name.")
	r.lagGauge = obs.GaugeVec(reg, "shoplab_notification_consumer_lag", "Records behind the high-water mark, per owned partition.", "topic", "partition")
	return r, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ready reports whether the runner is connected to Kafka.
func (r *Runner) Ready(context.Context) error {
	if !r.connected.Load() {
		return errs.E(errs.Unavailable, "not connected to kafka")
	}
	return nil
}

// Lag is the number of records behind the high-water mark, summed over the
// partitions this runner owns now.
func (r *Runner) Lag() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sum int64
	for _, l := range r.lags {
		sum += l.lag()
	}
	return sum
}

func (l *partitionLag) lag() int64 {
	if l.next < 0 || l.hwm <= l.next {
		return 0
	}
	return l.hwm - l.next
}

// observe updates partition p's lag: hwm from the claim (when known) and
// next once a record was handled or its position is first learnt.
func (r *Runner) observe(p partitionKey, hwm, next int64) {
	r.mu.Lock()
	l, ok := r.lags[p]
	if !ok {
		l = &partitionLag{next: -1}
		r.lags[p] = l
	}
	if hwm > l.hwm {
		l.hwm = hwm
	}
	if next >= 0 && (l.next < 0 || next > l.next) {
		l.next = next
	}
	lag := l.lag()
	r.mu.Unlock()
	r.lagGauge.WithLabelValues(p.topic, strconv.Itoa(int(p.partition))).Set(float64(lag))
}

// forget drops a partition this runner no longer owns, so its lag is
// reported by the new owner only.
func (r *Runner) forget(p partitionKey) {
	r.mu.Lock()
	delete(r.lags, p)
	r.mu.Unlock()
	r.lagGauge.DeleteLabelValues(p.topic, strconv.Itoa(int(p.partition)))
}

// Run consumes until ctx ends. A broken connection is retried with backoff,
// so the runner may start before Kafka does.
func (r *Runner) Run(ctx context.Context) error {
	delay := r.cfg.RetryBackoff
	for {
		connected, err := r.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			delay = r.cfg.RetryBackoff // a fresh outage starts the backoff over
		}
		r.log.WarnContext(ctx, "kafka consumer stopped; reconnecting", "error", err, "retry_in", delay)
		if r.sleep(ctx, delay) != nil {
			return nil
		}
		delay = min(2*delay, r.cfg.MaxRetryBackoff)
	}
}

// consume runs one connection to the cluster; connected says whether it
// got as far as consuming.
func (r *Runner) consume(ctx context.Context) (connected bool, err error) {
	group, err := sarama.NewConsumerGroup(r.cfg.Brokers, r.cfg.Group, kafkax.ConsumerConfig(r.cfg.ClientID, kafkax.WithDialer(r.cfg.Dialer)))
	if err != nil {
		return false, fmt.Errorf("join consumer group %s: %w", r.cfg.Group, err)
	}
	defer group.Close()
	producer, err := sarama.NewSyncProducer(r.cfg.Brokers, kafkax.ProducerConfig(r.cfg.ClientID+"-dlq", kafkax.WithDialer(r.cfg.Dialer)))
	if err != nil {
		return false, fmt.Errorf("dead-letter producer: %w", err)
	}
	defer producer.Close()

	go func() {
		// The channel closes with the group.
		for err := range group.Errors() {
			r.log.WarnContext(ctx, "kafka consumer group error", "error", err)
		}
	}()
	r.connected.Store(true)
	defer r.connected.Store(false)
	h := &groupHandler{r: r, dlq: &producerDLQ{p: producer, topic: r.cfg.DLQTopic, now: r.now}}
	for ctx.Err() == nil {
		// Consume returns at every rebalance; loop to rejoin.
		if err := group.Consume(ctx, []string{r.cfg.Topic}, h); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return true, err
			}
			r.log.WarnContext(ctx, "kafka consume", "error", err)
			if r.sleep(ctx, r.cfg.RetryBackoff) != nil {
				return true, nil
			}
		}
	}
	return true, nil
}

type groupHandler struct {
	r   *Runner
	dlq deadLetterer
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim batches one partition's records: a batch is invoked when it
// holds BatchSize records or BatchWindow after its first record arrived.
// Offsets are marked and committed only once a batch is fully handled
// (dead letters included); a batch cut short by a rebalance or shutdown is
// redelivered to the next owner, which the handler deduplicates.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	r := h.r
	ctx := sess.Context()
	p := partitionKey{claim.Topic(), claim.Partition()}
	defer r.forget(p)
	r.observe(p, claim.HighWaterMarkOffset(), claim.InitialOffset())

	var batch []*sarama.ConsumerMessage
	var timer *time.Timer
	var window <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, window = nil, nil
		}
	}
	defer stopTimer()
	flush := func() error {
		stopTimer()
		b := batch
		batch = nil
		if err := r.process(ctx, b, h.dlq); err != nil {
			return err
		}
		last := b[len(b)-1]
		sess.MarkMessage(last, "")
		sess.Commit()
		r.observe(p, claim.HighWaterMarkOffset(), last.Offset+1)
		return nil
	}
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			r.consumed.Inc()
			batch = append(batch, msg)
			next := int64(-1)
			if len(batch) == 1 {
				next = msg.Offset // the first record tells where we stand if no commit did
				timer = time.NewTimer(r.cfg.BatchWindow)
				window = timer.C
			}
			r.observe(p, claim.HighWaterMarkOffset(), next)
			if len(batch) >= r.cfg.BatchSize {
				if flush() != nil {
					return nil
				}
			}
		case <-window:
			if flush() != nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// errHandlerPanic marks a panic in the handler, treated as poison: a panic
// on a record tends to repeat on it, so it is isolated like a bad record.
var errHandlerPanic = errors.New("handler panicked")

// isPoison reports whether err blames the record rather than the world.
func isPoison(err error) bool {
	return errs.CodeOf(err) == errs.Invalid || errors.Is(err, errHandlerPanic)
}

// recordErrors is what a handler error may implement to name the records
// that failed (app.BatchError does), sparing the runner a bisection.
type recordErrors interface {
	RecordErr(topic string, partition, offset int64) error
}

// failedRecords returns the errors err gives for records of b, by offset,
// or nil when err names none of them.
func failedRecords(err error, b []*sarama.ConsumerMessage) map[int64]error {
	var re recordErrors
	if !errors.As(err, &re) {
		return nil
	}
	var out map[int64]error
	for _, m := range b {
		if e := re.RecordErr(m.Topic, int64(m.Partition), m.Offset); e != nil {
			if out == nil {
				out = map[int64]error{}
			}
			out[m.Offset] = e
		}
	}
	return out
}

// process handles one batch of one partition until every record either
// succeeded or was dead-lettered. It returns an error only when ctx ended,
// in which case nothing may be committed.
func (r *Runner) process(ctx context.Context, msgs []*sarama.ConsumerMessage, dlq deadLetterer) error {
	attempts := map[int64]int{}
	stack := [][]*sarama.ConsumerMessage{msgs}
	failures := 0 // consecutive failed invocations, for the backoff
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err := r.invoke(ctx, b)
		if err == nil {
			failures = 0
			continue
		}
		r.handlerErrors.Inc()
		failed := failedRecords(err, b)
		if failed == nil {
			switch {
			case !isPoison(err):
				// Not the records' fault: retry the whole batch, forever.
				failures++
				r.log.WarnContext(ctx, "handler failed; retrying batch", "partition", b[0].Partition, "first_offset", b[0].Offset, "records", len(b), "failures", failures, "error", err)
				if err := r.backoff(ctx, failures); err != nil {
					return err
				}
				stack = append(stack, b)
				continue
			case len(b) > 1:
				// Some record is poison but the handler did not say which:
				// split, first half on top, until the culprit stands alone.
				r.bisections.Inc()
				mid := len(b) / 2
				stack = append(stack, b[mid:], b[:mid])
				continue
			}
			failed = map[int64]error{b[0].Offset: err}
		}
		var retry []*sarama.ConsumerMessage
		for _, m := range b {
			e, ok := failed[m.Offset]
			if !ok {
				continue
			}
			if isPoison(e) {
				attempts[m.Offset]++
				if attempts[m.Offset] >= r.cfg.MaxAttempts {
					if err := r.deadLetter(ctx, dlq, m, e, attempts[m.Offset]); err != nil {
						return err
					}
					continue
				}
			}
			retry = append(retry, m)
		}
		if len(retry) > 0 {
			failures++
			r.log.WarnContext(ctx, "records failed; retrying them", "partition", retry[0].Partition, "records", len(retry), "failures", failures, "error", err)
			if err := r.backoff(ctx, failures); err != nil {
				return err
			}
			stack = append(stack, retry)
		}
	}
	return nil
}

// backoff sleeps RetryBackoff * 2^(n-1), capped at MaxRetryBackoff.
func (r *Runner) backoff(ctx context.Context, n int) error {
	return r.sleep(ctx, r.delay(n))
}

func (r *Runner) delay(n int) time.Duration {
	d := r.cfg.RetryBackoff
	for i := 1; i < n && d < r.cfg.MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxRetryBackoff)
}

// invoke calls the handler with a deadline, like a Lambda function
// timeout. Unlike Lambda, a rebalance or shutdown cancels the invocation:
// the partition must be released within the group's rebalance timeout, and
// the cut-short batch is redelivered and deduplicated (the handler records
// claims and sent marks on a detached context, so nothing is left half-done
// beyond a claim lease).
func (r *Runner) invoke(ctx context.Context, b []*sarama.ConsumerMessage) (err error) {
	r.batches.Inc()
	ictx, cancel := context.WithTimeout(ctx, r.cfg.InvokeTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errHandlerPanic, p)
		}
	}()
	return r.handler(ictx, r.event(b))
}

// event builds the Lambda KafkaEvent for b: records keyed "topic-partition",
// keys and values base64, headers as one-entry maps, as MSK delivers them.
func (r *Runner) event(b []*sarama.ConsumerMessage) events.KafkaEvent {
	recs := map[string][]events.KafkaRecord{}
	for _, m := range b {
		hdrs := make([]map[string]events.JSONNumberBytes, 0, len(m.Headers))
		for _, h := range m.Headers {
			if h == nil {
				continue
			}
			hdrs = append(hdrs, map[string]events.JSONNumberBytes{string(h.Key): events.JSONNumberBytes(h.Value)})
		}
		rec := events.KafkaRecord{
			Topic:         m.Topic,
			Partition:     int64(m.Partition),
			Offset:        m.Offset,
			Timestamp:     events.MilliSecondsEpochTime{Time: m.Timestamp},
			TimestampType: "CREATE_TIME",
			Headers:       hdrs,
		}
		if m.Key != nil {
			rec.Key = base64.StdEncoding.EncodeToString(m.Key)
		}
		if m.Value != nil {
			rec.Value = base64.StdEncoding.EncodeToString(m.Value)
		}
		k := fmt.Sprintf("%s-%d", m.Topic, m.Partition)
		recs[k] = append(recs[k], rec)
	}
	return events.KafkaEvent{
		EventSource:      EventSource,
		BootstrapServers: strings.Join(r.cfg.Brokers, ","),
		Records:          recs,
	}
}

// deadLetterer moves a poison record out of the way.
type deadLetterer interface {
	deadLetter(ctx context.Context, m *sarama.ConsumerMessage, cause error, attempts int) error
}

// deadLetter writes m to the DLQ, retrying without limit: moving on without
// the dead letter would lose the record.
func (r *Runner) deadLetter(ctx context.Context, dlq deadLetterer, m *sarama.ConsumerMessage, cause error, attempts int) error {
	for n := 1; ; n++ {
		err := dlq.deadLetter(ctx, m, cause, attempts)
		if err == nil {
			r.dlqCount.Inc()
			r.log.WarnContext(ctx, "poison record dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "attempts", attempts, "dlq", r.cfg.DLQTopic, "error", cause)
			return nil
		}
		r.log.ErrorContext(ctx, "dead-letter produce failed; retrying", "offset", m.Offset, "error", err)
		if err := r.backoff(ctx, n); err != nil {
			return err
		}
	}
}

// producerDLQ dead-letters through a sarama SyncProducer (idempotent,
// acks=all), keeping the record's key, value and headers.
type producerDLQ struct {
	p     sarama.SyncProducer
	topic string
	now   func() time.Time
}

// maxErrorHeader bounds the error text in a dead letter's header.
const maxErrorHeader = 1024

func (d *producerDLQ) deadLetter(_ context.Context, m *sarama.ConsumerMessage, cause error, attempts int) error {
	msg := deadLetterMessage(d.topic, m, cause, attempts, d.now())
	_, _, err := d.p.SendMessage(msg)
	return err
}

func deadLetterMessage(topic string, m *sarama.ConsumerMessage, cause error, attempts int, now time.Time) *sarama.ProducerMessage {
	errText := cause.Error()
	if len(errText) > maxErrorHeader {
		errText = errText[:maxErrorHeader]
	}
	hdrs := make([]sarama.RecordHeader, 0, len(m.Headers)+7)
	for _, h := range m.Headers {
		if h != nil {
			hdrs = append(hdrs, sarama.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	add := func(k, v string) { hdrs = append(hdrs, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}) }
	add(HeaderOriginalTopic, m.Topic)
	add(HeaderOriginalPartition, strconv.Itoa(int(m.Partition)))
	add(HeaderOriginalOffset, strconv.FormatInt(m.Offset, 10))
	add(HeaderOriginalTimestamp, m.Timestamp.UTC().Format(time.RFC3339Nano))
	add(HeaderError, errText)
	add(HeaderAttempts, strconv.Itoa(attempts))
	add(HeaderDeadLetteredAt, now.UTC().Format(time.RFC3339Nano))
	out := &sarama.ProducerMessage{Topic: topic, Headers: hdrs}
	if m.Key != nil {
		out.Key = sarama.ByteEncoder(m.Key)
	}
	if m.Value != nil {
		out.Value = sarama.ByteEncoder(m.Value)
	}
	return out
}
