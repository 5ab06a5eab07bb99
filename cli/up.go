package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/sim/cloud"
)

// upFlags are the flags of `up`; `demo` and `run` take its --env and
// --analytics and read them with the same loadEnv and withAnalyticsEngine.
type upFlags struct {
	gatewayAddr string
	opsAddr     string
	dataDir     string
	window      time.Duration
	logLevel    string
	jwtKey      string
	toxiproxy   string
	seed        int64
	env         string
	reflection  bool
	runID       string
	analytics   string
	flinkPort   int
}

func (f *upFlags) register(fs *flag.FlagSet, gateway, ops string, window time.Duration) {
	fs.StringVar(&f.gatewayAddr, "gateway-addr", gateway, "address of the public REST API")
	fs.StringVar(&f.opsAddr, "ops-addr", ops, "address of the ops HTTP API")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for the units' data (default: a fresh temp dir, removed on exit; a given dir keeps data across restarts)")
	fs.DurationVar(&f.window, "analytics-window", window, "analytics tumbling window size")
	fs.StringVar(&f.logLevel, "log-level", "warn", "unit log level: debug, info, warn, error (JSON on stderr)")
	fs.StringVar(&f.jwtKey, "jwt-key", "", "HS256 key for tokens, at least 32 bytes (default: random per run)")
	fs.StringVar(&f.toxiproxy, "toxiproxy-addr", "127.0.0.1:8474", "address of the embedded toxiproxy HTTP API (toxiproxy-cli and its Go client work against it); empty disables it")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the chaos engine's fault decisions")
	fs.BoolVar(&f.reflection, "grpc-reflection", true, "serve gRPC server reflection on the user, product, order and payment units (grpcurl list); --grpc-reflection=false turns it off")
	fs.StringVar(&f.env, "env", "local", "where the parts run: local (embedded), host (`shoplab deps up`), or an env file's path")
	fs.StringVar(&f.runID, "run-id", "", "on a non-local env: own databases, tables, bucket and consumer groups, the env's names suffixed with this id (1-16 of a-z0-9), dropped on exit")
	fs.StringVar(&f.analytics, "analytics", "", analyticsFlagUsage)
	fs.IntVar(&f.flinkPort, "flink-metrics-port", 0, "with --analytics flink: run the job with Flink's Prometheus reporter serving /metrics on this port (it binds every interface; 0: without it)")
}

// loadEnv reads the env named by --env; local is nil, the embedded default.
func loadEnv(name string) (*envs.Env, error) {
	if name == "" || name == "local" {
		return nil, nil
	}
	e, err := envs.Load(name)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return e, nil
}

func (f *upFlags) cloudConfig(e env) (cloud.Config, error) {
	cfg := cloud.Config{
		GatewayAddr:     f.gatewayAddr,
		OpsAddr:         f.opsAddr,
		DataDir:         f.dataDir,
		RunID:           f.runID,
		AnalyticsWindow: f.window,
		GRPCReflection:  f.reflection,
		Log:             logx.New(e.stderr, f.logLevel),
	}
	if f.flinkPort < 0 || f.flinkPort > 65535 {
		return cfg, usageError("--flink-metrics-port: want a port, got %d", f.flinkPort)
	}
	if f.window < time.Second {
		return cfg, usageError("-analytics-window must be at least 1s")
	}
	env, err := loadEnv(f.env)
	if err != nil {
		return cfg, err
	}
	if env, err = withAnalyticsEngine(env, f.analytics); err != nil {
		return cfg, err
	}
	cfg.Env = env
	if f.flinkPort > 0 {
		if env == nil || env.Analytics.Engine != envs.EngineFlink {
			return cfg, usageError("--flink-metrics-port needs the flink analytics engine (--analytics flink)")
		}
		cfg.FlinkMetricsPort = f.flinkPort
	}
	if pw, ok := e.lookup("PGPASSWORD"); ok {
		cfg.PGPassword = pw
	}
	if f.jwtKey != "" {
		if len(f.jwtKey) < 32 {
			return cfg, usageError("-jwt-key must be at least 32 bytes")
		}
		cfg.JWTKey = []byte(f.jwtKey)
	}
	return cfg, nil
}

