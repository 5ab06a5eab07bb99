// Package unit is the product unit's composition root: it opens the store,
// seeds the catalog on first start, and serves ProductService over gRPC and
// the ops endpoints over HTTP. `shoplab serve product`, `shoplab up` and the
// end-to-end tests all drive this one type.
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
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/platform/awsx"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/adapters/dynamodb"
	"github.com/shoplab/shoplab/services/product/adapters/sqlite"
	"github.com/shoplab/shoplab/services/product/app"
	"github.com/shoplab/shoplab/services/product/ports"
)

// Name is the unit's name in metrics, logs and wiring.
const Name = "product"

// DBFile is the name of the unit's SQLite database inside Config.DataDir.
const DBFile = "product.db"

// DefaultStockRefresh is how often the stock gauge re-reads the store.
const DefaultStockRefresh = 15 * time.Second

// gracePeriod bounds how long in-flight calls may finish at shutdown.
const gracePeriod = 5 * time.Second

// Config is the product unit's settings, parsed and typed at the edge.
type Config struct {
	GRPCAddr string // "127.0.0.1:0" picks a free port
	OpsAddr  string // /healthz, /readyz, /metrics
	DataDir  string // where product.db lives; unused (may be empty) with DynamoDBTable
	// Reflection serves gRPC server reflection (grpcurl list/describe);
	// `shoplab up` turns it on, `serve` only with --grpc-reflection.
	// grpc.health.v1 is always served (see grpcx.Health).
	Reflection bool

	// The store: SQLite in DataDir unless DynamoDBTable names a table (the
	// host, compose and AWS envs; see adapters/dynamodb for its layout).
	DynamoDBTable string // "" means SQLite in DataDir
	AWSEndpoint   string // "" means the real AWS; http://127.0.0.1:15000 for moto
	AWSRegion     string // "" means us-east-1
	CreateTable   bool   // create the table if missing (local/host envs)

	// The catalog seeded on first start (an empty store); later starts keep
	// the stored catalog and its stock. See product.CatalogSpec for zero
	// values: 300 products, 50..500 units each, p-0001..p-0005 with 1-3.
	CatalogSeed   int64
	CatalogSize   int
	StockMin      int64
	StockMax      int64
	LowStockCount int // 0 means 5; negative means none

	// StockRefresh is how often the stock gauge re-reads the store, to pick
	// up other replicas' writes; 0 means DefaultStockRefresh.
	StockRefresh time.Duration
}

// CatalogSpec is the catalog the config seeds.
func (c Config) CatalogSpec() product.CatalogSpec {
	return product.CatalogSpec{Seed: c.CatalogSeed, Size: c.CatalogSize, StockMin: c.StockMin, StockMax: c.StockMax, LowStockCount: c.LowStockCount}
}

// Deps is what the wiring plugs into the unit. product calls no other
// unit, so unlike order it takes no client interceptors.
type Deps struct {
	Log                *slog.Logger                  // nil discards
	Metrics            *metrics.Registry             // nil means a private registry
	Now                func() time.Time              // nil means time.Now
	ServerInterceptors []grpc.UnaryServerInterceptor // installed by wiring only (chaos L7)
	SQLDriver          string                        // "" means sqlitex.DriverName; chaos wraps it
	AWSHTTPClient      aws.HTTPClient                // nil means the SDK default; chaos L7 wraps it (e.g. ProvisionedThroughputExceeded)
}

// tableWait bounds how long New waits for a table it created to be active.
const tableWait = 60 * time.Second

// closableStore is a Store the unit closes at shutdown.
type closableStore interface {
	app.Store
	Close() error
}

// dynamoStore adds the Close the DynamoDB store does not need.
type dynamoStore struct{ *dynamodb.Store }

func (dynamoStore) Close() error { return nil }

// Unit is a running product unit.
type Unit struct {
	cfg    Config
	log    *slog.Logger
	store  closableStore
	svc    *app.Service
	grpc   *grpc.Server
	health *grpcx.Health
	ln     net.Listener
	ops    *httpx.Server

	serving   atomic.Bool // true from Run until shutdown starts; /readyz follows it
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, binds both listeners, opens and migrates the store and
// seeds the catalog if the store is empty.
func New(ctx context.Context, cfg Config, deps Deps) (u *Unit, err error) {
	switch {
	case cfg.GRPCAddr == "":
		return nil, errs.E(errs.Invalid, "product: GRPCAddr is required")
	case cfg.OpsAddr == "":
		return nil, errs.E(errs.Invalid, "product: OpsAddr is required")
	case cfg.DataDir == "" && cfg.DynamoDBTable == "":
		return nil, errs.E(errs.Invalid, "product: DataDir is required unless DynamoDBTable is set")
	case cfg.StockRefresh < 0:
		return nil, errs.E(errs.Invalid, "product: StockRefresh must not be negative")
	}
	if cfg.StockRefresh == 0 {
		cfg.StockRefresh = DefaultStockRefresh
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
	u = &Unit{cfg: cfg, log: deps.Log.With("unit", Name)}
	// Whatever New opened is closed again if a later step fails.
	defer func() {
		if err != nil {
			_ = u.Close()
			u = nil
		}
	}()

	if u.store, err = openStore(ctx, cfg, deps); err != nil {
		return u, err
	}
	u.svc = app.New(u.store, app.Options{Now: deps.Now, Log: u.log, Metrics: deps.Metrics})
	if _, err := u.svc.SeedCatalog(ctx, cfg.CatalogSpec()); err != nil {
		return u, fmt.Errorf("product: %w", err)
	}

	u.grpc = grpcx.NewServer(u.log, deps.Metrics, deps.ServerInterceptors...)
	ports.NewGRPCServer(u.svc).Register(u.grpc)
	u.health = grpcx.RegisterHealth(u.grpc, u.Ready)
	if cfg.Reflection {
		grpcx.RegisterReflection(u.grpc)
	}
	if u.ln, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return u, fmt.Errorf("product: listen grpc: %w", err)
	}
	if u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.OpsMux(deps.Metrics, u.Ready)); err != nil {
		return u, fmt.Errorf("product: listen ops: %w", err)
	}
	return u, nil
}

