package cli

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/user"

	gatewayunit "github.com/shoplab/shoplab/services/gateway/unit"
	orderunit "github.com/shoplab/shoplab/services/order/unit"
	paymentunit "github.com/shoplab/shoplab/services/payment/unit"
	productunit "github.com/shoplab/shoplab/services/product/unit"
	userunit "github.com/shoplab/shoplab/services/user/unit"
)

// serveFlags are the settings every `serve <unit>` takes. Defaults match the
// container ports the Kubernetes manifests expose; each flag can also come
// from SHOPLAB_<FLAG> (e.g. SHOPLAB_KAFKA_BROKERS).
type serveFlags struct {
	env, logLevel, grpcAddr, httpAddr, opsAddr, dataDir, databaseURL string
	kafkaBrokers, userAddr, productAddr, orderAddr, paymentAddr      string
	jwtKey                                                           string
	processorLatency, window                                         time.Duration
	catalogSeed                                                      int64
	bucket, s3Endpoint, awsRegion                                    string
	// Real AWS parts (DynamoDB, SES) of product and notification.
	dynamoDBTable, awsEndpoint, dedupTable, email, sender string
	createResources                                       bool
	grpcReflection                                        bool
}

func runServe(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError("usage: shoplab serve <gateway|user|product|order|payment|notification|analytics> [flags]")
	}
	name := args[0]
	fs := e.bridge(flag.NewFlagSet("shoplab serve "+name, flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var f serveFlags
	fs.StringVar(&f.env, "env", "local", "where the unit's parts are: local (embedded defaults), host (`shoplab deps up`), another envs/ name or an env file; fills every flag not given")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.grpcAddr, "grpc-addr", ":9090", "gRPC listen address")
	fs.StringVar(&f.httpAddr, "http-addr", ":8080", "REST listen address (gateway)")
	fs.StringVar(&f.opsAddr, "ops-addr", ":8081", "ops listen address: /healthz /readyz /metrics")
	fs.StringVar(&f.dataDir, "data-dir", "/tmp/shoplab", "directory of the unit's SQLite database")
	fs.StringVar(&f.databaseURL, "database-url", "", "relational store of user, order and payment: postgres://user@host:port/db?sslmode=...; empty means SQLite in -data-dir")
	fs.StringVar(&f.kafkaBrokers, "kafka-brokers", "localhost:9092", "comma-separated Kafka bootstrap brokers")
	fs.StringVar(&f.userAddr, "user-addr", "user:9090", "gRPC address of the user unit")
	fs.StringVar(&f.productAddr, "product-addr", "product:9090", "gRPC address of the product unit")
	fs.StringVar(&f.orderAddr, "order-addr", "order:9090", "gRPC address of the order unit")
	fs.StringVar(&f.paymentAddr, "payment-addr", "payment:9090", "gRPC address of the payment unit")
	fs.StringVar(&f.jwtKey, "jwt-key", "", "HS256 signing key of the gateway, at least 32 bytes")
	fs.DurationVar(&f.processorLatency, "processor-latency", 0, "simulated card processor latency (payment)")
	fs.Int64Var(&f.catalogSeed, "catalog-seed", 1, "seed of the generated catalog (product)")
	fs.DurationVar(&f.window, "analytics-window", time.Minute, "analytics tumbling window size")
	fs.StringVar(&f.bucket, "bucket", "shoplab-analytics", "S3 bucket of the analytics window archive")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint (LocalStack, moto); empty means AWS")
	fs.StringVar(&f.awsRegion, "aws-region", "us-east-1", "AWS region")
	fs.StringVar(&f.awsEndpoint, "aws-endpoint", "", "DynamoDB/SES endpoint (moto_server, LocalStack); empty means AWS")
	fs.StringVar(&f.dynamoDBTable, "dynamodb-table", "", "DynamoDB table of the catalog and stock (product); empty means SQLite in -data-dir")
	fs.StringVar(&f.dedupTable, "dedup-table", "", "DynamoDB table of sent events (notification); empty means SQLite in -data-dir")
	fs.StringVar(&f.email, "email", "mailbox", "email provider (notification): mailbox or ses")
	fs.StringVar(&f.sender, "sender", "", "From address (notification); SES needs it verified")
	fs.BoolVar(&f.grpcReflection, "grpc-reflection", false, "serve gRPC server reflection (user, product, order, payment) for grpcurl; grpc.health.v1 is always served")
	fs.BoolVar(&f.createResources, "create-resources", false, "create the DynamoDB tables and verify the SES sender if missing (emulators)")
	if err := config.Parse(fs, args[1:], e.lookup); err != nil {
		return usageError("%v", err)
	}
	pgPassword, _ := e.lookup("PGPASSWORD")
	senv, err := applyServeEnv(name, fs, &f, pgPassword)
	if err != nil {
		return err
	}
	if senv != nil {
		if err := prepareServeEnv(ctx, name, senv, pgPassword); err != nil {
			return err
		}
	}
	if strings.HasPrefix(f.databaseURL, "sqlite:") {
		f.databaseURL = "" // SQLite in -data-dir
	}
	if err := checkDatabaseURL(name, f.databaseURL); err != nil {
		return err
	}
	log := logx.New(e.stderr, f.logLevel).With("unit", name, "env", f.env)
	reg := metrics.New(name, true)
	r, err := buildServed(ctx, name, f, log, reg)
	if err != nil {
		return err
	}
	defer r.Close()
	log.Info("serving", "grpc", f.grpcAddr, "ops", f.opsAddr)
	return r.Run(ctx)
}

