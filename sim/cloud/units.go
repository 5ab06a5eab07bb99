package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/user"

	analyticsunit "github.com/shoplab/shoplab/services/analytics/unit"
	gatewayunit "github.com/shoplab/shoplab/services/gateway/unit"
	notificationunit "github.com/shoplab/shoplab/services/notification/unit"
	orderunit "github.com/shoplab/shoplab/services/order/unit"
	paymentunit "github.com/shoplab/shoplab/services/payment/unit"
	productunit "github.com/shoplab/shoplab/services/product/unit"
	userunit "github.com/shoplab/shoplab/services/user/unit"
)

// build constructs unit u on its recorded addresses (":0" the first time),
// with the wiring's proxies and hooks, and records the addresses it got.
func (c *Cloud) build(ctx context.Context, u *unitState) (runner, error) {
	w := c.cfg.Wiring
	reg := metrics.New(u.name, false)
	log := c.log.With("unit", u.name)
	dir := filepath.Join(c.dataDir, u.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	grpcAddr, opsAddr := orLoopback(u.grpcAddr), orLoopback(u.opsAddr)
	var (
		r   runner
		err error
	)
	switch u.name {
	case User:
		var x *userunit.Unit
		ucfg := userunit.Config{GRPCAddr: grpcAddr, OpsAddr: opsAddr, DataDir: dir, Argon2: user.LightArgon2, Reflection: c.cfg.GRPCReflection}
		udeps := userunit.Deps{Log: log, Metrics: reg, ServerInterceptors: w.ServerInterceptors(u.name), SQLDriver: w.SQLDriver(u.name)}
		if err = c.userStores(&ucfg, &udeps); err != nil {
			return nil, err
		}
		x, err = userunit.New(ctx, ucfg, udeps)
		if err == nil {
			r, u.grpcAddr, u.opsAddr = x, x.GRPCAddr(), x.OpsAddr()
		}
	case Payment:
		var x *paymentunit.Unit
		pcfg := paymentunit.Config{GRPCAddr: grpcAddr, OpsAddr: opsAddr, DataDir: dir,
			ProcessorLatency: c.cfg.ProcessorLatency, Seed: c.cfg.CatalogSeed, Reflection: c.cfg.GRPCReflection}
		pdeps := paymentunit.Deps{Log: log, Metrics: reg, ServerInterceptors: w.ServerInterceptors(u.name), SQLDriver: w.SQLDriver(u.name)}
		if err = c.paymentStores(&pcfg, &pdeps); err != nil {
			return nil, err
		}
		x, err = paymentunit.New(ctx, pcfg, pdeps)
		if err == nil {
			r, u.grpcAddr, u.opsAddr = x, x.GRPCAddr(), x.OpsAddr()
		}
	case Gateway:
		var addrs [3]string
		for i, to := range []string{User, Product, Order} {
			if addrs[i], err = c.dial(Gateway, to); err != nil {
				return nil, err
			}
		}
		httpAddr := u.httpAddr
		if httpAddr == "" {
			httpAddr = c.cfg.GatewayAddr
		}
		var x *gatewayunit.Unit
		x, err = gatewayunit.New(ctx, gatewayunit.Config{HTTPAddr: httpAddr, OpsAddr: opsAddr,
			UserAddr: addrs[0], ProductAddr: addrs[1], OrderAddr: addrs[2], JWTKey: c.cfg.JWTKey},
			gatewayunit.Deps{Log: log, Metrics: reg, HTTPMiddleware: w.HTTPMiddleware(u.name), ClientInterceptors: map[string][]grpc.UnaryClientInterceptor{
				User: w.ClientInterceptors(Gateway, User), Product: w.ClientInterceptors(Gateway, Product), Order: w.ClientInterceptors(Gateway, Order)}})
		if err == nil {
			r, u.httpAddr, u.opsAddr = x, x.HTTPAddr(), x.OpsAddr()
		}
	default:
		r, err = c.buildMore(ctx, u, reg, log, dir, grpcAddr, opsAddr)
	}
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("unknown unit %q", u.name)
	}
	c.mu.Lock()
	c.registries[u.name] = reg
	c.mu.Unlock()
	return r, nil
}

// group is unit's consumer group: the unit's default, with this run's
// suffix on a shared real broker.
func (c *Cloud) group(unit string) string {
	if c.groupSuffix == "" {
		return ""
	}
	return unit + c.groupSuffix
}

func orLoopback(addr string) string {
	if addr == "" {
		return "127.0.0.1:0"
	}
	return addr
}

