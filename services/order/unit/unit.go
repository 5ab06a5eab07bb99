// Package unit is the order unit's composition root: it plugs the SQLite
// store, the gRPC clients of user, product and payment, and the Kafka
// publisher into the use cases, and runs the gRPC server, the ops server,
// the outbox relay and the recovery loop. `shoplab serve order`, `shoplab
// up` and the end-to-end tests all drive this type.
//
// Its grpc.health.v1 status (and /readyz) follows its own store only: with
// user, product, payment or the broker down the unit still takes orders
// (they stay PENDING, events wait in the outbox) and answers typed errors,
// so NOT_SERVING would only pull it out of load balancing for nothing and,
// under Kubernetes probes, cascade one unit's outage to its callers.
package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order/adapters/grpcclient"
	"github.com/shoplab/shoplab/services/order/adapters/kafka"
	"github.com/shoplab/shoplab/services/order/adapters/postgres"
	"github.com/shoplab/shoplab/services/order/adapters/sqlite"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/ports"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/pgxx"
)

// Client interceptor keys of Deps.ClientInterceptors: the units order calls.
const (
	TargetUser    = "user"
	TargetProduct = "product"
	TargetPayment = "payment"
)

// Defaults for Config.
const (
	DefaultRecoveryInterval   = app.DefaultRecoveryInterval
	DefaultRecoveryGrace      = app.DefaultRecoveryGrace
	DefaultOutboxPollInterval = app.DefaultOutboxPollInterval
	DefaultCallTimeout        = grpcx.DefaultCallTimeout
	// readyTimeout bounds the store ping of a readiness probe.
	readyTimeout = 2 * time.Second
	// shutdownGrace bounds how long Run waits for in-flight requests.
	shutdownGrace = 10 * time.Second
	// DBFile is the name of the order database inside DataDir.
	DBFile = "order.db"
)

// Config is the order unit's settings, parsed and typed at the edge.
type Config struct {
	GRPCAddr string // "127.0.0.1:0" picks a free port
	OpsAddr  string // /healthz, /readyz, /metrics
	DataDir  string // where order.db lives; unused when DatabaseURL is set
	// Reflection serves gRPC server reflection (grpcurl list/describe);
	// `shoplab up` turns it on, `serve` only with --grpc-reflection.
	// grpc.health.v1 is always served (see grpcx.Health):
	// its readiness is the store's, not user's, product's, payment's
	// or the broker's (see Ready).
	Reflection bool

	DatabaseURL      string        // postgres://user@host:port/db?sslmode=...; "" means SQLite in DataDir
	DBMaxConns       int32         // pool size; 0 means 10
	DBMinConns       int32         // 0 means 0
	StatementTimeout time.Duration // 0 means 5s

	UserAddr    string // gRPC address of the user unit
	ProductAddr string // gRPC address of the product unit
	PaymentAddr string // gRPC address of the payment unit

	KafkaBrokers []string // the outbox relay publishes OrderPlaced here

	RecoveryInterval   time.Duration // how often PENDING orders are looked for; 0 means 2s
	RecoveryGrace      time.Duration // how old a PENDING order must be to be settled; 0 means 10s
	OutboxPollInterval time.Duration // relay poll when no commit wakes it; 0 means 500ms
	CallTimeout        time.Duration // per outgoing call; 0 means grpcx's 3s
}

// Deps are what the wiring injects.
type Deps struct {
	Log                *slog.Logger
	Metrics            *metrics.Registry
	Now                func() time.Time                         // nil means time.Now
	ServerInterceptors []grpc.UnaryServerInterceptor            // installed by wiring only (chaos L7)
	ClientInterceptors map[string][]grpc.UnaryClientInterceptor // by target: "user", "product", "payment"
	SQLDriver          string                                   // "" means sqlitex.DriverName; chaos wraps it
	KafkaDialer        kafkax.Dialer                            // nil dials brokers directly; wiring routes through a proxy

	PGDial   func(ctx context.Context, network, addr string) (net.Conn, error) // nil dials directly; wiring routes through the order->postgres proxy
	PGTracer pgx.QueryTracer                                                   // nil for none; chaos storage faults hook here
}

// orderStore is what the unit needs of either adapter.
type orderStore interface {
	app.Store
	Close() error
}

