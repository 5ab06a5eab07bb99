// Package unit is the payment unit's composition root: it wires the SQLite
// store, the simulated card processor, the use cases and the gRPC and ops
// servers, so that `shoplab serve payment`, `shoplab up` and the
// end-to-end tests all run the very same type.
package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/payment/adapters/cardsim"
	"github.com/shoplab/shoplab/services/payment/adapters/postgres"
	"github.com/shoplab/shoplab/services/payment/adapters/sqlite"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/payment/ports"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/pgxx"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

// Name is the unit's name in metrics, logs and wiring.
const Name = "payment"

// Database files inside DataDir. The processor's ledger is a database of
// its own because the real processor is another company's system: no
// transaction can span both, and the design must not pretend otherwise.
const (
	DBFile          = "payment.db"
	ProcessorDBFile = "processor.db"
)

// gracePeriod bounds a graceful stop; in-flight calls still running after
// it are cut off so a stuck client cannot hold a shutdown forever.
const gracePeriod = 5 * time.Second

// Config is the payment unit's parsed configuration.
type Config struct {
	GRPCAddr string // "127.0.0.1:0" picks a free port
	OpsAddr  string // /healthz, /readyz, /metrics
	DataDir  string // where payment.db and processor.db live; created if missing
	// (processor.db always: the simulated card processor is an external
	// system with its own SQLite ledger, on PostgreSQL or not)

	DatabaseURL      string        // postgres://user@host:port/db?sslmode=...; "" means SQLite in DataDir
	DBMaxConns       int32         // pool size; 0 means 10
	DBMinConns       int32         // 0 means 0
	StatementTimeout time.Duration // 0 means 5s

	// Reflection serves gRPC server reflection (grpcurl list/describe);
	// `shoplab up` turns it on, `serve` only with --grpc-reflection.
	// grpc.health.v1 is always served (see grpcx.Health).
	Reflection bool

	ProcessorLatency time.Duration // simulated card processor latency per call
	ProcessorJitter  time.Duration // up to this much more per call, drawn from Seed
	Seed             int64         // seeds the jitter, so a run repeats
	ProcessorTimeout time.Duration // bound on one processor call; 0 means app.DefaultProcessorTimeout
}

// Deps are the unit's injected dependencies.
type Deps struct {
	Log                *slog.Logger                  // nil discards logs
	Metrics            *metrics.Registry             // nil means a fresh registry for this unit
	Now                func() time.Time              // nil means time.Now
	ServerInterceptors []grpc.UnaryServerInterceptor // installed by wiring only (chaos L7)
	SQLDriver          string                        // "" means sqlitex.DriverName; chaos wraps it (both databases)

	PGDial   func(ctx context.Context, network, addr string) (net.Conn, error) // nil dials directly; wiring routes through the payment->postgres proxy
	PGTracer pgx.QueryTracer                                                   // nil for none; chaos storage faults hook here
}

// Unit is a running payment unit.
type Unit struct {
	log       *slog.Logger
	store     store
	processor *cardsim.Processor
	grpc      *grpc.Server
	health    *grpcx.Health
	grpcLn    net.Listener
	ops       *httpx.Server
	closeOnce sync.Once
}

// New opens the stores, binds both listeners and returns a unit ready to Run.
func New(ctx context.Context, cfg Config, deps Deps) (_ *Unit, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("payment unit: DataDir is required")
	}
	if cfg.ProcessorLatency < 0 || cfg.ProcessorJitter < 0 || cfg.ProcessorTimeout < 0 {
		return nil, errors.New("payment unit: processor latency, jitter and timeout must not be negative")
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New(Name, false)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.SQLDriver == "" {
		deps.SQLDriver = sqlitex.DriverName
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("payment unit: data dir: %w", err)
	}
	u := &Unit{log: deps.Log}
	defer func() {
		if err != nil {
			_ = u.Close() // releases whatever was opened before the failure
		}
	}()
	if u.store, err = openStore(ctx, cfg, deps); err != nil {
		return nil, fmt.Errorf("payment unit: store: %w", err)
	}
	u.processor, err = cardsim.Open(ctx, filepath.Join(cfg.DataDir, ProcessorDBFile), cardsim.Config{
		Latency: cfg.ProcessorLatency, Jitter: cfg.ProcessorJitter, Now: deps.Now,
		Rand: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
	}, sqlitex.WithDriver(deps.SQLDriver))
	if err != nil {
		return nil, fmt.Errorf("payment unit: card processor: %w", err)
	}
	svc, err := app.NewService(u.store, u.processor, app.Options{
		Now: deps.Now, ProcessorTimeout: cfg.ProcessorTimeout, Metrics: deps.Metrics, Log: deps.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("payment unit: %w", err)
	}
	u.grpc = grpcx.NewServer(deps.Log, deps.Metrics, deps.ServerInterceptors...)
	pb.RegisterPaymentServiceServer(u.grpc, ports.NewGRPCServer(svc))
	u.health = grpcx.RegisterHealth(u.grpc, u.Ready)
	if cfg.Reflection {
		grpcx.RegisterReflection(u.grpc)
	}
	if u.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("payment unit: grpc listen: %w", err)
	}
	if u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.OpsMux(deps.Metrics, u.Ready)); err != nil {
		return nil, fmt.Errorf("payment unit: ops listen: %w", err)
	}
	return u, nil
}

// GRPCAddr is the address the gRPC server listens on.
func (u *Unit) GRPCAddr() string { return u.grpcLn.Addr().String() }

// OpsAddr is the address of the ops HTTP server.
func (u *Unit) OpsAddr() string { return u.ops.Addr() }

// store is what the unit needs of either adapter.
type store interface {
	app.Store
	Ping(ctx context.Context) error
	Close() error
}

// readyTimeout bounds the store ping of a readiness probe.
const readyTimeout = 2 * time.Second

// openStore opens PostgreSQL when cfg.DatabaseURL is set, else SQLite in DataDir.
func openStore(ctx context.Context, cfg Config, deps Deps) (store, error) {
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
	s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DBFile), sqlitex.WithDriver(deps.SQLDriver))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Ready reports whether the unit can serve: both databases answer.
func (u *Unit) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := u.store.Ping(ctx); err != nil {
		return fmt.Errorf("payment store: %w", err)
	}
	if err := u.processor.Ping(ctx); err != nil {
		return fmt.Errorf("card processor ledger: %w", err)
	}
	return nil
}

// Run serves gRPC and ops until ctx ends (or Close is called), then stops
// gracefully, cutting off calls still running after 5 s.
func (u *Unit) Run(ctx context.Context) error {
	u.log.InfoContext(ctx, "payment unit serving", "grpc", u.GRPCAddr(), "ops", u.OpsAddr())
	err := grpcx.Serve(ctx, u.grpc, u.health, u.grpcLn, u.ops, gracePeriod)
	if err != nil {
		return fmt.Errorf("payment unit: %w", err)
	}
	return nil
}

// Close stops both servers at once and closes the databases; it is safe to
// call more than once, and before, during or after Run.
func (u *Unit) Close() error {
	var errList []error
	u.closeOnce.Do(func() {
		if u.grpc != nil {
			u.grpc.Stop()
		}
		if u.grpcLn != nil {
			// Stop closes only listeners Serve has seen; Close may come first.
			_ = u.grpcLn.Close()
		}
		if u.ops != nil {
			_ = u.ops.Close()
		}
		if u.store != nil {
			errList = append(errList, u.store.Close())
		}
		if u.processor != nil {
			errList = append(errList, u.processor.Close())
		}
	})
	return errors.Join(errList...)
}