// buildMore builds the units whose packages landed after the first three.
func (c *Cloud) buildMore(ctx context.Context, u *unitState, reg *metrics.Registry, log *slog.Logger, dir, grpcAddr, opsAddr string) (runner, error) {
	w := c.cfg.Wiring
	switch u.name {
	case Product:
		return c.buildProduct(ctx, u, reg, log, dir, grpcAddr, opsAddr)
	case Notification:
		return c.buildNotification(ctx, u, reg, log, dir, opsAddr)
	case Analytics:
		return c.buildAnalytics(ctx, u, reg, log, dir, opsAddr)
	case Order:
		var addrs [3]string
		var err error
		for i, to := range []string{User, Product, Payment} {
			if addrs[i], err = c.dial(Order, to); err != nil {
				return nil, err
			}
		}
		brokers, dialer, err := c.kafkaFor(Order)
		if err != nil {
			return nil, err
		}
		ocfg := orderunit.Config{GRPCAddr: grpcAddr, OpsAddr: opsAddr, DataDir: dir,
			UserAddr: addrs[0], ProductAddr: addrs[1], PaymentAddr: addrs[2], KafkaBrokers: brokers, RecoveryGrace: c.cfg.RecoveryGrace, Reflection: c.cfg.GRPCReflection}
		odeps := orderunit.Deps{Log: log, KafkaDialer: dialer, Metrics: reg, ServerInterceptors: w.ServerInterceptors(Order), SQLDriver: w.SQLDriver(Order),
			ClientInterceptors: map[string][]grpc.UnaryClientInterceptor{
				orderunit.TargetUser: w.ClientInterceptors(Order, User), orderunit.TargetProduct: w.ClientInterceptors(Order, Product),
				orderunit.TargetPayment: w.ClientInterceptors(Order, Payment)}}
		if err := c.orderStores(&ocfg, &odeps); err != nil {
			return nil, err
		}
		x, err := orderunit.New(ctx, ocfg, odeps)
		if err != nil {
			return nil, err
		}
		u.grpcAddr, u.opsAddr = x.GRPCAddr(), x.OpsAddr()
		return x, nil
	}
	return nil, nil
}

func (c *Cloud) buildProduct(ctx context.Context, u *unitState, reg *metrics.Registry, log *slog.Logger, dir, grpcAddr, opsAddr string) (runner, error) {
	w := c.cfg.Wiring
	pcfg := productunit.Config{GRPCAddr: grpcAddr, OpsAddr: opsAddr, DataDir: dir, CatalogSeed: c.cfg.CatalogSeed, Reflection: c.cfg.GRPCReflection}
	pdeps := productunit.Deps{Log: log, Metrics: reg, ServerInterceptors: w.ServerInterceptors(Product), SQLDriver: w.SQLDriver(Product)}
	if err := c.productStores(&pcfg, &pdeps); err != nil {
		return nil, err
	}
	x, err := productunit.New(ctx, pcfg, pdeps)
	if err != nil {
		return nil, err
	}
	u.grpcAddr, u.opsAddr = x.GRPCAddr(), x.OpsAddr()
	return x, nil
}

func (c *Cloud) buildNotification(ctx context.Context, u *unitState, reg *metrics.Registry, log *slog.Logger, dir, opsAddr string) (runner, error) {
	brokers, dialer, err := c.kafkaFor(Notification)
	if err != nil {
		return nil, err
	}
	ncfg := notificationunit.Config{OpsAddr: opsAddr, DataDir: dir, KafkaBrokers: brokers, Group: c.group(Notification)}
	ndeps := notificationunit.Deps{Log: log, KafkaDialer: dialer, Metrics: reg, SQLDriver: c.cfg.Wiring.SQLDriver(Notification)}
	if err := c.notificationStores(&ncfg, &ndeps); err != nil {
		return nil, err
	}
	x, err := notificationunit.New(ctx, ncfg, ndeps)
	if err != nil {
		return nil, err
	}
	u.opsAddr = x.OpsAddr()
	mb := x.Mailbox()
	c.mu.Lock()
	c.mailbox = func(ctx context.Context, limit int) (any, error) { return mb.List(ctx, limit) }
	c.mu.Unlock()
	return x, nil
}

func (c *Cloud) buildAnalytics(ctx context.Context, u *unitState, reg *metrics.Registry, log *slog.Logger, dir, opsAddr string) (runner, error) {
	if c.analyticsEngine() == envs.EngineFlink {
		return c.buildFlinkAnalytics(ctx, log, dir)
	}
	results, err := c.resultsFor(ctx)
	if err != nil {
		return nil, err
	}
	brokers, dialer, err := c.kafkaFor(Analytics)
	if err != nil {
		return nil, err
	}
	acfg := analyticsunit.Config{OpsAddr: opsAddr, DataDir: dir, KafkaBrokers: brokers, Group: c.group(Analytics),
		Window: c.cfg.AnalyticsWindow, IdleTimeout: c.cfg.AnalyticsIdle, Bucket: c.bucket, CreateBucket: true}
	adeps := analyticsunit.Deps{Log: log, KafkaDialer: dialer, Metrics: reg, SQLDriver: c.cfg.Wiring.SQLDriver(Analytics)}
	if c.s3 != nil {
		acfg.S3Endpoint, adeps.S3 = c.s3.URL, c.s3Client()
	} else {
		// The env's S3 through analytics' AWS edge; against AWS itself
		// (no endpoint) the unit builds its client from the standard chain.
		s3c, ep, err := c.realS3Client(Analytics)
		if err != nil {
			return nil, err
		}
		acfg.S3Endpoint, acfg.S3Region, acfg.CreateBucket, adeps.S3 = ep, c.cfg.Env.AWS.Region, c.cfg.Env.AWS.CreateResources, s3c
	}
	x, err := analyticsunit.New(ctx, acfg, adeps)
	if err != nil {
		return nil, err
	}
	u.opsAddr = x.OpsAddr()
	c.mu.Lock()
	// What the engine published, not its store: the same reader serves
	// either engine (analytics_engines.go).
	c.windows = func(ctx context.Context, limit int) (any, error) { return results.list(ctx, limit) }
	c.mu.Unlock()
	return x, nil
}
