// Package unit is the gateway's composition root: it dials the user,
// product and order units, builds the use cases and the REST router, and
// serves them. `shoplab serve gateway`, `shoplab up` and the end-to-end
// tests all drive this type.
package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/shoplab/shoplab/services/gateway/adapters/grpcclient"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/ports"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// The targets of the gateway's outgoing calls: metric labels and the keys
// of Deps.ClientInterceptors.
const (
	TargetUser    = "user"
	TargetProduct = "product"
	TargetOrder   = "order"
)

// readyTimeout bounds Ready when its context has no earlier deadline.
const readyTimeout = 2 * time.Second

// Config is the gateway's settings, already parsed and typed.
type Config struct {
	HTTPAddr    string        // the public REST API, with /healthz, /readyz, /metrics; "127.0.0.1:0" picks a free port
	OpsAddr     string        // optional second listener for /healthz, /readyz, /metrics; "" means none
	UserAddr    string        // gRPC address of the user unit
	ProductAddr string        // gRPC address of the product unit
	OrderAddr   string        // gRPC address of the order unit
	JWTKey      []byte        // HS256 key for bearer tokens, at least app.MinKeyBytes
	TokenTTL    time.Duration // lifetime of a token; 0 means app.DefaultTokenTTL
	CallTimeout time.Duration // deadline of each outgoing call; 0 means grpcx.DefaultCallTimeout
	// MaxBodyBytes bounds request bodies; 0 means ports.DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Deps is what the wiring plugs into the gateway.
type Deps struct {
	Log     *slog.Logger      // nil discards
	Metrics *metrics.Registry // nil means a private registry for unit "gateway"
	Now     func() time.Time  // issues and checks token times; nil means time.Now
	// ClientInterceptors are extra interceptors per target (TargetUser, ...),
	// installed by wiring only (chaos L7 faults).
	ClientInterceptors map[string][]grpc.UnaryClientInterceptor
	// HTTPMiddleware wraps the /api/v1 business routes, installed by wiring
	// only (chaos L7 http_error faults). Nil means none.
	HTTPMiddleware func(http.Handler) http.Handler
}

// Unit is a running gateway.
type Unit struct {
	log     *slog.Logger
	conns   map[string]*grpc.ClientConn
	handler http.Handler
	api     *httpx.Server
	ops     *httpx.Server // nil without Config.OpsAddr

	closeOnce sync.Once
	closeErr  error
}

func (c Config) validate() error {
	var problems []error
	if c.HTTPAddr == "" {
		problems = append(problems, errors.New("HTTPAddr is required"))
	}
	for name, addr := range map[string]string{"UserAddr": c.UserAddr, "ProductAddr": c.ProductAddr, "OrderAddr": c.OrderAddr} {
		if addr == "" {
			problems = append(problems, fmt.Errorf("%s is required", name))
		}
	}
	if len(c.JWTKey) < app.MinKeyBytes {
		problems = append(problems, fmt.Errorf("JWTKey is %d bytes, want at least %d", len(c.JWTKey), app.MinKeyBytes))
	}
	if c.TokenTTL < 0 {
		problems = append(problems, fmt.Errorf("TokenTTL %v is negative", c.TokenTTL))
	}
	if c.CallTimeout < 0 {
		problems = append(problems, fmt.Errorf("CallTimeout %v is negative", c.CallTimeout))
	}
	if c.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Errorf("MaxBodyBytes %d is negative", c.MaxBodyBytes))
	}
	return errors.Join(problems...)
}