// served is a unit's composition root as `serve` drives it.
type served interface {
	Run(ctx context.Context) error
	Close() error
}

func buildServed(ctx context.Context, name string, f serveFlags, log *slog.Logger, reg *metrics.Registry) (served, error) {
	brokers := splitList(f.kafkaBrokers)
	switch name {
	case "user":
		return userunit.New(ctx, userunit.Config{GRPCAddr: f.grpcAddr, OpsAddr: f.opsAddr, DataDir: f.dataDir, DatabaseURL: f.databaseURL, Argon2: user.DefaultArgon2, Reflection: f.grpcReflection},
			userunit.Deps{Log: log, Metrics: reg})
	case "product":
		return productunit.New(ctx, productunit.Config{GRPCAddr: f.grpcAddr, OpsAddr: f.opsAddr, DataDir: f.dataDir, CatalogSeed: f.catalogSeed, Reflection: f.grpcReflection,
			DynamoDBTable: f.dynamoDBTable, AWSEndpoint: f.awsEndpoint, AWSRegion: f.awsRegion, CreateTable: f.createResources},
			productunit.Deps{Log: log, Metrics: reg})
	case "payment":
		return paymentunit.New(ctx, paymentunit.Config{GRPCAddr: f.grpcAddr, OpsAddr: f.opsAddr, DataDir: f.dataDir, DatabaseURL: f.databaseURL, ProcessorLatency: f.processorLatency, Reflection: f.grpcReflection},
			paymentunit.Deps{Log: log, Metrics: reg})
	case "order":
		return orderunit.New(ctx, orderunit.Config{GRPCAddr: f.grpcAddr, OpsAddr: f.opsAddr, DataDir: f.dataDir, DatabaseURL: f.databaseURL,
			UserAddr: f.userAddr, ProductAddr: f.productAddr, PaymentAddr: f.paymentAddr, KafkaBrokers: brokers, Reflection: f.grpcReflection},
			orderunit.Deps{Log: log, Metrics: reg, ClientInterceptors: map[string][]grpc.UnaryClientInterceptor{}})
	case "gateway":
		if len(f.jwtKey) < 32 {
			return nil, usageError("gateway needs -jwt-key (or SHOPLAB_JWT_KEY) of at least 32 bytes")
		}
		return gatewayunit.New(ctx, gatewayunit.Config{HTTPAddr: f.httpAddr, OpsAddr: f.opsAddr,
			UserAddr: f.userAddr, ProductAddr: f.productAddr, OrderAddr: f.orderAddr, JWTKey: []byte(f.jwtKey)},
			gatewayunit.Deps{Log: log, Metrics: reg})
	}
	return buildServedMore(ctx, name, f, log, reg, brokers)
}

// checkDatabaseURL: -database-url is PostgreSQL, and only for the units
// with a relational store (the compose stack and Kubernetes set it per unit).
func checkDatabaseURL(unit, u string) error {
	switch {
	case u == "":
		return nil
	case unit != "user" && unit != "order" && unit != "payment":
		return usageError("-database-url: %s has no relational store (only user, order and payment take one)", unit)
	case !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://"):
		return usageError("-database-url %q: want postgres://user@host:port/db?sslmode=... (empty means SQLite in -data-dir)", redact(u))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redact hides the credentials of a URL in messages.
func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

func unknownUnit(name string) error {
	return usageError("unknown unit %q: want gateway, user, product, order, payment, notification or analytics", name)
}
