package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/analytics/flink"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// The analytics unit has two engines (envs analytics.engine): the Go
// window engine (services/analytics/unit) and the Flink SQL job
// (services/analytics/flink) in a MiniCluster JVM started as a child
// process. Whichever runs, the ops API's windows, and so the
// analytics_reconciles invariant, are read from analytics-results (and,
// for Flink, its late topic): what the engine published, not its own store.

// Deadlines of the Flink engine's start: the Maven build (only when the
// jar is older than its sources; ~30 s warm, more with a cold ~/.m2) and
// the job's submission in a fresh JVM (~10-20 s here).
const (
	flinkBuildTimeout  = 5 * time.Minute
	flinkSubmitTimeout = 2 * time.Minute
)

func (c *Cloud) analyticsEngine() string {
	if e := c.cfg.Env; e != nil && e.Analytics.Engine == envs.EngineFlink {
		return envs.EngineFlink
	}
	return envs.EngineGo
}

// resultsFor makes the reader of analytics-results once: it starts at the
// offsets current when the env first starts analytics, so that what earlier
// runs left on a shared broker is not read as this run's windows, and a
// restarted unit's windows are still all there.
func (c *Cloud) resultsFor(ctx context.Context) (*resultsReader, error) {
	c.mu.Lock()
	r := c.results
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	topic, late := events.TopicAnalyticsResults, ""
	if e := c.cfg.Env; e != nil {
		topic = e.Kafka.Topics.AnalyticsResults.Name
	}
	if c.analyticsEngine() == envs.EngineFlink {
		late = c.cfg.Env.Analytics.LateTopicName()
	}
	r, err := newResultsReader(ctx, c.kafkaAddrs, topic, late, c.cfg.AnalyticsWindow)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.results = r
	c.closers = append(c.closers, r.close)
	c.mu.Unlock()
	return r, nil
}

// buildFlinkAnalytics starts the Flink job in place of the Go engine: it
// returns once the job is submitted (or fails within the deadlines), with
// the JVM's log in <data dir>/analytics/flink.log.
func (c *Cloud) buildFlinkAnalytics(ctx context.Context, log *slog.Logger, dir string) (runner, error) {
	e := c.cfg.Env
	late := e.Analytics.LateTopicName()
	if err := flink.CreateTopics(ctx, c.kafkaAddrs, 1, late); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Where("analytics.late_topic", late), err)
	}
	results, err := c.resultsFor(ctx)
	if err != nil {
		return nil, err
	}
	group := c.group(Analytics)
	if group == "" {
		// A kept data dir: the job's own group, started at the end of
		// orders the first time (Flink's group-offsets has no reset policy).
		group = "analytics-flink"
		if err := c.groupAtEndIfNew(ctx, group, e.Kafka.Topics.Orders.Name); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "flink.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	rt := flink.Runtime{ModuleDir: c.cfg.FlinkModuleDir, PrometheusPort: c.cfg.FlinkMetricsPort, Log: lf}
	jc := flink.JobConfig{
		Brokers: c.kafkaAddrs, InputTopic: e.Kafka.Topics.Orders.Name, OutputTopic: e.Kafka.Topics.AnalyticsResults.Name,
		LateTopic: late, Group: group, Window: c.cfg.AnalyticsWindow,
		// Idleness off: a partition that resumes after an outage with a
		// backlog would find the watermark moved on by the others and its
		// events late. The ticker below closes the windows of a quiet
		// source instead, on every partition at once.
		IdleTimeout: -1,
	}
	bctx, cancel := context.WithTimeout(ctx, flinkBuildTimeout)
	_, err = rt.Build(bctx)
	cancel()
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("analytics engine flink: %w", err)
	}
	log.Info("starting the Flink job", "log", logPath, "group", group, "metrics_port", c.cfg.FlinkMetricsPort)
	// The JVM lives as long as the unit, not as long as the call that
	// built it.
	job, err := flink.Start(context.WithoutCancel(ctx), rt, jc)
	if err != nil {
		lf.Close()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, flinkSubmitTimeout)
	err = job.WaitSubmitted(sctx)
	cancel()
	if err != nil {
		_ = job.Close()
		lf.Close()
		return nil, fmt.Errorf("analytics engine flink: %w (log: %s)", err, logPath)
	}
	brokers, dialer, err := c.kafkaFor(Analytics)
	if err != nil {
		_ = job.Close()
		lf.Close()
		return nil, err
	}
	f := &flinkUnit{job: job, logFile: lf, logPath: logPath, ticker: &quietTicker{
		brokers: brokers, dialer: dialer, topic: jc.InputTopic, log: log,
		idle: c.cfg.AnalyticsWindow, closeAfter: c.cfg.AnalyticsWindow + flinkOutOfOrderness, every: time.Second,
	}}
	c.mu.Lock()
	c.windows = func(ctx context.Context, limit int) (any, error) { return results.list(ctx, limit) }
	c.mu.Unlock()
	return f, nil
}

