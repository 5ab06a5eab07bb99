// Package unit is the analytics unit's composition root: the consumer group
// on orders feeding the window engine, the window store, the relay to
// analytics-results and S3, and the ops API. `shoplab serve analytics`,
// `shoplab up` and the tests all run this type.
package unit

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/shoplab/shoplab/services/analytics"
	kafkaadapter "github.com/shoplab/shoplab/services/analytics/adapters/kafka"
	s3adapter "github.com/shoplab/shoplab/services/analytics/adapters/s3"
	"github.com/shoplab/shoplab/services/analytics/adapters/sqlite"
	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/analytics/ports"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

// Config is the analytics unit's settings, parsed at the edge.
type Config struct {
	OpsAddr      string   // /healthz, /readyz, /metrics, /ops/v1/analytics/windows; "127.0.0.1:0" picks a port
	DataDir      string   // where analytics.db lives
	KafkaBrokers []string // bootstrap brokers
	Group        string   // consumer group; default "analytics"

	Window         time.Duration // tumbling window size; default 1m
	OutOfOrderness time.Duration // watermark delay; default 5s
	// IdleTimeout is how long a partition may be quiet before it stops
	// holding the watermark (and, all quiet, processing time takes over).
	// Zero means the default, the window size; negative disables idleness.
	IdleTimeout    time.Duration
	DedupRetention time.Duration // default analytics.DefaultDedupRetention
	TickInterval   time.Duration // how often processing time is applied and the outbox retried; default 1s

	Bucket       string // S3 bucket for window archives; required
	S3Endpoint   string // S3-compatible endpoint (LocalStack); empty means AWS
	S3Region     string // default us-east-1
	CreateBucket bool   // create Bucket at start if missing (local envs)
}

// Deps are what the wiring plugs in.
type Deps struct {
	Log       *slog.Logger
	Metrics   *metrics.Registry
	Now       func() time.Time // nil means time.Now; drives arrival times, idleness and closed_at
	S3        *s3.Client       // nil means built from Config
	SQLDriver string           // "" means sqlitex.DriverName; chaos wraps it
	// KafkaDialer, when set, carries every broker connection (wiring routes
	// it through the unit's Kafka proxy); nil dials directly.
	KafkaDialer kafkax.Dialer
}

// Unit is a running analytics unit.
type Unit struct {
	cfg      Config
	log      *slog.Logger
	store    *sqlite.Store
	proc     *app.Processor
	relay    *app.Relay
	consumer *kafkaadapter.Consumer
	pub      *kafkaadapter.Publisher
	ops      *httpx.Server
}

func (c *Config) defaults() error {
	if c.Group == "" {
		c.Group = "analytics"
	}
	if c.Window == 0 {
		c.Window = analytics.DefaultWindow
	}
	if c.OutOfOrderness == 0 {
		c.OutOfOrderness = analytics.DefaultOutOfOrderness
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = c.Window
	}
	if c.IdleTimeout < 0 {
		c.IdleTimeout = 0
	}
	if c.DedupRetention == 0 {
		c.DedupRetention = analytics.DefaultDedupRetention
	}
	if c.TickInterval == 0 {
		c.TickInterval = time.Second
	}
	if c.S3Region == "" {
		c.S3Region = "us-east-1"
	}
	switch {
	case c.DataDir == "":
		return errs.InvalidField("data_dir", "is required")
	case len(c.KafkaBrokers) == 0:
		return errs.InvalidField("kafka_brokers", "at least one broker is required")
	case c.Bucket == "":
		return errs.InvalidField("bucket", "is required")
	case c.TickInterval < 0:
		return errs.InvalidField("tick_interval", "must be positive")
	}
	return nil
}

