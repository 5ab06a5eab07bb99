package calibrate

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/metrics"
	"time"

	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/load"
)

// BenchConfig configures the local env that calibration measures.
type BenchConfig struct {
	// Customers is the number of accounts the checkout journeys use; 0
	// means 20. They log in once per window, before it is measured.
	Customers int
	// Seed seeds the journeys' choices and the catalog.
	Seed int64
	// ProfileHz is the CPU profile's sampling rate; 0 means
	// DefaultProfileHz.
	ProfileHz int
	// Log receives the units' logs; nil discards them.
	Log *slog.Logger
}

// Bench is the whole platform in this process (sim/cloud), with a client
// that loads it and measures each window.
type Bench struct {
	cfg   BenchConfig
	cloud *cloud.Cloud
	hc    *http.Client
}

// NewBench starts the local env in a fresh temp dir and waits until every
// unit is ready.
func NewBench(ctx context.Context, cfg BenchConfig) (*Bench, error) {
	if cfg.Customers == 0 {
		cfg.Customers = 20
	}
	if cfg.ProfileHz == 0 {
		cfg.ProfileHz = DefaultProfileHz
	}
	if cfg.Customers < 1 {
		return nil, fmt.Errorf("calibrate: customers must be positive, got %d", cfg.Customers)
	}
	c, err := cloud.New(ctx, cloud.Config{
		// Short analytics windows keep the stream job's periodic work (a
		// window closing, its result written to Kafka and S3) steady over a
		// measured window instead of one burst a minute.
		AnalyticsWindow: 2 * time.Second,
		AnalyticsIdle:   2 * time.Second,
		CatalogSeed:     cfg.Seed,
		Log:             cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("calibrate: start the local env: %w", err)
	}
	return &Bench{cfg: cfg, cloud: c, hc: newHTTPClient()}, nil
}

// newHTTPClient is one keep-alive pool shared by every window's runner, so
// the connections the warm-up opens carry the measured load and no window
// pays for TCP handshakes the others do not.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 10 * time.Second,
	}
}

// Close stops the platform and removes its data.
func (b *Bench) Close() error {
	b.hc.CloseIdleConnections()
	return b.cloud.Close()
}

// Load is the load of one window: Rate iterations per second, open model
// (constant arrival rate), of the journeys in proportion to their weights.
// A zero Rate is an idle window.
type Load struct {
	Name     string
	Rate     float64
	Journeys map[string]float64 // journey -> weight
	// Warmup is load run before the window and not measured: connections,
	// caches, SQLite pages and goroutine stacks warm up.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
}

// Window is what the platform used over one measured window.
type Window struct {
	Name    string
	Seconds float64
	// Rates is the iterations per second that ran, by journey.
	Rates map[string]float64
	// CPU is the process's CPU time by unit label: the profile's split of
	// the CPU time the kernel accounted to the process.
	CPU CPU
	// Coverage is the share of the process's CPU time the profile's
	// samples added up to before scaling (0 when unknown); see
	// DefaultProfileHz.
	Coverage float64
	// Served is each unit's requests and time, from its metrics.
	Served map[string]Served
	// HeapBytes is the process's mean heap in use (live and not yet
	// collected objects) over the window: every unit, Kafka and the load
	// generator together.
	HeapBytes float64

	Iterations, Failures, Dropped int64
	// Errors counts the failed requests by kind, from the load generator.
	Errors map[string]int64
}

// UnitCPU returns the unit's CPU seconds in the window, with its share of
// the gRPC client transports and of the runtime (CPU.Apportioned).
func (w Window) UnitCPU(unit string) float64 { return w.Apportioned()[unit] }

// Apportioned is the window's CPU by unit with the shared buckets charged
// to the units (CPU.Apportioned).
func (w Window) Apportioned() CPU {
	calls := map[string]float64{}
	for u, s := range w.Served {
		if s.ClientCalls > 0 {
			calls[u] = s.ClientCalls
		}
	}
	return w.CPU.Apportioned(calls)
}

// Millicores returns the unit's mean CPU use over the window.
func (w Window) Millicores(unit string) float64 { return 1000 * w.UnitCPU(unit) / w.Seconds }

// Saturated tells a window in which the platform did not keep up with
// rate: more than 1% of its iterations failed or were dropped, or it ran
// at less than 90% of rate (the last iterations finished long after the
// schedule ended). Its CPU is that of timeouts and queues, not of the
// journeys. An idle window is never saturated.
func (w Window) Saturated(rate float64) bool {
	if rate <= 0 {
		return false
	}
	return float64(w.Failures+w.Dropped) > 0.01*float64(max(w.Iterations, 1)) || w.TotalRate() < 0.9*rate
}

// TotalRate is the iterations per second of every journey together.
func (w Window) TotalRate() float64 {
	t := 0.0
	for _, r := range w.Rates {
		t += r
	}
	return t
}