// flinkOutOfOrderness is the job's watermark bound (JobConfig's default).
const flinkOutOfOrderness = 5 * time.Second

// groupAtEndIfNew commits group at the end of topic unless it has offsets.
func (c *Cloud) groupAtEndIfNew(ctx context.Context, group, topic string) error {
	cfg := kafkax.ConsumerConfig("shoplab-admin")
	client, err := sarama.NewClient(c.kafkaAddrs, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return err
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return err
	}
	got, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return err
	}
	for _, p := range parts {
		if b := got.GetBlock(topic, p); b != nil && b.Offset >= 0 {
			return nil
		}
	}
	return commitAtEnd(ctx, client, admin, group, topic)
}

// flinkUnit is the analytics unit when the engine is Flink: the job's JVM
// and the ticker that closes a quiet source's windows.
type flinkUnit struct {
	job       *flink.Job
	ticker    *quietTicker
	logFile   *os.File
	logPath   string
	closeOnce sync.Once
}

func (f *flinkUnit) Run(ctx context.Context) error {
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go f.ticker.run(tctx)
	select {
	case <-ctx.Done():
		_ = f.Close()
		return nil
	case <-f.job.Done():
		return fmt.Errorf("the Flink job's JVM exited: %v (log: %s)", f.job.Err(), f.logPath)
	}
}

func (f *flinkUnit) Close() error {
	f.closeOnce.Do(func() {
		_ = f.job.Close()
		_ = f.logFile.Close()
	})
	return nil
}

func (f *flinkUnit) Ready(context.Context) error {
	select {
	case <-f.job.Done():
		return errs.E(errs.Unavailable, "the Flink job's JVM exited: %v (log: %s)", f.job.Err(), f.logPath)
	default:
		return nil
	}
}

// quietTicker gives the Flink job what the Go engine does by itself when
// its source is idle (services/analytics/README.md, "Idle source": the
// watermark follows processing time, now - D). Flink's watermark only
// moves on records, so without this the last windows of a run stay open
// until the next order. Ticks are events.TypeWatermarkTick records, which
// notification and the Go engine skip and count. When the orders topic
// has been quiet for idle (no end offset moved, as seen through
// analytics' own Kafka edge), it writes one tick record with occurred_at
// = now to every partition, and once more when the quiet has lasted
// closeAfter (W + D: by then the window of the last order has ended D
// ago, so that tick closes it). A failed look at
// the offsets (a Kafka fault on the edge) restarts the quiet: like the Go
// consumer losing its partitions, the ticker never closes windows on a
// broker it cannot see, so an outbox backlog drained after an outage is
// not late.
type quietTicker struct {
	brokers    []string
	dialer     kafkax.Dialer
	topic      string
	log        *slog.Logger
	idle       time.Duration
	closeAfter time.Duration
	every      time.Duration
	now        func() time.Time
}

func (t *quietTicker) run(ctx context.Context) {
	if t.now == nil {
		t.now = time.Now
	}
	var (
		client  sarama.Client
		last    map[int32]int64
		own     map[int32]int64 // end offsets right after our last ticks
		quiet   time.Time
		ticks   int
		backoff = t.every
	)
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if client == nil {
			cfg := kafkax.ProducerConfig("analytics-flink-ticker", kafkax.WithDialer(t.dialer))
			cfg.Producer.Partitioner = sarama.NewManualPartitioner
			c, err := sarama.NewClient(t.brokers, cfg)
			if err != nil {
				quiet, last = time.Time{}, nil
				continue
			}
			client = c
		}
		offs, err := endOffsets(client, t.topic)
		if err != nil {
			client.Close()
			client, quiet, last = nil, time.Time{}, nil
			continue
		}
		now := t.now()
		switch {
		case quiet.IsZero() || last == nil:
			quiet, ticks = now, 0
		case !maps.Equal(offs, last) && !maps.Equal(offs, own):
			quiet, ticks = now, 0
		}
		last = offs
		q := now.Sub(quiet)
		if !(ticks == 0 && q >= t.idle || ticks == 1 && q >= t.closeAfter) {
			continue
		}
		after, err := t.tick(client, offs, now)
		if err != nil {
			t.log.Warn("watermark tick not written", "topic", t.topic, "error", err)
			continue
		}
		ticks++
		own, last = after, after
	}
}