// New opens the store, resumes the engine from it and binds the ops
// listener. Kafka is connected by Run, lazily, so New works with Kafka down.
func New(ctx context.Context, cfg Config, deps Deps) (*Unit, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New("analytics", false)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.SQLDriver == "" {
		deps.SQLDriver = sqlitex.DriverName
	}
	log := deps.Log.With("unit", "analytics")
	u := &Unit{cfg: cfg, log: log}

	store, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "analytics.db"), sqlitex.WithDriver(deps.SQLDriver))
	if err != nil {
		return nil, err
	}
	u.store = store

	s3c := deps.S3
	if s3c == nil {
		if s3c, err = s3adapter.NewClient(ctx, s3adapter.ClientConfig{Region: cfg.S3Region, Endpoint: cfg.S3Endpoint}); err != nil {
			_ = u.Close()
			return nil, err
		}
	}
	arch := s3adapter.NewArchiver(s3c, cfg.Bucket)
	if cfg.CreateBucket {
		if err := arch.EnsureBucket(ctx); err != nil {
			_ = u.Close()
			return nil, err
		}
	}

	m := app.NewMetrics(deps.Metrics)
	u.pub = kafkaadapter.NewPublisher(cfg.KafkaBrokers, events.TopicAnalyticsResults, kafkax.WithDialer(deps.KafkaDialer))
	u.relay = app.NewRelay(store, u.pub, arch, log, m, deps.Now, cfg.TickInterval)
	u.proc, err = app.NewProcessor(ctx, app.ProcessorConfig{
		Engine: []analytics.Option{
			analytics.WithWindow(cfg.Window),
			analytics.WithOutOfOrderness(cfg.OutOfOrderness),
			analytics.WithIdleTimeout(cfg.IdleTimeout),
			analytics.WithDedupRetention(cfg.DedupRetention),
		},
		TickInterval: cfg.TickInterval,
	}, store, log, m, deps.Now, u.relay.Wake)
	if err != nil {
		_ = u.Close()
		return nil, err
	}
	u.consumer = kafkaadapter.NewConsumer(cfg.KafkaBrokers, cfg.Group, events.TopicOrders, u.proc, log, kafkax.WithDialer(deps.KafkaDialer))

	u.ops, err = httpx.Listen(cfg.OpsAddr, ports.NewOpsHandler(log, deps.Metrics, u.Ready, store))
	if err != nil {
		_ = u.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "listen on %s", cfg.OpsAddr)
	}
	return u, nil
}

// Run consumes, windows, publishes and serves until ctx ends, then stops
// gracefully: the consumer leaves the group first, committing what is
// durable, and only then does the processor stop.
func (u *Unit) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	// The processor outlives the consumer: the consumer's last act is a
	// Revoke that the processor must still be there to answer.
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()
	g.Go(func() error {
		defer stopProc()
		return u.consumer.Run(gctx)
	})
	g.Go(func() error {
		if err := u.proc.Run(procCtx); err != nil {
			return err
		}
		if gctx.Err() == nil {
			return errors.New("analytics processor stopped unexpectedly")
		}
		return nil
	})
	g.Go(func() error { return u.relay.Run(gctx) })
	g.Go(func() error { return u.ops.Run(gctx) })
	err := g.Wait()
	if err != nil {
		u.log.Error("analytics unit stopped", "error", err)
	}
	return err
}

// Close releases everything; safe after Run and after a failed New.
func (u *Unit) Close() error {
	var errsOut []error
	if u.ops != nil {
		errsOut = append(errsOut, u.ops.Close())
	}
	if u.pub != nil {
		errsOut = append(errsOut, u.pub.Close())
	}
	if u.store != nil {
		errsOut = append(errsOut, u.store.Close())
	}
	return errors.Join(errsOut...)
}

// OpsAddr is the address of the ops listener.
func (u *Unit) OpsAddr() string { return u.ops.Addr() }

// Ready reports whether the store answers and the consumer holds partitions.
func (u *Unit) Ready(ctx context.Context) error {
	if err := u.store.Ping(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "analytics store")
	}
	return u.consumer.Ready()
}

// Windows returns the newest limit closed windows, newest first.
func (u *Unit) Windows(ctx context.Context, limit int) ([]events.WindowResult, error) {
	if limit < 1 {
		return nil, errs.InvalidField("limit", "must be positive")
	}
	return u.store.ListWindows(ctx, limit)
}