// Unit is a running order unit.
type Unit struct {
	cfg    Config
	log    *slog.Logger
	store  orderStore
	svc    *app.Service
	relay  *app.OutboxRelay
	pub    *kafka.Publisher
	m      *app.Metrics
	conns  []*grpc.ClientConn
	srv    *grpc.Server
	health *grpcx.Health
	ln     net.Listener
	ops    *httpx.Server

	unsetBacklog func()

	running   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

func (c Config) validate() error {
	switch {
	case c.DataDir == "" && c.DatabaseURL == "":
		return errs.InvalidField("DataDir", "the order unit needs a data directory or a DatabaseURL")
	case c.DBMaxConns < 0, c.DBMinConns < 0, c.StatementTimeout < 0:
		return errs.E(errs.Invalid, "DBMaxConns, DBMinConns and StatementTimeout must not be negative")
	case c.UserAddr == "":
		return errs.InvalidField("UserAddr", "the user unit's address is required")
	case c.ProductAddr == "":
		return errs.InvalidField("ProductAddr", "the product unit's address is required")
	case c.PaymentAddr == "":
		return errs.InvalidField("PaymentAddr", "the payment unit's address is required")
	case len(c.KafkaBrokers) == 0:
		return errs.InvalidField("KafkaBrokers", "at least one Kafka broker is required")
	case c.RecoveryInterval < 0, c.RecoveryGrace < 0, c.OutboxPollInterval < 0, c.CallTimeout < 0:
		return errs.E(errs.Invalid, "durations must not be negative")
	}
	return nil
}

// New opens the store, dials the dependencies (lazily: they may start
// later) and binds the listeners. Nothing runs until Run.
func New(ctx context.Context, cfg Config, deps Deps) (*Unit, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	if cfg.OpsAddr == "" {
		cfg.OpsAddr = "127.0.0.1:0"
	}
	if cfg.RecoveryInterval == 0 {
		cfg.RecoveryInterval = DefaultRecoveryInterval
	}
	if cfg.RecoveryGrace == 0 {
		cfg.RecoveryGrace = DefaultRecoveryGrace
	}
	if cfg.OutboxPollInterval == 0 {
		cfg.OutboxPollInterval = DefaultOutboxPollInterval
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New("order", false)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Log.With("unit", "order")

	u := &Unit{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			_ = u.Close()
		}
	}()

	store, err := openStore(ctx, cfg, deps)
	if err != nil {
		return nil, fmt.Errorf("open order store: %w", err)
	}
	u.store = store

	dial := func(target, addr string) (*grpc.ClientConn, error) {
		cc, err := grpcx.Dial(addr, grpcx.ClientOptions{
			Target: target, CallTimeout: cfg.CallTimeout, Metrics: deps.Metrics, Extra: deps.ClientInterceptors[target],
		})
		if err != nil {
			return nil, fmt.Errorf("dial %s at %s: %w", target, addr, err)
		}
		u.conns = append(u.conns, cc)
		return cc, nil
	}
	userCC, err := dial(TargetUser, cfg.UserAddr)
	if err != nil {
		return nil, err
	}
	productCC, err := dial(TargetProduct, cfg.ProductAddr)
	if err != nil {
		return nil, err
	}
	paymentCC, err := dial(TargetPayment, cfg.PaymentAddr)
	if err != nil {
		return nil, err
	}

	u.m = app.NewMetrics(deps.Metrics)
	u.unsetBacklog = u.m.Backlog.Set(u.scrapeBacklog)
	u.svc, err = app.New(app.Deps{
		Store:    store,
		Users:    grpcclient.NewUsers(userCC),
		Products: grpcclient.NewProducts(productCC),
		Payments: grpcclient.NewPayments(paymentCC),
	}, app.Options{
		Log: log, Metrics: u.m, Now: deps.Now, RecoveryGrace: cfg.RecoveryGrace,
		// Enough for every call of a placement and its settlement to time out once.
		WorkflowTimeout: 8 * cfg.CallTimeout,
	})
	if err != nil {
		return nil, err
	}
	u.pub, err = kafka.NewPublisher(cfg.KafkaBrokers, "shoplab-order", kafkax.WithDialer(deps.KafkaDialer))
	if err != nil {
		return nil, err
	}
	u.relay = app.NewOutboxRelay(store, u.pub, u.svc.Committed(), app.RelayOptions{
		Log: log, Metrics: u.m, Now: deps.Now, PollInterval: cfg.OutboxPollInterval,
	})

	u.srv = grpcx.NewServer(log, deps.Metrics, deps.ServerInterceptors...)
	shoplabv1.RegisterOrderServiceServer(u.srv, ports.NewGRPCServer(u.svc))
	u.health = grpcx.RegisterHealth(u.srv, u.Ready)
	if cfg.Reflection {
		grpcx.RegisterReflection(u.srv)
	}
	if u.ln, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.GRPCAddr, err)
	}
	if u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.OpsMux(deps.Metrics, u.Ready)); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.OpsAddr, err)
	}
	ok = true
	return u, nil
}

