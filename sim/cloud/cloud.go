// Package cloud is the embedded runtime behind `shoplab up`: every unit of
// the platform in one process, each on its own loopback listener, talking
// to the others over real gRPC, HTTP and the Kafka wire protocol, on
// embedded parts (kfake, SQLite, gofakes3) or, with a non-local env
// (envs/host.yaml), on the real parts it names: a Kafka broker,
// PostgreSQL and the AWS APIs, each reached through a named edge.
package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/sim/console"
)

// Unit names, in start order: a unit starts after those it calls.
const (
	User         = "user"
	Product      = "product"
	Payment      = "payment"
	Order        = "order"
	Notification = "notification"
	Analytics    = "analytics"
	Gateway      = "gateway"
)

// Units lists every unit in start order.
var Units = []string{User, Product, Payment, Order, Notification, Analytics, Gateway}

// Config is the embedded env's configuration.
type Config struct {
	GatewayAddr string // "127.0.0.1:8080"; ":0" style addresses pick a free port
	OpsAddr     string // "127.0.0.1:8090"
	DataDir     string // "" means a fresh temp dir, removed on Close
	JWTKey      []byte // nil means a random key for this run

	AnalyticsWindow  time.Duration // tumbling window size; 0 means 1 minute
	AnalyticsIdle    time.Duration // idle-source timeout; 0 means the engine default
	ProcessorLatency time.Duration // simulated card processor latency
	CatalogSeed      int64         // seed of the generated catalog
	RecoveryGrace    time.Duration // age of a PENDING order before recovery settles it; 0 = unit default
	// GRPCReflection serves gRPC server reflection on the user, product,
	// order and payment units (grpcurl list); `shoplab up` turns it on.
	// grpc.health.v1 is served either way.
	GRPCReflection bool

	Log *slog.Logger // nil discards unit logs

	// Env is where the parts run; nil (or envs/local.yaml) is all
	// embedded. A real part that does not answer fails New within seconds,
	// naming the env file's field and the address.
	Env *envs.Env
	// PGPassword is the PostgreSQL password (the CLI reads PGPASSWORD);
	// never in an env file.
	PGPassword string
	// RunID, when set, gives this env its own databases, tables, bucket
	// and consumer groups on shared real parts, named from the env's with
	// the id as suffix, created at start and dropped at Close (see
	// runscope.go). Empty uses the env's names as they are (shoplab up).
	RunID string

	// Parts stops and starts the env's real parts for kill and restart
	// faults on postgres or kafka (parts.Owner of the `shoplab deps` state
	// dir); nil refuses such faults.
	Parts PartControl

	// Wiring lets the chaos engine put proxies on edges and install
	// interceptors and driver hooks; nil wires everything directly.
	Wiring Wiring

	// FlinkModuleDir is services/analytics/flink, for an env whose
	// analytics.engine is flink; empty: found above the working directory.
	FlinkModuleDir string
	// FlinkMetricsPort, when set with the flink engine, runs the job with
	// Flink's Prometheus reporter (flink-metrics-prometheus) serving
	// /metrics on this port; 0 runs it without.
	FlinkMetricsPort int

	// Chaos, when set, is the fault engine: it becomes the Wiring, drives
	// process faults through this Cloud, and its control API is served on
	// the ops API under /ops/v1/chaos/.
	Chaos *chaos.Engine
}

// Wiring is how fault injection plugs into the env without the units
// knowing: every edge's address passes through Edge, and transports get
// the interceptors it returns. The zero implementation is Direct.
type Wiring interface {
	// Edge returns the address that from must dial to reach to at upstream.
	Edge(from, to, upstream string) (string, error)
	// ServerInterceptors are installed on unit's gRPC server.
	ServerInterceptors(unit string) []grpc.UnaryServerInterceptor
	// ClientInterceptors are installed on from's connection to to.
	ClientInterceptors(from, to string) []grpc.UnaryClientInterceptor
	// HTTPMiddleware wraps the gateway's HTTP handler (nil for none).
	HTTPMiddleware(unit string) func(http.Handler) http.Handler
	// SQLDriver names the database/sql driver unit opens SQLite with ("" = plain).
	SQLDriver(unit string) string
}

// Direct is the Wiring with no faults: every edge dials its upstream.
type Direct struct{}

// Edge implements Wiring.
func (Direct) Edge(_, _, upstream string) (string, error) { return upstream, nil }