// New checks cfg, creates the gRPC clients (they connect lazily, so a
// dependency that is down makes the gateway unready, not unable to start)
// and binds the listeners.
func New(ctx context.Context, cfg Config, deps Deps) (_ *Unit, err error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New("gateway", false)
	}
	u := &Unit{log: deps.Log, conns: map[string]*grpc.ClientConn{}}
	defer func() {
		if err != nil {
			_ = u.Close()
		}
	}()
	for target, addr := range map[string]string{TargetUser: cfg.UserAddr, TargetProduct: cfg.ProductAddr, TargetOrder: cfg.OrderAddr} {
		cc, err := grpcx.Dial(addr, grpcx.ClientOptions{
			Target:      target,
			CallTimeout: cfg.CallTimeout,
			Metrics:     deps.Metrics,
			Extra:       deps.ClientInterceptors[target],
		})
		if err != nil {
			return nil, fmt.Errorf("gateway: dial %s at %s: %w", target, addr, err)
		}
		u.conns[target] = cc
	}
	tokens, err := app.NewTokens(cfg.JWTKey, cfg.TokenTTL, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	svc, err := app.New(
		grpcclient.NewUsers(u.conns[TargetUser]),
		grpcclient.NewProducts(u.conns[TargetProduct]),
		grpcclient.NewOrders(u.conns[TargetOrder]),
		tokens, deps.Log)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	u.handler, err = ports.NewHandler(svc, ports.Options{
		Log:          deps.Log,
		Registry:     deps.Metrics,
		Ready:        u.Ready,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Middleware:   deps.HTTPMiddleware,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if u.api, err = httpx.Listen(cfg.HTTPAddr, u.handler); err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.OpsAddr != "" {
		if u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.OpsMux(deps.Metrics, u.Ready)); err != nil {
			return nil, fmt.Errorf("gateway: listen on ops address %s: %w", cfg.OpsAddr, err)
		}
	}
	deps.Log.InfoContext(ctx, "gateway listening", "http", u.HTTPAddr(), "ops", u.OpsAddr(),
		"user", cfg.UserAddr, "product", cfg.ProductAddr, "order", cfg.OrderAddr)
	return u, nil
}

// Run serves until ctx ends, then stops gracefully. If one listener fails
// the other is stopped too and the failure is returned.
func (u *Unit) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []*httpx.Server{u.api}
	if u.ops != nil {
		servers = append(servers, u.ops)
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			err := s.Run(ctx)
			// Whatever ended one server ends the unit.
			cancel()
			errc <- err
		}()
	}
	var errList []error
	for range servers {
		if err := <-errc; err != nil {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// Close releases the listeners and the gRPC connections. It is safe to call
// more than once, and after Run.
func (u *Unit) Close() error {
	u.closeOnce.Do(func() {
		var errList []error
		for _, s := range []*httpx.Server{u.api, u.ops} {
			if s != nil {
				if err := s.Close(); err != nil {
					errList = append(errList, err)
				}
			}
		}
		for target, cc := range u.conns {
			if err := cc.Close(); err != nil {
				errList = append(errList, fmt.Errorf("close %s connection: %w", target, err))
			}
		}
		u.closeErr = errors.Join(errList...)
	})
	return u.closeErr
}

// HTTPAddr is the address of the REST API.
func (u *Unit) HTTPAddr() string { return u.api.Addr() }

// OpsAddr is the address of the ops listener, "" when there is none.
func (u *Unit) OpsAddr() string {
	if u.ops == nil {
		return ""
	}
	return u.ops.Addr()
}

// Handler is the complete REST handler, for in-process tests and for
// wiring that serves it itself.
func (u *Unit) Handler() http.Handler { return u.handler }

// Ready reports whether the user, product and order connections are up.
// It uses the connections' state rather than a call, so readiness probes
// add no traffic to the units and are not failed by injected L7 faults
// that the API's own calls would meet. It waits at most 2 s.
func (u *Unit) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errList []error
	)
	for _, target := range []string{TargetUser, TargetProduct, TargetOrder} {
		wg.Go(func() {
			if err := connReady(ctx, u.conns[target]); err != nil {
				mu.Lock()
				errList = append(errList, fmt.Errorf("%s: %w", target, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errList...)
}

// connReady waits until cc is connected, has just failed to connect, or ctx
// ends. A connection sitting idle is asked to connect first: grpc clients
// connect lazily.
func connReady(ctx context.Context, cc *grpc.ClientConn) error {
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.Shutdown:
			return errors.New("connection is closed")
		case connectivity.TransientFailure:
			// The last attempt failed; waiting for the next one (up to the
			// 2 s reconnect backoff) would only make the probe slow.
			return errors.New("not connected (TRANSIENT_FAILURE)")
		case connectivity.Idle:
			// A connection the server closed (GOAWAY) goes back to idle and
			// stays there until something asks it to connect.
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("not connected (%s): %w", s, ctx.Err())
		}
	}
}
