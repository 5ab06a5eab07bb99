package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// Executor names, as k6 and scenario files spell them.
const (
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
)

// Defaults applied by New to zero fields.
const (
	DefaultMaxInFlight    = 500
	DefaultRequestTimeout = 10 * time.Second
	// maxRate bounds the arrival rate: far above what one process can drive,
	// low enough that a typo (a rate in ms) is caught by validation.
	maxRate = 100_000
)

// Stage is one leg of a ramping-arrival-rate schedule: the rate moves
// linearly from the previous stage's target (StartRate for the first) to
// Target iterations per second over Duration.
type Stage struct {
	Target   float64       // iterations per second at the end of the stage
	Duration time.Duration // length of the stage
}

// Config describes one load run. Zero MaxInFlight and RequestTimeout take
// the defaults above.
type Config struct {
	BaseURL   string  // the gateway, "http://127.0.0.1:8080"
	Executor  string  // ConstantArrivalRate or RampingArrivalRate
	Rate      float64 // iterations per second (constant-arrival-rate)
	StartRate float64 // iterations per second at t=0 (ramping-arrival-rate)
	Stages    []Stage // ramping-arrival-rate legs
	// Duration is the length of a constant-arrival-rate run; for
	// ramping-arrival-rate it must be zero or the sum of the stages.
	Duration time.Duration
	// MaxInFlight caps the iterations running at once; an iteration due
	// while the cap is reached is dropped and counted.
	MaxInFlight int
	// Customers is the number of accounts registered and logged in by
	// Prepare; the checkout journeys need at least one.
	Customers int
	// Journeys maps journey names to relative weights.
	Journeys map[string]float64
	// Seed makes the journey sequence and every in-journey choice
	// reproducible.
	Seed int64
	// RequestTimeout bounds each HTTP request.
	RequestTimeout time.Duration
	// Now is the time source (nil means time.Now). The schedule sleeps on
	// real timers, so it must advance like real time; WithClock replaces
	// sleeping too.
	Now func() time.Time
}

// withDefaults returns cfg with the zero fields that have a default filled in.
func (cfg Config) withDefaults() Config {
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Executor == RampingArrivalRate && cfg.Duration == 0 {
		cfg.Duration = stagesDuration(cfg.Stages)
	}
	return cfg
}

func stagesDuration(stages []Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		d += s.Duration
	}
	return d
}