// openStore opens the store cfg selects.
func openStore(ctx context.Context, cfg Config, deps Deps) (closableStore, error) {
	if cfg.DynamoDBTable == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("product: data dir: %w", err)
		}
		s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DBFile), sqlitex.WithDriver(deps.SQLDriver))
		if err != nil {
			return nil, fmt.Errorf("product: open store: %w", err)
		}
		return s, nil
	}
	awsCfg, err := awsx.Config(ctx, awsx.Options{Region: cfg.AWSRegion, Endpoint: cfg.AWSEndpoint, HTTP: deps.AWSHTTPClient})
	if err != nil {
		return nil, fmt.Errorf("product: %w", err)
	}
	client := awsdynamodb.NewFromConfig(awsCfg)
	if cfg.CreateTable {
		if err := dynamodb.CreateTable(ctx, client, cfg.DynamoDBTable, tableWait); err != nil {
			return nil, fmt.Errorf("product: %w", err)
		}
	}
	s, err := dynamodb.New(client, cfg.DynamoDBTable)
	if err != nil {
		return nil, fmt.Errorf("product: %w", err)
	}
	return dynamoStore{s}, nil
}

// GRPCAddr is the address ProductService listens on.
func (u *Unit) GRPCAddr() string { return u.ln.Addr().String() }

// OpsAddr is the address of the ops endpoints.
func (u *Unit) OpsAddr() string { return u.ops.Addr() }

// Ready reports whether the unit serves and its store answers; it fails
// before Run and from the moment shutdown starts, so that load balancers
// stop sending calls while in-flight ones drain.
func (u *Unit) Ready(ctx context.Context) error {
	if !u.serving.Load() {
		return errors.New("product: not serving")
	}
	return u.svc.Ready(ctx)
}

// Run serves gRPC and the ops endpoints until ctx ends, then stops: readiness
// turns false at once, and in-flight calls get up to 5 s to finish. It
// returns early with the error of a server that fails. Call it once.
func (u *Unit) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := u.grpc.Serve(u.ln); err != nil {
			errc <- fmt.Errorf("product: grpc: %w", err)
		}
	})
	wg.Go(func() {
		if err := u.ops.Run(runCtx); err != nil {
			errc <- fmt.Errorf("product: ops: %w", err)
		}
	})
	wg.Go(func() { u.refreshStock(runCtx) })
	u.serving.Store(true)
	u.log.InfoContext(ctx, "serving", "grpc", u.GRPCAddr(), "ops", u.OpsAddr())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	u.serving.Store(false)
	u.health.Shutdown()
	cancel()
	u.stopGRPC()
	wg.Wait()
	u.log.InfoContext(context.WithoutCancel(ctx), "stopped")
	return err
}

// stopGRPC lets in-flight calls finish for up to gracePeriod, then cuts them.
func (u *Unit) stopGRPC() {
	done := make(chan struct{})
	go func() {
		u.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(gracePeriod)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		u.grpc.Stop()
		<-done
	}
}

// refreshStock keeps the stock gauge in step with the store until ctx ends.
func (u *Unit) refreshStock(ctx context.Context) {
	t := time.NewTicker(u.cfg.StockRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := u.svc.RefreshStock(ctx); err != nil && ctx.Err() == nil {
				u.log.WarnContext(ctx, "stock gauge refresh failed", "error", err)
			}
		}
	}
}

// Close releases the listeners, the servers and the store. It is safe to
// call after Run, without Run, and more than once.
func (u *Unit) Close() error {
	u.closeOnce.Do(func() {
		u.serving.Store(false)
		var problems []error
		if u.grpc != nil {
			u.grpc.Stop()
		}
		if u.ln != nil {
			// Stop closes only listeners that Serve saw; without Run this one is ours.
			if err := u.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				problems = append(problems, err)
			}
		}
		if u.ops != nil {
			if err := u.ops.Close(); err != nil {
				problems = append(problems, err)
			}
		}
		if u.store != nil {
			if err := u.store.Close(); err != nil {
				problems = append(problems, err)
			}
		}
		u.closeErr = errors.Join(problems...)
	})
	return u.closeErr
}