// Measure runs one window: the warm-up, then the measured load under a CPU
// profile of the process, with every unit's metrics scraped on both sides.
// Customers log in before the window, outside it.
func (b *Bench) Measure(ctx context.Context, l Load) (Window, error) {
	if l.Duration <= 0 {
		return Window{}, fmt.Errorf("calibrate: window %s: duration must be positive", l.Name)
	}
	if l.Rate > 0 && l.Warmup > 0 {
		r, err := b.runner(ctx, l, l.Warmup)
		if err != nil {
			return Window{}, err
		}
		if _, err := r.Run(ctx); err != nil {
			return Window{}, fmt.Errorf("calibrate: warm-up of %s: %w", l.Name, err)
		}
	}
	var r *load.Runner
	if l.Rate > 0 {
		var err error
		if r, err = b.runner(ctx, l, l.Duration); err != nil {
			return Window{}, err
		}
	}
	ops := b.opsAddrs(ctx)
	before, err := scrapeServed(ctx, b.hc, ops)
	if err != nil {
		return Window{}, fmt.Errorf("calibrate: %w", err)
	}
	w := Window{Name: l.Name, Rates: map[string]float64{}}
	heap := startHeapSampler()
	var res *load.Result
	start := time.Now()
	w.CPU, w.Coverage, err = profileCPU(b.cfg.ProfileHz, func() error {
		if r == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(l.Duration):
				return nil
			}
		}
		var err error
		res, err = r.Run(ctx)
		return err
	})
	w.Seconds = time.Since(start).Seconds()
	w.HeapBytes = heap.stop()
	if err != nil {
		return Window{}, fmt.Errorf("calibrate: window %s: %w", l.Name, err)
	}
	after, err := scrapeServed(ctx, b.hc, ops)
	if err != nil {
		return Window{}, fmt.Errorf("calibrate: %w", err)
	}
	w.Served = servedBetween(before, after)
	if res != nil {
		for j, st := range res.Total.Journeys {
			w.Rates[j] = float64(st.Iterations) / w.Seconds
			w.Iterations += st.Iterations
			w.Failures += st.Failures
		}
		w.Dropped = res.Dropped
		w.Errors = map[string]int64{}
		for k, n := range map[string]int64{"timeout": res.Total.Timeouts, "transport": res.Total.TransportErrors,
			"5xx": res.Total.Status5xx, "unexpected 4xx": res.Total.Unexpected4xx} {
			if n > 0 {
				w.Errors[k] = n
			}
		}
	}
	return w, nil
}

// opsAddrs returns the ops API address of every running unit.
func (b *Bench) opsAddrs(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, st := range b.cloud.Status(ctx) {
		if st.OpsAddr != "" {
			out[st.Name] = st.OpsAddr
		}
	}
	return out
}

// runner returns a load runner for l lasting d, its customers logged in.
func (b *Bench) runner(ctx context.Context, l Load, d time.Duration) (*load.Runner, error) {
	opts := []load.Option{load.WithHTTPClient(b.hc)}
	for _, j := range load.BuiltinJourneys() {
		opts = append(opts, load.WithJourney(jittered(j, jitterWidth(l.Rate))))
	}
	r, err := load.New(load.Config{
		BaseURL:   b.cloud.GatewayURL(),
		Executor:  load.ConstantArrivalRate,
		Rate:      l.Rate,
		Duration:  d,
		Customers: b.cfg.Customers,
		Journeys:  maps.Clone(l.Journeys),
		// The accounts are named after the seed: keep it, so each window
		// logs the same customers in instead of registering new ones.
		Seed: b.cfg.Seed,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("calibrate: window %s: %w", l.Name, err)
	}
	if err := r.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("calibrate: window %s: %w", l.Name, err)
	}
	return r, nil
}

// jitterWidth is how far jittered spreads the iterations at rate: two
// periods of the schedule, at least 20 ms (five kernel ticks at 250 Hz, two
// at 100 Hz), at most 250 ms (a few percent of a window).
func jitterWidth(rate float64) time.Duration {
	return min(max(time.Duration(2/rate*float64(time.Second)), 20*time.Millisecond), 250*time.Millisecond)
}

// jittered delays each iteration of j by a random time in [0, width).
//
// A constant arrival rate is perfectly periodic, and the CPU profile is
// not a random sampler: the kernel fires the profiling signals on its
// scheduler tick. At 50 iterations a second (20 ms, five 4 ms ticks) every
// iteration meets the tick at the same point of its work, so some calls
// get every sample and others none: measured twice, a unit's CPU moved
// twentyfold. Random start times, as real shoppers have, spread the
// iterations over every phase of the tick. The rate over a window is
// unchanged.
func jittered(j load.Journey, width time.Duration) load.Journey {
	return load.NewJourney(j.Name(), func(ctx context.Context, s *load.Session) error {
		t := time.NewTimer(time.Duration(s.Rand.Int64N(int64(width))))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		return j.Run(ctx, s)
	})
}

// heapSampler reads the process's heap in use a few times a second, from
// runtime/metrics (no stop-the-world, unlike ReadMemStats).
type heapSampler struct {
	done chan struct{}
	mean chan float64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{}), mean: make(chan float64, 1)}
	go func() {
		s := []metrics.Sample{{Name: heapMetric}}
		var sum float64
		var n int
		read := func() {
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 {
				sum += float64(s[0].Value.Uint64())
				n++
			}
		}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		read()
		for {
			select {
			case <-tick.C:
				read()
			case <-h.done:
				read()
				h.mean <- sum / float64(max(n, 1))
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() float64 {
	close(h.done)
	return <-h.mean
}