// ServerInterceptors implements Wiring.
func (Direct) ServerInterceptors(string) []grpc.UnaryServerInterceptor { return nil }

// ClientInterceptors implements Wiring.
func (Direct) ClientInterceptors(string, string) []grpc.UnaryClientInterceptor { return nil }

// HTTPMiddleware implements Wiring.
func (Direct) HTTPMiddleware(string) func(http.Handler) http.Handler { return nil }

// SQLDriver implements Wiring.
func (Direct) SQLDriver(string) string { return "" }

// runner is what every unit's composition root offers.
type runner interface {
	Run(ctx context.Context) error
	Close() error
	Ready(ctx context.Context) error
}

// unitState is one unit's lifecycle: it can be killed and started again on
// the same addresses.
type unitState struct {
	name     string
	start    func(ctx context.Context) (runner, error)
	r        runner
	cancel   context.CancelFunc
	done     chan error
	grpcAddr string
	opsAddr  string
	httpAddr string
}

// Cloud is a running embedded env.
type Cloud struct {
	cfg     Config
	log     *slog.Logger
	dataDir string
	ownDir  bool

	kafka       *kfake.Cluster
	kafkaAddrs  []string     // bootstrap brokers
	kafkaRoutes []kafkaRoute // one per broker, for the per-unit edges
	groupSuffix string       // appended to consumer groups on a shared real broker
	scope       *runScope    // what a scoped run (Config.RunID) drops at Close
	s3          *httptest.Server
	bucket      string

	mu         sync.Mutex
	units      map[string]*unitState
	order      []string
	ops        *opsServer
	registries map[string]prometheus.Gatherer // by unit; replaced on restart
	mailbox    lister
	windows    lister
	results    *resultsReader // analytics-results since the env started
	closers    []func()
	journeys   func() []console.Journey // the driving load's, for the console
	opsCancel  context.CancelFunc
	opsDone    chan error

	runCtx context.Context
}