// scrapeBacklog reads the backlog for the gauge. A scrape carries no
// context, so it gets its own short deadline.
func (u *Unit) scrapeBacklog() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := u.store.OutboxBacklog(ctx)
	if err != nil {
		return math.NaN()
	}
	return float64(n)
}

// Run serves until ctx ends, then stops gracefully: the gRPC server stops
// accepting and finishes in-flight requests (bounded), the recovery loop
// stops, and the relay stops after its current batch. Unacked outbox rows
// stay in the database and are sent after the next start.
func (u *Unit) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return errs.E(errs.FailedPrecondition, "the order unit is already running")
	}
	u.log.InfoContext(ctx, "order unit serving", "grpc", u.GRPCAddr(), "ops", u.OpsAddr())
	// The background loops get contexts of their own so that they outlive
	// ctx until the gRPC server has drained: a request finishing during
	// shutdown may still commit an outbox row the relay should send.
	bg := context.WithoutCancel(ctx)
	recoveryCtx, stopRecovery := context.WithCancel(bg)
	relayCtx, stopRelay := context.WithCancel(bg)
	opsCtx, stopOps := context.WithCancel(bg)
	defer stopRecovery()
	defer stopRelay()
	defer stopOps()

	serveErr := make(chan error, 1)
	go func() { serveErr <- u.srv.Serve(u.ln) }()
	opsErr := make(chan error, 1)
	go func() { opsErr <- u.ops.Run(opsCtx) }()
	var recovery, relay sync.WaitGroup
	recovery.Go(func() { _ = u.svc.RunRecovery(recoveryCtx, u.cfg.RecoveryInterval) })
	relay.Go(func() { _ = u.relay.Run(relayCtx) })

	var runErr error
	opsDone := false
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil { // nil: Close stopped the server under Run
			runErr = fmt.Errorf("grpc server: %w", err)
		}
	case err := <-opsErr:
		runErr, opsDone = ignoreServerClosed(err), true
	}
	u.log.InfoContext(bg, "order unit stopping")
	u.health.Shutdown()

	drained := make(chan struct{})
	go func() { u.srv.GracefulStop(); close(drained) }()
	t := time.NewTimer(shutdownGrace)
	select {
	case <-drained:
	case <-t.C:
		u.log.WarnContext(bg, "in-flight requests did not finish in time; cutting them off", "grace", shutdownGrace)
		u.srv.Stop()
		<-drained
	}
	t.Stop()
	stopRecovery()
	recovery.Wait()
	stopRelay()
	relay.Wait()
	stopOps()
	if !opsDone {
		runErr = errors.Join(runErr, ignoreServerClosed(<-opsErr))
	}
	return runErr
}

func ignoreServerClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("ops server: %w", err)
}

// Close releases everything; safe after Run and more than once.
func (u *Unit) Close() error {
	u.closeOnce.Do(func() {
		var es []error
		if u.srv != nil {
			u.srv.Stop()
		}
		if u.ln != nil {
			// Stop closes the listener only if Serve ran.
			if err := u.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				es = append(es, err)
			}
		}
		if u.ops != nil {
			_ = u.ops.Close()
		}
		for _, cc := range u.conns {
			_ = cc.Close()
		}
		if u.pub != nil {
			es = append(es, u.pub.Close())
		}
		if u.unsetBacklog != nil {
			u.unsetBacklog()
		}
		if u.store != nil {
			es = append(es, u.store.Close())
		}
		u.closeErr = errors.Join(es...)
	})
	return u.closeErr
}

// openStore opens PostgreSQL when cfg.DatabaseURL is set, else SQLite in DataDir.
func openStore(ctx context.Context, cfg Config, deps Deps) (orderStore, error) {
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, pgxx.Options{
			URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, MinConns: cfg.DBMinConns,
			StatementTimeout: cfg.StatementTimeout, Tracer: deps.PGTracer, DialFunc: deps.PGDial,
		})
		if err != nil {
			return nil, err // not a typed nil: Close checks for nil
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DBFile), deps.SQLDriver)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// GRPCAddr is the address OrderService listens on.
func (u *Unit) GRPCAddr() string { return u.ln.Addr().String() }

// OpsAddr is the address of /healthz, /readyz and /metrics.
func (u *Unit) OpsAddr() string { return u.ops.Addr() }

// Ready reports whether the unit can serve: its store answers. The
// dependencies and the broker are not checked: the unit is built to ride
// out their outages (PENDING orders, the outbox backlog).
func (u *Unit) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := u.store.Ping(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "order store is not answering")
	}
	return nil
}

// OutboxBacklog counts the outbox rows not yet acked by the broker.
func (u *Unit) OutboxBacklog(ctx context.Context) (int, error) {
	return u.store.OutboxBacklog(ctx)
}