// validate reports every problem of cfg at once, so a scenario author fixes
// a file in one pass. known lists the journeys the runner can run.
func (cfg Config) validate(known map[string]Journey) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	rate := func(name string, v float64, positive bool) {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
			bad("%s must be a finite rate >= 0, got %v", name, v)
		case positive && v == 0:
			bad("%s must be > 0", name)
		case v > maxRate:
			bad("%s %v is above the limit of %d iterations/s", name, v, maxRate)
		}
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	switch cfg.Executor {
	case ConstantArrivalRate:
		rate("rate", cfg.Rate, true)
		if cfg.Duration <= 0 {
			bad("duration must be > 0 for %s", ConstantArrivalRate)
		}
		if len(cfg.Stages) > 0 || cfg.StartRate != 0 {
			bad("stages and start_rate belong to %s, not %s", RampingArrivalRate, ConstantArrivalRate)
		}
	case RampingArrivalRate:
		rate("start_rate", cfg.StartRate, false)
		if len(cfg.Stages) == 0 {
			bad("%s needs at least one stage", RampingArrivalRate)
		}
		for i, s := range cfg.Stages {
			rate(fmt.Sprintf("stages[%d].target", i), s.Target, false)
			if s.Duration <= 0 {
				bad("stages[%d].duration must be > 0", i)
			}
		}
		if sum := stagesDuration(cfg.Stages); cfg.Duration != sum && len(cfg.Stages) > 0 {
			bad("duration %s differs from the sum of the stages %s; leave it zero", cfg.Duration, sum)
		}
		if cfg.Rate != 0 {
			bad("rate belongs to %s; use start_rate and stages", ConstantArrivalRate)
		}
	default:
		bad("executor %q must be %q or %q", cfg.Executor, ConstantArrivalRate, RampingArrivalRate)
	}
	if cfg.MaxInFlight < 0 {
		bad("max_in_flight must be >= 0 (0 means %d), got %d", DefaultMaxInFlight, cfg.MaxInFlight)
	}
	if cfg.Customers < 0 {
		bad("customers must be >= 0, got %d", cfg.Customers)
	}
	if cfg.RequestTimeout < 0 {
		bad("request timeout must be >= 0, got %s", cfg.RequestTimeout)
	}
	if len(cfg.Journeys) == 0 {
		bad("journeys must name at least one journey")
	}
	var total float64
	for _, name := range sortedKeys(cfg.Journeys) {
		w := cfg.Journeys[name]
		if _, ok := known[name]; !ok {
			bad("unknown journey %q (known: %v)", name, sortedKeys(known))
		}
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			bad("journey %q weight must be a finite number >= 0, got %v", name, w)
			continue
		}
		total += w
		if w > 0 && cfg.Customers == 0 {
			if j, ok := known[name]; ok {
				if nc, ok := j.(interface{ NeedsCustomers() bool }); ok && nc.NeedsCustomers() {
					bad("journey %q needs customers; set customers > 0", name)
				}
			}
		}
	}
	if len(cfg.Journeys) > 0 && total <= 0 {
		bad("journey weights must add up to more than 0")
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clock is the time source of a run: the schedule, the latency measurements
// and the settle backoff all go through it, so a test can pause or replace
// time.
type Clock interface {
	Now() time.Time
	// SleepUntil returns when t has come, or ctx's error when ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// realClock sleeps on runtime timers and reads time from now.
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time { return c.now() }

func (c realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(c.now())
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SettlePolicy bounds how hard Settle tries to learn the outcome of an
// order attempt.
type SettlePolicy struct {
	Attempts    int           // retries per unknown attempt
	Backoff     time.Duration // wait before the first retry; doubles after each
	MaxBackoff  time.Duration // cap of the wait
	Timeout     time.Duration // overall deadline of Settle
	Concurrency int           // attempts settled at once
}

// defaultSettlePolicy gives a briefly unavailable platform about half a
// minute to answer, without hammering it.
var defaultSettlePolicy = SettlePolicy{Attempts: 8, Backoff: 250 * time.Millisecond, MaxBackoff: 4 * time.Second, Timeout: 60 * time.Second, Concurrency: 8}

// Option configures a Runner beyond its Config.
type Option func(*options)

type options struct {
	clock          Clock
	hc             *http.Client
	journeys       []Journey
	liveWindow     time.Duration
	settle         SettlePolicy
	prepareWorkers int
	catalogPages   int
	onIteration    func(Iteration)
}

// WithClock replaces the time source and the sleeping of the schedule and
// of Settle (tests pause time with it). It takes precedence over Config.Now.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithHTTPClient replaces the tuned shared client, e.g. to add a
// RoundTripper; its Timeout should bound every request.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithJourney adds a journey to the runner's registry, or replaces the
// built-in one of the same name.
func WithJourney(j Journey) Option { return func(o *options) { o.journeys = append(o.journeys, j) } }

// WithLiveWindow sets how many recent seconds Snapshot covers (default 10s).
func WithLiveWindow(d time.Duration) Option { return func(o *options) { o.liveWindow = d } }

// WithSettlePolicy replaces the default settle policy (8 attempts, backoff
// 250ms doubling to 4s, 60s overall, 8 at once); zero fields keep the default.
func WithSettlePolicy(p SettlePolicy) Option { return func(o *options) { o.settle = p } }

// WithPrepareConcurrency bounds the registrations and logins Prepare runs at
// once (default 4): argon2id hashing makes registration CPU-heavy.
func WithPrepareConcurrency(n int) Option { return func(o *options) { o.prepareWorkers = n } }

// WithCatalogPages bounds how many pages of 100 products Prepare loads
// (default 50).
func WithCatalogPages(n int) Option { return func(o *options) { o.catalogPages = n } }

// WithIterationHook calls fn after every iteration, from the iteration's
// goroutine; fn must be safe for concurrent use and quick, as it runs on the
// hot path. It exists for journals and tests.
func WithIterationHook(fn func(Iteration)) Option { return func(o *options) { o.onIteration = fn } }

func (p SettlePolicy) orDefault() SettlePolicy {
	d := defaultSettlePolicy
	if p.Attempts > 0 {
		d.Attempts = p.Attempts
	}
	if p.Backoff > 0 {
		d.Backoff = p.Backoff
	}
	if p.MaxBackoff > 0 {
		d.MaxBackoff = p.MaxBackoff
	}
	if p.Timeout > 0 {
		d.Timeout = p.Timeout
	}
	if p.Concurrency > 0 {
		d.Concurrency = p.Concurrency
	}
	return d
}