// New starts the embedded infrastructure and every unit, and returns once
// all are ready (or fails, closing what it started).
func New(ctx context.Context, cfg Config) (_ *Cloud, err error) {
	if cfg.Chaos != nil {
		cfg.Wiring = cfg.Chaos
	}
	if cfg.Wiring == nil {
		cfg.Wiring = Direct{}
	}
	if cfg.Log == nil {
		cfg.Log = logx.Discard()
	}
	if cfg.GatewayAddr == "" {
		cfg.GatewayAddr = "127.0.0.1:0"
	}
	if cfg.OpsAddr == "" {
		cfg.OpsAddr = "127.0.0.1:0"
	}
	if cfg.AnalyticsWindow == 0 {
		cfg.AnalyticsWindow = time.Minute
	}
	if len(cfg.JWTKey) == 0 {
		cfg.JWTKey = make([]byte, 32)
		_, _ = rand.Read(cfg.JWTKey)
	}
	c := &Cloud{cfg: cfg, log: cfg.Log, units: map[string]*unitState{}, registries: map[string]prometheus.Gatherer{}, bucket: "shoplab-analytics", runCtx: ctx}
	c.registries["process"] = processRegistry()
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if cfg.DataDir == "" {
		if c.dataDir, err = os.MkdirTemp("", "shoplab-"); err != nil {
			return nil, err
		}
		c.ownDir = true
	} else {
		c.dataDir = cfg.DataDir
		if err = os.MkdirAll(c.dataDir, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.Chaos != nil {
		cfg.Chaos.SetProcesses(c)
		// The faults in effect, on the same scrape as the units they hit.
		faults := prometheus.NewRegistry()
		if err = faults.Register(cfg.Chaos.Collector()); err != nil {
			return nil, err
		}
		c.registries["chaos"] = faults
	}
	if cfg.RunID != "" && cfg.Env != nil && !cfg.Env.IsLocal() {
		if c.cfg.Env, c.scope, err = scopeEnv(cfg.Env, cfg.RunID); err != nil {
			return nil, err
		}
	}
	if err = c.startParts(ctx); err != nil {
		return nil, err
	}
	for _, name := range Units {
		if err = c.addUnit(ctx, name); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	}
	if c.ops, err = newOpsServer(c, cfg.OpsAddr); err != nil {
		return nil, fmt.Errorf("ops API: %w", err)
	}
	// The ops API serves from the start, so a caller that never calls Run
	// (the demo, tests) can still read the env's state.
	opsCtx, opsCancel := context.WithCancel(context.WithoutCancel(ctx))
	c.opsDone = make(chan error, 1)
	c.opsCancel = opsCancel
	go func() { c.opsDone <- c.ops.Run(opsCtx) }()
	if err = c.WaitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

// startParts starts the embedded parts and checks (and prepares) the real
// ones the env names, before any unit starts.
func (c *Cloud) startParts(ctx context.Context) error {
	e := c.cfg.Env
	real := e != nil && !e.IsLocal()
	if real {
		if err := c.preflight(ctx); err != nil {
			return err
		}
	}
	if e == nil || e.Kafka.Embedded {
		if err := c.startKafka(); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
	} else if err := c.startRealKafka(ctx); err != nil {
		return err
	}
	if real && e.Stores.Relational == envs.StorePostgres {
		if err := c.createDatabases(ctx); err != nil {
			return err
		}
	}
	if e != nil {
		c.bucket = e.AWS.S3.AnalyticsBucket
	}
	if e == nil || e.Stores.Objects == envs.StoreEmbedded {
		c.s3 = httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	}
	return nil
}

func (c *Cloud) startKafka() error {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(3, events.TopicOrders),
		kfake.SeedTopics(1, events.TopicAnalyticsResults, events.TopicOrdersDLQ),
	}
	if !c.ownDir {
		// A kept data dir keeps the topics too, so a restart resumes where it stopped.
		opts = append(opts, kfake.DataDir(filepath.Join(c.dataDir, "kafka")))
	}
	k, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	c.kafka = k
	c.kafkaAddrs = k.ListenAddrs()
	for _, a := range c.kafkaAddrs { // one broker: kfake advertises its listen address
		c.kafkaRoutes = append(c.kafkaRoutes, kafkaRoute{to: EdgeKafka, upstream: a, addrs: []string{a}})
	}
	return nil
}

// KafkaAddrs are the broker addresses of the embedded Kafka.
func (c *Cloud) KafkaAddrs() []string { return c.kafkaAddrs }

// DataDir is where the units keep their databases.
func (c *Cloud) DataDir() string { return c.dataDir }

// S3Endpoint is the S3 API's URL: the embedded one's, or the env's.
func (c *Cloud) S3Endpoint() string {
	if c.s3 == nil {
		return c.cfg.Env.AWS.Endpoint
	}
	return c.s3.URL
}

// Env is the env the cloud runs in (nil: local).
func (c *Cloud) Env() *envs.Env { return c.cfg.Env }

// FlinkMetricsPort is the port of the Flink job's Prometheus reporter, 0
// when the job runs without it (or the engine is Go).
func (c *Cloud) FlinkMetricsPort() int {
	if c.analyticsEngine() != envs.EngineFlink {
		return 0
	}
	return c.cfg.FlinkMetricsPort
}

// ToxiproxyAddr is the address of the chaos engine's toxiproxy API, or "".
func (c *Cloud) ToxiproxyAddr() string {
	if c.cfg.Chaos == nil {
		return ""
	}
	return c.cfg.Chaos.APIAddr()
}

// Bucket is the analytics archive bucket.
func (c *Cloud) Bucket() string { return c.bucket }

// GatewayURL is the public REST API's base URL.
func (c *Cloud) GatewayURL() string { return "http://" + c.addr(Gateway, "http") }

// OpsURL is the ops API's base URL.
func (c *Cloud) OpsURL() string { return "http://" + c.ops.Addr() }

// GRPCAddr is the gRPC address of a unit ("" for units without one).
func (c *Cloud) GRPCAddr(unit string) string { return c.addr(unit, "grpc") }

func (c *Cloud) addr(unit, kind string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.units[unit]
	if u == nil {
		return ""
	}
	switch kind {
	case "grpc":
		return u.grpcAddr
	case "http":
		return u.httpAddr
	}
	return u.opsAddr
}

// dial returns the address from must dial to reach to's gRPC server.
func (c *Cloud) dial(from, to string) (string, error) {
	up := c.GRPCAddr(to)
	if up == "" {
		return "", fmt.Errorf("%s is not started", to)
	}
	return c.cfg.Wiring.Edge(from, to, up)
}

// kafkaFor returns the bootstrap brokers of unit from and a dialer that
// sends its every broker connection through its own Kafka edge, one per
// broker. Redirecting in the dialer matters: after bootstrap, clients
// connect to the addresses the brokers advertise, which would otherwise
// bypass the edge's proxy.
func (c *Cloud) kafkaFor(from string) ([]string, kafkax.Dialer, error) {
	routes := map[string]string{}
	for _, r := range c.kafkaRoutes {
		e, err := c.cfg.Wiring.Edge(from, r.to, r.upstream)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range r.addrs {
			routes[a] = e
		}
	}
	return c.kafkaAddrs, redirectDialer{routes: routes, d: &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}}, nil
}

// redirectDialer dials routes[addr] instead of addr when there is one.
type redirectDialer struct {
	routes map[string]string
	d      *net.Dialer
}

func (r redirectDialer) Dial(network, addr string) (net.Conn, error) {
	if to, ok := r.routes[addr]; ok {
		addr = to
	}
	return r.d.Dial(network, addr)
}

func (c *Cloud) addUnit(ctx context.Context, name string) error {
	u := &unitState{name: name}
	u.start = func(ctx context.Context) (runner, error) { return c.build(ctx, u) }
	c.mu.Lock()
	c.units[name] = u
	c.order = append(c.order, name)
	c.mu.Unlock()
	return c.startUnit(ctx, u)
}

func (c *Cloud) startUnit(ctx context.Context, u *unitState) error {
	r, err := u.start(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(c.runCtx))
	done := make(chan error, 1)
	c.mu.Lock()
	u.r, u.cancel, u.done = r, cancel, done
	c.mu.Unlock()
	go func() {
		// Every goroutine the unit starts inherits this label, so a CPU
		// profile of the whole process splits by unit (shoplab calibrate).
		var err error
		pprof.Do(runCtx, pprof.Labels("unit", u.name), func(ctx context.Context) { err = r.Run(ctx) })
		if err != nil && !errors.Is(err, context.Canceled) {
			c.log.Error("unit stopped with an error", "unit", u.name, "error", err)
		}
		done <- err
	}()
	return nil
}

// PartControl stops and starts a real part by name ("postgres", "kafka").
type PartControl interface {
	StopPart(ctx context.Context, name string) error
	StartPart(ctx context.Context, name string) error
}

// isPart reports whether name is a real part rather than a unit.
func isPart(name string) bool { return name == EdgePostgres || name == EdgeKafka }

// partControl returns the part control, or why there is none.
func (c *Cloud) partControl(name string) (PartControl, error) {
	if c.cfg.Env == nil || c.cfg.Env.IsLocal() {
		return nil, fmt.Errorf("%s is not a process of the local env (its parts are embedded): run on --env host", name)
	}
	if c.cfg.Parts == nil {
		return nil, fmt.Errorf("no control of the real part %s: give the state dir of `shoplab deps up` (shoplab run --deps-state-dir)", name)
	}
	return c.cfg.Parts, nil
}

// Kill stops a unit at once, as a crash would: its listeners close and its
// in-flight work is abandoned. Its data stays in the data dir. A real
// part's name (postgres, kafka) stops that process through Config.Parts.
func (c *Cloud) Kill(name string) error {
	if isPart(name) {
		pc, err := c.partControl(name)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return pc.StopPart(ctx, name)
	}
	c.mu.Lock()
	u := c.units[name]
	c.mu.Unlock()
	if u == nil {
		return fmt.Errorf("no unit %q", name)
	}
	c.mu.Lock()
	r, cancel, done := u.r, u.cancel, u.done
	u.r = nil
	c.mu.Unlock()
	if r == nil {
		return nil // already down
	}
	_ = r.Close()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not stop within 10s", name)
	}
	return nil
}