func runUp(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab up", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var f upFlags
	f.register(fs, "127.0.0.1:8080", "127.0.0.1:8090", time.Minute)
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	cfg, err := f.cloudConfig(e)
	if err != nil {
		return err
	}
	if cfg.Env == nil {
		fmt.Fprintln(e.stdout, "shoplab up: starting the local env (kfake Kafka, SQLite, gofakes3, toxiproxy)...")
	} else {
		fmt.Fprintf(e.stdout, "shoplab up: starting on the %s env (%s): its parts must be running (`shoplab deps up --env %s`)...\n", cfg.Env.Name, f.env, f.env)
	}
	engine, err := chaos.New(chaos.WithSeed(f.seed), chaos.WithAPIAddr(f.toxiproxy), chaos.WithLogger(cfg.Log))
	if err != nil {
		return fmt.Errorf("chaos engine: %w", err)
	}
	cfg.Chaos = engine
	c, err := cloud.New(ctx, cfg)
	if err != nil {
		_ = engine.Close()
		return err
	}
	defer c.Close()
	printEnv(e, c)
	fmt.Fprintln(e.stdout, "\nReady. Ctrl-C stops everything gracefully.")
	err = c.Run(ctx)
	fmt.Fprintln(e.stdout, "shoplab up: stopped")
	return err
}

func printEnv(e env, c *cloud.Cloud) {
	w := e.stdout
	fmt.Fprintf(w, "\n  REST API   %s/api/v1  (also /healthz /readyz /metrics)\n", c.GatewayURL())
	fmt.Fprintf(w, "  console    %s/console  (live view; add faults, kill and start units)\n", c.OpsURL())
	fmt.Fprintf(w, "  ops API    %s/ops/v1/units  /ops/v1/mailbox  /ops/v1/analytics/windows  /metrics\n", c.OpsURL())
	if env := c.Env(); env != nil {
		fmt.Fprintf(w, "  kafka      %v  (%s env: topics %s, %s, %s)\n", c.KafkaAddrs(), env.Name, env.Kafka.Topics.Orders.Name, env.Kafka.Topics.AnalyticsResults.Name, env.Kafka.Topics.OrdersDLQ.Name)
		if env.Postgres != nil {
			fmt.Fprintf(w, "  postgres   %s  (databases %s, %s, %s)\n", env.Postgres.Address, env.Postgres.Databases.User, env.Postgres.Databases.Order, env.Postgres.Databases.Payment)
		}
		fmt.Fprintf(w, "  aws        %s  (tables %s, %s; bucket %s; sender %s)\n", c.S3Endpoint(), env.AWS.DynamoDB.ProductsTable, env.AWS.DynamoDB.DedupTable, c.Bucket(), env.AWS.SES.Sender)
	} else {
		fmt.Fprintf(w, "  kafka      %v  (kfake: orders, analytics-results, orders-dlq)\n", c.KafkaAddrs())
		fmt.Fprintf(w, "  s3         %s  (gofakes3, bucket %s)\n", c.S3Endpoint(), c.Bucket())
	}
	if port := c.FlinkMetricsPort(); port > 0 {
		fmt.Fprintf(w, "  flink      http://127.0.0.1:%d/metrics  (the job's Prometheus reporter)\n", port)
	}
	fmt.Fprintf(w, "  data dir   %s\n", c.DataDir())
	if addr := c.ToxiproxyAddr(); addr != "" {
		fmt.Fprintf(w, "  toxiproxy  http://%s  (every edge is a proxy; `shoplab chaos list` shows faults)\n", addr)
	}
	fmt.Fprintln(w)
	for _, s := range c.Status(context.Background()) {
		addr := s.GRPCAddr
		kind := "gRPC"
		if s.HTTPAddr != "" {
			addr, kind = s.HTTPAddr, "HTTP"
		}
		if addr == "" {
			addr, kind = "-", "consumer"
		}
		state := "ready"
		if !s.Ready {
			state = "NOT READY: " + s.Error
		}
		fmt.Fprintf(w, "  %-13s %-8s %-22s ops %-22s %s\n", s.Name, kind, addr, s.OpsAddr, state)
	}
}