// tick writes one tick to every partition and returns the end offsets after.
func (t *quietTicker) tick(client sarama.Client, offs map[int32]int64, now time.Time) (map[int32]int64, error) {
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	body := events.EncodeWatermarkTick(now)
	after := maps.Clone(offs)
	for _, part := range slices.Sorted(maps.Keys(offs)) {
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: t.topic, Partition: part, Value: sarama.ByteEncoder(body)})
		if err != nil {
			return nil, err
		}
		after[part] = off + 1
	}
	return after, nil
}

func endOffsets(client sarama.Client, topic string) (map[int32]int64, error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resultsReader reads the windows an engine published on analytics-results
// since the env started, and for Flink attaches the late events of its
// late topic (flink.Merge). It dials the brokers directly, never through a
// chaos proxy: reconciliation reads the truth while faults are active.
type resultsReader struct {
	client  sarama.Client
	results string
	late    string // "" for the Go engine, which reports late_events itself
	window  time.Duration
	from    map[string]map[int32]int64
}

func newResultsReader(ctx context.Context, brokers []string, results, late string, window time.Duration) (*resultsReader, error) {
	cfg := kafkax.ConsumerConfig("shoplab-results-reader")
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka: the analytics-results reader: %w", err)
	}
	r := &resultsReader{client: client, results: results, late: late, window: window, from: map[string]map[int32]int64{}}
	for _, t := range []string{results, late} {
		if t == "" {
			continue
		}
		// A topic created a moment ago may have no leader yet.
		deadline := time.Now().Add(15 * time.Second)
		for {
			if r.from[t], err = endOffsets(client, t); err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				client.Close()
				return nil, fmt.Errorf("kafka: end offsets of %s: %w", t, err)
			}
			_ = client.RefreshMetadata(t)
			time.Sleep(200 * time.Millisecond)
		}
	}
	return r, nil
}

func (r *resultsReader) close() { _ = r.client.Close() }

// list returns up to limit windows, newest (last closed) first; a window
// published twice (the relay's at-least-once, a restarted Flink job that
// read the run again) counts once, its first copy.
func (r *resultsReader) list(ctx context.Context, limit int) ([]events.WindowResult, error) {
	if limit < 1 {
		return nil, errs.InvalidField("limit", "must be positive, got %d", limit)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := r.read(ctx, r.results)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	windows := make([]events.WindowResult, 0, len(raw))
	for _, b := range raw {
		var w events.WindowResult
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, errs.E(errs.Internal, "decode a window of %s: %v: %s", r.results, err, b)
		}
		if !seen[w.EventID] {
			seen[w.EventID] = true
			windows = append(windows, w)
		}
	}
	if r.late != "" {
		rawLate, err := r.read(ctx, r.late)
		if err != nil {
			return nil, err
		}
		seenLate := map[string]bool{}
		late := make([]flink.LateEvent, 0, len(rawLate))
		for _, b := range rawLate {
			var l flink.LateEvent
			if err := json.Unmarshal(b, &l); err != nil {
				return nil, errs.E(errs.Internal, "decode a late event of %s: %v: %s", r.late, err, b)
			}
			if !seenLate[l.EventID] {
				seenLate[l.EventID] = true
				late = append(late, l)
			}
		}
		flink.Merge(windows, late, r.window)
	}
	slices.Reverse(windows)
	return windows[:min(limit, len(windows))], nil
}

// read returns topic's records from r.from to the current end, partition
// by partition in offset order.
func (r *resultsReader) read(ctx context.Context, topic string) ([][]byte, error) {
	ends, err := endOffsets(r.client, topic)
	if err != nil {
		return nil, errs.E(errs.Unavailable, "kafka: end offsets of %s: %v", topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(r.client)
	if err != nil {
		return nil, errs.E(errs.Unavailable, "kafka: %v", err)
	}
	defer consumer.Close()
	var out [][]byte
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		vals, err := kafkax.ReadRange(ctx, consumer, topic, p, r.from[topic][p], ends[p])
		if err != nil {
			return nil, errs.E(errs.Unavailable, "kafka: %v", err)
		}
		out = append(out, vals...)
	}
	return out, nil
}