// Start starts a killed unit again on its former addresses and waits until
// it is ready.
func (c *Cloud) Start(ctx context.Context, name string) error {
	if isPart(name) {
		pc, err := c.partControl(name)
		if err != nil {
			return err
		}
		return pc.StartPart(ctx, name)
	}
	c.mu.Lock()
	u := c.units[name]
	running := u != nil && u.r != nil
	c.mu.Unlock()
	if u == nil {
		return fmt.Errorf("no unit %q", name)
	}
	if running {
		return nil
	}
	if err := c.startUnit(ctx, u); err != nil {
		return err
	}
	return c.waitUnit(ctx, u, 30*time.Second)
}

// Restart kills a unit and starts it again.
func (c *Cloud) Restart(ctx context.Context, name string) error {
	if err := c.Kill(name); err != nil {
		return err
	}
	return c.Start(ctx, name)
}

// UnitStatus is one unit's health for the ops API.
type UnitStatus struct {
	Name     string `json:"name"`
	Running  bool   `json:"running"`
	Ready    bool   `json:"ready"`
	Error    string `json:"error,omitempty"`
	GRPCAddr string `json:"grpc_addr,omitempty"`
	HTTPAddr string `json:"http_addr,omitempty"`
	OpsAddr  string `json:"ops_addr,omitempty"`
}

