// Package unit is the user unit's composition root: it wires the SQLite
// store, the use cases and the gRPC and ops servers, so that `shoplab serve
// user`, `shoplab up` and the end-to-end tests all run the very same type.
package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/pgxx"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/adapters/postgres"
	"github.com/shoplab/shoplab/services/user/adapters/sqlite"
	"github.com/shoplab/shoplab/services/user/app"
	"github.com/shoplab/shoplab/services/user/ports"
)

// Name is the unit's name in metrics, logs and wiring.
const Name = "user"

// DBFile is the name of the unit's SQLite database inside DataDir.
const DBFile = "user.db"

// gracePeriod bounds a graceful stop; in-flight calls still running after
// it are cut off so a stuck client cannot hold a shutdown forever.
const gracePeriod = 5 * time.Second

// Config is the user unit's parsed configuration.
type Config struct {
	GRPCAddr string // "127.0.0.1:0" picks a free port
	OpsAddr  string // /healthz, /readyz, /metrics
	DataDir  string // where user.db lives; created if missing; unused when DatabaseURL is set
	// Reflection serves gRPC server reflection (grpcurl list/describe);
	// `shoplab up` turns it on, `serve` only with --grpc-reflection.
	// grpc.health.v1 is always served (see grpcx.Health).
	Reflection bool

	DatabaseURL      string        // postgres://user@host:port/db?sslmode=...; "" means SQLite in DataDir
	DBMaxConns       int32         // pool size; 0 means 10
	DBMinConns       int32         // 0 means 0
	StatementTimeout time.Duration // 0 means 5s

	// Argon2 is the cost of new password hashes; zero means
	// user.DefaultArgon2 (production). The local env and tests use
	// user.LightArgon2 because the simulator registers many customers.
	Argon2 user.Argon2Params
	// HashConcurrency bounds hashes computed at once (each holds
	// Argon2.MemoryKiB of RAM); 0 means GOMAXPROCS/Argon2.Parallelism.
	HashConcurrency int
}

// Deps are the unit's injected dependencies.
type Deps struct {
	Log                *slog.Logger                  // nil discards logs
	Metrics            *metrics.Registry             // nil means a fresh registry for this unit
	Now                func() time.Time              // nil means time.Now
	ServerInterceptors []grpc.UnaryServerInterceptor // installed by wiring only (chaos L7)
	SQLDriver          string                        // "" means sqlitex.DriverName; chaos wraps it

	PGDial   func(ctx context.Context, network, addr string) (net.Conn, error) // nil dials directly; wiring routes through the user->postgres proxy
	PGTracer pgx.QueryTracer                                                   // nil for none; chaos storage faults hook here
}

// Unit is a running user unit.
type Unit struct {
	log       *slog.Logger
	store     store
	grpc      *grpc.Server
	health    *grpcx.Health
	grpcLn    net.Listener
	ops       *httpx.Server
	closeOnce sync.Once
}

// New opens the store, binds both listeners and returns a unit ready to Run.
func New(ctx context.Context, cfg Config, deps Deps) (_ *Unit, err error) {
	if cfg.DataDir == "" && cfg.DatabaseURL == "" {
		return nil, errors.New("user unit: DataDir or DatabaseURL is required")
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New(Name, false)
	}
	if deps.SQLDriver == "" {
		deps.SQLDriver = sqlitex.DriverName
	}
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("user unit: data dir: %w", err)
		}
	}
	u := &Unit{log: deps.Log}
	defer func() {
		if err != nil {
			_ = u.Close() // releases whatever was opened before the failure
		}
	}()
	if u.store, err = openStore(ctx, cfg, deps); err != nil {
		return nil, fmt.Errorf("user unit: store: %w", err)
	}
	svc, err := app.NewService(u.store, app.Options{
		Argon2: cfg.Argon2, HashConcurrency: cfg.HashConcurrency, Now: deps.Now, Metrics: deps.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("user unit: %w", err)
	}
	u.grpc = grpcx.NewServer(deps.Log, deps.Metrics, deps.ServerInterceptors...)
	pb.RegisterUserServiceServer(u.grpc, ports.NewGRPCServer(svc))
	u.health = grpcx.RegisterHealth(u.grpc, u.Ready)
	if cfg.Reflection {
		grpcx.RegisterReflection(u.grpc)
	}
	if u.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("user unit: grpc listen: %w", err)
	}
	if u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.OpsMux(deps.Metrics, u.Ready)); err != nil {
		return nil, fmt.Errorf("user unit: ops listen: %w", err)
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

// Ready reports whether the unit can serve: its database answers.
func (u *Unit) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := u.store.Ping(ctx); err != nil {
		return fmt.Errorf("user store: %w", err)
	}
	return nil
}

// Run serves gRPC and ops until ctx ends (or Close is called), then stops
// gracefully, cutting off calls still running after 5 s.
func (u *Unit) Run(ctx context.Context) error {
	u.log.InfoContext(ctx, "user unit serving", "grpc", u.GRPCAddr(), "ops", u.OpsAddr())
	err := grpcx.Serve(ctx, u.grpc, u.health, u.grpcLn, u.ops, gracePeriod)
	if err != nil {
		return fmt.Errorf("user unit: %w", err)
	}
	return nil
}

// Close stops both servers at once and closes the store; it is safe to call
// more than once, and before, during or after Run.
func (u *Unit) Close() error {
	var err error
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
			err = u.store.Close()
		}
	})
	return err
}
