package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/console"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// target is the env a run drives: where the load goes, how faults are
// applied, and where reconciliation reads the truth. The runner knows
// nothing else about it, so the same scenario runs on the embedded env it
// starts itself or on one already running, found by its ops API.
type target interface {
	GatewayURL() string
	Apply(ctx context.Context, f chaos.Fault) (id string, err error)
	Remove(ctx context.Context, id string) error
	Reset(ctx context.Context) error
	Reconciler() (reconcile.Source, error)
	// Window is the analytics window the env closes, to size the wait for
	// the last one; 0 when unknown.
	Window() time.Duration
	Close() error
}

// localTarget is the embedded env with the chaos engine, started for one run.
type localTarget struct {
	c      *cloud.Cloud
	engine *chaos.Engine
	window time.Duration
	stop   context.CancelFunc
	done   chan error
}

func startLocal(ctx context.Context, s *spec.Scenario, seed uint64, unitLog io.Writer, env *envs.Env, pgPassword string, parts cloud.PartControl) (*localTarget, error) {
	log := logx.New(unitLog, "info")
	window := s.Env.AnalyticsWindow.Std()
	if window == 0 {
		window = DefaultAnalyticsWindow
	}
	engine, err := chaos.New(chaos.WithSeed(int64(seed)), chaos.WithAPIAddr("127.0.0.1:0"), chaos.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("chaos engine: %w", err)
	}
	envCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c, err := cloud.New(envCtx, cloud.Config{
		Chaos: engine, Log: log, AnalyticsWindow: window,
		ProcessorLatency: s.Env.ProcessorLatency.Std(), CatalogSeed: s.Env.CatalogSeed, RecoveryGrace: s.Env.RecoveryGrace.Std(),
		Env: env, PGPassword: pgPassword, RunID: runID(env), Parts: parts,
	})
	if err != nil {
		stop()
		_ = engine.Close()
		return nil, fmt.Errorf("start the local env: %w", err)
	}
	t := &localTarget{c: c, engine: engine, window: window, stop: stop, done: make(chan error, 1)}
	go func() { t.done <- c.Run(envCtx) }()
	return t, nil
}

func (t *localTarget) GatewayURL() string { return t.c.GatewayURL() }

// SetJourneys shows the load's journeys on the env's console.
func (t *localTarget) SetJourneys(f func() []console.Journey) { t.c.SetJourneys(f) }
func (t *localTarget) Window() time.Duration                  { return t.window }
func (t *localTarget) Apply(ctx context.Context, f chaos.Fault) (string, error) {
	return t.engine.Apply(ctx, f)
}
func (t *localTarget) Remove(ctx context.Context, id string) error { return t.engine.Remove(ctx, id) }
func (t *localTarget) Reset(ctx context.Context) error             { return t.engine.Reset(ctx) }
func (t *localTarget) Reconciler() (reconcile.Source, error)       { return t.c.Reconciler() }

func (t *localTarget) Close() error {
	t.stop()
	<-t.done
	return t.c.Close()
}

// remoteTarget is an env already running (`shoplab up`, or any env whose
// ops API serves /ops/v1/units and the chaos control API), found by the
// URL of its ops API.
type remoteTarget struct {
	ops     string
	gateway string
	chaos   *chaos.Client
	units   map[string]cloud.UnitStatus
	window  time.Duration
	closers []func()
}

func connectRemote(ctx context.Context, opsURL string, window time.Duration) (*remoteTarget, error) {
	ops := strings.TrimRight(opsURL, "/")
	if !strings.HasPrefix(ops, "http://") && !strings.HasPrefix(ops, "https://") {
		ops = "http://" + ops
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, ops+"/ops/v1/units", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w (is `shoplab up` running?)", ops, err)
	}
	defer resp.Body.Close()
	var body struct {
		Units []cloud.UnitStatus `json:"units"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("target %s: /ops/v1/units: %w", ops, err)
	}
	t := &remoteTarget{ops: ops, chaos: chaos.NewClient(ops), units: map[string]cloud.UnitStatus{}, window: window}
	for _, u := range body.Units {
		if !u.Ready {
			return nil, fmt.Errorf("target %s: unit %s is not ready: %s", ops, u.Name, u.Error)
		}
		t.units[u.Name] = u
	}
	gw, ok := t.units[cloud.Gateway]
	if !ok || gw.HTTPAddr == "" {
		return nil, fmt.Errorf("target %s: no gateway listed", ops)
	}
	t.gateway = "http://" + gw.HTTPAddr
	return t, nil
}

func (t *remoteTarget) GatewayURL() string    { return t.gateway }
func (t *remoteTarget) Window() time.Duration { return t.window }
func (t *remoteTarget) Apply(ctx context.Context, f chaos.Fault) (string, error) {
	a, err := t.chaos.Apply(ctx, f)
	return a.ID, err
}
func (t *remoteTarget) Remove(ctx context.Context, id string) error { return t.chaos.Remove(ctx, id) }
func (t *remoteTarget) Reset(ctx context.Context) error {
	_, err := t.chaos.Reset(ctx)
	return err
}

// Reconciler dials the order, payment and product units directly, by the
// addresses the ops API lists, not through any fault proxy.
func (t *remoteTarget) Reconciler() (reconcile.Source, error) {
	sys, closeConns, err := reconcile.DialSystem(t.units[cloud.Order].GRPCAddr, t.units[cloud.Payment].GRPCAddr, t.units[cloud.Product].GRPCAddr, t.ops)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.ops, err)
	}
	t.closers = append(t.closers, closeConns)
	return sys, nil
}

func (t *remoteTarget) Close() error {
	for _, f := range t.closers {
		f()
	}
	return nil
}

// runID is the suffix of a run's own databases, tables, bucket and
// consumer groups on an env's shared real parts ("" on the local env,
// whose parts are the run's anyway).
func runID(env *envs.Env) string {
	if env.IsLocal() {
		return ""
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