// Status reports every unit's health, each readiness check bounded to 2 s.
func (c *Cloud) Status(ctx context.Context) []UnitStatus {
	c.mu.Lock()
	names := append([]string(nil), c.order...)
	c.mu.Unlock()
	out := make([]UnitStatus, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			c.mu.Lock()
			u := c.units[n]
			s := UnitStatus{Name: n, GRPCAddr: u.grpcAddr, HTTPAddr: u.httpAddr, OpsAddr: u.opsAddr, Running: u.r != nil}
			r := u.r
			c.mu.Unlock()
			if r != nil {
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				if err := r.Ready(rctx); err != nil {
					s.Error = err.Error()
				} else {
					s.Ready = true
				}
			} else {
				s.Error = "not running"
			}
			out[i] = s
		})
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool { return indexOf(Units, out[i].Name) < indexOf(Units, out[j].Name) })
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list)
}

// WaitReady waits until every unit reports ready.
func (c *Cloud) WaitReady(ctx context.Context, timeout time.Duration) error {
	c.mu.Lock()
	var us []*unitState
	for _, n := range c.order {
		us = append(us, c.units[n])
	}
	c.mu.Unlock()
	for _, u := range us {
		if err := c.waitUnit(ctx, u, timeout); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cloud) waitUnit(ctx context.Context, u *unitState, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		c.mu.Lock()
		r := u.r
		c.mu.Unlock()
		if r == nil {
			return fmt.Errorf("%s is not running", u.name)
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		last = r.Ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", u.name, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Run runs the chaos engine (if any) until ctx ends, then stops everything gracefully:
// the gateway first so no new orders arrive, then the others in reverse
// start order, so the order unit's relay can hand its outbox to Kafka.
func (c *Cloud) Run(ctx context.Context) error {
	chaosDone := make(chan error, 1)
	if c.cfg.Chaos != nil {
		// The engine removes every fault when ctx ends, before units stop.
		go func() { chaosDone <- c.cfg.Chaos.Run(ctx) }()
	} else {
		chaosDone <- nil
	}
	<-ctx.Done()
	chaosErr := <-chaosDone
	c.stopAll()
	return chaosErr
}

func (c *Cloud) stopAll() {
	c.mu.Lock()
	names := append([]string(nil), c.order...)
	c.mu.Unlock()
	for i := len(names) - 1; i >= 0; i-- {
		c.mu.Lock()
		u := c.units[names[i]]
		r, cancel, done := u.r, u.cancel, u.done
		u.r = nil
		c.mu.Unlock()
		if r == nil {
			continue
		}
		cancel() // graceful: Run returns after in-flight work
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			c.log.Warn("unit did not stop in time", "unit", names[i])
		}
		_ = r.Close()
	}
}

// Close stops every unit and the embedded infrastructure, and removes the
// data dir when it was a temporary one.
func (c *Cloud) Close() error {
	c.mu.Lock()
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	for _, f := range closers {
		f()
	}
	c.stopAll()
	if c.cfg.Chaos != nil {
		_ = c.cfg.Chaos.Close()
	}
	if c.opsCancel != nil {
		c.opsCancel()
		<-c.opsDone
	} else if c.ops != nil {
		_ = c.ops.Close()
	}
	if c.kafka != nil {
		c.kafka.Close()
	}
	if c.s3 != nil {
		c.s3.Close()
	}
	var problems []error
	if err := c.dropRunScope(context.Background()); err != nil {
		problems = append(problems, err)
	}
	if c.ownDir && c.dataDir != "" {
		problems = append(problems, os.RemoveAll(c.dataDir))
	}
	return errors.Join(problems...)
}
